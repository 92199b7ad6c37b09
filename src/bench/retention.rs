//! `bench retention`: what finished jobs cost Redis while their records are kept, and
//! whether retention gives it all back.
//!
//! A succeeded job is not deleted: its record (`job:<id>`, with payload and result) and its
//! entries in `idx:succeeded` and `idx:all` stay for `retention.finished_secs` (7 days by
//! default) so that `GET /v1/jobs/{id}` can answer. Then the janitor every worker runs
//! (`queue/maintenance.rs`) deletes them with `Store::enforce_retention`. This benchmark
//! measures Redis's `used_memory` (`INFO memory`) at three points:
//!
//! 1. **empty queue**: after one warm-up job went through every step (see [`warm_up`]), so
//!    that what Redis allocates once does not count as "per job" or "left over";
//! 2. **retained**: after `--jobs` no-op jobs ran to success, their records kept;
//! 3. **after retention**: once the retention window passed and the janitor emptied
//!    `idx:succeeded`.
//!
//! The records are written with the default retention, and the janitor then runs with a
//! window of [`WINDOW`] (2 s) instead of 7 days, as if the 7 days had passed (see
//! [`janitor_store`] for why), so the benchmark is quick; the bytes per record do not
//! depend on the window. What is left after retention should be close to the
//! empty queue; the keys the queue still holds are listed with their size, so a leak names
//! itself.
//!
//! The worker runs inside the benchmark's process (it is the no-op worker of `noop.rs`),
//! so the peak RSS reported is the benchmark process's: worker, enqueuer and janitor.

use std::time::{Duration, Instant};

use serde_json::json;

use super::noop::{drain, enqueue_bulk};
use super::process::{mib, mib_json, own_peak_rss_bytes};
use super::{BenchError, BenchOptions, Report, bench_store, drop_queue, rate};
use crate::queue::maintenance::spawn_janitor;
use crate::queue::{JobState, QueueError, Redis, Retention, Store};

/// How long succeeded records are kept during the benchmark.
pub const WINDOW: Duration = Duration::from_secs(2);
/// How often the janitor runs during the benchmark (every 60 s in a worker process).
const JANITOR_EVERY: Duration = Duration::from_millis(500);
/// Gives up waiting for the janitor after the window plus this.
const PATIENCE: Duration = Duration::from_secs(120);

pub async fn retention(options: &BenchOptions) -> Result<Report, BenchError> {
    let (store, redis, _) = bench_store(options)?;
    let result = measure(options, &store, &redis).await;
    drop_queue(&store).await;
    result
}

/// The same queue seen by a janitor whose window is [`WINDOW`]: the records were written
/// with the default retention (their 7-day TTL does not matter: the janitor deletes by
/// the `idx:succeeded` score), and this janitor acts as if the window had passed.
///
/// Writing them with a 2 s retention instead would not work: a run of 100,000 jobs takes
/// longer than that, and the first records would be gone before "retained" is measured.
fn janitor_store(store: &Store, window: Duration) -> Store {
    let retention = Retention {
        finished: window,
        ..Retention::default()
    };
    // The same connection: a second one would count as client memory in the "after" figure.
    Store::new(store.connection(), store.keys().clone(), retention)
}

async fn measure(
    options: &BenchOptions,
    store: &Store,
    redis: &Redis,
) -> Result<Report, BenchError> {
    let (jobs, c) = (options.jobs, options.concurrency);
    warm_up(store, redis, c).await?;
    let empty = memory(store).await?;
    let keys_when_empty = queue_keys(store).await?;

    let took = enqueue_bulk(store, jobs).await? + drain(store, redis, jobs, c).await;
    wait_for(store, |succeeded| succeeded >= jobs as u64, PATIENCE).await?;
    let retained = memory(store).await?;

    let janitor_started = Instant::now();
    let janitor = spawn_janitor(janitor_store(store, WINDOW), JANITOR_EVERY);
    let emptied = wait_for(store, |succeeded| succeeded == 0, WINDOW + PATIENCE).await;
    janitor.abort();
    emptied?;
    let reclaimed_after = janitor_started.elapsed();
    let after = memory(store).await?;
    let keys_left = queue_keys(store).await?;

    let figures = Figures {
        empty,
        retained,
        after,
        run_rate: rate(jobs, took),
        reclaimed_after,
        keys_left: describe_keys(store, &keys_left, &keys_when_empty).await,
        own_rss: own_peak_rss_bytes(),
    };
    Ok(report(options, figures))
}

/// One job enqueued, run, and deleted by a janitor with no window: every step the measured
/// run takes, once. What Redis allocates only the first time is then part of the empty
/// figure, not of "left over": the stream, its group and the `kinds` set, the cached
/// scripts, and (Redis 7) one latency histogram per command name, about 25 KB each, which
/// stays until `CONFIG RESETSTAT`. Without this, some 0.8 MB would look like a leak.
async fn warm_up(store: &Store, redis: &Redis, concurrency: usize) -> Result<(), BenchError> {
    enqueue_bulk(store, 1).await?;
    drain(store, redis, 1, concurrency).await;
    wait_for(store, |succeeded| succeeded == 1, PATIENCE).await?;
    let janitor = janitor_store(store, Duration::ZERO);
    janitor.enforce_retention().await?;
    janitor
        .forget_idle_consumers(Duration::from_secs(3600))
        .await?;
    let keys = queue_keys(store).await?;
    describe_keys(store, &keys, &keys).await;
    memory(store).await?;
    Ok(())
}

/// Redis's `used_memory` (`INFO memory`): everything it allocated, in bytes.
async fn memory(store: &Store) -> Result<i64, BenchError> {
    let mut conn = store.connection();
    let info: String = redis::cmd("INFO")
        .arg("memory")
        .query_async(&mut conn)
        .await
        .map_err(QueueError::from)?;
    info.lines()
        .find_map(|line| line.strip_prefix("used_memory:"))
        .and_then(|value| value.trim().parse().ok())
        .ok_or_else(|| BenchError::Setup("INFO memory has no used_memory".into()))
}

/// Waits until the number of succeeded records satisfies `done`.
async fn wait_for(
    store: &Store,
    done: impl Fn(u64) -> bool,
    within: Duration,
) -> Result<(), BenchError> {
    let deadline = Instant::now() + within;
    loop {
        let succeeded = succeeded(store).await?;
        if done(succeeded) {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(BenchError::Setup(format!(
                "gave up after {within:?} with {succeeded} succeeded records"
            )));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn succeeded(store: &Store) -> Result<u64, BenchError> {
    Ok(store
        .counts()
        .await?
        .into_iter()
        .find(|(state, _)| *state == JobState::Succeeded)
        .map_or(0, |(_, n)| n))
}

/// Every key of the queue, sorted.
async fn queue_keys(store: &Store) -> Result<Vec<String>, BenchError> {
    let mut conn = store.connection();
    let mut keys = Vec::new();
    let mut cursor: u64 = 0;
    loop {
        let mut cmd = redis::cmd("SCAN");
        cmd.arg(cursor)
            .arg("MATCH")
            .arg(store.keys().pattern())
            .arg("COUNT")
            .arg(10_000);
        let (next, batch): (u64, Vec<String>) =
            cmd.query_async(&mut conn).await.map_err(QueueError::from)?;
        keys.extend(batch);
        if next == 0 {
            keys.sort();
            return Ok(keys);
        }
        cursor = next;
    }
}

/// `stream:bench.noop (1234 B)` for each key left, without the queue's prefix; keys that
/// were not there on the empty queue are marked `new`.
async fn describe_keys(store: &Store, left: &[String], before: &[String]) -> Vec<String> {
    let prefix = store.keys().pattern().trim_end_matches('*').to_string();
    let mut described = Vec::with_capacity(left.len());
    for key in left {
        let mut cmd = redis::cmd("MEMORY");
        cmd.arg("USAGE").arg(key);
        let bytes = match store.raw(&cmd).await {
            Ok(redis::Value::Int(n)) => n.to_string(),
            _ => "?".into(),
        };
        let short = key.strip_prefix(&prefix).unwrap_or(key);
        let new = if before.contains(key) { "" } else { ", new" };
        described.push(format!("{short} ({bytes} B{new})"));
    }
    described
}

struct Figures {
    empty: i64,
    retained: i64,
    after: i64,
    run_rate: f64,
    reclaimed_after: Duration,
    keys_left: Vec<String>,
    own_rss: Option<u64>,
}

fn report(options: &BenchOptions, f: Figures) -> Report {
    let jobs = options.jobs;
    let per_job = (f.retained - f.empty) as f64 / jobs.max(1) as f64;
    let left = f.after - f.empty;
    let window = WINDOW.as_secs();
    let keys_left = if f.keys_left.is_empty() {
        "none".to_string()
    } else {
        f.keys_left.join(", ")
    };
    Report {
        name: "retention",
        rows: vec![
            ("jobs (no-op, all succeeded)".into(), jobs.to_string()),
            (
                "retention window".into(),
                format!("{window} s for the janitor (as if 7 days had passed)"),
            ),
            (
                "enqueue + run (jobs/s)".into(),
                format!("{:.0}", f.run_rate),
            ),
            ("redis used_memory, empty queue".into(), bytes(f.empty)),
            (
                "redis used_memory, records retained".into(),
                bytes(f.retained),
            ),
            (
                "redis bytes per retained job".into(),
                format!("{per_job:.0}"),
            ),
            (
                "records deleted by the janitor after (s)".into(),
                format!("{:.1}", f.reclaimed_after.as_secs_f64()),
            ),
            ("redis used_memory, after retention".into(), bytes(f.after)),
            (
                "left over the empty queue (bytes)".into(),
                format!("{left:+}"),
            ),
            ("queue keys left".into(), keys_left),
            (
                "bench process peak RSS (MiB; in-process worker)".into(),
                mib(f.own_rss),
            ),
        ],
        json: json!({
            "bench": "retention", "jobs": jobs, "window_s": window,
            "used_memory_empty": f.empty, "used_memory_retained": f.retained,
            "used_memory_after": f.after, "bytes_per_retained_job": per_job.round(),
            "left_bytes": left,
            "keys_left": f.keys_left,
            "reclaimed_after_s": (f.reclaimed_after.as_secs_f64() * 10.0).round() / 10.0,
            "bench_process_peak_rss_mib": mib_json(f.own_rss),
        }),
    }
}

fn bytes(b: i64) -> String {
    format!("{b} ({:.1} MiB)", b as f64 / (1024.0 * 1024.0))
}
