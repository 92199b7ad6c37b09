//! Retention: what is deleted, and when.
//!
//! Finished jobs are kept for a while so their answers can be read, then deleted by the
//! janitor (`maintenance.rs`): succeeded and expired jobs after `Retention::finished`, the
//! dead set after `Retention::dead_max_age` or beyond `Retention::dead_max_entries`. Only
//! finished jobs are ever deleted; `forget.lua` leaves any other alone. Consumer names of
//! worker processes long gone are tidied too, and a whole queue can be deleted once done
//! with (a demo's or a benchmark's).

use std::time::Duration;

use redis::AsyncCommands;

use super::handle::Store;
use crate::queue::clock::now_ms;
use crate::queue::error::QueueError;
use crate::queue::id::JobId;
use crate::queue::job::JobState;
use crate::queue::keys::GROUP;
use crate::queue::scripts::SCRIPTS;

impl Store {
    /// Deletes finished jobs for good; unfinished ones are left alone.
    pub async fn forget(&self, ids: &[JobId]) -> Result<u64, QueueError> {
        if ids.is_empty() {
            return Ok(0);
        }
        let mut invocation = SCRIPTS.forget.prepare_invoke();
        invocation.key(self.keys.state_keys());
        for id in ids {
            invocation.key(self.keys.job(id)).arg(id.to_string());
        }
        let mut conn = self.conn.clone();
        Ok(invocation.invoke_async(&mut conn).await?)
    }

    /// Enforces retention once: succeeded and expired jobs older than the window, and the
    /// dead set's age and size bounds. Returns how many records were deleted.
    pub async fn enforce_retention(&self) -> Result<u64, QueueError> {
        let now = now_ms();
        let mut deleted = 0;
        let mut conn = self.conn.clone();
        let finished_before = now - self.retention.finished.as_millis() as i64;
        let dead_before = now - self.retention.dead_max_age.as_millis() as i64;
        for (index, before) in [
            (self.keys.index(JobState::Succeeded), finished_before),
            (self.keys.index(JobState::Expired), finished_before),
            (self.keys.dead(), dead_before),
        ] {
            loop {
                let members: Vec<String> = conn
                    .zrangebyscore_limit(&index, "-inf", before, 0, 500)
                    .await?;
                let ids: Vec<JobId> = members.iter().filter_map(|m| m.parse().ok()).collect();
                if ids.is_empty() {
                    break;
                }
                deleted += self.forget(&ids).await?;
                // Entries that were not deleted (not finished) must still leave this index
                // walk, or the loop would see them forever.
                let _: i64 = conn.zrem(&index, &members).await?;
            }
        }
        loop {
            let size: u64 = conn.zcard(self.keys.dead()).await?;
            if size <= self.retention.dead_max_entries {
                break;
            }
            let excess = (size - self.retention.dead_max_entries).min(500);
            let members: Vec<String> = conn
                .zrange(self.keys.dead(), 0, excess as isize - 1)
                .await?;
            let ids: Vec<JobId> = members.iter().filter_map(|m| m.parse().ok()).collect();
            deleted += self.forget(&ids).await?;
            let _: i64 = conn.zrem(self.keys.dead(), &members).await?;
        }
        Ok(deleted)
    }

    /// Removes consumer names of worker processes that are gone (nothing pending, idle
    /// longer than `idle`), so restarts do not pile up names in every consumer group.
    pub async fn forget_idle_consumers(&self, idle: Duration) -> Result<u64, QueueError> {
        let mut conn = self.conn.clone();
        let kinds: Vec<String> = conn.smembers(self.keys.kinds()).await?;
        let mut removed = 0;
        for kind in kinds {
            let n: u64 = SCRIPTS
                .forget_idle_consumers
                .key(self.keys.stream(&kind))
                .arg(GROUP)
                .arg(idle.as_millis() as u64)
                .invoke_async(&mut conn)
                .await?;
            removed += n;
        }
        Ok(removed)
    }

    /// Deletes every key of this queue (a demo's or a benchmark's queue, once done).
    /// Never used on a queue that workers still serve.
    pub async fn delete_queue(&self) -> Result<(), QueueError> {
        let mut conn = self.conn.clone();
        let mut cursor: u64 = 0;
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(self.keys.pattern())
                .arg("COUNT")
                .arg(10_000)
                .query_async(&mut conn)
                .await?;
            if !keys.is_empty() {
                let _: i64 = redis::cmd("UNLINK")
                    .arg(&keys)
                    .query_async(&mut conn)
                    .await?;
            }
            if next == 0 {
                return Ok(());
            }
            cursor = next;
        }
    }
}
