//! `chaos kill`: worker processes are SIGKILLed while they work.
//!
//! The jobs are mixed across what the vendors built offer: 80 % contract creations
//! (batched by ten), 10 % refund quotes and 10 % cancellations of contracts created at the
//! sandbox beforehand. Besides the sandbox's count of contracts created twice, a
//! cancellation committed more than once per contract breaks the run.
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

use super::{ChaosError, ChaosOptions, ChaosReport, Rig, RigConfig, Scenario};
use crate::config::Settings;
use crate::vendors::proteger::sandbox::ProtegerSandboxConfig;

/// Runs the scenario on the Redis at `settings.redis.url`.
pub async fn run(settings: &Settings, options: &ChaosOptions) -> Result<ChaosReport, ChaosError> {
    let mut sandbox = ProtegerSandboxConfig::default();
    sandbox.faults.latency_ms = options.vendor_latency.as_millis() as u64;
    let config =
        RigConfig::new(options.workers, sandbox).env("UNDERWRITE_WORKER_MAX_CRASHES", "10");
    let mut rig = Rig::start(settings, config).await?;
    let mix = Mix::of(options.jobs);
    let seeded = rig.seed_contracts(mix.quotes + mix.cancels).await?;
    let (to_quote, to_cancel) = seeded.split_at(mix.quotes.min(seeded.len()));
    let mut ids = rig.submit_contracts(0, mix.creates).await?;
    ids.extend(rig.submit_cancels(to_quote, true).await?);
    ids.extend(rig.submit_cancels(to_cancel, false).await?);

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
        "{} creates, {} quotes, {} cancels; {kills} SIGKILLs",
        mix.creates,
        to_quote.len(),
        to_cancel.len()
    ));
    if !settled {
        report.details.push("did not settle in time".into());
    }
    rig.finish().await;
    Ok(report)
}

/// The run's jobs: mostly contract creations (batched), a tenth refund quotes and a tenth
/// cancellations, of contracts created at the vendor beforehand.
struct Mix {
    creates: usize,
    quotes: usize,
    cancels: usize,
}

impl Mix {
    fn of(jobs: usize) -> Self {
        let (quotes, cancels) = (jobs / 10, jobs / 10);
        Self {
            creates: jobs - quotes - cancels,
            quotes,
            cancels,
        }
    }
}
