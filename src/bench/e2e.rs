//! `bench e2e`: Proteger contracts along the path a customer's contract takes, every hop
//! real and every hop over the network.
//!
//! ```text
//!  bench clients ──HTTP POST──▶ serve --no-worker ──▶ Redis ──▶ serve --no-api
//!  (12, bulk of 50)              (the API)                      (the workers)
//!        ▲                                                   │ batches of ≤ 10
//!        │ latency                                           ▼
//!  verifying webhook sink ◀──signed `created` webhook── sandbox Proteger (HTTP)
//! ```
//!
//! The benchmark process hosts the sandbox and a verifying webhook sink (the only
//! endpoint), and starts the real binary twice, as an operator would: an API-only and a
//! worker-only `underwrite serve`, configured through `UNDERWRITE_*` variables alone (see
//! `process.rs`). It then posts every contract at once, from several clients, and waits
//! for one verified `proteger.contract.created` webhook per contract. It reports:
//!
//! - **HTTP enqueue**: contracts the API accepted (`202`) per second;
//! - **end to end**: contracts per second, from the first request sent to the last
//!   webhook verified;
//! - **latency under backlog**: per contract, its webhook verified at the sink minus its
//!   request sent. Everything is sent at once, so this is mostly time spent waiting in the
//!   queue behind the others: it grows with `--jobs`. The **idle latency** after it (one
//!   contract at a time into idle workers) is the cost of the path itself;
//! - **vendor calls per 1,000 contracts**: requests the sandbox saw (the workers send
//!   batches of up to 10, so 100 is the floor);
//! - **duplicates** (contracts the sandbox created twice) and **webhooks missing**: both
//!   must be 0;
//! - **peak RSS** of the worker process and of the API process (`VmHWM`).
//!
//! It never hangs: when no webhook has arrived for [`STALL`], it reports what did.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::task::JoinSet;

use super::process::{POLL, ServeProcess, free_port, mib, mib_json};
use super::{BenchError, BenchOptions, Report, bench_store, drop_queue, ms, percentile, rate};
use crate::queue::{JobKind, Store};
use crate::vendors::proteger::jobs::{ContractBatch, CreateContract};
use crate::vendors::proteger::sandbox::sample_contract;
use crate::vendors::proteger::sandbox::{ProtegerSandboxConfig, ServedProteger};
use crate::vendors::proteger::types::ContractRequest;
use crate::webhooks::delivery::Delivery;
use crate::webhooks::sink::{self, Received, Sink};

/// Producer clients posting at once.
const CLIENTS: usize = 12;
/// Contracts per bulk request: half the API's ceiling (`MAX_BULK`, 100), a size a shop's
/// checkout batch might have.
const PER_REQUEST: usize = 50;
/// Contracts sent one at a time, after the backlog, for the idle latency.
const IDLE_SAMPLES: usize = 20;
/// How long the children may take to start.
const READY_WITHIN: Duration = Duration::from_secs(30);
/// Gives up waiting when no webhook arrived for this long.
const STALL: Duration = Duration::from_secs(30);
const CREATED: &str = "proteger.contract.created";

pub async fn proteger(options: &BenchOptions) -> Result<Report, BenchError> {
    let (store, _, queue) = bench_store(options)?;
    let result = measure(options, &store, &queue).await;
    drop_queue(&store).await;
    result
}

async fn measure(options: &BenchOptions, store: &Store, queue: &str) -> Result<Report, BenchError> {
    let (sandbox, sink) = receivers(store).await?;
    let port = free_port()?;
    let api = Api::new(port)?;
    let env = child_env(options, queue, &sandbox, port, &api.token);
    let mut api_process = ServeProcess::spawn("API", &["--no-worker"], &env)?;
    let mut worker = ServeProcess::spawn("worker", &["--no-api"], &env)?;
    wait_ready(&api, store, &mut api_process, &mut worker).await?;

    let sent = flood(&api, options.jobs).await?;
    let settled = wait_for_webhooks(&sink, sent.at.len()).await;
    let vendor_calls = sandbox.proteger.effects().requests_seen;
    let idle = if settled {
        idle_latencies(&api, &sink).await?
    } else {
        Vec::new()
    };
    let rss = PeakRss {
        worker: worker.kill().await,
        api: api_process.kill().await,
    };
    let arrivals = arrivals(&sink.received(), &sent.at);
    let figures = Figures {
        sent,
        arrivals,
        idle,
        vendor_calls,
        duplicates: sandbox.proteger.effects().duplicate_transaction_ids,
        rejected: sink.counts().rejected,
        settled,
        rss,
    };
    Ok(report(options, figures))
}

/// The sandbox, and a verifying sink registered as the queue's only webhook endpoint.
async fn receivers(store: &Store) -> Result<(ServedProteger, Sink), BenchError> {
    let loopback = "127.0.0.1:0"
        .parse()
        .map_err(|_| BenchError::Setup("loopback address".into()))?;
    let sandbox =
        crate::vendors::proteger::sandbox::serve(loopback, ProtegerSandboxConfig::default())
            .await
            .map_err(|e| BenchError::Setup(format!("sandbox: {e}")))?;
    let (sink, _) = sink::spawn_as_endpoint(store)
        .await
        .map_err(|e| BenchError::Setup(e.to_string()))?;
    Ok((sandbox, sink))
}

/// The children's whole configuration. Everything that could come from the operator's
/// environment and change what is measured is set here.
fn child_env(
    options: &BenchOptions,
    queue: &str,
    sandbox: &ServedProteger,
    port: u16,
    token: &str,
) -> Vec<(&'static str, String)> {
    let concurrency = options.concurrency.to_string();
    vec![
        ("UNDERWRITE_REDIS_URL", options.redis_url.clone()),
        ("UNDERWRITE_REDIS_QUEUE", queue.to_string()),
        // `bench_store` writes under `uw`; the children must read the same keys.
        ("UNDERWRITE_REDIS_KEY_PREFIX", "uw".to_string()),
        ("UNDERWRITE_API_LISTEN", format!("127.0.0.1:{port}")),
        ("UNDERWRITE_API_TOKENS", token.to_string()),
        (
            "UNDERWRITE_VENDORS_PROTEGER_BASE_URL",
            sandbox.proteger_url(),
        ),
        ("UNDERWRITE_PROTEGER_TOKEN", "bench".to_string()),
        ("UNDERWRITE_WORKER_CONCURRENCY", concurrency.clone()),
        // One endpoint receives every event: its in-flight cap (10 by default) would
        // otherwise be the bottleneck, and measure the cap rather than the path.
        ("UNDERWRITE_WEBHOOKS_ENDPOINT_CONCURRENCY", concurrency),
        ("UNDERWRITE_WEBHOOKS_ALLOW_CIDRS", "127.0.0.0/8".to_string()),
        ("UNDERWRITE_LOG", "error".to_string()),
    ]
}

/// The producer API of the child, as a shop would call it.
#[derive(Clone)]
struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    fn new(port: u16) -> Result<Self, BenchError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| BenchError::Setup(format!("HTTP client: {e}")))?;
        Ok(Self {
            http,
            base: format!("http://127.0.0.1:{port}"),
            token: format!("bench-{}", uuid::Uuid::now_v7().simple()),
        })
    }

    async fn ready(&self) -> bool {
        let url = format!("{}/readyz", self.base);
        matches!(self.http.get(url).send().await, Ok(r) if r.status().is_success())
    }

    async fn create_bulk(&self, contracts: &[ContractRequest]) -> Result<(), BenchError> {
        let url = format!("{}/v1/proteger/contracts/bulk", self.base);
        self.post(&url, &json!({ "contracts": contracts })).await
    }

    async fn create_one(&self, contract: &ContractRequest) -> Result<(), BenchError> {
        let url = format!("{}/v1/proteger/contracts", self.base);
        self.post(&url, &json!(contract)).await
    }

    /// Any answer but `202` ends the benchmark: figures over contracts that were never
    /// enqueued would mean nothing.
    async fn post(&self, url: &str, body: &serde_json::Value) -> Result<(), BenchError> {
        let response = self
            .http
            .post(url)
            .bearer_auth(&self.token)
            .json(body)
            .send()
            .await
            .map_err(|e| BenchError::Setup(format!("POST {url}: {e}")))?;
        let status = response.status();
        if status == reqwest::StatusCode::ACCEPTED {
            return Ok(());
        }
        let text = response.text().await.unwrap_or_default();
        Err(BenchError::Setup(format!(
            "POST {url} answered {status}: {}",
            text.chars().take(300).collect::<String>()
        )))
    }
}

/// Waits until the API answers `/readyz` and the worker has set up every stream the path uses,
/// so that neither start-up counts in the figures.
async fn wait_ready(
    api: &Api,
    store: &Store,
    api_process: &mut ServeProcess,
    worker: &mut ServeProcess,
) -> Result<(), BenchError> {
    let deadline = Instant::now() + READY_WITHIN;
    let kinds = [CreateContract::KIND, ContractBatch::KIND, Delivery::KIND];
    loop {
        api_process.check_alive()?;
        worker.check_alive()?;
        let api_ready = api.ready().await;
        let unread = kinds_without_group(store, &kinds).await;
        if api_ready && unread.is_empty() {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(BenchError::Setup(format!(
                "not ready within {READY_WITHIN:?}: API /readyz {}, streams without a worker group: {}",
                if api_ready { "ok" } else { "failing" },
                if unread.is_empty() {
                    "none".into()
                } else {
                    unread.join(", ")
                },
            )));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// The kinds whose stream has no consumer group yet. A worker creates each group as it
/// starts (readers join it as consumers only once work arrives, so those cannot be
/// waited for).
async fn kinds_without_group<'k>(store: &Store, kinds: &[&'k str]) -> Vec<&'k str> {
    let mut unread = Vec::new();
    for kind in kinds {
        let mut cmd = redis::cmd("XINFO");
        cmd.arg("GROUPS").arg(store.keys().stream(kind));
        match store.raw(&cmd).await {
            Ok(redis::Value::Array(groups)) if !groups.is_empty() => {}
            _ => unread.push(*kind),
        }
    }
    unread
}

/// What was sent: each contract's `transactionId` and when its request left.
struct Sent {
    at: HashMap<String, Instant>,
    started: Instant,
    took: Duration,
}

/// Posts `jobs` contracts from [`CLIENTS`] clients at once, in bulk requests of
/// [`PER_REQUEST`]; each client takes the next request number until none is left.
async fn flood(api: &Api, jobs: usize) -> Result<Sent, BenchError> {
    let requests = jobs.div_ceil(PER_REQUEST);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut clients = JoinSet::new();
    for _ in 0..CLIENTS.min(requests.max(1)) {
        let (api, next) = (api.clone(), Arc::clone(&next));
        clients.spawn(async move {
            let mut sent = Vec::new();
            loop {
                let request = next.fetch_add(1, Ordering::Relaxed);
                if request >= requests {
                    return Ok::<_, BenchError>(sent);
                }
                let first = request * PER_REQUEST;
                let contracts: Vec<ContractRequest> = (first..(first + PER_REQUEST).min(jobs))
                    .map(|i| sample_contract(&format!("e2e-{i}")))
                    .collect();
                let at = Instant::now();
                api.create_bulk(&contracts).await?;
                sent.extend(contracts.into_iter().map(|c| (c.transaction_id, at)));
            }
        });
    }
    let mut at = HashMap::with_capacity(jobs);
    while let Some(joined) = clients.join_next().await {
        at.extend(joined.map_err(|e| BenchError::Setup(format!("client task: {e}")))??);
    }
    Ok(Sent {
        at,
        started,
        took: started.elapsed(),
    })
}

/// Waits for `count` distinct verified webhooks; false when they stopped coming first.
/// Polls rather than waking on every arrival: counting is linear in what arrived, and
/// doing it 10,000 times would slow the sink it measures.
async fn wait_for_webhooks(sink: &Sink, count: usize) -> bool {
    let mut seen = 0;
    let mut last_progress = Instant::now();
    loop {
        let now = sink.counts().distinct_ids;
        if now >= count {
            return true;
        }
        if now > seen {
            (seen, last_progress) = (now, Instant::now());
        } else if last_progress.elapsed() > STALL {
            tracing::warn!(arrived = now, expected = count, "webhooks stopped coming");
            return false;
        }
        tokio::time::sleep(POLL).await;
    }
}

/// When each sent contract's first verified, accepted `created` webhook arrived. The body
/// names the contract by its `transactionId` (`data.transaction_id`).
fn arrivals(received: &[Received], sent: &HashMap<String, Instant>) -> HashMap<String, Instant> {
    let mut first = HashMap::with_capacity(sent.len());
    for r in received {
        if !r.verified || !(200..300).contains(&r.status) {
            continue;
        }
        if r.event_type.as_deref() != Some(CREATED) {
            continue;
        }
        let Some(id) = r.body["data"]["transaction_id"].as_str() else {
            continue;
        };
        if sent.contains_key(id) {
            first
                .entry(id.to_string())
                .and_modify(|at: &mut Instant| *at = (*at).min(r.received_at))
                .or_insert(r.received_at);
        }
    }
    first
}

/// One contract at a time into idle workers: request sent → webhook verified.
async fn idle_latencies(api: &Api, sink: &Sink) -> Result<Vec<Duration>, BenchError> {
    // Let the workers finish their last acknowledgements and go back to blocking reads.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut sent = HashMap::with_capacity(IDLE_SAMPLES);
    for i in 0..IDLE_SAMPLES {
        let before = sink.counts().distinct_ids;
        let contract = sample_contract(&format!("e2e-idle-{i}"));
        let at = Instant::now();
        api.create_one(&contract).await?;
        sent.insert(contract.transaction_id, at);
        if !sink.wait_until(STALL, |c| c.distinct_ids > before).await {
            break;
        }
    }
    let arrived = arrivals(&sink.received(), &sent);
    let mut latencies: Vec<Duration> = arrived
        .iter()
        .filter_map(|(id, at)| Some(at.saturating_duration_since(*sent.get(id)?)))
        .collect();
    latencies.sort();
    Ok(latencies)
}

/// Peak RSS of each child, in bytes (`None` when unknown).
struct PeakRss {
    worker: Option<u64>,
    api: Option<u64>,
}

struct Figures {
    sent: Sent,
    arrivals: HashMap<String, Instant>,
    idle: Vec<Duration>,
    /// Sandbox requests during the backlog (the idle samples come after).
    vendor_calls: u64,
    duplicates: u64,
    rejected: usize,
    settled: bool,
    rss: PeakRss,
}

impl Figures {
    fn latencies(&self) -> Vec<Duration> {
        let mut latencies: Vec<Duration> = self
            .arrivals
            .iter()
            .filter_map(|(id, arrived)| {
                Some(arrived.saturating_duration_since(*self.sent.at.get(id)?))
            })
            .collect();
        latencies.sort();
        latencies
    }

    /// First request sent → last webhook verified.
    fn span(&self) -> Duration {
        self.arrivals.values().max().map_or(Duration::ZERO, |last| {
            last.saturating_duration_since(self.sent.started)
        })
    }
}

fn report(options: &BenchOptions, f: Figures) -> Report {
    let contracts = f.sent.at.len();
    let verified = f.arrivals.len();
    let missing = contracts.saturating_sub(verified);
    let latencies = f.latencies();
    let (p50, p99, max) = (
        percentile(&latencies, 50.0),
        percentile(&latencies, 99.0),
        latencies.last().copied().unwrap_or_default(),
    );
    let (idle_p50, idle_max) = (
        percentile(&f.idle, 50.0),
        f.idle.last().copied().unwrap_or_default(),
    );
    let enqueue_rate = rate(contracts, f.sent.took);
    let e2e_rate = rate(verified, f.span());
    let per_1000 = f.vendor_calls as f64 * 1000.0 / contracts.max(1) as f64;
    let c = options.concurrency;
    let mut rows = vec![
        ("vendor".into(), "proteger (sandbox, over HTTP)".into()),
        ("contracts".into(), contracts.to_string()),
        (
            "processes".into(),
            format!("serve --no-worker (API), serve --no-api (worker, concurrency {c})"),
        ),
        (
            "producer clients".into(),
            format!("{CLIENTS}, bulk requests of {PER_REQUEST}"),
        ),
        (
            "HTTP enqueue (contracts/s)".into(),
            format!("{enqueue_rate:.0}"),
        ),
        (
            "end to end, HTTP → webhook verified (contracts/s)".into(),
            format!("{e2e_rate:.0}"),
        ),
        (
            "latency under backlog p50 / p99 / max (ms)".into(),
            format!("{:.1} / {:.1} / {:.1}", ms(p50), ms(p99), ms(max)),
        ),
        (
            format!("idle latency p50 / max (ms, {} samples)", f.idle.len()),
            format!("{:.1} / {:.1}", ms(idle_p50), ms(idle_max)),
        ),
        (
            "vendor calls per 1,000 contracts".into(),
            format!("{per_1000:.0}"),
        ),
        ("duplicate contracts".into(), f.duplicates.to_string()),
        (
            "webhooks verified / missing".into(),
            format!("{verified} / {missing}"),
        ),
        ("worker process peak RSS (MiB)".into(), mib(f.rss.worker)),
        ("API process peak RSS (MiB)".into(), mib(f.rss.api)),
    ];
    if f.rejected > 0 {
        rows.push((
            "webhooks rejected by the sink".into(),
            f.rejected.to_string(),
        ));
    }
    if !f.settled {
        rows.push((
            "incomplete".into(),
            format!("no webhook for {STALL:?}: figures cover what arrived"),
        ));
    }
    Report {
        name: "e2e",
        rows,
        json: json!({
            "bench": "e2e", "vendor": "proteger", "contracts": contracts, "concurrency": c,
            "clients": CLIENTS, "contracts_per_request": PER_REQUEST,
            "enqueue_per_s": enqueue_rate.round(), "contracts_per_s": e2e_rate.round(),
            "p50_ms": ms(p50), "p99_ms": ms(p99), "max_ms": ms(max),
            "idle_samples": f.idle.len(), "idle_p50_ms": ms(idle_p50), "idle_max_ms": ms(idle_max),
            "vendor_calls_per_1000": per_1000.round(), "duplicates": f.duplicates,
            "webhooks_verified": verified, "webhooks_missing": missing,
            "webhooks_rejected": f.rejected, "complete": f.settled,
            "worker_peak_rss_mib": mib_json(f.rss.worker), "api_peak_rss_mib": mib_json(f.rss.api),
        }),
    }
}
