//! Periodic jobs: a [`Schedule`] declared in code enqueues one job per tick, across every
//! process that declares it.
//!
//! ## How exactly-once per tick holds
//!
//! Every worker process runs the scheduler loop (`scheduler.rs`) for every schedule it
//! knows, so there is no leader to elect and no single process whose death stops the ticks.
//! What makes many loops enqueue one job per tick is Redis:
//!
//! - Each schedule's next tick lives in Redis (`schedule:<name>`, see `keys.rs`), not in any
//!   process's memory: a restart reads it back, so it neither loses nor repeats a tick.
//! - Firing a tick is one Lua script (`schedule_fire.lua`), a compare-and-set on that tick:
//!   it enqueues the job and moves the tick forward together, only if the tick is still
//!   the one the caller read. Of two loops that read the same tick, the second finds it
//!   moved and does nothing.
//! - The job's id is derived from (schedule, tick) ([`JobId::of_tick`]): even a tick fired
//!   twice (a restored backup of the schedule's key) finds its job existing and creates
//!   nothing.
//!
//! ## Ticks, catch-up, jitter
//!
//! Ticks fall on multiples of `every` since the unix epoch (UTC): a 5-minute schedule ticks
//! at :00, :05, ... in every process, whenever it started. A tick fires at its time plus an
//! offset in `[0, jitter)`, derived from (schedule, tick) so that every process agrees on it,
//! which spreads the schedules of one deployment that share an interval.
//!
//! When a tick fires, the next one is the first tick after *now*, not after the tick: after
//! a downtime of N intervals, the tick that was due fires once (the catch-up) and the N - 1
//! others are skipped. A periodic job asks "is there anything to do now?", so one late run
//! does the work of the missed ones.
//!
//! A newly declared schedule (or one whose `every` changed) starts at the first tick at or
//! after the moment it is declared. Its record in Redis is listed by `Store::schedules`
//! (`GET /v1/schedules`, `underwrite schedules`) with the time of its next run.

use std::collections::HashSet;
use std::time::Duration;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::id::JobId;
use super::job::NewJob;
use super::kind::JobKind;

/// Longest schedule name.
const MAX_NAME_LEN: usize = 128;

/// A periodic job: every `every` (plus up to `jitter`), one job of `kind` with `payload`.
/// Built with [`Schedule::new`], which refuses what could not run: once a value exists it
/// is valid.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    name: String,
    kind: String,
    every: Duration,
    jitter: Duration,
    payload: Value,
}

/// Why a schedule cannot be declared.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error(
        "schedule name `{0}`: use 1 to {MAX_NAME_LEN} of a-z, 0-9, `_`, `.` and `-` (e.g. `acme.poll_applications`)"
    )]
    BadName(String),
    #[error("schedule `{0}`: `every` must be at least a millisecond")]
    ZeroInterval(String),
    #[error("schedule `{0}`: `jitter` must be shorter than `every`")]
    JitterTooLarge(String),
    #[error("schedule `{0}`: the payload cannot be encoded: {1}")]
    Payload(String, serde_json::Error),
    #[error("two schedules are named `{0}`: a name must be unique across every vendor")]
    Duplicate(String),
}

impl Schedule {
    /// A schedule named `name` (unique across the deployment: `<vendor>.<what>` is a good
    /// habit) that enqueues `payload` as a job of its kind every `every`.
    pub fn new<K: JobKind>(
        name: &str,
        every: Duration,
        payload: &K,
    ) -> Result<Self, ScheduleError> {
        let valid = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "_.-".contains(c);
        if name.is_empty() || name.len() > MAX_NAME_LEN || !name.chars().all(valid) {
            return Err(ScheduleError::BadName(name.to_string()));
        }
        if every.as_millis() == 0 {
            return Err(ScheduleError::ZeroInterval(name.to_string()));
        }
        let payload = serde_json::to_value(payload)
            .map_err(|e| ScheduleError::Payload(name.to_string(), e))?;
        Ok(Self {
            name: name.to_string(),
            kind: K::KIND.to_string(),
            every,
            jitter: Duration::ZERO,
            payload,
        })
    }

    /// Each tick fires up to `jitter` after its time (an offset derived from the tick, the
    /// same in every process). Shorter than `every`, so ticks keep their order.
    pub fn with_jitter(mut self, jitter: Duration) -> Result<Self, ScheduleError> {
        if jitter >= self.every {
            return Err(ScheduleError::JitterTooLarge(self.name));
        }
        self.jitter = jitter;
        Ok(self)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn kind(&self) -> &str {
        &self.kind
    }

    pub fn every(&self) -> Duration {
        self.every
    }

    pub fn jitter(&self) -> Duration {
        self.jitter
    }

    pub(crate) fn every_ms(&self) -> i64 {
        millis(self.every).max(1)
    }

    pub(crate) fn jitter_ms(&self) -> i64 {
        millis(self.jitter)
    }

    /// The first tick at or after `now_ms`: where a new schedule starts.
    pub(crate) fn first_tick(&self, now_ms: i64) -> i64 {
        let every = self.every_ms();
        let ticks = now_ms.div_euclid(every) + i64::from(now_ms.rem_euclid(every) != 0);
        ticks.saturating_mul(every)
    }

    /// The first tick after `now_ms`, counting from `tick` (a tick that has just fired):
    /// however many ticks were missed, the next one is in the future.
    pub(crate) fn next_tick(&self, tick: i64, now_ms: i64) -> i64 {
        let every = self.every_ms();
        let passed = now_ms.saturating_sub(tick).max(0).div_euclid(every);
        tick.saturating_add(passed.saturating_add(1).saturating_mul(every))
    }

    /// When tick `tick` fires: its time plus its jitter offset.
    pub(crate) fn run_at(&self, tick: i64) -> i64 {
        let jitter = self.jitter_ms();
        if jitter == 0 {
            return tick;
        }
        let digest = Sha256::digest(format!("{}/{tick}", self.name).as_bytes());
        let mut seed = [0u8; 8];
        seed.copy_from_slice(&digest[..8]);
        // `jitter` is positive here, so the remainder is in [0, jitter).
        let offset = u64::from_be_bytes(seed) % jitter.unsigned_abs();
        tick.saturating_add(i64::try_from(offset).unwrap_or(0))
    }

    /// The job of tick `tick`, with the id every process derives for it. It belongs to no
    /// app (`queue/app.rs`): a schedule is the deployment's, not a tenant's.
    pub(crate) fn job(&self, tick: i64) -> NewJob {
        let mut job = NewJob::new(&self.kind, self.payload.clone()).with_reference(
            Some(format!("schedule:{}", self.name)),
            Some(json!({
                "schedule": self.name,
                "tick_ms": tick,
            })),
        );
        job.id = JobId::of_tick(&self.name, tick);
        job
    }
}

/// Refuses two schedules of one name (two vendors, or one vendor twice): they would share
/// one record in Redis and fire each other's ticks.
pub fn check_unique(schedules: &[Schedule]) -> Result<(), ScheduleError> {
    let mut seen = HashSet::new();
    for schedule in schedules {
        if !seen.insert(schedule.name()) {
            return Err(ScheduleError::Duplicate(schedule.name().to_string()));
        }
    }
    Ok(())
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Serialize, serde::Deserialize)]
    struct Poll {
        region: String,
    }

    impl JobKind for Poll {
        const KIND: &'static str = "acme.applications.poll";
    }

    fn every(ms: u64) -> Schedule {
        let payload = Poll {
            region: "eu".into(),
        };
        Schedule::new("acme.poll", Duration::from_millis(ms), &payload).expect("valid")
    }

    #[test]
    fn ticks_fall_on_the_grid_of_the_interval() {
        let s = every(300_000);
        assert_eq!(s.first_tick(600_000), 600_000, "on the grid: now");
        assert_eq!(s.first_tick(600_001), 900_000);
        assert_eq!(s.next_tick(600_000, 600_000), 900_000);
        assert_eq!(s.next_tick(600_000, 899_999), 900_000);
    }

    #[test]
    fn after_missed_ticks_the_next_one_is_in_the_future() {
        let s = every(1_000);
        // Tick 10 s was due; it is 15.5 s now: it fires once, and the next is 16 s.
        assert_eq!(s.next_tick(10_000, 15_500), 16_000);
        assert_eq!(s.next_tick(10_000, 16_000), 17_000);
    }

    #[test]
    fn jitter_is_the_same_everywhere_and_within_bounds() {
        let s = every(1_000)
            .with_jitter(Duration::from_millis(400))
            .expect("shorter than every");
        let offsets: Vec<i64> = (0..200).map(|i| s.run_at(i * 1_000) - i * 1_000).collect();
        assert!(offsets.iter().all(|o| (0..400).contains(o)), "{offsets:?}");
        assert!(offsets.iter().any(|o| *o != offsets[0]), "offsets vary");
        assert_eq!(s.run_at(5_000), s.clone().run_at(5_000));
        assert_eq!(every(1_000).run_at(5_000), 5_000);
    }

    #[test]
    fn what_could_not_run_is_refused() {
        let payload = Poll {
            region: "eu".into(),
        };
        let second = Duration::from_secs(1);
        assert!(matches!(
            Schedule::new("Acme Poll", second, &payload),
            Err(ScheduleError::BadName(_))
        ));
        assert!(matches!(
            Schedule::new("acme.poll", Duration::from_micros(10), &payload),
            Err(ScheduleError::ZeroInterval(_))
        ));
        assert!(matches!(
            every(1_000).with_jitter(second),
            Err(ScheduleError::JitterTooLarge(_))
        ));
        assert!(matches!(
            check_unique(&[every(1_000), every(2_000)]),
            Err(ScheduleError::Duplicate(name)) if name == "acme.poll"
        ));
    }

    #[test]
    fn a_tick_s_job_is_named_by_the_tick() {
        let s = every(1_000);
        let job = s.job(7_000);
        assert_eq!(job.id, JobId::of_tick("acme.poll", 7_000));
        assert_eq!(job.kind, Poll::KIND);
        assert_eq!(job.payload, json!({"region": "eu"}));
        assert_eq!(
            job.metadata,
            Some(json!({"schedule": "acme.poll", "tick_ms": 7_000}))
        );
    }
}
