//! Webhook deliveries: attempts by outcome and how long they took, how late they went out
//! (due to sent), how long an event took to be delivered, deliveries given up, endpoints
//! disabled.

use std::sync::LazyLock;

use prometheus::{Histogram, HistogramOpts, IntCounterVec, IntGauge};

use super::{counter, register};
use crate::webhooks::http::{AttemptOutcome, Verdict};

/// Every value of an attempt's `outcome`.
pub const ATTEMPT_OUTCOMES: [&str; 7] = [
    "success",
    "timeout",
    "dns",
    "connect",
    "http_4xx",
    "http_5xx",
    "ssrf_refused",
];
/// Every reason a delivery is given up.
pub const GIVE_UP_REASONS: [&str; 3] = ["exhausted", "gone", "disabled"];

pub static WEBHOOK_ATTEMPTS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter(
        "underwrite_webhook_attempts_total",
        "Webhook delivery attempts by outcome (success, timeout, dns, connect, http_4xx, \
         http_5xx, ssrf_refused)",
        &["outcome"],
    )
});

fn histogram(name: &str, help: &str, buckets: Vec<f64>) -> Histogram {
    match Histogram::with_opts(HistogramOpts::new(name, help).buckets(buckets)) {
        Ok(h) => register(h),
        Err(e) => panic!("metric {name} is malformed: {e}"),
    }
}

pub static WEBHOOK_ATTEMPT_DURATION: LazyLock<Histogram> = LazyLock::new(|| {
    histogram(
        "underwrite_webhook_attempt_duration_seconds",
        "Time one delivery attempt took, until the receiver's answer or the timeout",
        vec![
            0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
        ],
    )
});

/// From seconds to days: a receiver down for a day delays its deliveries a day.
const LAG_BUCKETS: [f64; 14] = [
    0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3_600.0, 14_400.0, 43_200.0, 86_400.0,
];

pub static WEBHOOK_DELIVERY_LAG: LazyLock<Histogram> = LazyLock::new(|| {
    histogram(
        "underwrite_webhook_delivery_lag_seconds",
        "From when an attempt was due to when it was sent (waiting for a worker, a turn, a \
         permit)",
        LAG_BUCKETS.to_vec(),
    )
});

pub static WEBHOOK_END_TO_END: LazyLock<Histogram> = LazyLock::new(|| {
    histogram(
        "underwrite_webhook_end_to_end_seconds",
        "From an event's creation to its delivery's success, across retries",
        LAG_BUCKETS.to_vec(),
    )
});

pub static WEBHOOK_GIVEN_UP: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter(
        "underwrite_webhook_given_up_total",
        "Deliveries abandoned, by reason (exhausted: retries used up; gone: 410; disabled: \
         the endpoint is disabled)",
        &["reason"],
    )
});

pub static WEBHOOK_ENDPOINTS_DISABLED: LazyLock<IntGauge> = LazyLock::new(|| {
    match IntGauge::new(
        "underwrite_webhook_endpoints_disabled",
        "Webhook endpoints disabled now (sampled)",
    ) {
        Ok(g) => register(g),
        Err(e) => panic!("metric underwrite_webhook_endpoints_disabled is malformed: {e}"),
    }
});

/// Creates every series at 0.
pub fn init() {
    for outcome in ATTEMPT_OUTCOMES {
        WEBHOOK_ATTEMPTS.with_label_values(&[outcome]);
    }
    for reason in GIVE_UP_REASONS {
        WEBHOOK_GIVEN_UP.with_label_values(&[reason]);
    }
    LazyLock::force(&WEBHOOK_ATTEMPT_DURATION);
    LazyLock::force(&WEBHOOK_DELIVERY_LAG);
    LazyLock::force(&WEBHOOK_END_TO_END);
    LazyLock::force(&WEBHOOK_ENDPOINTS_DISABLED);
}

/// The outcome word of an attempt.
pub fn outcome_label(outcome: &AttemptOutcome) -> &'static str {
    match (&outcome.verdict, outcome.status) {
        (Verdict::Delivered, _) => "success",
        (Verdict::Refused(_), _) => "ssrf_refused",
        (_, Some(status)) if status >= 500 => "http_5xx",
        (_, Some(_)) => "http_4xx",
        (Verdict::Failed(reason), None) if reason.contains("timed out") => "timeout",
        (Verdict::Failed(reason), None)
            if reason.contains("dns")
                || reason.contains("resolve")
                || reason.contains("lookup") =>
        {
            "dns"
        }
        _ => "connect",
    }
}

/// Records one attempt.
pub fn record_attempt(outcome: &AttemptOutcome) {
    WEBHOOK_ATTEMPTS
        .with_label_values(&[outcome_label(outcome)])
        .inc();
    WEBHOOK_ATTEMPT_DURATION.observe(outcome.duration_ms as f64 / 1_000.0);
}
