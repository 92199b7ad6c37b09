//! `chaos receiver-down`: the webhook receiver is gone for a while, then back.
//!
//! ## What breaks
//!
//! The verifying sink (the run's only endpoint) stops listening for `down_for` (120 s by
//! default, 600 s in the long form, a few seconds in CI): its port is closed, so every
//! delivery meets "connection refused", as when the receiver's process or host is gone.
//! It then listens again on the same port, with everything it had received before.
//!
//! It goes down once **half the events** have arrived, not at the start: the sink must then
//! keep what it received before the outage, the workers already hold open connections to
//! it that must be given up, and the run keeps producing while it is down (the contracts
//! of the second half finish meanwhile, and their first deliveries fail). Taking it down
//! at the start would only test the last of these.
//!
//! While it is down the run probes the port itself every 200 ms, so the report shows that
//! connections really were refused, not merely that deliveries were slow.
//!
//! ## What is promised
//!
//! Every event arrives, verified, once the receiver is back: W = 0. The outage must not
//! cost anything else either: L = 0 (every contract succeeded), D = 0.
//!
//! ## Why the webhook schedule it gets
//!
//! A delivery is attempted on the schedule `UNDERWRITE_WEBHOOKS_SCHEDULE_SECS` (the wait
//! before each attempt, ±`jitter`) and is dead after its last step. The production
//! schedule (5 s, 5 min, 30 min, … 10 h) outlasts any outage of this scenario but would
//! make it last hours; the rig's default (`0,1,1,2,2,5,5,10`, 26 s) would give up during
//! a 2-minute one. So the workers get a schedule derived from `down_for` ([`schedule`]):
//!
//! - short early steps, `0, 1, 1, 2, 2, 5` s (a receiver that blinked is retried at once);
//! - then steps of `cap = down_for / 10`, between 2 and 15 s: a delivery tries about ten
//!   times during the outage whatever its length, and every pending delivery has its next
//!   attempt within `cap · (1 + jitter)` of the receiver coming back (≤ 18 s);
//! - as many as make the sum, shrunk by the jitter, cover twice the outage plus 10 s:
//!   `0.8 · Σ ≥ 2 · down_for + 10 s`. The delivery that suffers most is the one whose first
//!   attempt failed the moment the receiver went down: it needs attempts spanning
//!   `down_for`; the factor 2 and the 10 s are the margin (a late promoter, a loaded host).
//!
//! | `down_for` | cap | attempts | schedule sum |
//! |---|---|---|---|
//! | 3 s (CI) | 2 s | 12 | 20 s |
//! | 120 s | 12 s | 32 | 323 s |
//! | 600 s | 15 s | 107 | 1 526 s |
//!
//! The jitter is pinned to 0.2 for the workers so this arithmetic holds whatever the
//! caller's environment says.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::net::TcpStream;

use super::{ChaosError, ChaosOptions, ChaosReport, Rig, RigConfig, Scenario, err};
use crate::config::Settings;
use crate::queue::{JobId, JobKind, JobState};
use crate::vendors::proteger::sandbox::ProtegerSandboxConfig;
use crate::webhooks::delivery::Delivery;

/// The workers' webhook jitter (each wait within ± this share of itself).
pub const JITTER: f64 = 0.2;
/// The first steps of the schedule, in seconds (each cut to the cap).
const EARLY_STEPS: [u64; 6] = [0, 1, 1, 2, 2, 5];
/// How often the run checks, while the receiver is down, that it refuses connections.
const PROBE_EVERY: Duration = Duration::from_millis(200);

/// The webhook schedule (seconds before each attempt) that outlasts an outage of
/// `down_for` (module docs).
pub fn schedule(down_for: Duration) -> Vec<u64> {
    let down = down_for.as_secs_f64();
    let cap = (down / 10.0).clamp(2.0, 15.0).round() as u64;
    let must_cover = (2.0 * down + 10.0) / (1.0 - JITTER);
    let mut steps: Vec<u64> = EARLY_STEPS.iter().map(|step| (*step).min(cap)).collect();
    while (steps.iter().sum::<u64>() as f64) < must_cover {
        steps.push(cap);
    }
    steps
}

/// Runs the scenario on the Redis at `settings.redis.url`.
pub async fn run(settings: &Settings, options: &ChaosOptions) -> Result<ChaosReport, ChaosError> {
    let steps = schedule(options.down_for);
    let mut sandbox = ProtegerSandboxConfig::default();
    sandbox.faults.latency_ms = options.vendor_latency.as_millis() as u64;
    let config = RigConfig::new(options.workers, sandbox)
        .env(
            "UNDERWRITE_WEBHOOKS_SCHEDULE_SECS",
            steps
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(","),
        )
        .env("UNDERWRITE_WEBHOOKS_JITTER", JITTER.to_string());
    let mut rig = Rig::start(settings, config).await?;
    let started = Instant::now();
    let ids = rig.submit_contracts(0, options.jobs).await?;
    let mut report = ChaosReport::new(Scenario::ReceiverDown);

    // Half the events out, then down.
    let half = ids.len() / 2;
    if !rig
        .sink
        .wait_until(options.patience, |counts| counts.distinct_ids >= half)
        .await
    {
        report.details.push(format!(
            "half the events did not arrive within {} s; went down anyway",
            options.patience.as_secs()
        ));
    }
    rig.sink.go_down().await;
    let went_down = Instant::now();
    let events_at_down = rig.sink.counts().distinct_ids;
    let done_at_down = succeeded(&rig, &ids).await?;

    let probes = probe_while_down(rig.sink.addr, options.down_for).await;
    let events_at_up = rig.sink.counts().distinct_ids;
    let done_at_up = succeeded(&rig, &ids).await?;
    rig.sink.come_up().await.map_err(|e| {
        err(format!(
            "the receiver cannot listen again on {}: {e}",
            rig.sink.addr
        ))
    })?;
    let down = went_down.elapsed();
    let came_up = Instant::now();

    let patience = options.patience.saturating_sub(started.elapsed());
    let settled = rig.wait_settled(ids.len(), patience).await;
    let tail = came_up.elapsed();

    rig.tally(&mut report, &ids).await?;
    let deliveries = rig.attempts(Delivery::KIND).await?;
    let events_at_end = rig.sink.counts().distinct_ids;
    report.details.push(format!(
        "down {:.1} s after {events_at_down} of {} events; {} of {} connections refused",
        down.as_secs_f64(),
        ids.len(),
        probes.refused,
        probes.tried
    ));
    report.details.push(format!(
        "contracts done: {done_at_down} when it went down, {done_at_up} when it came back"
    ));
    report.details.push(format!(
        "{} delivery attempts failed and were retried, at most {} of {} attempts",
        deliveries.retries(),
        deliveries.max,
        steps.len()
    ));
    report.details.push(format!(
        "{} events arrived after it came back, the last {:.1} s after",
        events_at_end.saturating_sub(events_at_up),
        tail.as_secs_f64()
    ));
    if !settled {
        report.details.push("did not settle in time".into());
    }
    if probes.accepted > 0 {
        report.broken.push(format!(
            "the receiver accepted {} connections while down",
            probes.accepted
        ));
    }
    if events_at_up > events_at_down {
        report.broken.push(format!(
            "{} events arrived while the receiver was down",
            events_at_up - events_at_down
        ));
    }
    let exited = rig.fleet.exited();
    report.broken.extend(exited);
    rig.finish().await;
    Ok(report)
}

/// What the probes of a down receiver met.
#[derive(Debug, Default)]
struct Probes {
    tried: u32,
    refused: u32,
    accepted: u32,
}

/// Tries to connect to `addr` every [`PROBE_EVERY`] for `down_for`.
async fn probe_while_down(addr: SocketAddr, down_for: Duration) -> Probes {
    let deadline = Instant::now() + down_for;
    let mut probes = Probes::default();
    while Instant::now() < deadline {
        probes.tried += 1;
        match tokio::time::timeout(Duration::from_secs(1), TcpStream::connect(addr)).await {
            Ok(Ok(_)) => probes.accepted += 1,
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                probes.refused += 1;
            }
            // Anything else (a timeout on a loaded host) proves neither.
            _ => {}
        }
        let left = deadline.saturating_duration_since(Instant::now());
        tokio::time::sleep(PROBE_EVERY.min(left)).await;
    }
    probes
}

/// How many of `ids` have succeeded so far.
async fn succeeded(rig: &Rig, ids: &[JobId]) -> Result<usize, ChaosError> {
    let mut done = 0;
    for chunk in ids.chunks(1_000) {
        let records = rig.store.records(chunk).await.map_err(err)?;
        done += records
            .iter()
            .filter(|record| record.state == JobState::Succeeded)
            .count();
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn covers(steps: &[u64], down_for: Duration) -> bool {
        let worst = steps.iter().sum::<u64>() as f64 * (1.0 - JITTER);
        worst >= 2.0 * down_for.as_secs_f64() + 10.0
    }

    #[test]
    fn the_schedule_outlasts_the_outage() {
        for secs in [0, 3, 30, 120, 600, 3600] {
            let down_for = Duration::from_secs(secs);
            let steps = schedule(down_for);
            assert_eq!(steps.first(), Some(&0), "the first attempt is at once");
            assert!(covers(&steps, down_for), "{secs} s: {steps:?}");
            // One step fewer would not: the schedule is no longer than it must be.
            assert!(!covers(&steps[..steps.len() - 1], down_for), "{secs} s");
            assert!(steps.iter().all(|step| *step <= 15), "{steps:?}");
        }
    }

    #[test]
    fn the_documented_schedules() {
        let short = schedule(Duration::from_secs(3));
        assert_eq!(short, [0, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2]);
        let default = schedule(Duration::from_secs(120));
        assert_eq!((default.len(), default.iter().sum::<u64>()), (32, 323));
        assert_eq!(default[6..], [12; 26]);
        let long = schedule(Duration::from_secs(600));
        assert_eq!((long.len(), long.iter().sum::<u64>()), (107, 1526));
    }
}
