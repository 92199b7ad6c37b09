//! The deployed path that `bench e2e` and `bench trickle` measure, set up once per run.
//!
//! ```text
//!  bench ──HTTP POST──▶ serve --no-worker ──▶ Redis ──▶ serve --no-api
//!    ▲                   (the API)                      (the workers)
//!    │ latency                                       │ batches of ≤ 10
//!    │                                               ▼
//!  verifying webhook sink ◀──signed `created` webhook── sandbox Proteger (HTTP)
//! ```
//!
//! The benchmark process hosts the sandbox and a verifying webhook sink (the only
//! endpoint), and starts the real binary twice, as an operator would: an API-only and a
//! worker-only `underwrite serve`, configured through `UNDERWRITE_*` variables alone (see
//! `process.rs`). A contract's latency is its request sent to its first verified, accepted
//! `created` webhook, matched by its own key ([`Created`]: Proteger's `transactionId`,
//! Tulip's renter `uid`). Tulip's sandbox is served beside Proteger's, so `bench e2e
//! --vendor tulip` runs on the same stack.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::json;

use super::process::{POLL, ServeProcess, free_port};
use super::{BenchError, BenchOptions};
use crate::queue::{JobKind, Store};
use crate::vendors::proteger::jobs::{ContractBatch, CreateContract};
use crate::vendors::proteger::sandbox::{ProtegerSandboxConfig, ServedProteger};
use crate::vendors::proteger::types::ContractRequest;
use crate::vendors::tulip::jobs::CreateContract as CreateTulipContract;
use crate::vendors::tulip::sandbox::{ServedTulip, TulipSandboxConfig};
use crate::webhooks::delivery::Delivery;
use crate::webhooks::sink::{self, Received, Sink};

/// How long the children may take to start.
const READY_WITHIN: Duration = Duration::from_secs(30);
/// Gives up waiting when no webhook arrived for this long.
pub(super) const STALL: Duration = Duration::from_secs(30);
/// Tulip's budget for the children: Tulip publishes no limit and the sandbox enforces none,
/// and the shipped 600 per minute would cap the path at 10 contracts/s: the benchmark
/// measures the path, with the limiter's Redis script still in it on every call.
pub(super) const TULIP_BENCH_RATE_LIMIT: u32 = 1_000_000;

/// Which webhook confirms a contract, and where its body names the contract.
#[derive(Debug, Clone, Copy)]
pub(super) struct Created {
    pub(super) event: &'static str,
    pub(super) key: fn(&serde_json::Value) -> Option<&str>,
}

/// Proteger's: `data.transaction_id`.
pub(super) const PROTEGER_CREATED: Created = Created {
    event: "proteger.contract.created",
    key: proteger_key,
};

fn proteger_key(body: &serde_json::Value) -> Option<&str> {
    body["data"]["transaction_id"].as_str()
}

/// Tulip's: the renter of the contract in the job's result.
pub(super) const TULIP_CREATED: Created = Created {
    event: "tulip.contract.created",
    key: tulip_key,
};

fn tulip_key(body: &serde_json::Value) -> Option<&str> {
    body["data"]["result"]["contract"]["uid"].as_str()
}

/// The sandbox, the sink, the API client and both children, ready to take contracts.
pub(super) struct Stack {
    pub(super) sandbox: ServedProteger,
    pub(super) tulip: ServedTulip,
    pub(super) sink: Sink,
    pub(super) api: Api,
    pub(super) api_process: ServeProcess,
    pub(super) worker: ServeProcess,
}

impl Stack {
    /// Starts everything on `queue` and waits until it is ready. `extra` is added to the
    /// children's environment (after ours, so it wins).
    pub(super) async fn start(
        options: &BenchOptions,
        store: &Store,
        queue: &str,
        extra: &[(&'static str, String)],
    ) -> Result<Self, BenchError> {
        let (sandbox, tulip, sink) = receivers(store).await?;
        let port = free_port()?;
        let api = Api::new(port)?;
        let mut env = child_env(options, queue, &sandbox, port, &api.token);
        env.extend([
            ("UNDERWRITE_VENDORS_TULIP_BASE_URL", tulip.url()),
            ("UNDERWRITE_TULIP_API_KEY", "bench".to_string()),
            (
                "UNDERWRITE_VENDORS_TULIP_RATE_LIMIT",
                TULIP_BENCH_RATE_LIMIT.to_string(),
            ),
        ]);
        env.extend(extra.iter().cloned());
        let mut api_process = ServeProcess::spawn("API", &["--no-worker"], &env)?;
        let mut worker = ServeProcess::spawn("worker", &["--no-api"], &env)?;
        wait_ready(&api, store, &mut api_process, &mut worker).await?;
        Ok(Self {
            sandbox,
            tulip,
            sink,
            api,
            api_process,
            worker,
        })
    }
}

/// The sandboxes, and a verifying sink registered as the queue's only webhook endpoint.
async fn receivers(store: &Store) -> Result<(ServedProteger, ServedTulip, Sink), BenchError> {
    let loopback = "127.0.0.1:0"
        .parse()
        .map_err(|_| BenchError::Setup("loopback address".into()))?;
    let sandbox =
        crate::vendors::proteger::sandbox::serve(loopback, ProtegerSandboxConfig::default())
            .await
            .map_err(|e| BenchError::Setup(format!("sandbox: {e}")))?;
    let tulip = crate::vendors::tulip::sandbox::serve(loopback, TulipSandboxConfig::default())
        .await
        .map_err(|e| BenchError::Setup(format!("Tulip sandbox: {e}")))?;
    let (sink, _) = sink::spawn_as_endpoint(store)
        .await
        .map_err(|e| BenchError::Setup(e.to_string()))?;
    Ok((sandbox, tulip, sink))
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
pub(super) struct Api {
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

    pub(super) async fn create_bulk(
        &self,
        contracts: &[ContractRequest],
    ) -> Result<(), BenchError> {
        let url = format!("{}/v1/proteger/contracts/bulk", self.base);
        self.post(&url, &json!({ "contracts": contracts })).await
    }

    pub(super) async fn create_one(&self, contract: &ContractRequest) -> Result<(), BenchError> {
        let url = format!("{}/v1/proteger/contracts", self.base);
        self.post(&url, &json!(contract)).await
    }

    /// One Tulip contract: Tulip's create body (its API takes no bulk).
    pub(super) async fn create_tulip(&self, body: &serde_json::Value) -> Result<(), BenchError> {
        let url = format!("{}/v1/tulip/contracts", self.base);
        self.post(&url, body).await
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
    let kinds = [
        CreateContract::KIND,
        ContractBatch::KIND,
        CreateTulipContract::KIND,
        Delivery::KIND,
    ];
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

/// Waits for `count` distinct verified webhooks; false when they stopped coming first.
/// Polls rather than waking on every arrival: counting is linear in what arrived, and
/// doing it 10,000 times would slow the sink it measures.
pub(super) async fn wait_for_webhooks(sink: &Sink, count: usize) -> bool {
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

/// When each sent Proteger contract's first verified, accepted `created` webhook arrived.
pub(super) fn arrivals(
    received: &[Received],
    sent: &HashMap<String, Instant>,
) -> HashMap<String, Instant> {
    arrivals_of(PROTEGER_CREATED, received, sent)
}

/// When each sent contract's first verified, accepted `created` webhook arrived, the
/// contract named as `created` says.
pub(super) fn arrivals_of(
    created: Created,
    received: &[Received],
    sent: &HashMap<String, Instant>,
) -> HashMap<String, Instant> {
    let mut first = HashMap::with_capacity(sent.len());
    for r in received {
        if !r.verified || !(200..300).contains(&r.status) {
            continue;
        }
        if r.event_type.as_deref() != Some(created.event) {
            continue;
        }
        let Some(id) = (created.key)(&r.body) else {
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

/// Each arrived contract's latency (arrival minus request sent), sorted.
pub(super) fn latencies(
    sent: &HashMap<String, Instant>,
    arrived: &HashMap<String, Instant>,
) -> Vec<Duration> {
    let mut latencies: Vec<Duration> = arrived
        .iter()
        .filter_map(|(id, at)| Some(at.saturating_duration_since(*sent.get(id)?)))
        .collect();
    latencies.sort();
    latencies
}
