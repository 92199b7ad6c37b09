//! `chaos kill`: worker processes are SIGKILLed while they work.
//!
//! The jobs are mixed across the vendors: about 70 % Proteger contract creations (batched
//! by ten), 10 % Proteger refund quotes and 10 % cancellations of contracts created at the
//! sandbox beforehand, 10 % Tulip contract creations, and a fortieth Billing-Robo credit
//! applications with their decision jobs (each waits, snoozed, for the periodic poll, which
//! is killed with the rest). Besides the sandboxes' counts of anything stored twice (per
//! `transactionId` at Proteger, per renter at Tulip, per billing code at Billing-Robo), a
//! cancellation committed more than once per contract breaks the run.
//!
//! Three workers run the jobs against sandboxes that take `vendor_latency` per call, so
//! kills land mid-call. Tulip's latency comes after the contract is stored, its most
//! dangerous moment: Tulip has no idempotency key, so a creation killed there is found
//! again by its reference (`vendors/tulip/jobs/adopt.rs`) instead of being sent twice. Every `every`, one of them is SIGKILLed (no shutdown, no
//! hand-back) and a new one started. What the dead worker held comes back to the others
//! when its lease runs out (2 s here); a batch whose vendor call had executed is sent again
//! under the same idempotency key, so the sandbox replays its answer instead of creating
//! the contracts twice.
//!
//! Kills every 2 s with a 2 s lease can catch the same in-flight batch in three victims
//! running, and the poison rule (3 crashes by default) would then bury jobs that killed
//! nobody. This scenario kills on purpose, so it raises the threshold to 10; the rule
//! itself is tested apart (`tests/it/crash.rs`).

use std::time::{Duration, Instant};

use super::{
    BillingRoboRun, ChaosError, ChaosOptions, ChaosReport, Rig, RigConfig, Scenario, TulipRun,
    decisions,
};
use crate::config::Settings;
use crate::queue::JobId;
use crate::vendors::billing_robo::sandbox::BillingRoboSandboxConfig;
use crate::vendors::proteger::sandbox::ProtegerSandboxConfig;
use crate::vendors::tulip::sandbox::{Fault, StallThen, TulipSandboxConfig};

/// Runs the scenario on the Redis at `settings.redis.url`.
pub async fn run(settings: &Settings, options: &ChaosOptions) -> Result<ChaosReport, ChaosError> {
    let mut sandbox = ProtegerSandboxConfig::default();
    sandbox.faults.latency_ms = options.vendor_latency.as_millis() as u64;
    let mix = Mix::of(options.jobs);
    let config = RigConfig::new(options.workers, sandbox)
        .with_tulip(tulip_run(mix.tulip, options.vendor_latency))
        .with_billing_robo(BillingRoboRun::new(BillingRoboSandboxConfig::default()))
        .env("UNDERWRITE_WORKER_MAX_CRASHES", "10");
    let mut rig = Rig::start(settings, config).await?;
    let seeded = rig.seed_contracts(mix.quotes + mix.cancels).await?;
    let (to_quote, to_cancel) = seeded.split_at(mix.quotes.min(seeded.len()));
    let mut ids = rig.submit_contracts(0, mix.creates).await?;
    ids.extend(rig.submit_cancels(to_quote, true).await?);
    ids.extend(rig.submit_cancels(to_cancel, false).await?);
    let tulip_ids = rig.submit_tulip_contracts(mix.tulip).await?;
    ids.extend(tulip_ids.iter().cloned());
    // One event each: `applied` for an application, its decision for the decision job.
    let applications = rig.submit_applications(mix.applications).await?;
    ids.extend(decisions(&applications));
    ids.extend(applications);

    let started = Instant::now();
    let mut kills = 0;
    let mut next_kill = Instant::now() + options.every;
    let settled = loop {
        if rig.settled(ids.len()).await? {
            break true;
        }
        if started.elapsed() > options.patience {
            break false;
        }
        if Instant::now() >= next_kill {
            rig.fleet.kill_and_replace(kills).await?;
            kills += 1;
            next_kill = Instant::now() + options.every;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };

    let mut report = ChaosReport::new(Scenario::Kill);
    rig.tally(&mut report, &ids).await?;
    let effects = rig.sandbox.proteger.effects();
    if effects.cancellations_committed != to_cancel.len() as u64 {
        report.broken.push(format!(
            "{} cancellations committed for {} contracts to cancel",
            effects.cancellations_committed,
            to_cancel.len()
        ));
    }
    let tulip_stored = rig
        .tulip
        .as_ref()
        .map_or(0, |served| served.tulip.effects().contracts_created);
    let tulip_adopted = adopted(&rig, &tulip_ids).await?;
    report.details.push(format!(
        "{} creates, {} quotes, {} cancels, {} Tulip contracts ({tulip_stored} stored, {tulip_adopted} adopted after a kill), {} Billing-Robo applications and their decisions; {kills} SIGKILLs",
        mix.creates,
        to_quote.len(),
        to_cancel.len(),
        mix.tulip,
        mix.applications
    ));
    if !settled {
        report.details.push("did not settle in time".into());
    }
    rig.finish().await;
    Ok(report)
}

/// How many of the Tulip creations `ids` ended by adopting the contract a killed attempt
/// had made: the "never twice" rule at work.
async fn adopted(rig: &Rig, ids: &[JobId]) -> Result<usize, ChaosError> {
    let mut adopted = 0;
    for id in ids {
        let record = rig.store.job(id).await.map_err(super::err)?;
        if record
            .and_then(|r| r.result)
            .is_some_and(|r| r["adopted"] == true)
        {
            adopted += 1;
        }
    }
    Ok(adopted)
}

/// Tulip's sandbox for the run: every call (a creation, or an adoption's list) is stored
/// first and answered `latency` later, for as many calls as the run can make.
fn tulip_run(contracts: usize, latency: std::time::Duration) -> TulipRun {
    let stall = Fault::Stall {
        ms: latency.as_millis() as u64,
        then: StallThen::Answer,
    };
    // A creation makes one call; one killed makes a list and maybe a creation more. Kills
    // are few beside the jobs, so three calls a contract leave a wide margin.
    TulipRun::new(TulipSandboxConfig {
        faults: vec![stall; contracts * 3],
        ..TulipSandboxConfig::default()
    })
}

/// The run's jobs: mostly Proteger contract creations (batched), a tenth refund quotes, a
/// tenth cancellations (of contracts created at the vendor beforehand) and a tenth Tulip
/// contract creations.
struct Mix {
    creates: usize,
    quotes: usize,
    cancels: usize,
    tulip: usize,
    /// Each with its decision job: two jobs an application.
    applications: usize,
}

impl Mix {
    fn of(jobs: usize) -> Self {
        let tenth = jobs / 10;
        let applications = jobs / 80;
        Self {
            creates: jobs - 3 * tenth - 2 * applications,
            quotes: tenth,
            cancels: tenth,
            tulip: tenth,
            applications,
        }
    }
}
