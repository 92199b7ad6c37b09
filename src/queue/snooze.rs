//! Where a snooze is decided: "not yet, look again after D" becomes a time to look again,
//! or the end of the job.
//!
//! Some vendor work is not done when we ask: a credit application stays "under review" for
//! hours. The handler answers `JobError::Snooze { after, reason }`; that is not a failure,
//! so no attempt is used and no error recorded. The job goes back to its kind's delayed set
//! (the same sorted set as retries, moved into the stream by the promoter) in state
//! `snoozed`, its record showing `next_attempt_at`, `snooze_reason` and `snoozes` (how many
//! times so far).
//!
//! A kind may bound its patience: `RetryPolicy::snooze_deadline_secs`, measured from the
//! job's enqueue. The rules, with `deadline = enqueued_at + snooze_deadline`:
//!
//! - a snooze answered before the deadline looks again at `min(now + after, deadline)`: the
//!   last look happens at the deadline, not after it, so a vendor that finishes just in
//!   time is still heard;
//! - a snooze answered at or after the deadline ends the job: `expired`, a final state of
//!   its own (not a failure, so not in the dead set; webhooks see it as final).
//!
//! The decision is pure, so it is unit-tested here; `ack.rs` applies it and `settle.lua`
//! writes it.

use std::time::Duration;

/// What a snooze leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnoozeDecision {
    /// Look again at this time (unix ms).
    LookAgainAt(i64),
    /// The deadline (unix ms) has passed: the job ends `expired`.
    Expire { deadline_ms: i64 },
}

/// Decides a snooze of `after`, answered at `now_ms` by a job enqueued at `enqueued_at_ms`,
/// under its kind's `deadline` (from enqueue). A job whose enqueue time is unknown (a
/// record written by something else) has no deadline to measure: it only ever snoozes.
pub fn decide(
    deadline: Option<Duration>,
    enqueued_at_ms: Option<i64>,
    now_ms: i64,
    after: Duration,
) -> SnoozeDecision {
    let wanted = now_ms.saturating_add(millis(after));
    let (Some(deadline), Some(enqueued_at_ms)) = (deadline, enqueued_at_ms) else {
        return SnoozeDecision::LookAgainAt(wanted);
    };
    let deadline_ms = enqueued_at_ms.saturating_add(millis(deadline));
    if now_ms >= deadline_ms {
        SnoozeDecision::Expire { deadline_ms }
    } else {
        SnoozeDecision::LookAgainAt(wanted.min(deadline_ms))
    }
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: Duration = Duration::from_secs(86_400);
    const HOUR_MS: i64 = 3_600_000;

    #[test]
    fn without_a_deadline_a_job_snoozes_as_long_as_it_likes() {
        let decision = decide(None, Some(0), 1_000 * HOUR_MS, Duration::from_secs(60));
        assert_eq!(
            decision,
            SnoozeDecision::LookAgainAt(1_000 * HOUR_MS + 60_000)
        );
        let unknown_enqueue = decide(Some(DAY), None, 1_000 * HOUR_MS, Duration::ZERO);
        assert_eq!(
            unknown_enqueue,
            SnoozeDecision::LookAgainAt(1_000 * HOUR_MS)
        );
    }

    #[test]
    fn before_the_deadline_the_last_look_is_at_the_deadline() {
        assert_eq!(
            decide(Some(DAY), Some(0), HOUR_MS, Duration::from_secs(3_600)),
            SnoozeDecision::LookAgainAt(2 * HOUR_MS)
        );
        assert_eq!(
            decide(Some(DAY), Some(0), 23 * HOUR_MS, Duration::from_secs(7_200)),
            SnoozeDecision::LookAgainAt(24 * HOUR_MS)
        );
    }

    #[test]
    fn at_or_after_the_deadline_the_job_expires() {
        let expired = SnoozeDecision::Expire {
            deadline_ms: 24 * HOUR_MS,
        };
        assert_eq!(
            decide(Some(DAY), Some(0), 24 * HOUR_MS, Duration::from_secs(1)),
            expired
        );
        assert_eq!(
            decide(Some(DAY), Some(0), 30 * HOUR_MS, Duration::ZERO),
            expired
        );
    }

    #[test]
    fn huge_durations_do_not_overflow() {
        let far = Duration::from_secs(u64::MAX);
        assert_eq!(
            decide(Some(far), Some(5), 10, far),
            SnoozeDecision::LookAgainAt(i64::MAX)
        );
    }
}
