//! Reading deliveries from a kind's stream through the consumer group.
//!
//! Pick-up is push-driven: an idle reader sits in `XREADGROUP ... BLOCK`, and Redis answers
//! it the moment a producer's `XADD` lands, so an idle worker starts a new job within a
//! round trip, not at the next poll.
//!
//! The consumer group's pending list is the lease: an entry read by a consumer stays pending
//! until the job's answer is settled (`XACK`). A worker that dies leaves its entries pending
//! and idle; every reader regularly runs `XAUTOCLAIM` for entries idle longer than the lease
//! and takes them over (`Delivery::reclaimed`). Live workers keep their entries fresh with
//! heartbeats (`leases.rs`), so only a dead or stuck worker's jobs are reclaimed.

use std::time::{Duration, Instant};

use redis::aio::ConnectionManager;

pub use super::delivery::Delivery;
use super::delivery::delivery;
use super::error::QueueError;
use super::keys::GROUP;
use super::store::Store;

type Entries = Vec<(String, Vec<String>)>;

pub struct StreamReader {
    store: Store,
    blocking: ConnectionManager,
    kind: String,
    stream: String,
    consumer: String,
    lease: Duration,
    block: Duration,
    next_reclaim: Instant,
    group_ready: bool,
}

impl StreamReader {
    pub fn new(
        store: Store,
        blocking: ConnectionManager,
        kind: &str,
        consumer: String,
        lease: Duration,
        block: Duration,
    ) -> Self {
        Self {
            stream: store.keys().stream(kind),
            store,
            blocking,
            kind: kind.to_string(),
            consumer,
            lease,
            block,
            next_reclaim: Instant::now(),
            group_ready: false,
        }
    }

    pub fn kind(&self) -> &str {
        &self.kind
    }

    pub fn consumer(&self) -> &str {
        &self.consumer
    }

    /// Waits for up to `count` deliveries: first entries abandoned by dead workers (checked
    /// every quarter lease), then new entries. Returns an empty list when the block timed out.
    pub async fn next(&mut self, count: usize) -> Result<Vec<Delivery>, QueueError> {
        let read = self.read(count).await;
        if read.as_ref().is_err_and(QueueError::is_connection) {
            self.store.note_unreachable();
        }
        read
    }

    async fn read(&mut self, count: usize) -> Result<Vec<Delivery>, QueueError> {
        if !self.group_ready {
            self.store.ensure_group(&self.kind).await?;
            self.group_ready = true;
        }
        // After Redis was away, every pending entry has aged, live workers' included, and
        // their heartbeats need a moment to renew them. Reclaiming at once would take over
        // jobs whose workers are alive and still running them (and count a crash against
        // each), so reclaims wait until Redis has been reachable for a whole lease.
        if Instant::now() >= self.next_reclaim && !self.store.unreachable_within(self.lease) {
            self.next_reclaim = Instant::now() + self.lease / 4;
            let reclaimed = self.reclaim(count).await?;
            if !reclaimed.is_empty() {
                return Ok(reclaimed);
            }
        }
        let reply: Result<Option<Vec<(String, Entries)>>, redis::RedisError> =
            redis::cmd("XREADGROUP")
                .arg("GROUP")
                .arg(GROUP)
                .arg(&self.consumer)
                .arg("COUNT")
                .arg(count)
                .arg("BLOCK")
                .arg(self.block.as_millis() as u64)
                .arg("STREAMS")
                .arg(&self.stream)
                .arg(">")
                .query_async(&mut self.blocking)
                .await;
        let reply = match reply {
            Ok(reply) => reply,
            Err(e) if e.code() == Some("NOGROUP") => {
                // The stream or group vanished (a Redis restart without persistence, or a
                // manual delete): create it again on the next call.
                self.group_ready = false;
                return Ok(Vec::new());
            }
            Err(e) => return Err(e.into()),
        };
        Ok(reply
            .into_iter()
            .flatten()
            .flat_map(|(_, entries)| entries)
            .map(|(entry, fields)| delivery(entry, &fields, false))
            .collect())
    }

    async fn reclaim(&mut self, count: usize) -> Result<Vec<Delivery>, QueueError> {
        let reply: (String, Entries, Vec<String>) = redis::cmd("XAUTOCLAIM")
            .arg(&self.stream)
            .arg(GROUP)
            .arg(&self.consumer)
            .arg(self.lease.as_millis() as u64)
            .arg("0-0")
            .arg("COUNT")
            .arg(count)
            .query_async(&mut self.blocking)
            .await?;
        let deliveries: Vec<Delivery> = reply
            .1
            .into_iter()
            .map(|(entry, fields)| delivery(entry, &fields, true))
            .collect();
        if !deliveries.is_empty() {
            tracing::warn!(
                kind = %self.kind,
                count = deliveries.len(),
                "reclaimed jobs from a worker whose lease ran out"
            );
        }
        Ok(deliveries)
    }
}
