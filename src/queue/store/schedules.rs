//! Periodic jobs in Redis: declaring schedules, firing their ticks, listing them.
//!
//! A schedule's state is one hash (`schedule:<name>`) and its name in the `schedules` set
//! (`keys.rs`). Declaring (`schedule_declare.lua`) keeps the next tick of a schedule known
//! with the same interval; firing (`schedule_fire.lua`) is a compare-and-set on the tick
//! that enqueues the tick's job and moves the schedule on in one step. Why that gives one
//! job per tick across processes is told in `schedule.rs`; the loop that fires is
//! `scheduler.rs`.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::enqueue::job_args;
use super::handle::Store;
use crate::queue::error::QueueError;
use crate::queue::id::JobId;
use crate::queue::schedule::Schedule;
use crate::queue::scripts::SCRIPTS;

/// A schedule as Redis knows it: what the API and the CLI show.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct ScheduleStatus {
    pub name: String,
    /// The kind of the jobs it enqueues.
    pub kind: String,
    /// The interval between ticks, in milliseconds.
    pub every_ms: u64,
    /// Each tick fires up to this long after its time, in milliseconds.
    pub jitter_ms: u64,
    /// When the next job is enqueued (the next tick plus its jitter).
    pub next_run_at: DateTime<Utc>,
    /// When a job was last enqueued, and which.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_run_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_job: Option<JobId>,
    /// When a worker process last declared it (started its scheduler loop with it). A
    /// schedule no process declares any more keeps its old record: this tells it apart.
    pub declared_at: DateTime<Utc>,
}

/// What one look at a schedule found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tick {
    /// This call enqueued the tick's job; the schedule runs next at `next_run_at`.
    Fired { job: JobId, next_run_at: i64 },
    /// Not yet: the next run is at `next_run_at`.
    NotDue { next_run_at: i64 },
    /// Another process fired the tick first (or its job existed): nothing was enqueued
    /// here.
    Taken { next_run_at: Option<i64> },
    /// The schedule has no record (never declared here, or deleted): declare it again.
    Undeclared,
}

impl Store {
    /// Declares schedules: each new one (or one whose interval changed) starts at its
    /// first tick after `now_ms`; a known one keeps its next tick.
    pub async fn declare_schedules(
        &self,
        schedules: &[Schedule],
        now_ms: i64,
    ) -> Result<(), QueueError> {
        let mut conn = self.conn.clone();
        for schedule in schedules {
            let first = schedule.first_tick(now_ms);
            let _: String = SCRIPTS
                .schedule_declare
                .key(self.keys.schedule(schedule.name()))
                .key(self.keys.schedules())
                .arg(schedule.name())
                .arg(schedule.kind())
                .arg(schedule.every_ms())
                .arg(schedule.jitter_ms())
                .arg(now_ms)
                .arg(first)
                .arg(schedule.run_at(first))
                .invoke_async(&mut conn)
                .await?;
        }
        Ok(())
    }

    /// Looks at a schedule at `now_ms`, and fires its tick if it is due: enqueues the job
    /// of the tick and moves the schedule to its first tick after `now_ms`, atomically,
    /// unless another process did first.
    pub async fn fire_schedule(
        &self,
        schedule: &Schedule,
        now_ms: i64,
    ) -> Result<Tick, QueueError> {
        let mut conn = self.conn.clone();
        let key = self.keys.schedule(schedule.name());
        let (tick, next_run_at): (Option<i64>, Option<i64>) = redis::cmd("HMGET")
            .arg(&key)
            .arg("tick")
            .arg("next_run_at")
            .query_async(&mut conn)
            .await?;
        let (Some(tick), Some(next_run_at)) = (tick, next_run_at) else {
            return Ok(Tick::Undeclared);
        };
        if next_run_at > now_ms {
            return Ok(Tick::NotDue { next_run_at });
        }
        let next_tick = schedule.next_tick(tick, now_ms);
        let job = schedule.job(tick);
        let mut invocation = SCRIPTS.schedule_fire.prepare_invoke();
        invocation
            .key(self.keys.state_keys())
            .key(&key)
            .key(self.keys.job(&job.id))
            .key(self.keys.stream(&job.kind))
            .key(self.keys.kinds())
            .arg(now_ms)
            .arg(tick)
            .arg(next_tick)
            .arg(schedule.run_at(next_tick));
        job_args(&mut invocation, &job)?;
        let (answer, next): (String, String) = invocation.invoke_async(&mut conn).await?;
        let next = next.parse::<i64>().ok();
        Ok(match (answer.as_str(), next) {
            ("fired", Some(next_run_at)) => Tick::Fired {
                job: job.id,
                next_run_at,
            },
            ("not_due", Some(next_run_at)) => Tick::NotDue { next_run_at },
            ("existed" | "moved", next_run_at) => Tick::Taken { next_run_at },
            ("missing", _) => Tick::Undeclared,
            other => {
                return Err(QueueError::Unexpected(format!(
                    "schedule_fire answered {other:?}"
                )));
            }
        })
    }

    /// Every schedule Redis knows, by name, with when each runs next. A record that cannot
    /// be read (written by something else) is left out, with a log line.
    pub async fn schedules(&self) -> Result<Vec<ScheduleStatus>, QueueError> {
        let mut conn = self.conn.clone();
        let mut names: Vec<String> = redis::cmd("SMEMBERS")
            .arg(self.keys.schedules())
            .query_async(&mut conn)
            .await?;
        names.sort();
        // redis-rs refuses an empty pipeline ("empty command"): no schedule, nothing to read.
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for name in &names {
            pipe.hgetall(self.keys.schedule(name));
        }
        let hashes: Vec<HashMap<String, String>> = pipe.query_async(&mut conn).await?;
        Ok(names
            .iter()
            .zip(hashes)
            .filter_map(|(name, fields)| match status(&fields) {
                Some(status) => Some(status),
                None => {
                    tracing::error!(schedule = %name, "skipping an unreadable schedule record");
                    None
                }
            })
            .collect())
    }
}

/// Reads a schedule's hash.
fn status(fields: &HashMap<String, String>) -> Option<ScheduleStatus> {
    let number = |field: &str| fields.get(field)?.parse::<i64>().ok();
    let time = |field: &str| DateTime::from_timestamp_millis(number(field)?);
    Some(ScheduleStatus {
        name: fields.get("name")?.clone(),
        kind: fields.get("kind")?.clone(),
        every_ms: u64::try_from(number("every_ms")?).ok()?,
        jitter_ms: u64::try_from(number("jitter_ms")?).ok()?,
        next_run_at: time("next_run_at")?,
        last_run_at: time("last_run_at"),
        last_job: fields.get("last_job").and_then(|id| id.parse().ok()),
        declared_at: time("declared_at")?,
    })
}
