//! The vendor's rate limit, lag included (`index.md`, リクエスト数の制限):
//!
//! - at most 300 requests per 5 minutes per source IP; past that, `429` until the count
//!   falls back under the limit;
//! - about 2 minutes pass before the limit starts, and before it lifts;
//! - requests made while limited count too.
//!
//! The model: the limiter sees the requests as they were `lag` ago. A request at `t` is
//! refused when more than `limit` requests arrived in the `window` ending at `t - lag`.
//! So a burst passes for a whole `lag` before the 429s start, and the 429s go on for a
//! `lag` after the burst left the window; every request counts, refused or not.
//!
//! Per source IP at the vendor; the sandbox counts every request it gets (a test or a
//! local deployment is one client, and every worker of a deployment shares its egress IP,
//! which is why underwrite's budget is shared, not per process).
//!
//! What the 429 looks like is **unknown**: the pages list rate limiting among the errors
//! that may come without the JSON error body, and name no `Retry-After`. The sandbox
//! answers plain text without `Retry-After` unless configured to send one.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::vendors::billing_robo::settings::{
    VENDOR_RATE_LAG_SECS, VENDOR_RATE_LIMIT, VENDOR_RATE_WINDOW_SECS,
};

/// The limit's parameters (tests shrink them to run in seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests allowed per window; one more is over.
    pub limit: u32,
    pub window: Duration,
    /// How late the limiter sees the requests.
    pub lag: Duration,
    /// `Retry-After` on a 429; none, as far as we know the vendor.
    pub retry_after_secs: Option<u64>,
}

impl Default for RateLimit {
    /// The vendor's: 300 per 300 s, 120 s of lag.
    fn default() -> Self {
        Self {
            limit: VENDOR_RATE_LIMIT,
            window: Duration::from_secs(VENDOR_RATE_WINDOW_SECS),
            lag: Duration::from_secs(VENDOR_RATE_LAG_SECS),
            retry_after_secs: None,
        }
    }
}

/// The arrivals the limit is computed from.
#[derive(Debug)]
pub struct RateLimiter {
    limit: RateLimit,
    arrivals: VecDeque<Instant>,
}

impl RateLimiter {
    pub fn new(limit: RateLimit) -> Self {
        Self {
            limit,
            arrivals: VecDeque::new(),
        }
    }

    /// Records a request arriving `now` and says whether it is refused.
    pub fn arrive(&mut self, now: Instant) -> bool {
        self.arrivals.push_back(now);
        // What the limiter looks at: the window ending `lag` ago.
        let Some(seen_until) = now.checked_sub(self.limit.lag) else {
            return false;
        };
        if let Some(horizon) = seen_until.checked_sub(self.limit.window) {
            while self.arrivals.front().is_some_and(|at| *at <= horizon) {
                self.arrivals.pop_front();
            }
        }
        let seen = self
            .arrivals
            .iter()
            .take_while(|at| **at <= seen_until)
            .count();
        seen > self.limit.limit as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(limit: u32, window_ms: u64, lag_ms: u64) -> RateLimiter {
        RateLimiter::new(RateLimit {
            limit,
            window: Duration::from_millis(window_ms),
            lag: Duration::from_millis(lag_ms),
            retry_after_secs: None,
        })
    }

    #[test]
    fn without_lag_the_request_past_the_limit_is_refused() {
        let mut limiter = limiter(3, 1_000, 0);
        let t0 = Instant::now();
        let refused: Vec<bool> = (0..5).map(|_| limiter.arrive(t0)).collect();
        assert_eq!(refused, [false, false, false, true, true]);
        assert!(!limiter.arrive(t0 + Duration::from_millis(1_001)));
    }

    #[test]
    fn the_limit_starts_and_lifts_a_lag_late_and_refusals_count() {
        let mut limiter = limiter(3, 1_000, 500);
        let t0 = Instant::now() + Duration::from_secs(10);
        let ms = |n: u64| t0 + Duration::from_millis(n);
        // A burst of 5: all pass, the limiter has not seen them yet.
        assert!((0..5).all(|_| !limiter.arrive(t0)));
        assert!(!limiter.arrive(ms(400)), "still inside the lag");
        assert!(limiter.arrive(ms(600)), "the burst is seen now");
        // Hammering while limited: those requests count once they are seen.
        for at in (700..=1_400).step_by(100) {
            assert!(limiter.arrive(ms(at)), "{at}");
        }
        // At 1 600 the burst has left the window, but the window seen, (100, 1 100],
        // holds the requests of 400 to 1 100, refused ones included: 7 of them.
        assert!(limiter.arrive(ms(1_600)));
        // Quiet until the refused requests leave the window too.
        assert!(!limiter.arrive(ms(3_000)));
    }
}
