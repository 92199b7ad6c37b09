//! `chaos kill`: worker processes are SIGKILLed while they work.
//!
//! The jobs are mixed across what the vendors offer: at Proteger, 65 % contract creations
//! (batched by ten), 10 % refund quotes and 10 % cancellations of contracts created at the
//! sandbox beforehand; 10 % Tulip contract creations; 5 % Billing-Robo credit applications
//! (batched by ten), each followed by its decision job (the sandbox decides within a second,
//! the workers poll every second). Besides the sandboxes' counts of anything created twice
//! (Proteger contracts per `transactionId`, Tulip contracts per renter, Billing-Robo
//! applications per billing code), a cancellation committed more than once per contract
//! breaks the run.
//!
//! A Tulip creation killed mid-call left a mark in Redis before it sent (`vendors/tulip/
//! jobs/adopt.rs`): the worker that takes it over lists the renter's contracts first and
//! adopts the one it finds. A Billing-Robo batch killed mid-call is sent again after its
//! lease; the vendor answers "already applied" (5411) for what landed, so nothing is
//! registered twice either way.
//!
//! Three workers run the jobs against a sandbox that takes `vendor_latency` per call,
//! so kills land mid-call. Every `every`, one of them is SIGKILLed (no shutdown, no
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
use crate::vendors::billing_robo::sandbox::BillingRoboSandboxConfig;
use crate::vendors::proteger::sandbox::ProtegerSandboxConfig;

/// Runs the scenario on the Redis at `settings.redis.url`.
pub async fn run(settings: &Settings, options: &ChaosOptions) -> Result<ChaosReport, ChaosError> {
    let mut sandbox = ProtegerSandboxConfig::default();
    sandbox.faults.latency_ms = options.vendor_latency.as_millis() as u64;
    // The vendor's own limit (300 per 5 minutes) and our shipped budget (240): a run of
    // 5,000 makes some 25 application calls and a few polls a second at most.
    let billing_robo =
        BillingRoboRun::new(BillingRoboSandboxConfig::default()).set("BATCH_SIZE", 10);
    let config = RigConfig::new(options.workers, sandbox)
        .with_billing_robo(billing_robo)
        .with_tulip(TulipRun::default())
        .env("UNDERWRITE_WORKER_MAX_CRASHES", "10");
    let mut rig = Rig::start(settings, config).await?;
    let mix = Mix::of(options.jobs);
    let seeded = rig.seed_contracts(mix.quotes + mix.cancels).await?;
    let (to_quote, to_cancel) = seeded.split_at(mix.quotes.min(seeded.len()));
    let mut ids = rig.submit_contracts(0, mix.creates).await?;
    ids.extend(rig.submit_cancels(to_quote, true).await?);
    ids.extend(rig.submit_cancels(to_cancel, false).await?);
    ids.extend(rig.submit_tulip_contracts(mix.tulip).await?);
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
    report.details.push(format!(
        "{} creates, {} quotes, {} cancels, {} Tulip contracts, {} Billing-Robo applications and their decisions; {kills} SIGKILLs",
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

/// The run's jobs: mostly Proteger contract creations (batched), a tenth refund quotes and
/// a tenth cancellations (of contracts created at the vendor beforehand), a tenth Tulip
/// contracts and a twentieth Billing-Robo applications.
struct Mix {
    creates: usize,
    quotes: usize,
    cancels: usize,
    tulip: usize,
    applications: usize,
}

impl Mix {
    fn of(jobs: usize) -> Self {
        let (quotes, cancels, tulip, applications) = (jobs / 10, jobs / 10, jobs / 10, jobs / 20);
        Self {
            creates: jobs - quotes - cancels - tulip - applications,
            quotes,
            cancels,
            tulip,
            applications,
        }
    }
}
