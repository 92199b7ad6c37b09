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

use prometheus::{
    Encoder, GaugeVec, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

use crate::queue::{self, Store};

pub mod credit;
pub mod vendors;
pub mod webhooks;

pub use vendors::{CallOutcome, VENDOR_CREDENTIAL_FAILURES};

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

fn histogram(name: &str, help: &str, labels: &[&str], buckets: Vec<f64>) -> HistogramVec {
    match HistogramVec::new(HistogramOpts::new(name, help).buckets(buckets), labels) {
        Ok(h) => register(h),
        Err(e) => panic!("metric {name} is malformed: {e}"),
    }
}

fn gauge(name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    match IntGaugeVec::new(Opts::new(name, help), labels) {
        Ok(g) => register(g),
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

pub static HTTP_REQUESTS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter(
        "underwrite_http_requests_total",
        "Producer API requests by route and status",
        &["route", "status"],
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
    LazyLock::force(&vendors::VENDOR_REQUESTS);
    LazyLock::force(&vendors::VENDOR_REQUEST_DURATION);
    LazyLock::force(&vendors::VENDOR_BATCH_SIZE);
    LazyLock::force(&VENDOR_CREDENTIAL_FAILURES);
    LazyLock::force(&HTTP_REQUESTS);
    LazyLock::force(&BUILD_INFO);
    LazyLock::force(&JOBS_BY_STATE);
    LazyLock::force(&REDIS_UP);
    let mut buffer = Vec::new();
    if let Err(e) = TextEncoder::new().encode(&REGISTRY.gather(), &mut buffer) {
        tracing::error!(error = %e, "cannot encode metrics");
    }
    String::from_utf8_lossy(&buffer).into_owned()
}

/// Samples every `every`: the Redis check (`underwrite_redis_up`) in every process, and,
/// in the one process that holds the sampling lease, the queue's depth per kind and the
/// disabled webhook endpoints. The others clear those gauges, so that they export nothing
/// stale.
pub fn spawn_queue_sampler(store: Store, every: Duration) -> tokio::task::JoinHandle<()> {
    let holder = uuid::Uuid::now_v7().to_string();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            match sample(&store, &holder, every * 3).await {
                Ok(()) => REDIS_UP.set(1),
                Err(e) => {
                    REDIS_UP.set(0);
                    REDIS_ERRORS.inc();
                    tracing::debug!(error = %e, "cannot sample the queue");
                }
            }
        }
    })
}

async fn sample(store: &Store, holder: &str, lease: Duration) -> Result<(), queue::QueueError> {
    let counts = store.counts().await?;
    for (state, count) in counts {
        JOBS_BY_STATE
            .with_label_values(&[state.as_str()])
            .set(count as i64);
    }
    if !store.take_sampling_lease(holder, lease).await? {
        QUEUE_JOBS.reset();
        QUEUE_OLDEST_READY_AGE.reset();
        return Ok(());
    }
    for (kind, depth) in store.depth().await? {
        for (state, count) in [
            ("ready", depth.ready),
            ("delayed", depth.delayed),
            ("running", depth.running),
            ("dead", depth.dead),
        ] {
            QUEUE_JOBS
                .with_label_values(&[&kind, state])
                .set(i64::try_from(count).unwrap_or(i64::MAX));
        }
        QUEUE_OLDEST_READY_AGE
            .with_label_values(&[&kind])
            .set(depth.oldest_ready_ms as f64 / 1_000.0);
    }
    let disabled = crate::webhooks::endpoints::EndpointStore::new(store)
        .list()
        .await
        .map(|endpoints| endpoints.iter().filter(|e| !e.enabled).count())
        .unwrap_or(0);
    webhooks::WEBHOOK_ENDPOINTS_DISABLED.set(i64::try_from(disabled).unwrap_or(i64::MAX));
    Ok(())
}

pub static QUEUE_JOBS: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    gauge(
        "underwrite_queue_jobs",
        "Jobs per kind and state (ready, delayed, running, dead), sampled by one process",
        &["kind", "state"],
    )
});

pub static QUEUE_OLDEST_READY_AGE: LazyLock<GaugeVec> = LazyLock::new(|| {
    match GaugeVec::new(
        Opts::new(
            "underwrite_queue_oldest_ready_age_seconds",
            "How long the oldest job ready to run has waited for a worker, sampled by one process",
        ),
        &["kind"],
    ) {
        Ok(g) => register(g),
        Err(e) => panic!("metric underwrite_queue_oldest_ready_age_seconds is malformed: {e}"),
    }
});

pub static REDIS_ERRORS: LazyLock<IntCounter> = LazyLock::new(|| {
    match IntCounter::new(
        "underwrite_redis_errors_total",
        "Redis checks of the metrics sampler that failed",
    ) {
        Ok(c) => register(c),
        Err(e) => panic!("metric underwrite_redis_errors_total is malformed: {e}"),
    }
});

pub static STORE_FULL_REFUSALS: LazyLock<IntCounter> = LazyLock::new(|| {
    match IntCounter::new(
        "underwrite_store_full_refusals_total",
        "API requests refused with 503 because Redis was full (maxmemory under noeviction)",
    ) {
        Ok(c) => register(c),
        Err(e) => panic!("metric underwrite_store_full_refusals_total is malformed: {e}"),
    }
});

pub static BUILD_INFO: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    gauge(
        "underwrite_build_info",
        "1, labelled with the running version",
        &["version"],
    )
});

/// Creates every known series at 0 before the first event: the queue's for each kind, the
/// vendors' for each operation, the webhooks' and credit's, the build and process metrics.
pub fn init(kinds: &[&str], vendors: &[(&str, &[&str])]) {
    for kind in kinds {
        queue::metrics::init_kind(kind);
        JOBS_ENQUEUED.with_label_values(&[kind]);
    }
    for (vendor, operations) in vendors {
        vendors::init_vendor(vendor, operations);
    }
    webhooks::init();
    credit::init();
    BUILD_INFO
        .with_label_values(&[env!("CARGO_PKG_VERSION")])
        .set(1);
    LazyLock::force(&REDIS_ERRORS);
    LazyLock::force(&STORE_FULL_REFUSALS);
    LazyLock::force(&QUEUE_JOBS);
    LazyLock::force(&QUEUE_OLDEST_READY_AGE);
    PROCESS.call_once(|| {
        #[cfg(target_os = "linux")]
        {
            let collector = prometheus::process_collector::ProcessCollector::for_self();
            if let Err(e) = REGISTRY.register(Box::new(collector)) {
                tracing::error!(error = %e, "process metrics registration failed");
            }
        }
    });
}

static PROCESS: std::sync::Once = std::sync::Once::new();

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
