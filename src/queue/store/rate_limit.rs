//! A vendor's shared request budget in Redis: taking a request from it, and pausing it.
//!
//! Both are one script each (`rate_acquire.lua`, `rate_pause.lua`) on the vendor's two keys
//! (`ratelimit:<vendor>:grants`, `ratelimit:<vendor>:pause`), so any number of processes
//! share one budget without a race. What the budget means, and the priorities, are
//! `rate_limit.rs`'s.

use std::time::Duration;

use super::handle::Store;
use crate::queue::error::QueueError;
use crate::queue::scripts::SCRIPTS;

/// What `rate_acquire.lua` answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acquired {
    /// Granted at `at_ms` (Redis time), the `used`-th request of the window.
    Granted { at_ms: i64, used: u32 },
    /// This priority's share is spent: room in `after`; `used` requests in the window.
    Throttled { after: Duration, used: u32 },
    /// The vendor is paused for `after` more.
    Paused { after: Duration },
}

impl Store {
    /// Takes one request from `vendor`'s budget if fewer than `cap` were granted within
    /// the last `window`.
    pub async fn rate_acquire(
        &self,
        vendor: &str,
        window: Duration,
        cap: u32,
        member: &str,
    ) -> Result<Acquired, QueueError> {
        let mut conn = self.conn.clone();
        let (answer, a, b): (String, i64, i64) = SCRIPTS
            .rate_acquire
            .key(self.keys.rate_grants(vendor))
            .key(self.keys.rate_pause(vendor))
            .arg(window.as_millis().max(1) as u64)
            .arg(cap)
            .arg(member)
            .invoke_async(&mut conn)
            .await?;
        let count = |n: i64| u32::try_from(n).unwrap_or(u32::MAX);
        let after = |ms: i64| Duration::from_millis(u64::try_from(ms).unwrap_or(1).max(1));
        match answer.as_str() {
            "granted" => Ok(Acquired::Granted {
                at_ms: b,
                used: count(a),
            }),
            "throttled" => Ok(Acquired::Throttled {
                after: after(a),
                used: count(b),
            }),
            "paused" => Ok(Acquired::Paused { after: after(a) }),
            other => Err(QueueError::Unexpected(format!(
                "rate_acquire answered {other:?}"
            ))),
        }
    }

    /// Pauses every call to `vendor` for `pause` (never shortening a longer pause). Returns
    /// when the pause ends, in unix ms of Redis's clock.
    pub async fn rate_pause(&self, vendor: &str, pause: Duration) -> Result<i64, QueueError> {
        let mut conn = self.conn.clone();
        Ok(SCRIPTS
            .rate_pause
            .key(self.keys.rate_pause(vendor))
            .arg(pause.as_millis().max(1) as u64)
            .invoke_async(&mut conn)
            .await?)
    }
}
