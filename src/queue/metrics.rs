//! The queue's own metrics: attempts and what they led to, handler durations, group-commit
//! sizes, jobs buried without running, jobs recorded without their events, snoozes per
//! kind, periodic jobs enqueued per schedule, and the rate limiter's decisions per vendor
//! and priority.
//!
//! They are defined here rather than in the crate's top-level `metrics.rs` so that the
//! queue depends on nothing above it. Nothing here decides where they are served: whoever
//! serves metrics registers [`collectors`] into its registry (the top-level `metrics.rs`
//! does, into the registry behind `/metrics`). Until then they count all the same.

use std::sync::LazyLock;
use std::time::Duration;

use prometheus::core::Collector;
use prometheus::{Histogram, HistogramOpts, HistogramVec, IntCounterVec, Opts};

use super::settlement::Settlement;

/// A counter family. Names and labels are constants of this file, so a malformed one is a
/// programming error, caught by the unit test of the top-level `metrics.rs`.
fn counter(name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    match IntCounterVec::new(Opts::new(name, help), labels) {
        Ok(c) => c,
        Err(e) => panic!("metric {name} is malformed: {e}"),
    }
}

pub static JOB_ATTEMPTS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter(
        "underwrite_job_attempts_total",
        "Job attempts by what they led to (succeeded, retrying, deferred, snoozed, failed, dead, expired)",
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
        Ok(h) => h,
        Err(e) => panic!("metric underwrite_job_duration_seconds is malformed: {e}"),
    }
});

pub static SETTLE_BATCH: LazyLock<Histogram> = LazyLock::new(|| {
    let opts = HistogramOpts::new(
        "underwrite_settle_batch_size",
        "Job answers written by one call to Redis (group commit)",
    )
    .buckets(vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0]);
    match Histogram::with_opts(opts) {
        Ok(h) => h,
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

/// Jobs that succeeded with an answer nobody could read (`JobOutput::attention`).
pub static JOBS_NEEDING_ATTENTION: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter(
        "underwrite_jobs_needing_attention_total",
        "Jobs the vendor carried out whose answer could not be read, kept raw for an operator",
        &["kind"],
    )
});

/// Snoozes: answers of "the vendor is not done yet, look again later" (`snooze.rs`).
pub static JOB_SNOOZES: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter(
        "underwrite_job_snoozes_total",
        "Handler answers of \"not done yet, look again later\", by kind (no attempt used)",
        &["kind"],
    )
});

/// Periodic jobs enqueued, per schedule: one per tick across every process (`schedule.rs`).
pub static SCHEDULE_RUNS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter(
        "underwrite_schedule_runs_total",
        "Periodic jobs enqueued by this process, by schedule",
        &["schedule"],
    )
});

/// The rate limiter's answers (`rate_limit.rs`), per vendor and priority.
pub static RATE_LIMIT_DECISIONS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter(
        "underwrite_rate_limit_decisions_total",
        "Requests asked of a vendor's shared budget, by decision (granted, throttled, paused, unavailable)",
        &["vendor", "priority", "decision"],
    )
});

/// Every metric of this file, for a registry to serve. Each is a handle on the same
/// counts, so registering them does not reset or fork anything.
pub fn collectors() -> Vec<Box<dyn Collector>> {
    vec![
        Box::new(JOB_ATTEMPTS.clone()),
        Box::new(JOB_DURATION.clone()),
        Box::new(SETTLE_BATCH.clone()),
        Box::new(JOBS_BURIED_UNRUN.clone()),
        Box::new(HOOK_FAILURES.clone()),
        Box::new(JOBS_NEEDING_ATTENTION.clone()),
        Box::new(JOB_SNOOZES.clone()),
        Box::new(SCHEDULE_RUNS.clone()),
        Box::new(RATE_LIMIT_DECISIONS.clone()),
    ]
}

/// Records one handler attempt and what it led to.
pub fn record_attempt(kind: &str, settlement: &Settlement, took: Duration) {
    let outcome = match settlement {
        Settlement::Succeeded { .. } => "succeeded",
        Settlement::Retrying { .. } => "retrying",
        Settlement::Deferred { .. } => "deferred",
        Settlement::Snoozed { .. } => "snoozed",
        Settlement::Buried { state, .. } => state.as_str(),
        Settlement::Expired { .. } => "expired",
    };
    JOB_ATTEMPTS.with_label_values(&[kind, outcome]).inc();
    if let Settlement::Snoozed { .. } = settlement {
        JOB_SNOOZES.with_label_values(&[kind]).inc();
    }
    if let Settlement::Succeeded {
        attention: Some(_), ..
    } = settlement
    {
        JOBS_NEEDING_ATTENTION.with_label_values(&[kind]).inc();
    }
    JOB_DURATION
        .with_label_values(&[kind])
        .observe(took.as_secs_f64());
}

/// Records a job buried without running (a poison job, or a payload that cannot be read).
pub fn record_burial(kind: &str) {
    JOBS_BURIED_UNRUN.with_label_values(&[kind]).inc();
}

/// Records a periodic job this process enqueued.
pub fn record_schedule_run(schedule: &str) {
    SCHEDULE_RUNS.with_label_values(&[schedule]).inc();
}

/// Records what the rate limiter answered a request of `vendor`.
pub fn record_rate_decision(vendor: &str, priority: &str, decision: &str) {
    RATE_LIMIT_DECISIONS
        .with_label_values(&[vendor, priority, decision])
        .inc();
}

/// Records one call of the group commit and how many answers it wrote.
pub fn record_commit(settlements: usize) {
    SETTLE_BATCH.observe(settlements as f64);
}

/// Records a finished job written without its follow-up jobs (see `ack.rs`).
pub fn record_hook_failure(kind: &str) {
    HOOK_FAILURES.with_label_values(&[kind]).inc();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snooze_is_counted_per_kind_and_as_an_attempt_outcome() {
        let kind = "unit.metrics.snooze";
        let snoozed = Settlement::Snoozed {
            due_ms: 0,
            reason: "under review".into(),
        };
        record_attempt(kind, &snoozed, Duration::ZERO);
        record_attempt(kind, &snoozed, Duration::ZERO);
        assert_eq!(JOB_SNOOZES.with_label_values(&[kind]).get(), 2);
        assert_eq!(JOB_ATTEMPTS.with_label_values(&[kind, "snoozed"]).get(), 2);
        let expired = Settlement::Expired {
            error: crate::queue::ErrorDetail::message("too late"),
            children: Vec::new(),
        };
        record_attempt(kind, &expired, Duration::ZERO);
        assert_eq!(JOB_ATTEMPTS.with_label_values(&[kind, "expired"]).get(), 1);
        assert_eq!(JOB_SNOOZES.with_label_values(&[kind]).get(), 2);
    }
}
