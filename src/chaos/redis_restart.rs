//! `chaos redis-restart`: Redis itself is SIGKILLed mid-run and started again from its AOF.
//!
//! **What is promised.** With Redis on AOF and `appendfsync always`, every job a submit
//! answered for (its id returned) was on disk before the answer, so a crash of Redis loses
//! none of them: they all succeed, no contract is created twice, every event reaches the
//! receiver verified. And the workers notice by themselves that Redis is back: the first
//! job is settled within 5 s of Redis answering PING again, without restarting anything.
//!
//! **The run.** A private `redis-server` of the scenario's own ([`DurableRedis`]: AOF,
//! `appendfsync always`, a temporary directory, a free port; never the configured Redis,
//! which may hold someone's data and may not be ours to kill). The rig's workers run the
//! contracts while a producer keeps submitting in the background for the whole run
//! ([`Rig::spawn_submitter`]). When a third of the contracts have been notified, Redis is
//! SIGKILLed, left down 1.5 s, and started again on the same port and directory. Submits
//! that failed meanwhile were never accepted: they are counted apart, not as lost.
//!
//! **What can break, and what holds it.**
//! - A reader blocked in `XREADGROUP ... BLOCK` sees its connection drop; the fetch loop
//!   backs off and reads again through a connection that reconnects by itself. The backoff
//!   is capped at 1 s (`queue/backend.rs`), so a worker looks again within a second of
//!   Redis coming back however long it was away. The same cap holds for writing an answer
//!   obtained while Redis was away (`queue/ack.rs`).
//! - The consumer group, its pending list and the delivery times in it come back from the
//!   AOF (Redis logs each read as an `XCLAIM` with its time). So does what was written
//!   just before the kill: the `always` fsync is what makes "accepted" mean "on disk".
//! - Leases are idle times in that pending list, and they kept running while Redis was
//!   down with no heartbeat getting through: with the rig's 2 s lease, jobs in flight
//!   during the outage look abandoned when Redis is back and are reclaimed by another
//!   reader. Fine, as long as nothing happens twice: the first holder's answer is refused
//!   (its lease token is no longer the job's), and the vendor call is made again under the
//!   same idempotency key, so the sandbox replays its answer instead of creating the
//!   contract again (*duplicated* counts it if it did).
//! - A Lua script cache is empty after a restart; `redis::Script` reloads on `NOSCRIPT`.
//! - The rig's own connection (counting, submitting) reconnects like the workers'; a count
//!   that fails while Redis is down is simply taken again.

use std::time::{Duration, Instant};

use super::rig::{Submitted, Submitter};
use super::{ChaosError, ChaosOptions, ChaosReport, Rig, RigConfig, Scenario, err};
use crate::config::Settings;
use crate::local_redis::DurableRedis;
use crate::queue::store::now_ms;
use crate::queue::{JobId, JobState};
use crate::startup;
use crate::vendors::proteger::sandbox::ProtegerSandboxConfig;

/// How long Redis stays down.
const DOWN_FOR: Duration = Duration::from_millis(1_500);
/// The promise: workers settle a job again within this long of Redis answering PING.
const RESUME_WITHIN: Duration = Duration::from_secs(5);
/// How long we look for that first settled job before calling it "never".
const RESUME_PATIENCE: Duration = Duration::from_secs(60);
/// Contracts per submit.
const CHUNK: usize = 50;

pub async fn run(mut settings: Settings, options: ChaosOptions) -> Result<ChaosReport, ChaosError> {
    let mut redis = DurableRedis::start().await.map_err(err)?;
    tracing::info!(redis = %redis.describe(), "chaos redis-restart");
    settings.redis.url = redis.url();
    let result = restart_while_working(&settings, &options, &mut redis).await;
    redis.stop().await;
    result
}

async fn restart_while_working(
    settings: &Settings,
    options: &ChaosOptions,
    redis: &mut DurableRedis,
) -> Result<ChaosReport, ChaosError> {
    let mut sandbox = ProtegerSandboxConfig::default();
    sandbox.faults.latency_ms = options.vendor_latency.as_millis() as u64;
    let mut rig = Rig::start(settings, RigConfig::new(options.workers, sandbox)).await?;
    let started = Instant::now();
    let deadline = started + options.patience;
    // A backlog of a tenth of the run (at least 100) keeps every worker busy without
    // front-loading the queue: most contracts are submitted around the restart, not before.
    let backlog = (options.jobs / 10).max(100) as u64;
    let submitter = rig.spawn_submitter(0, options.jobs, CHUNK, backlog);

    let result = restart_and_count(&mut rig, options, redis, submitter, started, deadline).await;
    rig.finish().await;
    result
}

async fn restart_and_count(
    rig: &mut Rig,
    options: &ChaosOptions,
    redis: &mut DurableRedis,
    submitter: Submitter,
    started: Instant,
    deadline: Instant,
) -> Result<ChaosReport, ChaosError> {
    let mut report = ChaosReport::new(Scenario::RedisRestart);

    // Mid-run: once a third of the contracts have been notified (read from the sink, which
    // lives in this process, so the trigger does not depend on Redis).
    let third = (options.jobs / 3).max(1);
    let mut done_at_kill = rig.sink.counts().distinct_ids;
    while done_at_kill < third && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
        done_at_kill = rig.sink.counts().distinct_ids;
    }
    if done_at_kill < third {
        report.broken.push(format!(
            "only {done_at_kill} of {third} contracts were done before the patience ran out"
        ));
    }

    redis.kill().await;
    let killed = Instant::now();
    tokio::time::sleep(DOWN_FOR).await;
    redis.restart().await.map_err(err)?;
    let answered = Instant::now();
    let answered_ms = now_ms();
    report.details.push(format!(
        "Redis SIGKILLed with {done_at_kill} of {} contracts notified, answered PING again {:.1} s later",
        options.jobs,
        (answered - killed).as_secs_f64()
    ));

    let resumed = first_settlement_after(rig, answered).await;

    let Submitted {
        accepted,
        refused,
        failed_submits,
    } = submitter.finish(deadline).await?;
    if accepted.len() < options.jobs {
        report.broken.push(format!(
            "only {} of {} contracts were accepted before the patience ran out",
            accepted.len(),
            options.jobs
        ));
    }
    let remaining = deadline.saturating_duration_since(Instant::now());
    let settled = rig.wait_settled(accepted.len(), remaining).await;

    // Read before the tally; the rig's keys go at `finish`.
    let fresh = first_fresh_settlement(rig, answered_ms).await?;
    match resumed {
        Some(resumed) => report.details.push(format!(
            "workers resumed {:.2} s after Redis answered (first job settled)",
            resumed.as_secs_f64()
        )),
        None => report.details.push("workers never resumed".into()),
    }
    match fresh {
        Some(fresh) => report.details.push(format!(
            "first job taken after the restart settled {:.2} s after Redis answered",
            fresh.as_secs_f64()
        )),
        None => report
            .details
            .push("no job taken after the restart settled".into()),
    }
    for (what, took) in [
        ("settle a job", resumed),
        ("run a job taken after it", fresh),
    ] {
        match took {
            Some(took) if took <= RESUME_WITHIN => {}
            Some(took) => report.broken.push(format!(
                "workers took {:.1} s to {what} after Redis came back (promised: {} s)",
                took.as_secs_f64(),
                RESUME_WITHIN.as_secs()
            )),
            None => report
                .broken
                .push(format!("workers did not {what} after Redis came back")),
        }
    }

    rig.tally(&mut report, &accepted).await?;
    report.details.push(format!(
        "{refused} contracts refused in {failed_submits} failed submits while Redis was away (never accepted)"
    ));
    report
        .details
        .push(format!("{:.1} s", started.elapsed().as_secs_f64()));
    if !settled {
        report.details.push("did not settle in time".into());
    }
    // A worker must ride out Redis going away, never exit over it.
    report.broken.extend(rig.fleet.exited());
    Ok(report)
}

/// Time from `answered` (Redis answering PING again) to the first job settled after it: the
/// first rise of the `succeeded` count, read through a connection opened after the restart
/// (the rig's own may still be backing off). The count read first is the baseline, so a
/// job settled between `answered` and that read is not seen: the figure errs long.
async fn first_settlement_after(rig: &Rig, answered: Instant) -> Option<Duration> {
    let (_, probe) = startup::open_store(&rig.settings).ok()?;
    let succeeded = || async {
        let counts = probe.counts().await.ok()?;
        counts
            .into_iter()
            .find(|(state, _)| *state == JobState::Succeeded)
            .map(|(_, n)| n)
    };
    let mut baseline = None;
    while answered.elapsed() < RESUME_PATIENCE {
        match (baseline, succeeded().await) {
            (None, Some(now)) => baseline = Some(now),
            (Some(before), Some(now)) if now > before => return Some(answered.elapsed()),
            _ => {}
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    None
}

/// Time from `answered_ms` (wall clock, Redis answering PING again) to the settlement of the
/// first job *taken* after it: one whose claim (`started_at`) came after the restart, so
/// its worker's fetch loop had read the queue again, not merely finished writing down an
/// answer it already held. Read from the records after the run: the succeeded index is
/// scored by settlement time, walked in that order from the restart on.
async fn first_fresh_settlement(
    rig: &Rig,
    answered_ms: i64,
) -> Result<Option<Duration>, ChaosError> {
    const PAGE: usize = 500;
    let keys = rig.store.keys();
    let mut conn = rig.store.connection();
    let mut offset = 0;
    loop {
        let page: Vec<(String, f64)> = redis::cmd("ZRANGEBYSCORE")
            .arg(keys.index(JobState::Succeeded))
            .arg(answered_ms)
            .arg("+inf")
            .arg("WITHSCORES")
            .arg("LIMIT")
            .arg(offset)
            .arg(PAGE)
            .query_async(&mut conn)
            .await
            .map_err(err)?;
        if page.is_empty() {
            return Ok(None);
        }
        offset += page.len();
        // Every id in our own index is one we wrote; one that does not parse is skipped.
        let jobs: Vec<(JobId, f64)> = page
            .into_iter()
            .filter_map(|(id, score)| Some((id.parse().ok()?, score)))
            .collect();
        let mut pipe = redis::pipe();
        for (id, _) in &jobs {
            pipe.hget(keys.job(id), "started_at");
        }
        let started: Vec<Option<i64>> = pipe.query_async(&mut conn).await.map_err(err)?;
        let first = jobs
            .iter()
            .zip(started)
            .find(|(_, started)| started.is_some_and(|at| at >= answered_ms));
        if let Some(((_, settled_ms), _)) = first {
            let took = (*settled_ms as i64 - answered_ms).max(0) as u64;
            return Ok(Some(Duration::from_millis(took)));
        }
    }
}
