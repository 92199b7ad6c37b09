//! Credit applications at Billing-Robo: how many wait for a decision and since when, the
//! decisions and how long they took, and what each poll cost.

use std::sync::LazyLock;

use prometheus::{Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge};

use super::{counter, register};

pub const DECISIONS: [&str; 3] = ["approved", "rejected", "expired"];

fn gauge(name: &str, help: &str) -> IntGauge {
    match IntGauge::new(name, help) {
        Ok(g) => register(g),
        Err(e) => panic!("metric {name} is malformed: {e}"),
    }
}

fn histogram(name: &str, help: &str, buckets: Vec<f64>) -> Histogram {
    match Histogram::with_opts(HistogramOpts::new(name, help).buckets(buckets)) {
        Ok(h) => register(h),
        Err(e) => panic!("metric {name} is malformed: {e}"),
    }
}

pub static PENDING: LazyLock<IntGauge> = LazyLock::new(|| {
    gauge(
        "underwrite_credit_applications_pending",
        "Billing codes waiting for Billing-Robo's decision (read by each poll)",
    )
});

pub static OLDEST_PENDING_AGE: LazyLock<IntGauge> = LazyLock::new(|| {
    gauge(
        "underwrite_credit_oldest_pending_age_seconds",
        "Age of the oldest application still waiting for a decision (read by each poll)",
    )
});

pub static DECISIONS_TOTAL: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter(
        "underwrite_credit_decisions_total",
        "Applications decided, by decision (approved, rejected, expired)",
        &["decision"],
    )
});

pub static DECISION_TIME: LazyLock<Histogram> = LazyLock::new(|| {
    histogram(
        "underwrite_credit_decision_seconds",
        "From an application's job to its decision being known",
        vec![
            1.0,
            10.0,
            60.0,
            300.0,
            900.0,
            3_600.0,
            10_800.0,
            21_600.0,
            43_200.0,
            86_400.0,
            172_800.0,
            345_600.0,
            604_800.0,
            1_209_600.0,
            2_592_000.0,
        ],
    )
});

pub static POLLS: LazyLock<IntCounter> = LazyLock::new(|| {
    match IntCounter::new(
        "underwrite_credit_polls_total",
        "Polls of Billing-Robo's credit changes",
    ) {
        Ok(c) => register(c),
        Err(e) => panic!("metric underwrite_credit_polls_total is malformed: {e}"),
    }
});

pub static POLL_CALLS: LazyLock<Histogram> = LazyLock::new(|| {
    histogram(
        "underwrite_credit_poll_calls",
        "Vendor calls one poll made (one per page of 200 changes)",
        vec![0.0, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0],
    )
});

pub fn init() {
    for decision in DECISIONS {
        DECISIONS_TOTAL.with_label_values(&[decision]);
    }
    LazyLock::force(&PENDING);
    LazyLock::force(&OLDEST_PENDING_AGE);
    LazyLock::force(&DECISION_TIME);
    LazyLock::force(&POLLS);
    LazyLock::force(&POLL_CALLS);
}

/// Records a decision `took_secs` after the application.
pub fn record_decision(decision: &str, took_secs: Option<f64>) {
    DECISIONS_TOTAL.with_label_values(&[decision]).inc();
    if let Some(took) = took_secs {
        DECISION_TIME.observe(took.max(0.0));
    }
}

/// Records a poll: its calls, and the waiting applications it saw.
pub fn record_poll(calls: u32, pending: u64, oldest_age_secs: Option<i64>) {
    POLLS.inc();
    POLL_CALLS.observe(f64::from(calls));
    PENDING.set(i64::try_from(pending).unwrap_or(i64::MAX));
    OLDEST_PENDING_AGE.set(oldest_age_secs.unwrap_or(0).max(0));
}
