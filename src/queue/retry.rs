//! Where a retry is decided.
//!
//! Every job kind has a [`RetryPolicy`]: how many attempts, and how long to wait between
//! them. The wait is exponential backoff with *full jitter* (a uniform draw between zero
//! and `min(cap, base * 2^(attempt-1))`, as in AWS's "Exponential Backoff and Jitter"), so
//! that a vendor outage does not end in a synchronized stampede. A vendor's `Retry-After`
//! is a floor: we never call earlier than the vendor asked.
//!
//! The decision is pure (no I/O) so it is unit-tested here; `ack.rs` applies it, and a retry
//! is always written to Redis as a delayed job, never slept in memory.
//!
//! The policy also holds a kind's patience with a vendor that is not done yet
//! (`snooze_deadline_secs`); what a snooze leads to is decided in `snooze.rs`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::outcome::JobError;

/// How often and how patiently a job kind is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryPolicy {
    /// Attempts in all, the first included. 1 means "never retry".
    pub max_attempts: u32,
    /// The backoff ceiling of the first retry, in milliseconds.
    pub base_ms: u64,
    /// No single wait grows past this, in milliseconds (a `Retry-After` may).
    pub cap_ms: u64,
    /// How long after its enqueue a job of this kind may keep snoozing (`JobError::Snooze`);
    /// past it, the job ends `expired`. `None`: as long as the handler likes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snooze_deadline_secs: Option<u64>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 8,
            base_ms: 1_000,
            cap_ms: 300_000,
            snooze_deadline_secs: None,
        }
    }
}

/// What happens to a job after an attempt that did not succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryDecision {
    /// Run again after this delay (persisted as a delayed job).
    RetryAfter(Duration),
    /// Retries are used up: the job goes to the dead set as `dead`.
    Exhausted,
    /// The error is permanent: the job goes to the dead set as `failed` at once.
    Permanent,
    /// Not the job's turn: run again after this delay, without using up an attempt.
    Defer(Duration),
    /// The vendor is not done yet: look again after this delay (or expire: `snooze.rs`).
    Snooze(Duration),
}

impl RetryPolicy {
    /// Decides after attempt number `attempt` (1-based) failed with `error`.
    /// `jitter` is a uniform draw in `[0, 1)`, passed in so the decision stays testable.
    pub fn decide(&self, attempt: u32, error: &JobError, jitter: f64) -> RetryDecision {
        match error {
            JobError::Permanent { .. } => RetryDecision::Permanent,
            JobError::Deferred { after, .. } => RetryDecision::Defer(*after),
            JobError::Snooze { after, .. } => RetryDecision::Snooze(*after),
            JobError::Retryable { retry_after, .. } => {
                if attempt >= self.max_attempts {
                    return RetryDecision::Exhausted;
                }
                let backoff = self.backoff(attempt, jitter);
                RetryDecision::RetryAfter(retry_after.map_or(backoff, |floor| floor.max(backoff)))
            }
        }
    }

    /// The snooze deadline, measured from the job's enqueue.
    pub fn snooze_deadline(&self) -> Option<Duration> {
        self.snooze_deadline_secs.map(Duration::from_secs)
    }

    /// Full-jitter exponential backoff before retry number `attempt` (1-based).
    pub fn backoff(&self, attempt: u32, jitter: f64) -> Duration {
        let exponent = attempt.saturating_sub(1).min(32);
        let ceiling = self
            .base_ms
            .saturating_mul(1u64 << exponent)
            .min(self.cap_ms);
        let jitter = jitter.clamp(0.0, 1.0);
        Duration::from_millis((ceiling as f64 * jitter) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::outcome::ErrorDetail;

    fn retryable(retry_after: Option<Duration>) -> JobError {
        JobError::Retryable {
            detail: ErrorDetail::message("503"),
            retry_after,
        }
    }

    const POLICY: RetryPolicy = RetryPolicy {
        max_attempts: 4,
        base_ms: 100,
        cap_ms: 350,
        snooze_deadline_secs: None,
    };

    #[test]
    fn backoff_grows_exponentially_up_to_the_cap() {
        assert_eq!(POLICY.backoff(1, 0.999_999), Duration::from_millis(99));
        assert_eq!(POLICY.backoff(2, 0.5), Duration::from_millis(100));
        assert_eq!(POLICY.backoff(3, 0.999_999), Duration::from_millis(349));
        assert_eq!(POLICY.backoff(30, 0.999_999), Duration::from_millis(349));
        assert_eq!(POLICY.backoff(3, 0.0), Duration::ZERO);
    }

    #[test]
    fn retry_after_is_a_floor() {
        let decision = POLICY.decide(1, &retryable(Some(Duration::from_secs(7))), 0.9);
        assert_eq!(decision, RetryDecision::RetryAfter(Duration::from_secs(7)));
        let decision = POLICY.decide(3, &retryable(Some(Duration::from_millis(1))), 0.5);
        assert_eq!(
            decision,
            RetryDecision::RetryAfter(Duration::from_millis(175))
        );
    }

    #[test]
    fn attempts_run_out_and_permanent_errors_never_retry() {
        assert_eq!(
            POLICY.decide(4, &retryable(None), 0.5),
            RetryDecision::Exhausted
        );
        assert_eq!(
            POLICY.decide(1, &JobError::permanent(ErrorDetail::message("400")), 0.5),
            RetryDecision::Permanent
        );
    }

    #[test]
    fn a_snooze_uses_no_attempt_even_when_none_is_left() {
        let snooze = JobError::snooze(Duration::from_secs(60), "under review");
        assert_eq!(
            POLICY.decide(4, &snooze, 0.5),
            RetryDecision::Snooze(Duration::from_secs(60))
        );
    }
}
