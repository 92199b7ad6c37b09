//! `chaos vendor-faults`: every vendor misbehaves on a third of its calls and more.
//!
//! One run sends Proteger contracts (most of `--jobs`), Tulip contract creations (a tenth,
//! `tulip.rs`) and Billing-Robo credit applications (a twentieth, 12 to 60, `billing_robo.rs`)
//! at once, each vendor's sandbox drawing its own faults. Proteger's are below; the other
//! two follow the same pattern (5xx before executing, stalls after executing that beat the
//! client's timeout, 429 with `Retry-After` where the vendor has one), and Billing-Robo's
//! sandbox also enforces a real rate limit that the run must never breach.
//!
//! ## What breaks at Proteger
//!
//! The sandbox draws one fault per Proteger call (see `vendors/proteger/sandbox/faults.rs`):
//!
//! | share | fault | what the vendor did | what the worker sees |
//! |---|---|---|---|
//! | 30 % | 500, 502 or 503 | nothing: a gateway answered before the vendor ran | a 5xx: retry |
//! | 10 % | 429 `Retry-After: 1` | nothing | a 429: retry, not before 1 s |
//! | 10 % | a 2 s stall | **created the contracts**, then answered 2 s late | a timeout: retry |
//! | 50 % | none | created the contracts | the contracts |
//!
//! Every call also takes `vendor_latency` (at least [`MIN_LATENCY`]).
//!
//! **Why every 5xx strikes before executing.** A 5xx *after* executing is the one case no
//! retry can mend: Proteger stores the 500 under the idempotency key and replays it for
//! 24 h, so every retry of that batch gets the same 500 and the batch ends in the dead set,
//! on purpose and documented (a human must look: the contracts exist at the vendor). That
//! limit has its own tests; here it would only turn "lost" into a count of the faults
//! drawn. The 5xx of this scenario are a gateway's (`error_after_share = 0`), the common
//! kind, after which a retry with the same key runs for real.
//!
//! **Why the stall beats the timeout.** A stall that answers before the client gives up is
//! merely slow and proves nothing. The workers' Proteger timeout is set to
//! `stall + latency / 2` (2.1 s at the minimum latency): a normal call (latency plus
//! microseconds of work) is far inside it, a stalled one (latency + 2 s + work) always
//! outlasts it. So every stall is the dangerous case: the vendor *executed*, the worker saw
//! only a timeout, and retries the whole batch under the same `X-Idempotency-Key`. The retry
//! reaches the vendor's idempotency check at least `timeout + latency` after the first
//! call started, which is after the stall ended (`latency + 2 s + work`) as long as the work
//! takes less than `latency / 2`; the vendor then **replays** the stored answer instead of
//! creating the contracts again. The sandbox counts both: `idempotent_replays` in the
//! details, and `duplicate_transaction_ids`, which is D and must stay 0.
//!
//! ## What is promised
//!
//! Every job completes within its retry budget: L = 0, D = 0, W = 0, and Billing-Robo's
//! rate limit is never breached.
//!
//! - **L**: every Proteger contract, Tulip contract and Billing-Robo application succeeded,
//!   and so did every application's decision job (the sandbox decides within a second and
//!   the workers poll every 5 s, so the run waits for the decisions too).
//! - **D**, the sandboxes' own records: Proteger's `duplicate_transaction_ids`, Billing-Robo's
//!   applications stored more than once per billing code, Tulip's contracts stored more
//!   than once per renter (each job's renter is its own).
//! - **W**: a verified webhook for every job counted (`proteger.contract.created`,
//!   `tulip.contract.created`, `billing_robo.credit.applied` and `.approved`).
//! - **Breaches**: the 429s Billing-Robo's sandbox sent for its limit (`rate_limited`; no
//!   429 is injected there, so the figure is the limit's alone). Tulip's 429s are injected
//!   faults and are reported with its faults.
//!
//! ## Why the budget it gets
//!
//! A batch is lost only if every one of its attempts fails. An attempt on a key that is not
//! in flight at the vendor fails with probability 0.3 + 0.1 = 0.4 (5xx or 429) and stalls
//! with probability 0.1. To stay on the safe side, a stall costs *two* attempts: its own,
//! and the next one counted as failed whatever it draws (a 409 "still in flight" if the
//! vendor was slow to finish; see above for why it normally is not). With `f(n)` the
//! chance that `n` attempts all fail:
//!
//! ```text
//! f(n) = 0.4·f(n−1) + 0.1·f(n−2),   f(0) = f(−1) = 1
//! f(n) ≈ 0.574ⁿ   (0.574 = (0.4 + √(0.4² + 4·0.1)) / 2; plain 0.5ⁿ if stalls cost one)
//! f(10) = 3.5e-3   f(20) = 1.4e-5   f(30) = 5.3e-8   f(36) = 1.9e-9   f(42) = 6.8e-11
//! ```
//!
//! A run has at most one batch per job (batches hold up to 10), so the chance that a run
//! loses anything by bad luck is below `jobs · f(n)`. The run picks the smallest budget
//! that keeps this under 10⁻⁶ ([`retry_budget`]): 36 attempts for 500 jobs, 41 for 5 000,
//! 42 for 10 000. The budget is generous because it is cheap: the typical batch needs 2
//! attempts, the unluckiest of 1 000 about 12, and the backoff between attempts is short
//! here (full jitter under 250 ms doubling to a cap of 4 s; a 429's `Retry-After` is a
//! floor) so the run ends in seconds, not the production policy's minutes.
//!
//! **Tulip and Billing-Robo** need no recurrence: their retries do not race the vendor (the
//! contract or application is stored before a stall begins, and the retry searches for it
//! before sending again), so each attempt fails independently, with the chance that any of
//! its calls drew a fault. A Tulip attempt makes at most 2 calls (list, create) at a fault
//! rate of 0.3: `p = 1 − 0.7² = 0.51`; a Billing-Robo batch at most 3 (two search pages,
//! register) at 0.25: `p = 1 − 0.75³ = 0.58`. The budget is the smallest `n` with
//! `units · pⁿ < 10⁻⁶` ([`budget_for`]): 26 attempts for 40 Tulip contracts, 30 for 10
//! Billing-Robo batches. Billing-Robo's polls get 3 attempts with a short backoff: a poll
//! that fails is replaced by the next tick's, a second later, and a long-retrying one would
//! only keep the run from settling.
//!
//! Retry policies are per job kind (`[retry."proteger.contract.batch"]`), and an
//! environment variable cannot reach a key that deep (`UNDERWRITE_RETRY_…` names a key of
//! the `[retry]` table itself, and kinds contain dots). So the run writes a small config
//! file with those tables and points the workers at it with `UNDERWRITE_CONFIG`; the rest
//! of their settings come from the environment as usual. A caller's own `UNDERWRITE_CONFIG`
//! does not reach the workers of this scenario.

use std::path::Path;
use std::time::{Duration, Instant};

mod billing_robo;
mod tulip;

use super::{ChaosError, ChaosOptions, ChaosReport, Rig, RigConfig, Scenario, decisions, err};
use crate::config::Settings;
use crate::queue::JobKind;
use crate::vendors::billing_robo::jobs::{CreditBatch, PollCredits};
use crate::vendors::proteger::jobs::ContractBatch;
use crate::vendors::proteger::sandbox::ProtegerSandboxConfig;
use crate::vendors::proteger::sandbox::{Fault, Faults, StallThen};
use crate::vendors::tulip::jobs::CreateContract as CreateTulipContract;

/// Share of calls answered 500/502/503 by a gateway, before the vendor runs.
pub const ERROR_RATE: f64 = 0.3;
/// Share of calls answered 429 with `Retry-After`.
pub const RATE_LIMIT_RATE: f64 = 0.1;
pub const RETRY_AFTER_SECS: u64 = 1;
/// Share of calls that execute, then answer [`STALL`] late.
pub const STALL_RATE: f64 = 0.1;
pub const STALL: Duration = Duration::from_secs(2);
/// The vendor latency this scenario uses at the least: the timeout sits half of it past
/// the stall, so a stall is told apart from a normal call, and a retry after a timeout
/// finds the stall over (module docs).
pub const MIN_LATENCY: Duration = Duration::from_millis(200);
/// A run may lose something by bad luck with at most this probability.
pub const LOSS_ODDS: f64 = 1e-6;
/// No budget above this (reached only for absurd job counts).
const MAX_BUDGET: u32 = 100;
/// The backoff of the run's batches: full jitter under `BASE_MS · 2ⁿ`, capped.
const BASE_MS: u64 = 250;
const CAP_MS: u64 = 4_000;
/// Billing-Robo's polls: a few quick attempts (module docs).
const POLL_ATTEMPTS: u32 = 3;
const POLL_CAP_MS: u64 = 1_000;

/// The chance that one batch fails every one of `attempts` attempts: `f(n)` of the module
/// docs, a stall counted as two failed attempts.
pub fn exhaustion_probability(attempts: u32) -> f64 {
    let failed = ERROR_RATE + RATE_LIMIT_RATE;
    // f(n − 2) and f(n − 1), starting from f(−1) = f(0) = 1.
    let (mut before, mut last) = (1.0, 1.0);
    for _ in 0..attempts {
        let next = failed * last + STALL_RATE * before;
        before = last;
        last = next;
    }
    last
}

/// The smallest number of attempts per batch that keeps the chance of losing anything in
/// a run of `jobs` jobs (at most as many batches) under [`LOSS_ODDS`].
pub fn retry_budget(jobs: usize) -> u32 {
    (1..=MAX_BUDGET)
        .find(|&n| jobs.max(1) as f64 * exhaustion_probability(n) < LOSS_ODDS)
        .unwrap_or(MAX_BUDGET)
}

/// The smallest number of attempts that keeps the chance that any of `units` jobs fails
/// every attempt, each failing with probability `attempt_failure`, under [`LOSS_ODDS`].
pub fn budget_for(attempt_failure: f64, units: usize) -> u32 {
    (1..=MAX_BUDGET)
        .find(|&n| units.max(1) as f64 * attempt_failure.powi(n as i32) < LOSS_ODDS)
        .unwrap_or(MAX_BUDGET)
}

/// How `--jobs` is shared out, and each kind's retry budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Split {
    proteger: usize,
    tulip: usize,
    applications: usize,
    proteger_budget: u32,
    tulip_budget: u32,
    billing_robo_budget: u32,
}

impl Split {
    fn of(jobs: usize) -> Self {
        let tulip = tulip::contracts(jobs);
        let applications = billing_robo::applications(jobs);
        let proteger = jobs.saturating_sub(tulip + applications);
        let batches = applications.div_ceil(billing_robo::BATCH_SIZE);
        Self {
            proteger,
            tulip,
            applications,
            proteger_budget: retry_budget(proteger),
            tulip_budget: budget_for(tulip::attempt_failure(), tulip),
            billing_robo_budget: budget_for(billing_robo::attempt_failure(), batches),
        }
    }
}

/// Runs the scenario on the Redis at `settings.redis.url`.
pub async fn run(settings: &Settings, options: &ChaosOptions) -> Result<ChaosReport, ChaosError> {
    let split = Split::of(options.jobs);
    let config_file = std::env::temp_dir().join(format!(
        "underwrite-chaos-vendor-faults-{}.toml",
        uuid::Uuid::now_v7().simple()
    ));
    let result = match std::fs::write(&config_file, retry_config(&split)) {
        Ok(()) => faulty_vendors(settings, options, split, &config_file).await,
        Err(e) => Err(err(format!(
            "cannot write the workers' config file {}: {e}",
            config_file.display()
        ))),
    };
    let _ = std::fs::remove_file(&config_file);
    result
}

/// The tables the workers need from a file: this run's retry policies.
fn retry_config(split: &Split) -> String {
    let table = |kind: &str, budget: u32, cap_ms: u64| {
        format!(
            "[retry.\"{kind}\"]\nmax_attempts = {budget}\nbase_ms = {BASE_MS}\ncap_ms = {cap_ms}\n"
        )
    };
    [
        "# Written by `underwrite chaos vendor-faults` for its workers; deleted after the run.\n"
            .to_string(),
        table(ContractBatch::KIND, split.proteger_budget, CAP_MS),
        table(CreateTulipContract::KIND, split.tulip_budget, CAP_MS),
        table(CreditBatch::KIND, split.billing_robo_budget, CAP_MS),
        table(PollCredits::KIND, POLL_ATTEMPTS, POLL_CAP_MS),
    ]
    .join("\n")
}

async fn faulty_vendors(
    settings: &Settings,
    options: &ChaosOptions,
    split: Split,
    config_file: &Path,
) -> Result<ChaosReport, ChaosError> {
    let latency = options.vendor_latency.max(MIN_LATENCY);
    let timeout = STALL + latency / 2;
    let faults = Faults {
        error_rate: ERROR_RATE,
        // Gateway errors only: see the module docs for the after-execution 500.
        error_after_share: 0.0,
        rate_limit_rate: RATE_LIMIT_RATE,
        retry_after_secs: RETRY_AFTER_SECS,
        stall_rate: STALL_RATE,
        stall_ms: STALL.as_millis() as u64,
        stall_then: StallThen::Answer,
        latency_ms: latency.as_millis() as u64,
        // The first call always stalls after storing: every run meets the dangerous case,
        // and a short run cannot draw no fault at all by luck.
        next: vec![Fault::Stall {
            ms: STALL.as_millis() as u64,
            then: StallThen::Answer,
        }],
        ..Faults::none()
    };
    let sandbox = ProtegerSandboxConfig {
        faults,
        ..ProtegerSandboxConfig::default()
    };
    let config = RigConfig::new(options.workers, sandbox)
        .with_billing_robo(billing_robo::run(split.applications))
        .with_tulip(tulip::run(split.tulip))
        .env("UNDERWRITE_CONFIG", config_file.display().to_string())
        .env(
            "UNDERWRITE_VENDORS_PROTEGER_TIMEOUT_MS",
            timeout.as_millis().to_string(),
        );
    let mut rig = Rig::start(settings, config).await?;
    let started = Instant::now();
    // Applications first: they are the slowest, at about a call a second.
    let applications = rig.submit_applications(split.applications).await?;
    let mut ids = rig.submit_tulip_contracts(split.tulip).await?;
    ids.extend(rig.submit_contracts(0, split.proteger).await?);
    let decisions = decisions(&applications);
    ids.extend(applications);
    ids.extend(decisions);
    // One event per job: `applied` for an application, `approved` for its decision.
    let settled = rig.wait_settled(ids.len(), options.patience).await;
    let took = started.elapsed();

    let mut report = ChaosReport::new(Scenario::VendorFaults);
    rig.tally(&mut report, &ids).await?;
    report.details.push(format!(
        "{} Proteger contracts, {} Tulip contracts, {} Billing-Robo applications and their decisions",
        split.proteger, split.tulip, split.applications
    ));
    let effects = rig.sandbox.proteger.effects();
    let batches = rig.attempts(ContractBatch::KIND).await?;
    report.details.push(format!(
        "Proteger: {} faults injected in {} vendor calls",
        effects.faults_injected, effects.requests_seen
    ));
    report
        .details
        .push(format!("{} idempotent replays", effects.idempotent_replays));
    report.details.push(format!(
        "{} batches, {} retries, at most {} of {} attempts",
        batches.jobs,
        batches.retries(),
        batches.max,
        split.proteger_budget
    ));
    report.details.push(format!(
        "timeout {} ms, stall {} ms",
        timeout.as_millis(),
        STALL.as_millis()
    ));
    let mut injected = effects.faults_injected;
    if let Some(served) = &rig.tulip {
        let effects = served.tulip.effects();
        injected += effects.faults_injected;
        let creates = rig.attempts(CreateTulipContract::KIND).await?;
        report
            .details
            .push(tulip::details(&effects, creates, split.tulip_budget));
    }
    if let Some(served) = &rig.billing_robo {
        let effects = served.billing_robo.effects();
        injected += effects.faults_injected;
        let batches = rig.attempts(CreditBatch::KIND).await?;
        let (details, broken) = billing_robo::judge(&effects, batches, split.billing_robo_budget);
        report.details.extend(details);
        report.broken.extend(broken);
    }
    report
        .details
        .push(format!("settled in {:.1} s", took.as_secs_f64()));
    if !settled {
        report.details.push("did not settle in time".into());
    }
    if injected == 0 {
        report
            .broken
            .push("no fault was injected: the run proved nothing".into());
    }
    let exited = rig.fleet.exited();
    report.broken.extend(exited);
    rig.finish().await;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exhaustion_follows_the_recurrence() {
        assert_eq!(exhaustion_probability(0), 1.0);
        // One attempt: 5xx, 429 or a stall.
        assert!((exhaustion_probability(1) - 0.5).abs() < 1e-12);
        // Two: 0.4·0.5 + 0.1·1.
        assert!((exhaustion_probability(2) - 0.3).abs() < 1e-12);
        let f10 = exhaustion_probability(10);
        assert!((3.4e-3..3.6e-3).contains(&f10), "{f10}");
        // Never better than if stalls cost one attempt.
        assert!((1..60).all(|n| exhaustion_probability(n) >= 0.5f64.powi(n as i32)));
    }

    #[test]
    fn the_budget_keeps_a_loss_under_one_in_a_million() {
        assert_eq!(retry_budget(500), 36);
        assert_eq!(retry_budget(5_000), 41);
        assert_eq!(retry_budget(10_000), 42);
        for jobs in [1, 300, 10_000, 1_000_000] {
            let budget = retry_budget(jobs);
            assert!(jobs as f64 * exhaustion_probability(budget) < LOSS_ODDS);
            assert!(jobs as f64 * exhaustion_probability(budget - 1) >= LOSS_ODDS);
        }
    }

    #[test]
    fn the_config_file_sets_the_batch_policy() {
        let path = std::env::temp_dir().join(format!(
            "underwrite-test-vendor-faults-{}.toml",
            uuid::Uuid::now_v7().simple()
        ));
        let split = Split::of(400);
        std::fs::write(&path, retry_config(&split)).expect("write the file");
        let settings = Settings::load_from(Some(&path), Vec::new());
        let _ = std::fs::remove_file(&path);
        let settings = settings.expect("settings load");
        for (kind, budget) in [
            (ContractBatch::KIND, split.proteger_budget),
            (CreateTulipContract::KIND, split.tulip_budget),
            (CreditBatch::KIND, split.billing_robo_budget),
        ] {
            let policy = settings.retry_policy(kind);
            assert_eq!(policy.max_attempts, budget, "{kind}");
            assert_eq!((policy.base_ms, policy.cap_ms), (BASE_MS, CAP_MS), "{kind}");
        }
        assert_eq!(
            settings.retry_policy(PollCredits::KIND).max_attempts,
            POLL_ATTEMPTS
        );
    }

    #[test]
    fn the_jobs_are_shared_out_and_each_kind_gets_a_budget() {
        let split = Split::of(400);
        assert_eq!(
            (split.proteger, split.tulip, split.applications),
            (340, 40, 20)
        );
        assert_eq!(split.tulip_budget, 26);
        assert_eq!(split.billing_robo_budget, 30);
        for (p, units, budget) in [
            (tulip::attempt_failure(), 40, split.tulip_budget),
            (
                billing_robo::attempt_failure(),
                10,
                split.billing_robo_budget,
            ),
        ] {
            assert!(units as f64 * p.powi(budget as i32) < LOSS_ODDS);
            assert!(units as f64 * p.powi(budget as i32 - 1) >= LOSS_ODDS);
        }
    }
}
