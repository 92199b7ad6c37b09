//! Prometheus metrics, served at `/metrics`.
//!
//! Counters and histograms are updated where things happen (the API, the producer, the
//! vendor clients, the webhook deliveries); gauges of queue depth are sampled from Redis
//! by [`spawn_queue_sampler`], so every process reports the same truth. The queue keeps
//! its own metrics (attempts, durations, group commits, burials: `queue/metrics.rs`),
//! because it depends on nothing above it; they are registered here and served with the
//! rest.

use std::sync::LazyLock;
use std::time::Duration;

use prometheus::{Encoder, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder};

use crate::queue::{self, Store};

pub static REGISTRY: LazyLock<Registry> = LazyLock::new(|| {
    let registry = Registry::new();
    // The queue's metrics go in with the registry itself: they count from wherever the
    // queue runs, and are then served from the first scrape on.
    for collector in queue::metrics::collectors() {
        if let Err(e) = registry.register(collector) {
            tracing::error!(error = %e, "metric registration failed");
        }
    }
    registry
});

fn register<C: prometheus::core::Collector + Clone + 'static>(collector: C) -> C {
    // Registration fails only for a duplicate name, which is a programming error caught by
    // the unit test below; the collector still works unregistered.
    if let Err(e) = REGISTRY.register(Box::new(collector.clone())) {
        tracing::error!(error = %e, "metric registration failed");
    }
    collector
}

fn counter(name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    match IntCounterVec::new(Opts::new(name, help), labels) {
        Ok(c) => register(c),
        Err(e) => panic!("metric {name} is malformed: {e}"),
    }
}

pub static JOBS_ENQUEUED: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter(
        "underwrite_jobs_enqueued_total",
        "Jobs accepted into the queue",
        &["kind"],
    )
});

pub static VENDOR_REQUESTS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter(
        "underwrite_vendor_requests_total",
        "Vendor API calls by vendor, operation and result class",
        &["vendor", "operation", "result"],
    )
});

pub static VENDOR_CREDENTIAL_FAILURES: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter(
        "underwrite_vendor_credential_failures_total",
        "Vendor answers of 401/403: the configured credentials are wrong",
        &["vendor"],
    )
});

pub static HTTP_REQUESTS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter(
        "underwrite_http_requests_total",
        "Producer API requests by route and status",
        &["route", "status"],
    )
});

pub static WEBHOOK_ATTEMPTS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter(
        "underwrite_webhook_attempts_total",
        "Webhook delivery attempts by verdict (delivered, gone, retry_after, failed, refused)",
        &["verdict"],
    )
});

pub static WEBHOOK_ENDPOINTS_DISABLED: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter(
        "underwrite_webhook_endpoints_disabled_total",
        "Webhook endpoints disabled automatically (gone: 410; failing: no success for too long)",
        &["reason"],
    )
});

pub static JOBS_BY_STATE: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    match IntGaugeVec::new(
        Opts::new("underwrite_jobs", "Jobs currently in each state (sampled)"),
        &["state"],
    ) {
        Ok(g) => register(g),
        Err(e) => panic!("metric underwrite_jobs is malformed: {e}"),
    }
});

pub static REDIS_UP: LazyLock<IntGauge> = LazyLock::new(|| {
    match IntGauge::new(
        "underwrite_redis_up",
        "1 when the last Redis check succeeded",
    ) {
        Ok(g) => register(g),
        Err(e) => panic!("metric underwrite_redis_up is malformed: {e}"),
    }
});

/// The text exposition of every metric.
pub fn render() -> String {
    // Touch the lazies so every family appears from the first scrape on.
    LazyLock::force(&JOBS_ENQUEUED);
    LazyLock::force(&VENDOR_REQUESTS);
    LazyLock::force(&VENDOR_CREDENTIAL_FAILURES);
    LazyLock::force(&HTTP_REQUESTS);
    LazyLock::force(&WEBHOOK_ATTEMPTS);
    LazyLock::force(&WEBHOOK_ENDPOINTS_DISABLED);
    LazyLock::force(&JOBS_BY_STATE);
    LazyLock::force(&REDIS_UP);
    let mut buffer = Vec::new();
    if let Err(e) = TextEncoder::new().encode(&REGISTRY.gather(), &mut buffer) {
        tracing::error!(error = %e, "cannot encode metrics");
    }
    String::from_utf8_lossy(&buffer).into_owned()
}

/// Samples queue depth per state every `every`.
pub fn spawn_queue_sampler(store: Store, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            match store.counts().await {
                Ok(counts) => {
                    REDIS_UP.set(1);
                    for (state, count) in counts {
                        JOBS_BY_STATE
                            .with_label_values(&[state.as_str()])
                            .set(count as i64);
                    }
                }
                Err(_) => REDIS_UP.set(0),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_family_renders() {
        super::JOBS_ENQUEUED.with_label_values(&["k"]).inc();
        super::HTTP_REQUESTS.with_label_values(&["/r", "200"]).inc();
        let text = super::render();
        for name in [
            "underwrite_jobs_enqueued_total",
            "underwrite_redis_up",
            "underwrite_settle_batch_size",
            "underwrite_http_requests_total",
        ] {
            assert!(text.contains(name), "{name} missing");
        }
    }
}
