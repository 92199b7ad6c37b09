//! Billing-Robo's part of `chaos vendor-faults`: credit applications against a sandbox
//! that fails calls *and* enforces a real rate limit.
//!
//! Billing-Robo's sandbox takes a script of faults, one per request, so the run draws one
//! at random for each of the first requests ([`script`]): 5xx before executing
//! ([`ERROR_RATE`]) and a stall after the applications were stored ([`STALL_RATE`], [`STALL`]
//! against a client timeout of [`TIMEOUT`]). No 429 is injected: the vendor's 429 is its
//! rate limit, and the run must be able to say that it never drew one.
//!
//! ## The limit, for real
//!
//! The sandbox refuses a request past [`SANDBOX_LIMIT`] in any [`WINDOW`], with no lag (the
//! vendor's 2-minute lag would only hide a breach). The workers' shared budget is
//! [`BUDGET`] per [`BUDGET_WINDOW`] (`[vendors.billing_robo] rate_limit`,
//! `rate_limit_window_secs`): fewer requests over a longer window. Both margins are needed.
//! Our limiter counts a request when Redis grants it, the sandbox when it arrives, some
//! milliseconds later, and not always the same number of them: a burst granted at the very
//! start of a window can arrive late, and the burst granted one window later early, and an
//! equal window would then see both (a first run with 4 per 4 s against 5 per 4 s drew a
//! 429 that way). Grants that arrive within 4 s of each other were granted within 4 s plus
//! the spread of their delays; as long as that spread stays under a second, they lie in one
//! of our 5-second windows, so there are at most 4 of them, under the sandbox's 5. Batches of [`BATCH_SIZE`] make one call
//! per two applications, all ready at once: without the shared limiter the first burst
//! alone passes the sandbox's limit (the run checks that it made more calls than one window
//! allows, else it proved nothing). Every 429 the sandbox sent is a breach; there must be
//! none. Decisions come from polls, which may use only `BUDGET - RESERVE` of a window, so
//! they never hold up an application.

use std::time::Duration;

use rand::RngExt;

use super::super::{Attempts, BillingRoboRun};
use crate::vendors::billing_robo::sandbox::{
    BillingRoboSandboxConfig, Effects, Fault, Phase, RateLimit, StallThen,
};

/// Share of calls answered 500/502/503 before the vendor runs.
pub const ERROR_RATE: f64 = 0.15;
/// Share of calls that store their applications, then answer [`STALL`] late.
pub const STALL_RATE: f64 = 0.1;
pub const STALL: Duration = Duration::from_secs(2);
/// The workers' Billing-Robo timeout: far above a local call, below a stall.
pub const TIMEOUT: Duration = Duration::from_secs(1);
/// The most calls one attempt of a batch makes: a retry first searches what an earlier
/// attempt registered (at most `⌈members / 200⌉ + 1` pages, 2 here), then registers.
pub const CALLS_PER_ATTEMPT: i32 = 3;
/// The sandbox's limit: requests per window, one more is refused.
pub const SANDBOX_LIMIT: u32 = 5;
pub const WINDOW: Duration = Duration::from_secs(4);
/// Our shared budget per (longer) window, and the part of it kept for applications.
pub const BUDGET: u32 = 4;
pub const BUDGET_WINDOW: Duration = Duration::from_secs(5);
/// After a 429 (a breach, which fails the run anyway), a short pause: long enough to be
/// seen, short enough that the run still settles and reports.
pub const PAUSE_ON_429: Duration = Duration::from_secs(5);
pub const RESERVE: u32 = 2;
/// Applications per `bulk_register` call.
pub const BATCH_SIZE: usize = 2;

/// The applications of a run of `jobs`: a twentieth, at least 12 (6 calls, more than the
/// sandbox's window allows) and at most 60 (the budget allows about a call a second).
pub fn applications(jobs: usize) -> usize {
    (jobs / 20).clamp(12, 60).min(jobs / 4)
}

/// The chance that one attempt of a batch fails: any of its calls drew a fault.
pub fn attempt_failure() -> f64 {
    1.0 - (1.0 - ERROR_RATE - STALL_RATE).powi(CALLS_PER_ATTEMPT)
}

/// One fault (or none) drawn for each of the first `requests` requests. The first request
/// always stalls after storing: every run meets the dangerous case at least once, and a
/// short run cannot draw no fault at all by luck (its check that faults struck would fail).
pub fn script(requests: usize) -> Vec<Fault> {
    let mut rng = rand::rng();
    (0..requests)
        .map(|i| {
            if i == 0 {
                return Fault::Stall {
                    ms: STALL.as_millis() as u64,
                    then: StallThen::Answer,
                };
            }
            let roll: f64 = rng.random();
            if roll < ERROR_RATE {
                Fault::Error {
                    status: [500, 502, 503][rng.random_range(0..3)],
                    phase: Phase::Before,
                }
            } else if roll < ERROR_RATE + STALL_RATE {
                Fault::Stall {
                    ms: STALL.as_millis() as u64,
                    then: StallThen::Answer,
                }
            } else {
                Fault::Pass
            }
        })
        .collect()
}

/// The sandbox and the workers' settings for a run of `applications`.
pub fn run(applications: usize) -> BillingRoboRun {
    let sandbox = BillingRoboSandboxConfig {
        rate_limit: RateLimit {
            limit: SANDBOX_LIMIT,
            window: WINDOW,
            lag: Duration::ZERO,
            retry_after_secs: None,
        },
        // Enough for every call the run makes, several times over.
        faults: script(20 + applications * 4),
        ..BillingRoboSandboxConfig::default()
    };
    BillingRoboRun::new(sandbox)
        .set("RATE_LIMIT", BUDGET)
        .set("RATE_LIMIT_WINDOW_SECS", BUDGET_WINDOW.as_secs())
        .set("PAUSE_ON_429_SECS", PAUSE_ON_429.as_secs())
        .set("HIGH_PRIORITY_RESERVE", RESERVE)
        .set("BATCH_SIZE", BATCH_SIZE)
        .set("TIMEOUT_MS", TIMEOUT.as_millis())
}

/// The run's figures for Billing-Robo, and its broken promises.
pub fn judge(effects: &Effects, batches: Attempts, budget: u32) -> (Vec<String>, Vec<String>) {
    let details = vec![
        format!(
            "Billing-Robo: {} faults injected in {} calls, {} batches, {} retries, at most {} of {budget} attempts",
            effects.faults_injected,
            effects.requests_seen,
            batches.jobs,
            batches.retries(),
            batches.max
        ),
        format!(
            "Billing-Robo limit {SANDBOX_LIMIT} per {} s, budget {BUDGET} per {} s: {} breaches",
            WINDOW.as_secs(),
            BUDGET_WINDOW.as_secs(),
            effects.rate_limited
        ),
    ];
    let mut broken = Vec::new();
    if effects.rate_limited > 0 {
        broken.push(format!(
            "Billing-Robo's rate limit was breached: {} 429s",
            effects.rate_limited
        ));
    }
    if effects.requests_seen <= u64::from(SANDBOX_LIMIT) {
        broken.push(format!(
            "only {} Billing-Robo calls, within one window's limit: the run proved nothing about the limit",
            effects.requests_seen
        ));
    }
    (details, broken)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_stays_under_the_sandboxs_limit_and_within_our_settings_rules() {
        const { assert!(BUDGET < SANDBOX_LIMIT) };
        assert!(BUDGET_WINDOW > WINDOW);
        const { assert!(RESERVE < BUDGET) };
        // `[vendors.billing_robo]` allows at most one call a second on average.
        assert!(u64::from(BUDGET) <= BUDGET_WINDOW.as_secs());
        // The smallest run's batches, all ready at once, pass one window's limit.
        assert!(applications(240).div_ceil(BATCH_SIZE) > SANDBOX_LIMIT as usize);
        assert!(TIMEOUT < STALL);
    }

    #[test]
    fn the_script_draws_the_rates() {
        let script = script(20_000);
        let share = |pick: fn(&Fault) -> bool| {
            script.iter().filter(|f| pick(f)).count() as f64 / script.len() as f64
        };
        let errors = share(|f| {
            matches!(
                f,
                Fault::Error {
                    phase: Phase::Before,
                    ..
                }
            )
        });
        let stalls = share(|f| matches!(f, Fault::Stall { .. }));
        assert!((errors - ERROR_RATE).abs() < 0.02, "{errors}");
        assert!((stalls - STALL_RATE).abs() < 0.02, "{stalls}");
    }
}
