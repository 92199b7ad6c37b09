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
//! worker-only `underwrite serve` (see `stack.rs`). It then posts every contract at once,
//! from several clients, and waits for one verified `proteger.contract.created` webhook per
//! contract. It reports:
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
//! With `--vendor tulip` the same path carries Tulip contracts instead, one per request
//! (Tulip's API has no bulk) and one `POST /contracts` each at the vendor, confirmed by
//! `tulip.contract.created`; duplicates are contracts the sandbox stored twice for one
//! renter (`e2e_target.rs`). Tulip's shared budget is lifted for the run (`stack.rs`).
//!
//! It never hangs: when no webhook has arrived for [`STALL`], it reports what did.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::task::JoinSet;

use super::e2e_target::Target;
use super::process::{mib, mib_json};
use super::stack::{Api, STALL, Stack, arrivals_of, latencies, wait_for_webhooks};
use super::{BenchError, BenchOptions, Report, bench_store, drop_queue, ms, percentile, rate};
use crate::queue::Store;
use crate::webhooks::sink::Sink;

/// Producer clients posting at once.
const CLIENTS: usize = 12;
/// Contracts sent one at a time, after the backlog, for the idle latency.
const IDLE_SAMPLES: usize = 20;

/// Runs the benchmark for `options.vendor` (`e2e_target.rs`).
pub async fn run(options: &BenchOptions) -> Result<Report, BenchError> {
    let target = Target::parse(&options.vendor)?;
    let (store, _, queue) = bench_store(options)?;
    let result = measure(options, target, &store, &queue).await;
    drop_queue(&store).await;
    result
}

async fn measure(
    options: &BenchOptions,
    target: Target,
    store: &Store,
    queue: &str,
) -> Result<Report, BenchError> {
    let Stack {
        sandbox,
        tulip,
        sink,
        api,
        api_process,
        worker,
    } = Stack::start(options, store, queue, &[]).await?;
    let sent = flood(&api, target, options.jobs).await?;
    let settled = wait_for_webhooks(&sink, sent.at.len()).await;
    let vendor_calls = target.vendor_calls(&sandbox, &tulip);
    let idle = if settled {
        idle_latencies(&api, target, &sink).await?
    } else {
        Vec::new()
    };
    let rss = PeakRss {
        worker: worker.kill().await,
        api: api_process.kill().await,
    };
    let arrivals = arrivals_of(target.created(), &sink.received(), &sent.at);
    let figures = Figures {
        target,
        sent,
        arrivals,
        idle,
        vendor_calls,
        duplicates: target.duplicates(&sandbox, &tulip),
        rejected: sink.counts().rejected,
        settled,
        rss,
    };
    Ok(report(options, figures))
}

/// What was sent: each contract's key (`e2e_target.rs`) and when its request left.
struct Sent {
    at: HashMap<String, Instant>,
    started: Instant,
    took: Duration,
}

/// Posts `jobs` contracts from [`CLIENTS`] clients at once, in requests of the target's
/// size; each client takes the next request number until none is left.
async fn flood(api: &Api, target: Target, jobs: usize) -> Result<Sent, BenchError> {
    let per_request = target.per_request();
    let requests = jobs.div_ceil(per_request);
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
                let first = request * per_request;
                let names: Vec<String> = (first..(first + per_request).min(jobs))
                    .map(|i| format!("e2e-{i}"))
                    .collect();
                let at = Instant::now();
                let keys = target.post(&api, &names).await?;
                sent.extend(keys.into_iter().map(|key| (key, at)));
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

/// One contract at a time into idle workers: request sent → webhook verified.
async fn idle_latencies(
    api: &Api,
    target: Target,
    sink: &Sink,
) -> Result<Vec<Duration>, BenchError> {
    // Let the workers finish their last acknowledgements and go back to blocking reads.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut sent = HashMap::with_capacity(IDLE_SAMPLES);
    for i in 0..IDLE_SAMPLES {
        let before = sink.counts().distinct_ids;
        let at = Instant::now();
        for key in target.post(api, &[format!("e2e-idle-{i}")]).await? {
            sent.insert(key, at);
        }
        if !sink.wait_until(STALL, |c| c.distinct_ids > before).await {
            break;
        }
    }
    let arrived = arrivals_of(target.created(), &sink.received(), &sent);
    Ok(latencies(&sent, &arrived))
}

/// Peak RSS of each child, in bytes (`None` when unknown).
struct PeakRss {
    worker: Option<u64>,
    api: Option<u64>,
}

struct Figures {
    target: Target,
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
        latencies(&self.sent.at, &self.arrivals)
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
    let vendor = f.target.name();
    let mut rows = vec![
        ("vendor".into(), format!("{vendor} (sandbox, over HTTP)")),
        ("contracts".into(), contracts.to_string()),
        (
            "processes".into(),
            format!("serve --no-worker (API), serve --no-api (worker, concurrency {c})"),
        ),
        (
            "producer clients".into(),
            format!("{CLIENTS}, {}", f.target.requests()),
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
            format!("{per_1000:.0} (floor {})", f.target.calls_floor()),
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
            "bench": "e2e", "vendor": vendor, "contracts": contracts, "concurrency": c,
            "clients": CLIENTS, "contracts_per_request": f.target.per_request(),
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
