//! The `apalis-redis` 1.0.0 baseline of `bench noop`: the same workload (no-op jobs, one
//! worker at concurrency C, the same JSON payload) through the stock Redis backend of
//! apalis, in the same run and on the same Redis, so the ratio ours / baseline compares
//! backends and nothing else.
//!
//! What it measures, like our own figures: the enqueue rate one by one (`TaskSink::push`,
//! one Lua call per job) for the first 10,000 jobs, the enqueue rate in bulks of 1,000
//! (`TaskSink::push_bulk`, one Lua call per bulk) for the rest, and the drain rate (from
//! starting a worker to the last handler returning). The fetch batch is our prefetch,
//! `min(C, 32)`, instead of apalis-redis's default of 10, so both fetch alike; every other
//! setting is apalis-redis's default (task locks, stored results, pubsub events).
//!
//! Why the backlog is capped: apalis-redis 1.0.0 puts every pushed task in its scheduled
//! set (a push sets `run_at` to now, never 0), and its fetch script moves all due tasks to
//! the active list with one `RPUSH key unpack(ids)`. Lua in Redis cannot unpack more than
//! about 8,000 values, so once more than ~8,000 jobs wait, every fetch errors and the worker
//! dies. The baseline therefore runs in waves of at most [`WAVE`] jobs: enqueue a wave, then
//! drain it with a fresh worker; times are summed over the waves. (A fresh worker, because
//! a worker name cannot be registered again for 300 s: apalis-redis's shutdown removes the
//! wrong member from its workers set.) The drain also pays for the backlog: each task lock
//! is an `LREM` over the whole active list.
//!
//! It never hangs the bench: a wave that makes no progress for [`STALL`], a worker that
//! stops early, or an enqueue that takes longer than [`ENQUEUE_LIMIT`] ends the baseline,
//! and the error is reported in the table with the figures gathered so far.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use apalis::prelude::{BoxDynError, Data, TaskSink, WorkerBuilder, WorkerBuilderExt, WorkerError};
use apalis_redis::{Config, ConnectionManager, RedisStorage};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::noop::{Noop, noop_payload};
use super::{BenchOptions, rate};

/// The most jobs waiting at once: well under the ~8,000 where apalis-redis breaks.
pub const WAVE: usize = 5_000;
/// Jobs per `push_bulk`, as in our own bulk enqueue.
const BULK: usize = 1_000;
/// Jobs enqueued one by one before switching to bulks, as in our own run.
const SINGLE: usize = 10_000;
/// A wave whose done count does not move for this long has stalled.
pub const STALL: Duration = Duration::from_secs(15);
/// The longest one wave's enqueue may take.
pub const ENQUEUE_LIMIT: Duration = Duration::from_secs(120);
/// How long a stopped worker may take to shut down before it is aborted.
const SHUTDOWN_LIMIT: Duration = Duration::from_secs(10);

/// The baseline's own name, in the table and the JSON line.
pub const NAME: &str = "apalis-redis 1.0.0";

#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("push: {0}")]
    Push(String),
    #[error("enqueue of wave {wave} took longer than {} s", ENQUEUE_LIMIT.as_secs())]
    EnqueueTimeout { wave: usize },
    #[error("wave {wave} stalled: {done} of {target} jobs done, none in the last {} s", STALL.as_secs())]
    Stalled {
        wave: usize,
        done: usize,
        target: usize,
    },
    #[error("the worker of wave {wave} stopped early: {reason}")]
    WorkerStopped { wave: usize, reason: String },
}

/// What the baseline measured; on failure, what it measured before failing.
#[derive(Debug, Clone, Default)]
pub struct Baseline {
    pub single_n: usize,
    pub single: Duration,
    pub bulk_n: usize,
    pub bulk: Duration,
    pub drained_n: usize,
    pub drain: Duration,
    pub error: Option<String>,
}

impl Baseline {
    pub fn single_rate(&self) -> f64 {
        rate(self.single_n, self.single)
    }

    pub fn bulk_rate(&self) -> f64 {
        rate(self.bulk_n, self.bulk)
    }

    pub fn drain_rate(&self) -> f64 {
        rate(self.drained_n, self.drain)
    }

    pub fn json(&self) -> Value {
        json!({
            "name": NAME, "wave": WAVE,
            "enqueue_single_jobs": self.single_n, "enqueue_single_per_s": self.single_rate().round(),
            "enqueue_bulk_jobs": self.bulk_n, "enqueue_bulk_per_s": self.bulk_rate().round(),
            "drained_jobs": self.drained_n, "drain_per_s": self.drain_rate().round(),
            "error": self.error,
        })
    }
}

/// Runs the baseline on a queue of its own and deletes its keys afterwards. Never fails:
/// an error is kept in [`Baseline::error`].
pub async fn run(options: &BenchOptions) -> Baseline {
    let queue = format!("uw-bench-apalis-{}", uuid::Uuid::now_v7().simple());
    let conn = match apalis_redis::connect(options.redis_url.as_str()).await {
        Ok(conn) => conn,
        Err(e) => {
            return Baseline {
                error: Some(BaselineError::from(e).to_string()),
                ..Baseline::default()
            };
        }
    };
    let config = Config::default()
        .queue(&queue)
        .batch_size(options.concurrency.clamp(1, 32));
    let storage = RedisStorage::<Noop>::new(conn.clone()).with_config(config);
    let mut figures = Baseline::default();
    if let Err(e) = waves(storage, &queue, options, &mut figures).await {
        figures.error = Some(e.to_string());
    }
    if let Err(e) = delete_keys(conn, &queue).await {
        tracing::warn!(error = %e, "cannot delete the apalis-redis baseline's keys");
    }
    figures
}

/// Enqueues and drains `options.jobs` in waves of at most [`WAVE`], adding to `figures`.
async fn waves(
    mut storage: RedisStorage<Noop>,
    queue: &str,
    options: &BenchOptions,
    figures: &mut Baseline,
) -> Result<(), BaselineError> {
    let done = Arc::new(AtomicUsize::new(0));
    let mut pushed = 0;
    for wave in 0.. {
        if pushed >= options.jobs {
            break;
        }
        let size = WAVE.min(options.jobs - pushed);
        let singles = SINGLE.saturating_sub(pushed).min(size);
        let limited = tokio::time::timeout(
            ENQUEUE_LIMIT,
            enqueue_wave(&mut storage, singles, size - singles, figures),
        );
        limited
            .await
            .map_err(|_| BaselineError::EnqueueTimeout { wave })??;
        pushed += size;
        let name = format!("{queue}-worker-{wave}");
        let drained = drain_wave(&storage, name, options.concurrency, &done, pushed, wave).await;
        figures.drained_n = done.load(Ordering::Relaxed);
        figures.drain += drained.took;
        drained.result?;
    }
    Ok(())
}

/// Pushes `singles` jobs one by one, then `bulk` jobs in bulks of [`BULK`].
async fn enqueue_wave(
    storage: &mut RedisStorage<Noop>,
    singles: usize,
    bulk: usize,
    figures: &mut Baseline,
) -> Result<(), BaselineError> {
    let started = Instant::now();
    for _ in 0..singles {
        storage.push(noop_payload()).await.map_err(push_error)?;
    }
    figures.single += started.elapsed();
    figures.single_n += singles;
    let started = Instant::now();
    let mut left = bulk;
    while left > 0 {
        let n = left.min(BULK);
        let jobs = (0..n).map(|_| noop_payload()).collect();
        storage.push_bulk(jobs).await.map_err(push_error)?;
        left -= n;
    }
    figures.bulk += started.elapsed();
    figures.bulk_n += bulk;
    Ok(())
}

fn push_error(e: impl std::fmt::Display) -> BaselineError {
    BaselineError::Push(e.to_string())
}

async fn noop(_job: Noop, done: Data<Arc<AtomicUsize>>) -> Result<(), BoxDynError> {
    done.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

/// A drained wave: how long it ran, and whether it reached its target.
struct Drained {
    took: Duration,
    result: Result<(), BaselineError>,
}

/// Starts a worker, waits until `done` reaches `target` (or the wave fails), stops it.
async fn drain_wave(
    storage: &RedisStorage<Noop>,
    name: String,
    concurrency: usize,
    done: &Arc<AtomicUsize>,
    target: usize,
    wave: usize,
) -> Drained {
    let (stop, stopped) = oneshot::channel::<()>();
    let worker = WorkerBuilder::new(name)
        .backend(storage.clone())
        .concurrency(concurrency)
        .data(done.clone())
        .build(noop);
    let started = Instant::now();
    let mut handle = tokio::spawn(worker.run_until(async move {
        let _ = stopped.await;
        Ok::<(), WorkerError>(())
    }));
    let result = wait_for(done, target, wave, &mut handle).await;
    let took = started.elapsed();
    let _ = stop.send(());
    shut_down(handle).await;
    Drained { took, result }
}

/// Polls the done count until it reaches `target`; fails on a stall or an early exit.
async fn wait_for(
    done: &AtomicUsize,
    target: usize,
    wave: usize,
    handle: &mut JoinHandle<Result<(), WorkerError>>,
) -> Result<(), BaselineError> {
    let mut last = (done.load(Ordering::Relaxed), Instant::now());
    loop {
        let now = done.load(Ordering::Relaxed);
        if now >= target {
            return Ok(());
        }
        if handle.is_finished() {
            let reason = match handle.await {
                Ok(Ok(())) => "it returned without an error".to_string(),
                Ok(Err(e)) => e.to_string(),
                Err(e) => e.to_string(),
            };
            return Err(BaselineError::WorkerStopped { wave, reason });
        }
        if now > last.0 {
            last = (now, Instant::now());
        } else if last.1.elapsed() > STALL {
            return Err(BaselineError::Stalled {
                wave,
                done: now,
                target,
            });
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Waits for a stopped worker to finish, and aborts it if it does not in time.
async fn shut_down(mut handle: JoinHandle<Result<(), WorkerError>>) {
    if handle.is_finished() {
        return;
    }
    match tokio::time::timeout(SHUTDOWN_LIMIT, &mut handle).await {
        Ok(Ok(Err(e))) => tracing::warn!(error = %e, "apalis-redis worker shut down with an error"),
        Ok(_) => {}
        Err(_) => {
            tracing::warn!("apalis-redis worker did not shut down in time; aborted");
            handle.abort();
        }
    }
}

/// Deletes every key of the baseline's queue (they all start with `{queue}:`) and its entry
/// in apalis-redis's global list of queues.
async fn delete_keys(mut conn: ConnectionManager, queue: &str) -> Result<(), redis::RedisError> {
    let pattern = format!("{queue}:*");
    let mut cursor: u64 = 0;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(&pattern)
            .arg("COUNT")
            .arg(1_000)
            .query_async(&mut conn)
            .await?;
        if !keys.is_empty() {
            redis::cmd("UNLINK")
                .arg(&keys)
                .query_async::<()>(&mut conn)
                .await?;
        }
        if next == 0 {
            break;
        }
        cursor = next;
    }
    redis::cmd("ZREM")
        .arg("core:apalis:queues:list")
        .arg(format!("{queue}:workers"))
        .query_async::<()>(&mut conn)
        .await
}
