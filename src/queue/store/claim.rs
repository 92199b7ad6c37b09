//! The worker's side of a delivery, from the consumer group to the lease's end.
//!
//! A kind's stream has one consumer group, and an entry pending for a consumer is that
//! consumer's lease on the job (see `reader.rs`). Here are the steps around it: making sure
//! the group exists, claiming what was read (the job becomes `running` under a fresh lease
//! token), renewing leases (heartbeats), and handing back what was taken but not started
//! (shutdown). An entry without a usable job id is dropped, never run.
//!
//! The answer of an attempt, which ends the lease, is written by `settle.rs`.

use super::handle::Store;
use crate::queue::clock::now_ms;
use crate::queue::delivery::{Delivery, delivery};
use crate::queue::error::QueueError;
use crate::queue::id::JobId;
use crate::queue::keys::GROUP;
use crate::queue::scripts::SCRIPTS;
use crate::queue::trace_context::TraceParent;

/// One delivery to claim.
#[derive(Debug, Clone)]
pub struct Take {
    pub job: JobId,
    pub entry: String,
    pub token: String,
    pub reclaimed: bool,
}

/// What `claim` found.
#[derive(Debug)]
pub enum Claim {
    Skip,
    Run(Claimed),
}

/// A job that became `running` under this worker's lease: what running it needs.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub payload: String,
    pub attempts: u32,
    pub crashes: u32,
    pub children: Vec<JobId>,
    /// Unix ms; `None` when the record lacks it.
    pub enqueued_at_ms: Option<i64>,
    /// When it became due (unix ms): its retry's or snooze's time; `None` for a job due
    /// since its enqueue.
    pub due_at_ms: Option<i64>,
    /// Taken over from a worker that died while running it.
    pub rescued: bool,
    /// The W3C trace it belongs to (a malformed one, written by something else, is none).
    pub traceparent: Option<TraceParent>,
}

impl Store {
    /// Makes sure the kind's stream and consumer group exist. The group starts at `0` so a
    /// job enqueued before any worker ever ran is still delivered.
    pub async fn ensure_group(&self, kind: &str) -> Result<(), QueueError> {
        let mut conn = self.conn.clone();
        let created: Result<String, redis::RedisError> = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(self.keys.stream(kind))
            .arg(GROUP)
            .arg("0")
            .arg("MKSTREAM")
            .query_async(&mut conn)
            .await;
        match created {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("BUSYGROUP") => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Claims deliveries in one atomic step: each runnable job gets its lease token and
    /// becomes `running`; entries whose job is gone or finished are dropped.
    pub async fn claim(
        &self,
        kind: &str,
        worker: &str,
        takes: &[Take],
    ) -> Result<Vec<Claim>, QueueError> {
        if takes.is_empty() {
            return Ok(Vec::new());
        }
        let mut invocation = SCRIPTS.claim.prepare_invoke();
        invocation
            .key(self.keys.state_keys())
            .key(self.keys.stream(kind))
            .arg(now_ms())
            .arg(GROUP)
            .arg(worker);
        for take in takes {
            invocation
                .key(self.keys.job(&take.job))
                .arg(&take.entry)
                .arg(&take.token)
                .arg(if take.reclaimed { "1" } else { "0" });
        }
        let mut conn = self.conn.clone();
        let answers: Vec<Vec<String>> = invocation.invoke_async(&mut conn).await?;
        answers
            .into_iter()
            .map(|answer| {
                if answer.first().map(String::as_str) != Some("run") {
                    return Ok(Claim::Skip);
                }
                let field = |i: usize| answer.get(i).cloned().unwrap_or_default();
                let children = match field(3).as_str() {
                    "" => Vec::new(),
                    list => serde_json::from_str(list)?,
                };
                Ok(Claim::Run(Claimed {
                    payload: field(1),
                    attempts: field(2).parse().unwrap_or(0),
                    crashes: field(4).parse().unwrap_or(0),
                    children,
                    enqueued_at_ms: field(5).parse().ok(),
                    due_at_ms: field(6).parse().ok(),
                    rescued: field(7) == "1",
                    traceparent: field(8).parse().ok(),
                }))
            })
            .collect()
    }

    /// Hands a taken-but-unstarted job back to its stream (graceful shutdown).
    pub async fn release(
        &self,
        kind: &str,
        id: &JobId,
        entry: &str,
        token: &str,
    ) -> Result<(), QueueError> {
        let mut conn = self.conn.clone();
        let _: String = SCRIPTS
            .release
            .key(self.keys.state_keys())
            .key(self.keys.job(id))
            .key(self.keys.stream(kind))
            .arg(now_ms())
            .arg(token)
            .arg(entry)
            .arg(GROUP)
            .invoke_async(&mut conn)
            .await?;
        Ok(())
    }

    /// Renews the leases of entries this consumer still owns. Returns how many it owned.
    pub async fn heartbeat(
        &self,
        kind: &str,
        consumer: &str,
        entries: &[String],
    ) -> Result<u64, QueueError> {
        if entries.is_empty() {
            return Ok(0);
        }
        let mut conn = self.conn.clone();
        Ok(SCRIPTS
            .heartbeat
            .key(self.keys.stream(kind))
            .arg(GROUP)
            .arg(consumer)
            .arg(entries)
            .invoke_async(&mut conn)
            .await?)
    }

    /// The deliveries a consumer holds and has not settled (for release at shutdown).
    pub async fn pending_deliveries(
        &self,
        kind: &str,
        consumer: &str,
    ) -> Result<Vec<Delivery>, QueueError> {
        let stream = self.keys.stream(kind);
        let mut conn = self.conn.clone();
        let pending: Vec<(String, String, u64, u64)> = redis::cmd("XPENDING")
            .arg(&stream)
            .arg(GROUP)
            .arg("-")
            .arg("+")
            .arg(10_000)
            .arg(consumer)
            .query_async(&mut conn)
            .await?;
        let mut deliveries = Vec::with_capacity(pending.len());
        for (entry, ..) in pending {
            let entries: Vec<(String, Vec<String>)> = redis::cmd("XRANGE")
                .arg(&stream)
                .arg(&entry)
                .arg(&entry)
                .query_async(&mut conn)
                .await?;
            let fields = entries
                .into_iter()
                .next()
                .map(|(_, f)| f)
                .unwrap_or_default();
            deliveries.push(delivery(entry, &fields, false));
        }
        Ok(deliveries)
    }

    /// Drops a stream entry that carries no usable job id.
    pub async fn drop_entry(&self, kind: &str, entry: &str) -> Result<(), QueueError> {
        let mut conn = self.conn.clone();
        let _: i64 = SCRIPTS
            .drop_entry
            .key(self.keys.stream(kind))
            .arg(GROUP)
            .arg(entry)
            .invoke_async(&mut conn)
            .await?;
        Ok(())
    }
}
