//! Sampling the queue's depth for the metrics: per kind, how many jobs are ready, delayed,
//! running and dead, and how long the oldest ready one has waited.
//!
//! Read-only and approximate by nature (each number is read a moment apart), and costly
//! enough on a big queue (the dead set is read to tell its kinds apart) that one process at
//! a time samples, under a lease ([`Store::take_sampling_lease`]); the others export
//! nothing, so a dashboard's `max` is the truth.

use std::collections::HashMap;
use std::time::Duration;

use super::handle::Store;
use crate::queue::clock::now_ms;
use crate::queue::error::QueueError;
use crate::queue::keys::GROUP;

/// The most dead jobs read to count them per kind.
const DEAD_SCAN_CAP: isize = 50_000;

/// One kind's depth.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KindDepth {
    pub ready: u64,
    pub delayed: u64,
    pub running: u64,
    pub dead: u64,
    /// How long the oldest ready job has waited, in ms (0 when none is ready).
    pub oldest_ready_ms: i64,
}

impl Store {
    /// Takes (or keeps) the sampling lease for `ttl`; answers whether this process holds it.
    pub async fn take_sampling_lease(
        &self,
        holder: &str,
        ttl: Duration,
    ) -> Result<bool, QueueError> {
        let key = self.keys.sampler_lease();
        let mut conn = self.conn.clone();
        let taken: Option<String> = redis::cmd("SET")
            .arg(&key)
            .arg(holder)
            .arg("NX")
            .arg("PX")
            .arg(ttl.as_millis() as u64)
            .query_async(&mut conn)
            .await?;
        if taken.is_some() {
            return Ok(true);
        }
        // Ours already: extend it.
        let current: Option<String> = redis::cmd("GET").arg(&key).query_async(&mut conn).await?;
        if current.as_deref() == Some(holder) {
            let _: i64 = redis::cmd("PEXPIRE")
                .arg(&key)
                .arg(ttl.as_millis() as u64)
                .query_async(&mut conn)
                .await?;
            return Ok(true);
        }
        Ok(false)
    }

    /// The depth of every kind that has ever had a job.
    pub async fn depth(&self) -> Result<HashMap<String, KindDepth>, QueueError> {
        let mut conn = self.conn.clone();
        let kinds: Vec<String> = redis::cmd("SMEMBERS")
            .arg(self.keys.kinds())
            .query_async(&mut conn)
            .await?;
        let mut depth = HashMap::new();
        for kind in kinds {
            let stream = self.keys.stream(&kind);
            let (length, delayed): (u64, u64) = redis::pipe()
                .cmd("XLEN")
                .arg(&stream)
                .cmd("ZCARD")
                .arg(self.keys.scheduled(&kind))
                .query_async(&mut conn)
                .await?;
            // Entries leave the stream when acknowledged: what is left is pending (taken
            // by a worker) or not delivered yet (ready).
            let pending: redis::Value = redis::cmd("XPENDING")
                .arg(&stream)
                .arg(GROUP)
                .query_async(&mut conn)
                .await
                .unwrap_or(redis::Value::Nil);
            let running = match &pending {
                redis::Value::Array(items) => items
                    .first()
                    .and_then(|v| redis::from_redis_value::<u64>(v.clone()).ok())
                    .unwrap_or(0),
                _ => 0,
            };
            let ready = length.saturating_sub(running);
            let oldest_ready_ms = if ready > 0 {
                self.oldest_ready(&stream)
                    .await?
                    .map_or(0, |at| (now_ms() - at).max(0))
            } else {
                0
            };
            depth.insert(
                kind,
                KindDepth {
                    ready,
                    delayed,
                    running,
                    dead: 0,
                    oldest_ready_ms,
                },
            );
        }
        self.count_dead(&mut depth).await?;
        Ok(depth)
    }

    /// When the oldest entry not yet delivered was added (an entry id starts with its ms).
    async fn oldest_ready(&self, stream: &str) -> Result<Option<i64>, QueueError> {
        let mut conn = self.conn.clone();
        let groups: Vec<HashMap<String, redis::Value>> = redis::cmd("XINFO")
            .arg("GROUPS")
            .arg(stream)
            .query_async(&mut conn)
            .await
            .unwrap_or_default();
        let last = groups
            .iter()
            .find(|g| {
                g.get("name")
                    .and_then(|v| redis::from_redis_value::<String>(v.clone()).ok())
                    .as_deref()
                    == Some(GROUP)
            })
            .and_then(|g| g.get("last-delivered-id"))
            .and_then(|v| redis::from_redis_value::<String>(v.clone()).ok())
            .unwrap_or_else(|| "0-0".into());
        let next: Vec<(String, HashMap<String, String>)> = redis::cmd("XRANGE")
            .arg(stream)
            .arg(format!("({last}"))
            .arg("+")
            .arg("COUNT")
            .arg(1)
            .query_async(&mut conn)
            .await
            .unwrap_or_default();
        Ok(next
            .first()
            .and_then(|(id, _)| id.split('-').next()?.parse().ok()))
    }

    /// Adds each kind's dead jobs, reading at most [`DEAD_SCAN_CAP`] of them.
    async fn count_dead(&self, depth: &mut HashMap<String, KindDepth>) -> Result<(), QueueError> {
        let mut conn = self.conn.clone();
        let ids: Vec<String> = redis::cmd("ZRANGE")
            .arg(self.keys.dead())
            .arg(0)
            .arg(DEAD_SCAN_CAP - 1)
            .query_async(&mut conn)
            .await?;
        for chunk in ids.chunks(500) {
            let mut pipe = redis::pipe();
            for id in chunk {
                pipe.cmd("HGET").arg(self.keys.job_key(id)).arg("kind");
            }
            let kinds: Vec<Option<String>> = pipe.query_async(&mut conn).await?;
            for kind in kinds.into_iter().flatten() {
                depth.entry(kind).or_default().dead += 1;
            }
        }
        Ok(())
    }
}
