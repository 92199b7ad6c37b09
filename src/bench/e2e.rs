//! Proteger end to end: producer → queue → batcher → workers → the sandbox over HTTP.

use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::oneshot;

use super::{BenchError, BenchOptions, Report, bench_store, drop_queue, rate};
use crate::config::Settings;
use crate::producer::{Producer, Submission};
use crate::queue::JobState;
use crate::sandbox::SandboxConfig;
use crate::vendors::proteger::jobs::CreateContract;
use crate::vendors::proteger::sandbox::sample_contract;
use crate::workers::{self, WorkerDeps};

pub async fn proteger(options: &BenchOptions) -> Result<Report, BenchError> {
    let sandbox = crate::sandbox::spawn(
        "127.0.0.1:0"
            .parse()
            .map_err(|_| BenchError::Setup("address".into()))?,
        SandboxConfig::default(),
    )
    .await
    .map_err(|e| BenchError::Setup(format!("sandbox: {e}")))?;
    let (store, redis, queue) = bench_store(options)?;
    let mut settings = Settings::load_from(None, Vec::new())
        .map_err(|e| BenchError::Setup(format!("settings: {e}")))?;
    settings.redis.url = options.redis_url.clone();
    settings.redis.queue = queue.clone();
    settings.proteger.base_url = sandbox.proteger_url();
    settings.secrets.proteger_token = Some("bench".into());
    settings.worker.concurrency = options.concurrency;
    let producer = Producer::new(store.clone(), Duration::from_secs(3600));

    let started = Instant::now();
    let mut left = options.jobs;
    let mut n = 0;
    while left > 0 {
        let chunk = left.min(100);
        let submissions = (0..chunk)
            .map(|i| Submission::new(CreateContract(sample_contract(&format!("bench-{}", n + i)))))
            .collect();
        producer
            .submit(submissions, None)
            .await
            .map_err(|e| BenchError::Setup(format!("enqueue: {e}")))?;
        left -= chunk;
        n += chunk;
    }
    let enqueued = started.elapsed();

    let deps = WorkerDeps::new(settings, redis, store.clone());
    let (stop, stopped) = oneshot::channel::<()>();
    let worker = tokio::spawn(workers::run(deps, async move {
        let _ = stopped.await;
    }));
    let drain_started = Instant::now();
    loop {
        let counts = store.counts().await?;
        let finished: u64 = counts
            .iter()
            .filter(|(state, _)| state.is_final())
            .map(|(_, n)| n)
            .sum();
        // Every contract job and every batch job ends final.
        let created = counts
            .iter()
            .find(|(state, _)| *state == JobState::Succeeded)
            .map_or(0, |(_, n)| *n);
        if finished as usize >= options.jobs && created as usize >= options.jobs {
            let effects = sandbox.proteger.effects();
            if effects.contracts_created as usize >= options.jobs {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let drained = drain_started.elapsed();
    let _ = stop.send(());
    let _ = worker.await;
    let effects = sandbox.proteger.effects();
    drop_queue(&store).await;
    let per_1000 = effects.requests_seen as f64 * 1000.0 / options.jobs.max(1) as f64;
    let (enqueue_rate, e2e_rate) = (rate(options.jobs, enqueued), rate(options.jobs, drained));
    Ok(Report {
        name: "e2e",
        rows: vec![
            ("contracts".into(), options.jobs.to_string()),
            ("enqueue (contracts/s)".into(), format!("{enqueue_rate:.0}")),
            (
                "queue → vendor → done (contracts/s)".into(),
                format!("{e2e_rate:.0}"),
            ),
            (
                "vendor calls per 1,000 contracts".into(),
                format!("{per_1000:.0}"),
            ),
            (
                "duplicate contracts".into(),
                effects.duplicate_transaction_ids.to_string(),
            ),
        ],
        json: json!({
            "bench": "e2e", "vendor": "proteger", "contracts": options.jobs,
            "enqueue_per_s": enqueue_rate.round(), "contracts_per_s": e2e_rate.round(),
            "vendor_calls_per_1000": per_1000.round(),
            "duplicates": effects.duplicate_transaction_ids,
        }),
    })
}
