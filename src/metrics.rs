//! Prometheus metrics, served at `/metrics`.
//!
//! Counters and histograms are updated where things happen (the acknowledgement layer, the
//! API, the vendor clients); gauges of queue depth are sampled from Redis by
//! [`spawn_queue_sampler`], so every process reports the same truth.

use std::sync::LazyLock;
use std::time::Duration;

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

use crate::queue::Store;
use crate::queue::store::Settlement;

pub static REGISTRY: LazyLock<Registry> = LazyLock::new(Registry::new);

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

pub static JOB_ATTEMPTS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter(
        "underwrite_job_attempts_total",
        "Job attempts by what they led to (succeeded, retrying, failed, dead)",
        &["kind", "outcome"],
    )
});

pub static JOB_DURATION: LazyLock<HistogramVec> = LazyLock::new(|| {
    let opts = HistogramOpts::new(
        "underwrite_job_duration_seconds",
        "Time a handler took per attempt",
    )
    .buckets(vec![
        0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
    ]);
    match HistogramVec::new(opts, &["kind"]) {
        Ok(h) => register(h),
        Err(e) => panic!("metric underwrite_job_duration_seconds is malformed: {e}"),
    }
});

pub static SETTLE_BATCH: LazyLock<prometheus::Histogram> = LazyLock::new(|| {
    let opts = HistogramOpts::new(
        "underwrite_settle_batch_size",
        "Job answers written by one call to Redis (group commit)",
    )
    .buckets(vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0]);
    match prometheus::Histogram::with_opts(opts) {
        Ok(h) => register(h),
        Err(e) => panic!("metric underwrite_settle_batch_size is malformed: {e}"),
    }
});

pub static JOBS_BURIED_UNRUN: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter(
        "underwrite_jobs_buried_unrun_total",
        "Jobs buried without running (poison jobs, corrupt payloads)",
        &["kind"],
    )
});

pub static HOOK_FAILURES: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter(
        "underwrite_final_hook_failures_total",
        "Finished jobs recorded without their events, because the events could not be built",
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

/// Records one handler attempt and what it led to.
pub fn record_attempt(kind: &str, settlement: &Settlement, took: Duration) {
    let outcome = match settlement {
        Settlement::Succeeded { .. } => "succeeded",
        Settlement::Retrying { .. } => "retrying",
        Settlement::Deferred { .. } => "deferred",
        Settlement::Buried { state, .. } => state.as_str(),
    };
    JOB_ATTEMPTS.with_label_values(&[kind, outcome]).inc();
    JOB_DURATION
        .with_label_values(&[kind])
        .observe(took.as_secs_f64());
}

pub fn record_burial(kind: &str) {
    JOBS_BURIED_UNRUN.with_label_values(&[kind]).inc();
}

pub fn record_commit(settlements: usize) {
    SETTLE_BATCH.observe(settlements as f64);
}

pub fn record_hook_failure(kind: &str) {
    HOOK_FAILURES.with_label_values(&[kind]).inc();
}

/// The text exposition of every metric.
pub fn render() -> String {
    // Touch the lazies so every family appears from the first scrape on.
    LazyLock::force(&JOBS_ENQUEUED);
    LazyLock::force(&JOB_ATTEMPTS);
    LazyLock::force(&JOB_DURATION);
    LazyLock::force(&JOBS_BURIED_UNRUN);
    LazyLock::force(&HOOK_FAILURES);
    LazyLock::force(&SETTLE_BATCH);
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
            "underwrite_http_requests_total",
        ] {
            assert!(text.contains(name), "{name} missing");
        }
    }
}
