//! Webhook deliveries to a local receiver (the verifying sink): deliveries per second,
//! signing, the SSRF-guarded client and the attempt log included.

use std::time::{Duration, Instant};

use apalis::prelude::Monitor;
use chrono::Utc;
use serde_json::json;
use tokio::sync::oneshot;

use super::{BenchError, BenchOptions, Report, bench_store, drop_queue, rate};
use crate::config::Settings;
use crate::queue::{JobKind, NewJob};
use crate::webhooks::delivery::Delivery;
use crate::webhooks::event::Event;
use crate::webhooks::sink;
use crate::webhooks::worker;
use crate::workers::WorkerDeps;

fn setup(e: impl std::fmt::Display) -> BenchError {
    BenchError::Setup(e.to_string())
}

pub async fn deliveries(options: &BenchOptions) -> Result<Report, BenchError> {
    let (store, redis, _) = bench_store(options)?;
    let (sink, endpoint_id) = sink::spawn_as_endpoint(&store).await.map_err(setup)?;
    let mut settings = Settings::load_from(None, Vec::new()).map_err(setup)?;
    settings.webhooks.allow_cidrs = vec!["127.0.0.0/8".into()];
    settings.worker.concurrency = options.concurrency;
    settings.webhooks.endpoint_concurrency = options.concurrency;

    let mut left = options.jobs;
    while left > 0 {
        let n = left.min(1_000);
        let jobs = (0..n)
            .map(|_| {
                let event = Event {
                    id: format!("msg_{}", uuid::Uuid::now_v7().simple()),
                    event_type: "bench.event".into(),
                    subject: "bench".into(),
                    timestamp: Utc::now(),
                    body: json!({"type": "bench.event", "data": {}}).to_string(),
                };
                let delivery = Delivery {
                    event,
                    endpoint_id: endpoint_id.clone(),
                    ordered: false,
                };
                Ok(NewJob::new(Delivery::KIND, serde_json::to_value(delivery)?))
            })
            .collect::<Result<Vec<_>, serde_json::Error>>()
            .map_err(setup)?;
        store.enqueue(&jobs, None).await?;
        left -= n;
    }

    let mut deps = WorkerDeps::new(settings, redis, store.clone());
    let deliverer = worker::setup(&mut deps, crate::vendors::all().catalogue())
        .await
        .map_err(setup)?;
    let monitor = worker::register(Monitor::new(), &deps, deliverer);
    let (stop, stopped) = oneshot::channel::<()>();
    let started = Instant::now();
    let running = tokio::spawn(monitor.run_with_signal(async move {
        let _ = stopped.await;
        Ok(())
    }));
    while sink.counts().verified < options.jobs {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let took = started.elapsed();
    let _ = stop.send(());
    let _ = running.await;
    let counts = sink.counts();
    drop_queue(&store).await;
    let per_s = rate(options.jobs, took);
    Ok(Report {
        name: "webhooks",
        rows: vec![
            ("deliveries".into(), options.jobs.to_string()),
            ("concurrency".into(), options.concurrency.to_string()),
            (
                "delivered and verified (deliveries/s)".into(),
                format!("{per_s:.0}"),
            ),
            (
                "rejected by the verifier".into(),
                counts.rejected.to_string(),
            ),
        ],
        json: json!({
            "bench": "webhooks", "deliveries": options.jobs, "concurrency": options.concurrency,
            "deliveries_per_s": per_s.round(), "rejected": counts.rejected,
        }),
    })
}
