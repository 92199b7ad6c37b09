//! `underwrite bench <name>`: figures that back the README's claims.
//!
//! Every benchmark runs the real backend against a real Redis (the one at
//! `UNDERWRITE_REDIS_URL` when it answers, else a private `redis-server`), prints a table and
//! one JSON line, and cleans up its keys (each run uses a queue name of its own).
//!
//! - `noop`: enqueue rate (one by one, and in bulk) and drain rate of no-op jobs, then the
//!   same workload on `apalis-redis` 1.0.0 as a baseline, with the ratios (see `baseline.rs`).
//! - `latency`: idle pick-up latency, from `XADD` to the handler starting, over jobs pushed
//!   one at a time.
//! - `backlog`: a large backlog enqueued then drained (1,000,000 by default).
//! - `e2e`: Proteger (or, `--vendor tulip`, Tulip) contracts over HTTP through separate API
//!   and worker processes to the sandbox, each confirmed by a verified webhook: rates,
//!   latency, vendor calls, peak RSS of each process (see `e2e.rs`, the vendors in
//!   `e2e_target.rs`; the deployed path is `stack.rs`, its child processes `process.rs`).
//! - `trickle`: the same path fed one contract at a time at 50/s, with the batcher's linger
//!   and without: vendor calls per 1,000 contracts and latency, side by side (`trickle.rs`).
//! - `credit-poll`: Billing-Robo vendor calls per poll cycle with 100, 1,000 and 10,000
//!   applications pending and a few percent decided (`credit_poll.rs`).
//! - `webhooks`: signed deliveries to a local verifying receiver (see `webhooks.rs`).
//! - `retention`: Redis memory on an empty queue, with finished jobs' records retained, and
//!   after the janitor's retention pass (see `retention.rs`).

mod baseline;
mod credit_poll;
mod e2e;
mod e2e_target;
mod noop;
mod process;
mod retention;
mod stack;
mod trickle;
mod webhooks;

use std::time::Duration;

use serde_json::Value;

pub use noop::Noop;

use crate::queue::{Keys, Redis, Retention, Store};

#[derive(Debug, Clone)]
pub struct BenchOptions {
    pub jobs: usize,
    pub concurrency: usize,
    pub redis_url: String,
    /// `noop` also runs the `apalis-redis` baseline (skipped with `--no-baseline`).
    pub baseline: bool,
    /// `e2e`: whose contracts (`proteger` or `tulip`).
    pub vendor: String,
}

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("queue: {0}")]
    Queue(#[from] crate::queue::QueueError),
    #[error("{0}")]
    Setup(String),
}

/// A report: rows for people, one JSON object for machines.
#[derive(Debug, Clone)]
pub struct Report {
    pub name: &'static str,
    pub rows: Vec<(String, String)>,
    pub json: Value,
}

impl Report {
    pub fn print(&self) {
        println!("bench {}", self.name);
        let width = self.rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        for (key, value) in &self.rows {
            println!("  {key:<width$}  {value}");
        }
        println!("{}", self.json);
    }
}

pub async fn run(benchmark: Benchmark, options: &BenchOptions) -> Result<Report, BenchError> {
    match benchmark {
        Benchmark::Noop => noop::throughput(options).await,
        Benchmark::Latency => noop::latency(options).await,
        Benchmark::Backlog => noop::backlog(options).await,
        Benchmark::E2e => e2e::run(options).await,
        Benchmark::Trickle => trickle::proteger(options).await,
        Benchmark::CreditPoll => credit_poll::credit_poll(options).await,
        Benchmark::Webhooks => webhooks::deliveries(options).await,
        Benchmark::Retention => retention::retention(options).await,
    }
}

/// The benchmarks there are, by the name `underwrite bench <name>` takes. A name is checked
/// when the command line is read, before anything (a Redis) is started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Benchmark {
    Noop,
    Latency,
    Backlog,
    E2e,
    Trickle,
    CreditPoll,
    Webhooks,
    Retention,
}

impl Benchmark {
    pub const ALL: [Benchmark; 8] = [
        Self::Noop,
        Self::Latency,
        Self::Backlog,
        Self::E2e,
        Self::Trickle,
        Self::CreditPoll,
        Self::Webhooks,
        Self::Retention,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Noop => "noop",
            Self::Latency => "latency",
            Self::Backlog => "backlog",
            Self::E2e => "e2e",
            Self::Trickle => "trickle",
            Self::CreditPoll => "credit-poll",
            Self::Webhooks => "webhooks",
            Self::Retention => "retention",
        }
    }
}

impl std::str::FromStr for Benchmark {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, String> {
        let names = Self::ALL.map(Self::name);
        Self::ALL
            .into_iter()
            .find(|b| b.name() == name)
            .ok_or_else(|| {
                format!(
                    "unknown benchmark `{name}`: expected {}{}",
                    names.join(", "),
                    crate::config_hints::suggestion(name, names)
                )
            })
    }
}

/// A store on a queue of its own, so a benchmark never touches real jobs.
fn bench_store(options: &BenchOptions) -> Result<(Store, Redis, String), BenchError> {
    let queue = format!("bench-{}", uuid::Uuid::now_v7().simple());
    let redis = Redis::open(&options.redis_url)?;
    let store = Store::new(
        redis.manager()?,
        Keys::new("uw", &queue),
        Retention::default(),
    );
    Ok((store, redis, queue))
}

/// Deletes every key of a benchmark queue.
async fn drop_queue(store: &Store) {
    if let Err(e) = store.delete_queue().await {
        tracing::warn!(error = %e, "cannot delete the benchmark's keys");
    }
}

fn rate(count: usize, took: Duration) -> f64 {
    count as f64 / took.as_secs_f64().max(1e-9)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}
