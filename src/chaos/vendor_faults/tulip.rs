//! Tulip's part of `chaos vendor-faults`: contract creations against a sandbox that fails
//! calls, asks to slow down, and stalls after it stored the contract.
//!
//! The sandbox takes a script of faults, one per request; the run draws one at random for
//! each of the first requests ([`script`]): 5xx before executing ([`ERROR_RATE`]), 429 with
//! `Retry-After` ([`RATE_LIMIT_RATE`]; Tulip documents it) and a stall after the contract
//! was stored ([`STALL_RATE`], [`STALL`] against a client timeout of [`TIMEOUT`]).
//!
//! A stall is Tulip's dangerous case: it has no idempotency key, and the contract exists
//! although the worker saw only a timeout. The retry lists the renter's contracts first and
//! adopts the one carrying its `internal_id` (`vendors/tulip/jobs/adopt.rs`); the sandbox's
//! store, one contract per renter, is the proof. Unlike Proteger's, the adoption does not
//! depend on timing: the contract is stored before the stall begins.

use std::time::Duration;

use rand::RngExt;

use super::super::TulipRun;
use crate::vendors::tulip::sandbox::{Effects, Fault, Phase, StallThen, TulipSandboxConfig};

pub const ERROR_RATE: f64 = 0.15;
pub const RATE_LIMIT_RATE: f64 = 0.05;
pub const RETRY_AFTER_SECS: u64 = 1;
pub const STALL_RATE: f64 = 0.1;
pub const STALL: Duration = Duration::from_secs(2);
/// The workers' Tulip timeout: far above a local call, below a stall.
pub const TIMEOUT: Duration = Duration::from_secs(1);
/// The most calls one attempt makes: a retry lists the renter's contracts (one page: a
/// renter of its own) before it creates.
pub const CALLS_PER_ATTEMPT: i32 = 2;

/// The Tulip contracts of a run of `jobs`: a tenth. Each 429 pauses every worker's Tulip
/// calls for a second, so more would mostly measure pauses.
pub fn contracts(jobs: usize) -> usize {
    jobs / 10
}

/// The chance that one attempt fails: any of its calls drew a fault. (A 429 met while the
/// calls are paused defers the job without using an attempt; counting it is pessimistic.)
pub fn attempt_failure() -> f64 {
    1.0 - (1.0 - ERROR_RATE - RATE_LIMIT_RATE - STALL_RATE).powi(CALLS_PER_ATTEMPT)
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
            let mut edge = ERROR_RATE;
            if roll < edge {
                return Fault::Error {
                    status: [500, 502, 503][rng.random_range(0..3)],
                    phase: Phase::Before,
                };
            }
            edge += RATE_LIMIT_RATE;
            if roll < edge {
                return Fault::RateLimited {
                    retry_after_secs: Some(RETRY_AFTER_SECS),
                };
            }
            edge += STALL_RATE;
            if roll < edge {
                return Fault::Stall {
                    ms: STALL.as_millis() as u64,
                    then: StallThen::Answer,
                };
            }
            Fault::Pass
        })
        .collect()
}

/// The sandbox and the workers' settings for a run of `contracts`.
pub fn run(contracts: usize) -> TulipRun {
    let sandbox = TulipSandboxConfig {
        faults: script(20 + contracts * 4),
        ..TulipSandboxConfig::default()
    };
    TulipRun::new(sandbox).set("TIMEOUT_MS", TIMEOUT.as_millis())
}

/// The run's figures for Tulip.
pub fn details(effects: &Effects, creates: super::super::Attempts, budget: u32) -> String {
    format!(
        "Tulip: {} faults injected ({} 429s) in {} calls, {} contracts stored, {} retries, at most {} of {budget} attempts",
        effects.faults_injected,
        effects.rate_limited,
        effects.requests,
        effects.contracts_created,
        creates.retries(),
        creates.max
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_draws_the_rates() {
        let script = script(20_000);
        let share = |pick: fn(&Fault) -> bool| {
            script.iter().filter(|f| pick(f)).count() as f64 / script.len() as f64
        };
        let limited = share(|f| {
            matches!(
                f,
                Fault::RateLimited {
                    retry_after_secs: Some(1)
                }
            )
        });
        let stalls = share(|f| matches!(f, Fault::Stall { .. }));
        assert!((limited - RATE_LIMIT_RATE).abs() < 0.02, "{limited}");
        assert!((stalls - STALL_RATE).abs() < 0.02, "{stalls}");
        assert!(TIMEOUT < STALL);
    }
}
