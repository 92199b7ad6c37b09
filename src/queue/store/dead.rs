//! The dead set, as operators act on it: requeue a job, or purge it.
//!
//! A job lands in the dead set (`dead`, scored by when it died) as `failed` (a permanent
//! error) or `dead` (retries exhausted, or a poison job). Requeueing gives it a full retry
//! budget again, and its member jobs with it; purging deletes it for good. Listing the
//! dead set is in `list.rs`, its automatic trimming in `retention.rs`.

use redis::AsyncCommands;

use super::handle::Store;
use crate::queue::clock::now_ms;
use crate::queue::error::QueueError;
use crate::queue::id::JobId;
use crate::queue::job::JobState;
use crate::queue::scripts::SCRIPTS;

/// What an operator retry did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requeue {
    Requeued,
    Missing,
    NotDead(JobState),
}

impl Store {
    /// Puts a job of the dead set back in its queue with a full retry budget.
    pub async fn requeue(&self, id: &JobId) -> Result<Requeue, QueueError> {
        let Some(record) = self.job(id).await? else {
            return Ok(Requeue::Missing);
        };
        let children: Vec<JobId> = {
            let mut conn = self.conn.clone();
            let raw: Option<String> = conn.hget(self.keys.job(id), "children").await?;
            match raw.as_deref() {
                None | Some("") => Vec::new(),
                Some(list) => serde_json::from_str(list)?,
            }
        };
        let mut invocation = SCRIPTS.requeue.prepare_invoke();
        invocation
            .key(self.keys.state_keys())
            .key(self.keys.job(id))
            .key(self.keys.stream(&record.kind))
            .arg(now_ms());
        for child in &children {
            invocation.key(self.keys.job(child));
        }
        let mut conn = self.conn.clone();
        let answer: String = invocation.invoke_async(&mut conn).await?;
        Ok(match answer.as_str() {
            "ok" => Requeue::Requeued,
            "not_dead" => Requeue::NotDead(record.state),
            _ => Requeue::Missing,
        })
    }

    /// Requeues every job of the dead set. Returns how many went back.
    pub async fn requeue_all(&self) -> Result<u64, QueueError> {
        let mut count = 0;
        loop {
            let ids = self.dead_ids(500).await?;
            if ids.is_empty() {
                return Ok(count);
            }
            for id in &ids {
                if self.requeue(id).await? == Requeue::Requeued {
                    count += 1;
                } else {
                    // Not requeueable (gone or alive): drop it from the dead set so the
                    // loop ends.
                    let mut conn = self.conn.clone();
                    let _: i64 = conn.zrem(self.keys.dead(), id.to_string()).await?;
                }
            }
        }
    }

    async fn dead_ids(&self, max: usize) -> Result<Vec<JobId>, QueueError> {
        let mut conn = self.conn.clone();
        let members: Vec<String> = conn.zrange(self.keys.dead(), 0, max as isize - 1).await?;
        Ok(members.iter().filter_map(|m| m.parse().ok()).collect())
    }

    /// Deletes one job of the dead set. Returns whether it was there.
    pub async fn purge(&self, id: &JobId) -> Result<bool, QueueError> {
        let mut conn = self.conn.clone();
        let score: Option<f64> = conn.zscore(self.keys.dead(), id.to_string()).await?;
        if score.is_none() {
            return Ok(false);
        }
        Ok(self.forget(&[*id]).await? == 1)
    }

    /// Empties the dead set. Returns how many jobs were deleted.
    pub async fn purge_all(&self) -> Result<u64, QueueError> {
        let mut count = 0;
        loop {
            let ids = self.dead_ids(500).await?;
            if ids.is_empty() {
                return Ok(count);
            }
            count += self.forget(&ids).await?;
            let mut conn = self.conn.clone();
            let members: Vec<String> = ids.iter().map(ToString::to_string).collect();
            let _: i64 = conn.zrem(self.keys.dead(), members).await?;
        }
    }
}
