//! No-op jobs: the queue's own cost, with no vendor in the way.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use apalis::layers::WorkerBuilderExt;
use apalis::prelude::{Data, Monitor, WorkerBuilder};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::{mpsc, oneshot};

use super::baseline::{self, Baseline};
use super::{BenchError, BenchOptions, Report, bench_store, drop_queue, ms, percentile, rate};
use crate::queue::maintenance::spawn_promoter;
use crate::queue::{
    FetchSettings, JobError, JobKind, JobOutput, NewJob, Redis, RedisBackend, RetryPolicy, Store,
    WorkerIdentity,
};

/// A job that does nothing; `sent_ns` (unix ns at enqueue) measures pick-up latency.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Noop {
    pub sent_ns: u128,
}

impl JobKind for Noop {
    const KIND: &'static str = "bench.noop";
}

fn unix_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

#[derive(Debug, Clone)]
struct Probe {
    done: Arc<AtomicUsize>,
    latencies: Option<mpsc::UnboundedSender<Duration>>,
}

async fn noop(job: Noop, probe: Data<Probe>) -> Result<JobOutput, JobError> {
    if let Some(tx) = &probe.latencies {
        let waited = unix_ns().saturating_sub(job.sent_ns);
        let _ = tx.send(Duration::from_nanos(waited as u64));
    }
    probe.done.fetch_add(1, Ordering::Relaxed);
    Ok(JobOutput::default())
}

struct RunningWorker {
    stop: oneshot::Sender<()>,
    handle: tokio::task::JoinHandle<()>,
}

impl RunningWorker {
    async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.handle.await;
    }
}

fn spawn_worker(store: &Store, redis: &Redis, concurrency: usize, probe: Probe) -> RunningWorker {
    let (stop, stopped) = oneshot::channel::<()>();
    let store = store.clone();
    let redis = redis.clone();
    let handle = tokio::spawn(async move {
        let promoter = spawn_promoter(store.clone(), Noop::KIND.to_string());
        let identity = WorkerIdentity::new();
        let settings = FetchSettings {
            lease: Duration::from_secs(30),
            prefetch: concurrency.min(32),
            block: Duration::from_secs(2),
            max_crashes: 3,
            policy: RetryPolicy::default(),
            hook: None,
        };
        let monitor = Monitor::new().register(move |_| {
            WorkerBuilder::new(identity.consumer(Noop::KIND))
                .backend(RedisBackend::<Noop>::new(
                    store.clone(),
                    redis.clone(),
                    &identity,
                    settings.clone(),
                ))
                .concurrency(concurrency)
                .data(probe.clone())
                .build(noop)
        });
        let signal = async move {
            let _ = stopped.await;
            Ok(())
        };
        if let Err(e) = monitor.run_with_signal(signal).await {
            tracing::error!(error = %e, "bench worker failed");
        }
        promoter.abort();
    });
    RunningWorker { stop, handle }
}

fn noop_job() -> NewJob {
    NewJob::new(Noop::KIND, json!({ "sent_ns": unix_ns() }))
}

/// The same payload as [`noop_job`]'s, for backends that take the job itself.
pub(super) fn noop_payload() -> Noop {
    Noop { sent_ns: unix_ns() }
}

pub(super) async fn enqueue_bulk(store: &Store, total: usize) -> Result<Duration, BenchError> {
    let started = Instant::now();
    let mut left = total;
    while left > 0 {
        let n = left.min(1_000);
        let jobs: Vec<NewJob> = (0..n).map(|_| noop_job()).collect();
        store.enqueue(&jobs, None).await?;
        left -= n;
    }
    Ok(started.elapsed())
}

pub(super) async fn drain(
    store: &Store,
    redis: &Redis,
    total: usize,
    concurrency: usize,
) -> Duration {
    let done = Arc::new(AtomicUsize::new(0));
    let probe = Probe {
        done: done.clone(),
        latencies: None,
    };
    let started = Instant::now();
    let worker = spawn_worker(store, redis, concurrency, probe);
    while done.load(Ordering::Relaxed) < total {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let took = started.elapsed();
    worker.stop().await;
    took
}

/// Enqueue rate one by one and in bulk, then drain rate.
pub async fn throughput(options: &BenchOptions) -> Result<Report, BenchError> {
    let (store, redis, _) = bench_store(options)?;
    let single_n = options.jobs.min(10_000);
    let started = Instant::now();
    for _ in 0..single_n {
        store.enqueue(&[noop_job()], None).await?;
    }
    let single = started.elapsed();
    let bulk_n = options.jobs.saturating_sub(single_n);
    let bulk = enqueue_bulk(&store, bulk_n).await?;
    let drained = drain(&store, &redis, options.jobs, options.concurrency).await;
    drop_queue(&store).await;
    let ours = Rates {
        single: rate(single_n, single),
        bulk: rate(bulk_n, bulk),
        drain: rate(options.jobs, drained),
    };
    let mut report = Report {
        name: "noop",
        rows: vec![
            ("jobs".into(), options.jobs.to_string()),
            ("concurrency".into(), options.concurrency.to_string()),
            (
                "enqueue one by one (jobs/s)".into(),
                format!("{:.0}", ours.single),
            ),
            (
                "enqueue in bulk of 1000 (jobs/s)".into(),
                format!("{:.0}", ours.bulk),
            ),
            ("drain (jobs/s)".into(), format!("{:.0}", ours.drain)),
        ],
        json: json!({
            "bench": "noop", "jobs": options.jobs, "concurrency": options.concurrency,
            "enqueue_single_per_s": ours.single.round(), "enqueue_bulk_per_s": ours.bulk.round(),
            "drain_per_s": ours.drain.round(),
        }),
    };
    // After our figures, so the baseline's keys and CPU never overlap our run.
    if options.baseline {
        add_baseline(&mut report, &ours, &baseline::run(options).await);
    }
    Ok(report)
}

/// Our three rates, in jobs per second.
struct Rates {
    single: f64,
    bulk: f64,
    drain: f64,
}

/// Adds the baseline's rows, and ours / baseline ratios, to the report.
fn add_baseline(report: &mut Report, ours: &Rates, base: &Baseline) {
    let name = baseline::NAME;
    let pairs = [
        (
            "enqueue one by one",
            ours.single,
            base.single_n,
            base.single_rate(),
        ),
        (
            "enqueue in bulk of 1000",
            ours.bulk,
            base.bulk_n,
            base.bulk_rate(),
        ),
        ("drain", ours.drain, base.drained_n, base.drain_rate()),
    ];
    for (what, _, n, theirs) in pairs {
        let value = if n == 0 {
            "-".to_string()
        } else {
            format!("{theirs:.0}")
        };
        report
            .rows
            .push((format!("{name}: {what} (jobs/s)"), value));
    }
    let ratios = pairs.map(|(_, mine, n, theirs)| ratio(mine, n, theirs));
    for ((what, ..), ratio) in pairs.iter().zip(ratios) {
        let shown = ratio.map_or("-".to_string(), |r| format!("{r:.2}x"));
        report
            .rows
            .push((format!("ours / baseline: {what}"), shown));
    }
    if let Some(error) = &base.error {
        report.rows.push((format!("{name}: failed"), error.clone()));
    }
    if let Some(map) = report.json.as_object_mut() {
        map.insert("baseline".into(), base.json());
        let [single, bulk, drain] = ratios;
        map.insert("ratio_enqueue_single".into(), json!(single));
        map.insert("ratio_enqueue_bulk".into(), json!(bulk));
        map.insert("ratio_drain".into(), json!(drain));
    }
}

/// Ours / theirs, to two decimals; none when the baseline measured nothing.
fn ratio(ours: f64, their_jobs: usize, theirs: f64) -> Option<f64> {
    (their_jobs > 0 && theirs > 0.0).then(|| (ours / theirs * 100.0).round() / 100.0)
}

/// Idle pick-up: one job at a time into an idle worker.
pub async fn latency(options: &BenchOptions) -> Result<Report, BenchError> {
    let (store, redis, _) = bench_store(options)?;
    let samples = options.jobs.clamp(10, 100_000);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let done = Arc::new(AtomicUsize::new(0));
    let probe = Probe {
        done,
        latencies: Some(tx),
    };
    let worker = spawn_worker(&store, &redis, 1, probe);
    // Let the worker reach its blocking read before the first sample.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut latencies = Vec::with_capacity(samples);
    for _ in 0..samples {
        store.enqueue(&[noop_job()], None).await?;
        match tokio::time::timeout(Duration::from_secs(10), rx.recv()).await {
            Ok(Some(latency)) => latencies.push(latency),
            _ => {
                return Err(BenchError::Setup(
                    "a job was not picked up within 10 s".into(),
                ));
            }
        }
        // Let the worker go idle again (back into its blocking read).
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    worker.stop().await;
    drop_queue(&store).await;
    latencies.sort();
    let (p50, p99, max) = (
        percentile(&latencies, 50.0),
        percentile(&latencies, 99.0),
        latencies.last().copied().unwrap_or_default(),
    );
    Ok(Report {
        name: "latency",
        rows: vec![
            ("samples".into(), samples.to_string()),
            ("idle pick-up p50 (ms)".into(), format!("{:.3}", ms(p50))),
            ("idle pick-up p99 (ms)".into(), format!("{:.3}", ms(p99))),
            ("idle pick-up max (ms)".into(), format!("{:.3}", ms(max))),
        ],
        json: json!({
            "bench": "latency", "samples": samples,
            "p50_ms": ms(p50), "p99_ms": ms(p99), "max_ms": ms(max),
        }),
    })
}

/// A large backlog: enqueue it all, measure Redis memory per queued job, drain it.
pub async fn backlog(options: &BenchOptions) -> Result<Report, BenchError> {
    let (store, redis, _) = bench_store(options)?;
    let before = used_memory(&store).await;
    let enqueue = enqueue_bulk(&store, options.jobs).await?;
    let after = used_memory(&store).await;
    let per_job = after.saturating_sub(before) as f64 / options.jobs.max(1) as f64;
    let drained = drain(&store, &redis, options.jobs, options.concurrency).await;
    drop_queue(&store).await;
    let (enqueue_rate, drain_rate) = (rate(options.jobs, enqueue), rate(options.jobs, drained));
    Ok(Report {
        name: "backlog",
        rows: vec![
            ("jobs".into(), options.jobs.to_string()),
            (
                "enqueue in bulk (jobs/s)".into(),
                format!("{enqueue_rate:.0}"),
            ),
            ("redis bytes per queued job".into(), format!("{per_job:.0}")),
            ("drain (jobs/s)".into(), format!("{drain_rate:.0}")),
        ],
        json: json!({
            "bench": "backlog", "jobs": options.jobs, "enqueue_per_s": enqueue_rate.round(),
            "bytes_per_job": per_job.round(), "drain_per_s": drain_rate.round(),
        }),
    })
}

async fn used_memory(store: &Store) -> u64 {
    let mut conn = store.connection();
    let info: String = redis::cmd("INFO")
        .arg("memory")
        .query_async(&mut conn)
        .await
        .unwrap_or_default();
    info.lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}
