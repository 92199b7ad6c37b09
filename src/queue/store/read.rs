//! Reading job records and counting jobs per state.
//!
//! A record is one hash (`job:<id>`); reading several is one pipelined round trip. A
//! record that cannot be parsed (edited by hand, or corrupt) is an error for whoever asked
//! for that one job, and is skipped with a log line where it is one of many: a listing or
//! a settlement must not fail because of one bad record.

use std::collections::HashMap;

use redis::AsyncCommands;

use super::handle::Store;
use crate::queue::error::QueueError;
use crate::queue::id::JobId;
use crate::queue::job::{CorruptRecord, JobRecord, JobState};

impl Store {
    /// Reads a job record; `None` when it does not exist (never did, or expired).
    pub async fn job(&self, id: &JobId) -> Result<Option<JobRecord>, QueueError> {
        let mut conn = self.conn.clone();
        let fields: HashMap<String, String> = conn.hgetall(self.keys.job(id)).await?;
        if fields.is_empty() {
            return Ok(None);
        }
        Ok(Some(JobRecord::from_hash(&fields)?))
    }

    /// Readable records of `ids`, in one round trip. Missing ones are left out, and so are
    /// unreadable ones (logged): one hand-edited record must not hide every other job of a
    /// listing or of a settlement.
    pub(super) async fn jobs(&self, ids: &[JobId]) -> Result<Vec<JobRecord>, QueueError> {
        let each = self.records_each(ids).await?;
        Ok(ids
            .iter()
            .zip(each)
            .filter_map(|(id, record)| match record? {
                Ok(record) => Some(record),
                Err(error) => {
                    tracing::error!(job = %id, %error, "skipping an unreadable job record");
                    None
                }
            })
            .collect())
    }

    /// The records of `ids`, in their order and in one round trip: `None` for a job that
    /// does not exist, an error for one that cannot be read.
    pub async fn records_each(
        &self,
        ids: &[JobId],
    ) -> Result<Vec<Option<Result<JobRecord, CorruptRecord>>>, QueueError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for id in ids {
            pipe.hgetall(self.keys.job(id));
        }
        let mut conn = self.conn.clone();
        let hashes: Vec<HashMap<String, String>> = pipe.query_async(&mut conn).await?;
        Ok(hashes
            .iter()
            .map(|fields| (!fields.is_empty()).then(|| JobRecord::from_hash(fields)))
            .collect())
    }

    /// Reads several job records in one round trip (missing ones are left out).
    pub async fn records(&self, ids: &[JobId]) -> Result<Vec<JobRecord>, QueueError> {
        self.jobs(ids).await
    }

    /// Counts per state, for metrics and `/readyz`-adjacent views.
    pub async fn counts(&self) -> Result<Vec<(JobState, u64)>, QueueError> {
        let mut pipe = redis::pipe();
        for state in JobState::ALL {
            pipe.zcard(self.keys.index(state));
        }
        let mut conn = self.conn.clone();
        let counts: Vec<u64> = pipe.query_async(&mut conn).await?;
        Ok(JobState::ALL.into_iter().zip(counts).collect())
    }

    /// Length of the dead set.
    pub async fn dead_count(&self) -> Result<u64, QueueError> {
        let mut conn = self.conn.clone();
        Ok(conn.zcard(self.keys.dead()).await?)
    }
}
