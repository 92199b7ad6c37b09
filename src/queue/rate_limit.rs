//! A vendor's request budget, shared by every process: "240 requests per 300 s", with
//! room kept for the work that matters, and a pause for everyone after a 429.
//!
//! A handler asks before each vendor call:
//!
//! ```ignore
//! limiter.acquire(Priority::High).await?; // a spent budget defers the job (no attempt used)
//! let answer = client.call(...).await;
//! if answer is a 429 { limiter.pause(retry_after).await?; }
//! ```
//!
//! ## Why a sliding-window log
//!
//! The vendor counts requests per window and answers 429 past its budget; what we must
//! guarantee is "never more than N requests within any window W", from all processes
//! together. A sliding-window log guarantees exactly that: every grant is a member of one
//! sorted set scored by its time, and a request is granted only while fewer than N are
//! younger than W. GCRA (a leaky bucket of N per W with a burst of N) keeps no log, but
//! after a burst of N it grants one more every W/N, so a window can hold up to 2N - 1
//! requests: the 429s we are trying to avoid. A fixed window is cheaper still, and lets 2N
//! through across a window's edge. The log costs one sorted-set member per request in the
//! window (240 here), which is nothing.
//!
//! ## One clock, one step
//!
//! Each request is one Lua script (`rate_acquire.lua`) on the vendor's keys: trim what left
//! the window, count, grant or say how long until there is room. Processes never read and
//! then write, so none can slip past another. The script reads Redis's clock instead of
//! its caller's: a worker whose clock runs ahead would otherwise trim grants that are still
//! in the window and spend budget that is not there.
//!
//! ## Priorities: polls never starve applications
//!
//! [`Priority::Low`] (polls, refreshes) may only use the budget while fewer than
//! `limit - high_reserve` requests are in the window; [`Priority::High`] (applications)
//! may use all of it. However busy the polls, `high_reserve` requests of every window are
//! left for high-priority work; high-priority work can still crowd low out entirely, which
//! is the point.
//!
//! ## A job that finds the budget spent
//!
//! [`RateLimiter::acquire`] answers a [`Wait`], which converts into `JobError::Deferred`:
//! the job goes back to its delayed set until there is room, with no attempt used. The
//! same for a pause, and for a Redis that does not answer (we cannot know the budget, and
//! the vendor was not called).
//!
//! Keys (`keys.rs`): `ratelimit:<vendor>:grants` and `ratelimit:<vendor>:pause`.

use std::fmt;
use std::time::Duration;

use super::metrics;
use super::outcome::JobError;
use super::store::{Acquired, Store};

/// How urgent a vendor call is. See the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Priority {
    /// Work a producer is waiting for (an application): may use the whole budget.
    High,
    /// Background work (polls): may not use the share reserved for `High`.
    Low,
}

impl Priority {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::High => "high",
            Self::Low => "low",
        }
    }
}

/// A vendor's budget: `limit` requests per `window`, `high_reserve` of them kept for
/// [`Priority::High`]. Built by [`Budget::new`], so it is always usable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    limit: u32,
    window: Duration,
    high_reserve: u32,
}

/// Why a budget cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BudgetError {
    #[error("a budget needs at least one request per window and a window of a millisecond or more")]
    Empty,
    #[error(
        "the share reserved for high priority ({reserve}) must be less than the limit ({limit})"
    )]
    ReserveTooLarge { reserve: u32, limit: u32 },
}

impl Budget {
    /// `limit` requests per `window`; a quarter of them (rounded down) reserved for high
    /// priority.
    pub fn new(limit: u32, window: Duration) -> Result<Self, BudgetError> {
        if limit == 0 || window.as_millis() == 0 {
            return Err(BudgetError::Empty);
        }
        Ok(Self {
            limit,
            window,
            high_reserve: limit / 4,
        })
    }

    /// Keeps `reserve` requests of every window for high priority (fewer than the limit,
    /// so that low priority is not shut out for good).
    pub fn reserving_for_high(mut self, reserve: u32) -> Result<Self, BudgetError> {
        if reserve >= self.limit {
            return Err(BudgetError::ReserveTooLarge {
                reserve,
                limit: self.limit,
            });
        }
        self.high_reserve = reserve;
        Ok(self)
    }

    pub fn limit(&self) -> u32 {
        self.limit
    }

    pub fn window(&self) -> Duration {
        self.window
    }

    /// How many requests may be in the window for one more of `priority` to be granted.
    fn cap(&self, priority: Priority) -> u32 {
        match priority {
            Priority::High => self.limit,
            Priority::Low => self.limit - self.high_reserve,
        }
    }
}

/// A request granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grant {
    /// When, in unix ms of Redis's clock (the clock the window is counted on).
    pub at_ms: i64,
    /// Requests in the window, this one included.
    pub used: u32,
}

/// Not now: try again after `after`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wait {
    pub vendor: String,
    pub priority: Priority,
    pub after: Duration,
    pub reason: WaitReason,
}

/// Why a request must wait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WaitReason {
    /// The share of the budget this priority may use is spent.
    Budget { limit: u32, window: Duration },
    /// Someone paused every call to the vendor (after a 429).
    Paused,
    /// Redis did not answer: the budget cannot be known, so the vendor is not called.
    Unavailable(String),
}

impl fmt::Display for Wait {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (vendor, after) = (&self.vendor, self.after.as_secs_f64());
        match &self.reason {
            WaitReason::Budget { limit, window } => write!(
                f,
                "{vendor}'s request budget ({limit} per {} s) is spent for {} priority; room in {after:.1} s",
                window.as_secs_f64(),
                self.priority.as_str()
            ),
            WaitReason::Paused => write!(f, "calls to {vendor} are paused for {after:.1} s more"),
            WaitReason::Unavailable(error) => {
                write!(
                    f,
                    "cannot check {vendor}'s request budget ({error}); again in {after:.1} s"
                )
            }
        }
    }
}

/// A spent budget defers the job: no attempt used, no error counted.
impl From<Wait> for JobError {
    fn from(wait: Wait) -> Self {
        JobError::Deferred {
            after: wait.after,
            reason: wait.to_string(),
        }
    }
}

/// How long a job waits when Redis cannot tell the budget.
const UNAVAILABLE_WAIT: Duration = Duration::from_secs(1);

/// One vendor's shared budget. Cheap to clone; every clone, in every process, on the same
/// queue, draws from the same budget.
#[derive(Debug, Clone)]
pub struct RateLimiter {
    store: Store,
    vendor: String,
    budget: Budget,
}

impl RateLimiter {
    pub fn new(store: Store, vendor: &str, budget: Budget) -> Self {
        metrics::record_budget(vendor, budget.limit, None);
        metrics::RATE_LIMIT_USED.with_label_values(&[vendor]);
        metrics::RATE_LIMIT_WAIT.with_label_values(&[vendor]);
        Self {
            store,
            vendor: vendor.to_string(),
            budget,
        }
    }

    pub fn budget(&self) -> Budget {
        self.budget
    }

    /// Takes one request from the budget, or says how long to wait. Call it right before
    /// each vendor call; `?` in a handler turns the [`Wait`] into a deferral.
    pub async fn acquire(&self, priority: Priority) -> Result<Grant, Wait> {
        let member = format!("{:032x}", rand::random::<u128>());
        let cap = self.budget.cap(priority);
        let answer = self
            .store
            .rate_acquire(&self.vendor, self.budget.window, cap, &member)
            .await;
        let wait = |after, reason| Wait {
            vendor: self.vendor.clone(),
            priority,
            after,
            reason,
        };
        let (decision, result) = match answer {
            Ok(Acquired::Granted { at_ms, used }) => ("granted", Ok(Grant { at_ms, used })),
            Ok(Acquired::Throttled { after, .. }) => {
                let reason = WaitReason::Budget {
                    limit: self.budget.limit,
                    window: self.budget.window,
                };
                ("throttled", Err(wait(after, reason)))
            }
            Ok(Acquired::Paused { after }) => ("paused", Err(wait(after, WaitReason::Paused))),
            Err(e) => {
                tracing::warn!(vendor = %self.vendor, error = %e, "cannot check the request budget; deferring");
                let reason = WaitReason::Unavailable(e.to_string());
                ("unavailable", Err(wait(UNAVAILABLE_WAIT, reason)))
            }
        };
        metrics::record_rate_decision(&self.vendor, priority.as_str(), decision);
        match &result {
            Ok(grant) => metrics::record_budget(&self.vendor, self.budget.limit, Some(grant.used)),
            Err(wait) => {
                metrics::record_budget(&self.vendor, self.budget.limit, None);
                metrics::record_rate_wait(&self.vendor, wait.after);
            }
        }
        result
    }

    /// Stops every process from calling the vendor for `pause` (after a 429: its
    /// `Retry-After`, or a cool-down of our choosing). A shorter pause than one already set
    /// changes nothing. Returns when the pause ends, in unix ms of Redis's clock.
    pub async fn pause(&self, pause: Duration) -> Result<i64, super::QueueError> {
        let until = self.store.rate_pause(&self.vendor, pause).await?;
        tracing::warn!(vendor = %self.vendor, ?pause, "calls to the vendor paused for everyone");
        Ok(until)
    }

    /// [`RateLimiter::pause`] from a handler that goes on with its own verdict whatever
    /// happens: a pause Redis did not take is logged, and this job's own delay (its
    /// verdict) still holds.
    pub async fn pause_or_log(&self, pause: Duration) {
        if let Err(e) = self.pause(pause).await {
            tracing::warn!(vendor = %self.vendor, error = %e, "cannot pause calls to the vendor for everyone");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn low_priority_may_not_use_the_reserve() {
        let budget = Budget::new(240, Duration::from_secs(300)).expect("budget");
        assert_eq!(budget.cap(Priority::High), 240);
        assert_eq!(budget.cap(Priority::Low), 180);
        let budget = budget.reserving_for_high(40).expect("reserve");
        assert_eq!(budget.cap(Priority::Low), 200);
        assert_eq!(
            budget.reserving_for_high(240),
            Err(BudgetError::ReserveTooLarge {
                reserve: 240,
                limit: 240
            })
        );
        assert_eq!(
            Budget::new(0, Duration::from_secs(1)),
            Err(BudgetError::Empty)
        );
    }

    #[test]
    fn a_wait_defers_the_job_and_says_why() {
        let wait = Wait {
            vendor: "acme".into(),
            priority: Priority::Low,
            after: Duration::from_millis(1_500),
            reason: WaitReason::Budget {
                limit: 240,
                window: Duration::from_secs(300),
            },
        };
        match JobError::from(wait) {
            JobError::Deferred { after, reason } => {
                assert_eq!(after, Duration::from_millis(1_500));
                assert!(reason.contains("240 per 300 s"), "{reason}");
                assert!(reason.contains("low priority"), "{reason}");
            }
            other => panic!("not a deferral: {other:?}"),
        }
    }
}
