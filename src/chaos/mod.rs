//! `underwrite chaos <scenario>`: break things on purpose and count what that cost.
//!
//! Every scenario sends real jobs through real `underwrite serve --no-api` worker processes
//! against the sandbox, with a verifying webhook sink as the only endpoint (see [`rig`]),
//! breaks one thing, waits for the run to settle and counts:
//!
//! - **lost**: accepted jobs that did not end as they should (succeeded, or dead for the
//!   jobs a scenario corrupts on purpose);
//! - **duplicated**: vendor effects that happened twice (the sandbox's own count of
//!   contracts created more than once per `transactionId`);
//! - **webhooks missing**: events the sink never received with a valid signature.
//!
//! | scenario | what breaks | module |
//! |---|---|---|
//! | `kill` | a worker process is SIGKILLed every few seconds and started again | [`kill`] |
//! | `redis-restart` | Redis (AOF, `appendfsync always`) is killed and restarted mid-run | [`redis_restart`] |
//! | `vendor-faults` | the vendor answers 5xx, 429 with `Retry-After`, and stalls | [`vendor_faults`] |
//! | `receiver-down` | the webhook receiver is down for a while, then up | [`receiver_down`] |
//! | `poison` | corrupt jobs are written straight into Redis | [`poison`] |
//!
//! Each run ends with one line, `chaos <scenario>: N jobs, L lost, D duplicated, W webhooks
//! missing`, and fails (non-zero exit) when L, D or W is not 0, or when a scenario's own
//! promise (listed after the line) was broken.

pub mod kill;
pub mod poison;
pub mod receiver_down;
pub mod redis_restart;
mod rig;
pub mod vendor_faults;

use std::fmt;
use std::time::Duration;

use crate::config::Settings;
use crate::local_redis::LocalRedis;

pub use rig::{Attempts, BillingRoboRun, Fleet, Rig, RigConfig, TulipRun, decisions};

/// The scenarios, by their command-line names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    Kill,
    RedisRestart,
    VendorFaults,
    ReceiverDown,
    Poison,
}

impl Scenario {
    pub fn name(self) -> &'static str {
        match self {
            Self::Kill => "kill",
            Self::RedisRestart => "redis-restart",
            Self::VendorFaults => "vendor-faults",
            Self::ReceiverDown => "receiver-down",
            Self::Poison => "poison",
        }
    }
}

/// Knobs shared by the scenarios; each reads the ones that concern it.
#[derive(Debug, Clone)]
pub struct ChaosOptions {
    /// Jobs to send through (each raises one webhook).
    pub jobs: usize,
    /// Worker processes.
    pub workers: usize,
    /// Gives up waiting for the run to settle after this long, and counts what is there.
    pub patience: Duration,
    /// `kill`: time between two SIGKILLs.
    pub every: Duration,
    /// Added to every vendor call, so that what breaks strikes while calls are in flight.
    pub vendor_latency: Duration,
    /// `receiver-down`: how long the receiver stays down.
    pub down_for: Duration,
}

impl Default for ChaosOptions {
    fn default() -> Self {
        Self {
            jobs: 5_000,
            workers: 3,
            patience: Duration::from_secs(300),
            every: Duration::from_secs(2),
            vendor_latency: Duration::from_millis(500),
            down_for: Duration::from_secs(120),
        }
    }
}

/// What a run cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChaosReport {
    pub scenario: &'static str,
    pub jobs: usize,
    pub lost: usize,
    pub duplicated: u64,
    pub webhooks_missing: usize,
    /// Facts worth printing with the line (kills made, time to resume, ...).
    pub details: Vec<String>,
    /// The scenario's own promises that were broken (each fails the run).
    pub broken: Vec<String>,
}

impl ChaosReport {
    pub fn new(scenario: Scenario) -> Self {
        Self {
            scenario: scenario.name(),
            jobs: 0,
            lost: 0,
            duplicated: 0,
            webhooks_missing: 0,
            details: Vec::new(),
            broken: Vec::new(),
        }
    }

    pub fn is_clean(&self) -> bool {
        self.lost == 0
            && self.duplicated == 0
            && self.webhooks_missing == 0
            && self.broken.is_empty()
    }

    /// The one line every scenario ends with, its details in brackets.
    pub fn line(&self) -> String {
        let mut line = format!(
            "chaos {}: {} jobs, {} lost, {} duplicated, {} webhooks missing",
            self.scenario, self.jobs, self.lost, self.duplicated, self.webhooks_missing
        );
        if !self.details.is_empty() {
            line.push_str(&format!(" ({})", self.details.join("; ")));
        }
        line
    }
}

/// The broken promises first, one per line, so that the run always ends with its line.
impl fmt::Display for ChaosReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for broken in &self.broken {
            writeln!(f, "broken: {broken}")?;
        }
        f.write_str(&self.line())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("chaos: {0}")]
pub struct ChaosError(String);

pub(crate) fn err(e: impl fmt::Display) -> ChaosError {
    ChaosError(e.to_string())
}

/// Runs one scenario. All but `redis-restart` (which must own its Redis, to kill it) run on
/// the Redis at `settings.redis.url` when it answers, else on a private one started for
/// the run.
pub async fn run(
    scenario: Scenario,
    mut settings: Settings,
    options: ChaosOptions,
) -> Result<ChaosReport, ChaosError> {
    if scenario == Scenario::RedisRestart {
        return redis_restart::run(settings, options).await;
    }
    let redis = LocalRedis::find_or_start(&settings.redis.url)
        .await
        .map_err(err)?;
    settings.redis.url = redis.url();
    let result = match scenario {
        Scenario::Kill => kill::run(&settings, &options).await,
        Scenario::VendorFaults => vendor_faults::run(&settings, &options).await,
        Scenario::ReceiverDown => receiver_down::run(&settings, &options).await,
        Scenario::Poison => poison::run(&settings, &options).await,
        Scenario::RedisRestart => Err(err("redis-restart brings its own Redis")),
    };
    redis.stop().await;
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_ends_with_its_line_and_fails_on_any_count_or_broken_promise() {
        let mut report = ChaosReport::new(Scenario::Poison);
        report.jobs = 12;
        report.details.push("2 corrupt jobs, 2 buried".into());
        assert!(report.is_clean());
        assert_eq!(
            report.to_string(),
            "chaos poison: 12 jobs, 0 lost, 0 duplicated, 0 webhooks missing (2 corrupt jobs, 2 buried)"
        );
        report.broken.push("worker 1 exited: signal 9".into());
        assert!(!report.is_clean());
        let printed = report.to_string();
        assert!(printed.starts_with("broken: worker 1 exited"), "{printed}");
        assert!(printed.ends_with("2 buried)"), "{printed}");
        for counts in [(1, 0, 0), (0, 1, 0), (0, 0, 1)] {
            let mut report = ChaosReport::new(Scenario::Kill);
            (report.lost, report.duplicated, report.webhooks_missing) = counts;
            assert!(!report.is_clean(), "{counts:?}");
        }
    }
}
