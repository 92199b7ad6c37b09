//! The queue's own metrics: attempts and their results, handler durations, how long jobs
//! waited once due, jobs finished and their whole time from enqueue, jobs running against
//! the workers' concurrency, jobs rescued from dead workers, group-commit sizes, jobs
//! buried without running, jobs recorded without their events, snoozes per kind, periodic
//! jobs enqueued per schedule, and the rate limiter's decisions and budget per vendor.
//!
//! Labels come from fixed sets only (a kind, a result, an outcome, a vendor): never an id,
//! a URL or an error text, so the number of series stays bounded. [`init_kind`] creates
//! every series of a kind at 0, so rates and alerts have a series before the first event.
//!
//! They are defined here rather than in the crate's top-level `metrics.rs` so that the
//! queue depends on nothing above it. Nothing here decides where they are served: whoever
//! serves metrics registers [`collectors`] into its registry (the top-level `metrics.rs`
//! does, into the registry behind `/metrics`). Until then they count all the same.

use std::sync::LazyLock;
use std::time::Duration;

use std::collections::HashMap;
use std::sync::Mutex;

use prometheus::core::Collector;
use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts,
};

use super::clock::now_ms;
use super::context::JobContext;
use super::id::JobId;
use super::job::JobState;
use super::settlement::{ChildSettlement, Settlement};

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
        "Job attempts by result: ok, retry (a retryable failure, retried or exhausted), \
         permanent, snoozed (the vendor is not done), deferred (not its turn), crashed (its \
         worker died running it)",
        &["kind", "result"],
    )
});

/// Every value of `result`.
pub const ATTEMPT_RESULTS: [&str; 6] =
    ["ok", "retry", "permanent", "snoozed", "deferred", "crashed"];
/// Every value of `outcome` of a finished job.
pub const FINISH_OUTCOMES: [&str; 4] = ["succeeded", "failed", "dead", "expired"];

fn histogram(name: &str, help: &str, labels: &[&str], buckets: Vec<f64>) -> HistogramVec {
    match HistogramVec::new(HistogramOpts::new(name, help).buckets(buckets), labels) {
        Ok(h) => h,
        Err(e) => panic!("metric {name} is malformed: {e}"),
    }
}

fn gauge(name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    match IntGaugeVec::new(Opts::new(name, help), labels) {
        Ok(g) => g,
        Err(e) => panic!("metric {name} is malformed: {e}"),
    }
}

/// Milliseconds to a minute: a handler is a vendor call or two.
const ATTEMPT_BUCKETS: [f64; 13] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];
/// Milliseconds to days: a job waits for a worker for milliseconds, a credit decision days.
const LONG_BUCKETS: [f64; 16] = [
    0.005,
    0.025,
    0.1,
    0.5,
    1.0,
    5.0,
    15.0,
    60.0,
    300.0,
    900.0,
    3_600.0,
    14_400.0,
    43_200.0,
    86_400.0,
    259_200.0,
    1_209_600.0,
];

pub static JOB_DURATION: LazyLock<HistogramVec> = LazyLock::new(|| {
    histogram(
        "underwrite_job_attempt_duration_seconds",
        "Time a handler took per attempt",
        &["kind"],
        ATTEMPT_BUCKETS.to_vec(),
    )
});

pub static JOB_QUEUE_WAIT: LazyLock<HistogramVec> = LazyLock::new(|| {
    histogram(
        "underwrite_job_queue_wait_seconds",
        "From when a job became due (its enqueue, or the time its retry or snooze was due) to \
         its handler's start: time spent waiting for a worker, not scheduled waits",
        &["kind"],
        LONG_BUCKETS.to_vec(),
    )
});

pub static JOBS_FINISHED: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter(
        "underwrite_jobs_finished_total",
        "Jobs that reached a final state, by outcome (succeeded, failed, dead, expired)",
        &["kind", "outcome"],
    )
});

pub static JOB_END_TO_END: LazyLock<HistogramVec> = LazyLock::new(|| {
    histogram(
        "underwrite_job_end_to_end_seconds",
        "From a job's first enqueue to its final state, across retries and snoozes",
        &["kind", "outcome"],
        LONG_BUCKETS.to_vec(),
    )
});

pub static JOBS_IN_FLIGHT: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    gauge(
        "underwrite_jobs_in_flight",
        "Handlers running now in this process",
        &["kind"],
    )
});

pub static WORKER_CONCURRENCY: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    gauge(
        "underwrite_worker_concurrency",
        "Handlers this process may run at once, per kind",
        &["kind"],
    )
});

pub static JOBS_RESCUED: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter(
        "underwrite_jobs_rescued_total",
        "Jobs taken over from a worker that died while running them",
        &["kind"],
    )
});

/// The budget a vendor's limiter enforces, and what the last grant saw used of it.
pub static RATE_LIMIT_CAPACITY: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    gauge(
        "underwrite_vendor_rate_limit_capacity",
        "Requests our shared limiter allows per window, per vendor",
        &["vendor"],
    )
});

pub static RATE_LIMIT_USED: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    gauge(
        "underwrite_vendor_rate_limit_used",
        "Requests in the current window, as the last grant of this process saw them",
        &["vendor"],
    )
});

pub static RATE_LIMIT_WAIT: LazyLock<prometheus::CounterVec> = LazyLock::new(|| {
    match prometheus::CounterVec::new(
        Opts::new(
            "underwrite_vendor_rate_limit_wait_seconds_total",
            "Time jobs were deferred by our own limiter (a spent budget or a pause)",
        ),
        &["vendor"],
    ) {
        Ok(c) => c,
        Err(e) => {
            panic!("metric underwrite_vendor_rate_limit_wait_seconds_total is malformed: {e}")
        }
    }
});

/// Which member kind each batch kind carries (the batcher tells, `batcher/`): a batch's
/// members finish in its settlement, and are counted under their own kind.
static MEMBER_KINDS: LazyLock<Mutex<HashMap<String, String>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

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
        Box::new(JOB_QUEUE_WAIT.clone()),
        Box::new(JOBS_FINISHED.clone()),
        Box::new(JOB_END_TO_END.clone()),
        Box::new(JOBS_IN_FLIGHT.clone()),
        Box::new(WORKER_CONCURRENCY.clone()),
        Box::new(JOBS_RESCUED.clone()),
        Box::new(SETTLE_BATCH.clone()),
        Box::new(JOBS_BURIED_UNRUN.clone()),
        Box::new(HOOK_FAILURES.clone()),
        Box::new(JOBS_NEEDING_ATTENTION.clone()),
        Box::new(JOB_SNOOZES.clone()),
        Box::new(SCHEDULE_RUNS.clone()),
        Box::new(RATE_LIMIT_DECISIONS.clone()),
        Box::new(RATE_LIMIT_CAPACITY.clone()),
        Box::new(RATE_LIMIT_USED.clone()),
        Box::new(RATE_LIMIT_WAIT.clone()),
    ]
}

/// Creates every series of `kind` at 0 (and of its members', for a batch kind).
pub fn init_kind(kind: &str) {
    for result in ATTEMPT_RESULTS {
        JOB_ATTEMPTS.with_label_values(&[kind, result]);
    }
    for outcome in FINISH_OUTCOMES {
        JOBS_FINISHED.with_label_values(&[kind, outcome]);
        JOB_END_TO_END.with_label_values(&[kind, outcome]);
    }
    JOB_DURATION.with_label_values(&[kind]);
    JOB_QUEUE_WAIT.with_label_values(&[kind]);
    JOBS_IN_FLIGHT.with_label_values(&[kind]);
    JOBS_RESCUED.with_label_values(&[kind]);
    JOB_SNOOZES.with_label_values(&[kind]);
}

/// Records that `batch_kind` carries members of `member_kind`.
pub fn register_members(batch_kind: &str, member_kind: &str) {
    init_kind(member_kind);
    if let Ok(mut kinds) = MEMBER_KINDS.lock() {
        kinds.insert(batch_kind.to_string(), member_kind.to_string());
    }
}

/// Records the concurrency a worker of `kind` runs with.
pub fn set_concurrency(kind: &str, concurrency: usize) {
    init_kind(kind);
    WORKER_CONCURRENCY
        .with_label_values(&[kind])
        .set(i64::try_from(concurrency).unwrap_or(i64::MAX));
}

/// An attempt running: counted in flight until dropped.
pub struct Running(IntGauge);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Records an attempt's start: how long the job waited once due, and one more in flight.
pub fn start_attempt(ctx: &JobContext) -> Running {
    if let Some(due) = ctx.due_at_ms {
        let waited = (now_ms() - due).max(0) as f64 / 1_000.0;
        JOB_QUEUE_WAIT
            .with_label_values(&[&ctx.kind])
            .observe(waited);
    }
    let gauge = JOBS_IN_FLIGHT.with_label_values(&[&ctx.kind]);
    gauge.inc();
    Running(gauge)
}

/// Records one handler attempt, its result, and the jobs it finished.
pub fn record_attempt(ctx: &JobContext, settlement: &Settlement, took: Duration) {
    let kind = ctx.kind.as_str();
    let result = match settlement {
        Settlement::Succeeded { .. } => "ok",
        Settlement::Retrying { .. } => "retry",
        Settlement::Deferred { .. } => "deferred",
        Settlement::Snoozed { .. } | Settlement::Expired { .. } => "snoozed",
        Settlement::Buried {
            state: JobState::Failed,
            ..
        } => "permanent",
        Settlement::Buried { .. } => "retry",
    };
    JOB_ATTEMPTS.with_label_values(&[kind, result]).inc();
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
    record_finishes(ctx, settlement);
}

/// Counts the jobs a settlement finishes (the job and the members it carried), each with
/// its time since enqueue. A member's enqueue time is read from its id (a UUID v7 carries
/// its creation time), so nothing is read from Redis for it.
fn record_finishes(ctx: &JobContext, settlement: &Settlement) {
    let (own, members): (&str, Vec<(JobId, &str)>) = match settlement {
        Settlement::Succeeded { children, .. } => (
            "succeeded",
            children
                .iter()
                .map(|(id, outcome)| {
                    let outcome = match outcome {
                        ChildSettlement::Succeeded(_) => "succeeded",
                        ChildSettlement::Failed(_) => "failed",
                    };
                    (*id, outcome)
                })
                .collect(),
        ),
        Settlement::Buried {
            state, children, ..
        } => {
            let outcome = state.as_str();
            (outcome, children.iter().map(|id| (*id, outcome)).collect())
        }
        Settlement::Expired { children, .. } => (
            "expired",
            children.iter().map(|id| (*id, "expired")).collect(),
        ),
        Settlement::Retrying { .. } | Settlement::Deferred { .. } | Settlement::Snoozed { .. } => {
            return;
        }
    };
    let now = now_ms();
    let since = |start_ms: i64| (now - start_ms).max(0) as f64 / 1_000.0;
    JOBS_FINISHED.with_label_values(&[&ctx.kind, own]).inc();
    if let Some(enqueued) = ctx.enqueued_at {
        JOB_END_TO_END
            .with_label_values(&[&ctx.kind, own])
            .observe(since(enqueued.timestamp_millis()));
    }
    if members.is_empty() {
        return;
    }
    let member_kind = MEMBER_KINDS
        .lock()
        .ok()
        .and_then(|kinds| kinds.get(&ctx.kind).cloned())
        .unwrap_or_else(|| format!("{}.member", ctx.kind));
    for (id, outcome) in members {
        JOBS_FINISHED
            .with_label_values(&[&member_kind, outcome])
            .inc();
        if let Some(created) = id.created_at_ms() {
            JOB_END_TO_END
                .with_label_values(&[&member_kind, outcome])
                .observe(since(created));
        }
    }
}

/// Records a job taken over from a worker that died running it.
pub fn record_rescue(kind: &str) {
    JOBS_RESCUED.with_label_values(&[kind]).inc();
    JOB_ATTEMPTS.with_label_values(&[kind, "crashed"]).inc();
}

/// Records a vendor's budget and what a grant saw used of it.
pub fn record_budget(vendor: &str, capacity: u32, used: Option<u32>) {
    RATE_LIMIT_CAPACITY
        .with_label_values(&[vendor])
        .set(i64::from(capacity));
    if let Some(used) = used {
        RATE_LIMIT_USED
            .with_label_values(&[vendor])
            .set(i64::from(used));
    }
}

/// Records time a job was deferred by the limiter.
pub fn record_rate_wait(vendor: &str, wait: Duration) {
    RATE_LIMIT_WAIT
        .with_label_values(&[vendor])
        .inc_by(wait.as_secs_f64());
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
        let ctx = JobContext {
            id: JobId::new(),
            kind: kind.into(),
            attempt: 1,
            children: Vec::new(),
            enqueued_at: None,
            traceparent: None,
            due_at_ms: None,
            entry: String::new(),
            token: String::new(),
        };
        record_attempt(&ctx, &snoozed, Duration::ZERO);
        record_attempt(&ctx, &snoozed, Duration::ZERO);
        assert_eq!(JOB_SNOOZES.with_label_values(&[kind]).get(), 2);
        assert_eq!(JOB_ATTEMPTS.with_label_values(&[kind, "snoozed"]).get(), 2);
        let expired = Settlement::Expired {
            error: crate::queue::ErrorDetail::message("too late"),
            children: Vec::new(),
        };
        record_attempt(&ctx, &expired, Duration::ZERO);
        assert_eq!(JOB_ATTEMPTS.with_label_values(&[kind, "snoozed"]).get(), 3);
        assert_eq!(JOB_SNOOZES.with_label_values(&[kind]).get(), 2);
        assert_eq!(JOBS_FINISHED.with_label_values(&[kind, "expired"]).get(), 1);
    }
}
