//! `bench trickle`: what the batcher's linger buys and costs when contracts come one at a
//! time, as most producers send them.
//!
//! Contracts are posted one per request at a steady [`RATE`] (never in bursts: a request
//! that falls behind pushes the next ones back), through the same deployed path as
//! `bench e2e` (`stack.rs`). The whole run is done twice, each on a queue and children of
//! its own: with the shipped `linger_ms`, and with `linger_ms = 0` (form whatever is
//! waiting, the behaviour before the linger). For each it reports:
//!
//! - **vendor calls per 1,000 contracts**, the requests the sandbox saw. Without a linger a
//!   trickle finds one contract waiting at a time, so this tends to 1,000; with one, a
//!   batch gathers what arrives during the linger (about `RATE × linger`, up to 10);
//! - **latency** p50 / p99 / max, from a contract's request sent to its verified
//!   `created` webhook, and the difference between the two runs: what the linger adds.
//!
//! Duplicates and missing webhooks are counted too: both must be 0.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::task::JoinSet;

use super::stack::{Api, STALL, Stack, arrivals, latencies, wait_for_webhooks};
use super::{BenchError, BenchOptions, Report, bench_store, drop_queue, ms, percentile, rate};
use crate::config::Settings;
use crate::queue::Store;
use crate::vendors::proteger::sandbox::sample_contract;
use crate::vendors::proteger::settings::ProtegerSettings;

/// Contracts per second, one per request.
pub const RATE: u32 = 50;

pub async fn proteger(options: &BenchOptions) -> Result<Report, BenchError> {
    // What `config/default.toml` ships, which is what a deployment runs unless told.
    let shipped = Settings::load_from(None, Vec::new())
        .and_then(|settings| ProtegerSettings::from_settings(&settings))
        .map_err(|e| BenchError::Setup(format!("the shipped settings: {e}")))?
        .linger_ms;
    let on = once(options, shipped).await?;
    let off = once(options, 0).await?;
    Ok(report(options, &on, &off))
}

/// One run with `linger_ms`, on a queue of its own that is deleted afterwards.
async fn once(options: &BenchOptions, linger_ms: u64) -> Result<Run, BenchError> {
    let (store, _, queue) = bench_store(options)?;
    let result = measure(options, &store, &queue, linger_ms).await;
    drop_queue(&store).await;
    result
}

async fn measure(
    options: &BenchOptions,
    store: &Store,
    queue: &str,
    linger_ms: u64,
) -> Result<Run, BenchError> {
    let linger = [(
        "UNDERWRITE_VENDORS_PROTEGER_LINGER_MS",
        linger_ms.to_string(),
    )];
    let stack = Stack::start(options, store, queue, &linger).await?;
    let tag = if linger_ms == 0 { "off" } else { "on" };
    let (sent, took) = trickle(&stack.api, options.jobs, tag).await?;
    let settled = wait_for_webhooks(&stack.sink, sent.len()).await;
    let effects = stack.sandbox.proteger.effects();
    stack.worker.kill().await;
    stack.api_process.kill().await;
    let arrived = arrivals(&stack.sink.received(), &sent);
    Ok(Run {
        linger_ms,
        contracts: sent.len(),
        arrival_rate: rate(sent.len(), took),
        verified: arrived.len(),
        latencies: latencies(&sent, &arrived),
        vendor_calls: effects.requests_seen,
        duplicates: effects.duplicate_transaction_ids,
        settled,
    })
}

/// Posts `jobs` contracts one at a time, one every `1 / RATE` seconds; each request is its
/// own task, so a slow answer does not hold back the next contract. Returns when each was
/// sent, and how long sending took.
async fn trickle(
    api: &Api,
    jobs: usize,
    tag: &str,
) -> Result<(HashMap<String, Instant>, Duration), BenchError> {
    let mut tick = tokio::time::interval(Duration::from_secs(1) / RATE);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let started = Instant::now();
    let mut requests = JoinSet::new();
    for i in 0..jobs {
        tick.tick().await;
        let api = api.clone();
        let contract = sample_contract(&format!("trickle-{tag}-{i}"));
        requests.spawn(async move {
            let at = Instant::now();
            api.create_one(&contract).await?;
            Ok::<_, BenchError>((contract.transaction_id, at))
        });
    }
    let took = started.elapsed();
    let mut sent = HashMap::with_capacity(jobs);
    while let Some(joined) = requests.join_next().await {
        let (id, at) = joined.map_err(|e| BenchError::Setup(format!("request task: {e}")))??;
        sent.insert(id, at);
    }
    Ok((sent, took))
}

/// One run's figures.
struct Run {
    linger_ms: u64,
    contracts: usize,
    /// Contracts per second actually sent (at most [`RATE`]).
    arrival_rate: f64,
    verified: usize,
    latencies: Vec<Duration>,
    vendor_calls: u64,
    duplicates: u64,
    settled: bool,
}

impl Run {
    fn calls_per_1000(&self) -> f64 {
        self.vendor_calls as f64 * 1000.0 / self.contracts.max(1) as f64
    }

    fn p(&self, percent: f64) -> Duration {
        percentile(&self.latencies, percent)
    }

    fn missing(&self) -> usize {
        self.contracts.saturating_sub(self.verified)
    }

    fn json(&self) -> Value {
        json!({
            "linger_ms": self.linger_ms, "contracts": self.contracts,
            "arrival_per_s": (self.arrival_rate * 10.0).round() / 10.0,
            "vendor_calls": self.vendor_calls,
            "vendor_calls_per_1000": self.calls_per_1000().round(),
            "p50_ms": ms(self.p(50.0)), "p99_ms": ms(self.p(99.0)),
            "max_ms": ms(self.latencies.last().copied().unwrap_or_default()),
            "duplicates": self.duplicates, "webhooks_verified": self.verified,
            "webhooks_missing": self.missing(), "complete": self.settled,
        })
    }
}

fn report(options: &BenchOptions, on: &Run, off: &Run) -> Report {
    let latency = |run: &Run| {
        format!(
            "{:.1} / {:.1} / {:.1}",
            ms(run.p(50.0)),
            ms(run.p(99.0)),
            ms(run.latencies.last().copied().unwrap_or_default())
        )
    };
    let side_by_side = |f: &dyn Fn(&Run) -> String| format!("{}  |  {}", f(on), f(off));
    // Signed: the linger adds latency, but on a loaded machine the run without it can be
    // the slower one (one call per contract).
    let added = |p: f64| ms(on.p(p)).round() - ms(off.p(p)).round();
    let mut rows = vec![
        ("vendor".into(), "proteger (sandbox, over HTTP)".into()),
        (
            "arrivals".into(),
            format!(
                "{} contracts, one per request, {RATE}/s (worker concurrency {})",
                options.jobs, options.concurrency
            ),
        ),
        (
            "linger_ms".into(),
            side_by_side(&|r| r.linger_ms.to_string()),
        ),
        (
            "sent (contracts/s)".into(),
            side_by_side(&|r| format!("{:.1}", r.arrival_rate)),
        ),
        (
            "vendor calls per 1,000 contracts".into(),
            side_by_side(&|r| format!("{:.0}", r.calls_per_1000())),
        ),
        (
            "latency p50 / p99 / max (ms)".into(),
            side_by_side(&latency),
        ),
        (
            "added by the linger p50 / p99 (ms)".into(),
            format!("{:+.0} / {:+.0}", added(50.0), added(99.0)),
        ),
        (
            "duplicates".into(),
            side_by_side(&|r| r.duplicates.to_string()),
        ),
        (
            "webhooks verified / missing".into(),
            side_by_side(&|r| format!("{} / {}", r.verified, r.missing())),
        ),
    ];
    if !(on.settled && off.settled) {
        rows.push((
            "incomplete".into(),
            format!("no webhook for {STALL:?}: figures cover what arrived"),
        ));
    }
    Report {
        name: "trickle",
        rows,
        json: json!({
            "bench": "trickle", "vendor": "proteger", "contracts": options.jobs,
            "rate_per_s": RATE, "concurrency": options.concurrency,
            "linger_on": on.json(), "linger_off": off.json(),
            "added_p50_ms": added(50.0), "added_p99_ms": added(99.0),
            "complete": on.settled && off.settled,
        }),
    }
}
