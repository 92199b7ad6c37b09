//! The batcher: groups waiting member jobs into batch jobs, for vendors with bulk APIs.
//!
//! Member jobs (for example one Proteger contract each) are enqueued into their own stream
//! like any job. The batcher reads up to `max` of them at a time and forms one batch job
//! in a single atomic step (`form_batch.lua`): the batch is persisted with its members
//! before any vendor call, so every retry of that batch sends the same members under the
//! same idempotency key (the batch's id), and a retried batch cannot create anything twice.
//! The batch job then runs through the ordinary worker, retry policy and dead set; its
//! answer settles every member in the same atomic step.
//!
//! A batcher that dies after reading leaves the members pending; another batcher reclaims
//! them after a lease, and members already in a batch are skipped, so none is sent twice.
//!
//! ## Lingering
//!
//! Producers often send members one at a time. A batcher that batched whatever was waiting
//! would, at a trickle of a few dozen a second, find one member each time and make one
//! vendor call per member. So when it holds fewer than `max`, it *lingers*: it keeps
//! reading until `linger` has passed since it read the oldest member it holds, then forms
//! the batch. A full batch never waits, and a zero `linger` forms at once.
//!
//! While it lingers, the members it holds are pending entries of its consumer, exactly like
//! jobs a worker holds, so nothing new can be lost: a batcher that dies leaves them to be
//! reclaimed. A live one renews their leases while it holds them (`held.rs`), so however
//! long it holds a member, no other batcher takes it over meanwhile. A shutdown cuts the
//! linger short: what is held is formed into a batch, and whatever remains (see below) is
//! handed back to the stream by [`Batcher::release`].
//!
//! ## Distinct keys
//!
//! A vendor may need a key to be unique within a bulk call: Proteger matches each created
//! contract to its member by `transactionId`. `distinct_by` reads that key from a member's
//! payload (the queue knows nothing of what it means). A member whose key is already in the
//! forming batch does not join it: it stays held, first in line for the next batch. It is
//! neither failed nor dropped.

mod held;

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use futures::FutureExt;

use self::held::Held;
use super::connection::{MAX_BACKOFF, Redis};
use super::error::QueueError;
use super::id::JobId;
use super::reader::{Delivery, StreamReader};
use super::store::Store;

/// Reads a member's key from its payload; members with the same key never share a batch.
/// `None` (no key) never conflicts with anything.
pub type DistinctBy = fn(&serde_json::Value) -> Option<String>;

/// How long an idle batcher blocks in one read before it checks for shutdown.
const IDLE_BLOCK: Duration = Duration::from_secs(2);

#[derive(Debug, Clone)]
pub struct Batcher {
    pub store: Store,
    pub redis: Redis,
    pub member_kind: &'static str,
    pub batch_kind: &'static str,
    pub consumer: String,
    pub lease: Duration,
    pub max: usize,
    /// How long a batch that is not full waits for more members (zero: not at all).
    pub linger: Duration,
    /// Keeps members with the same key out of one batch; `None`: any members may share one.
    pub distinct_by: Option<DistinctBy>,
}

impl Batcher {
    /// Forms batches until `shutdown` resolves, then hands back what it read but did not
    /// batch.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), QueueError> {
        super::metrics::register_members(self.batch_kind, self.member_kind);
        let blocking = self.redis.blocking(IDLE_BLOCK)?;
        let reader = |block| {
            StreamReader::new(
                self.store.clone(),
                blocking.clone(),
                self.member_kind,
                self.consumer.clone(),
                self.lease,
                block,
            )
        };
        // Two readers on one connection, never used at once. The idle one blocks long, so an
        // empty stream costs one read every two seconds. The lingering one blocks for a tenth
        // of the linger: a read returns the moment a member arrives, and a linger with no
        // arrivals ends at most that late, without a read cancelled mid-way (which would
        // leave what it read to the lease).
        let mut readers = Readers {
            idle: reader(IDLE_BLOCK),
            lingering: reader(self.linger_block()),
        };
        let mut stop = Stop::new(shutdown);
        let mut held = Held::new(self.lease);
        let mut backoff = Duration::from_millis(50);
        while !stop.seen() {
            match self.round(&mut readers, &mut held, &mut stop).await {
                Ok(()) => backoff = Duration::from_millis(50),
                Err(e) => {
                    // What is held stays held (and pending): the next round forms it.
                    tracing::warn!(kind = self.member_kind, error = %e, ?backoff, "batcher cannot reach the queue; retrying");
                    tokio::select! {
                        _ = stop.wait() => {}
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
        self.release().await;
        Ok(())
    }

    /// How long one read blocks while lingering: a tenth of the linger, and short enough
    /// that the loop renews held leases in time (every third of a lease).
    fn linger_block(&self) -> Duration {
        let floor = Duration::from_millis(1);
        let ceiling = IDLE_BLOCK.min(self.lease / 6).max(floor);
        (self.linger / 10).clamp(floor, ceiling)
    }

    /// One batch: waits for a first member unless some are held already, lingers for more,
    /// forms the batch.
    async fn round<F: Future<Output = ()>>(
        &self,
        readers: &mut Readers,
        held: &mut Held,
        stop: &mut Stop<F>,
    ) -> Result<(), QueueError> {
        if held.is_empty() {
            let deliveries = tokio::select! {
                _ = stop.wait() => return Ok(()),
                deliveries = readers.idle.next(self.max) => deliveries?,
            };
            self.hold(deliveries, held).await?;
        }
        if !self.linger.is_zero() && !held.is_empty() {
            self.linger(&mut readers.lingering, held, stop).await?;
        }
        self.form(held).await
    }

    /// Reads more members until the batch is full, the oldest held member has waited
    /// `linger`, or shutdown. Always reads once while there is room, even past the
    /// deadline: members carried over from the last batch then leave with whatever is
    /// waiting right now.
    async fn linger<F: Future<Output = ()>>(
        &self,
        reader: &mut StreamReader,
        held: &mut Held,
        stop: &mut Stop<F>,
    ) -> Result<(), QueueError> {
        let deadline = held.oldest().unwrap_or_else(Instant::now) + self.linger;
        while held.len() < self.max && !stop.seen() {
            let deliveries = reader.next(self.max - held.len()).await?;
            self.hold(deliveries, held).await?;
            held.renew_if_due(&self.store, self.member_kind, &self.consumer)
                .await;
            if Instant::now() >= deadline {
                break;
            }
        }
        Ok(())
    }

    /// Adds what was read to what is held; an entry without a job id is dropped.
    async fn hold(&self, deliveries: Vec<Delivery>, held: &mut Held) -> Result<(), QueueError> {
        for delivery in deliveries {
            match delivery.job {
                Some(job) => held.add(job, delivery.entry),
                None => {
                    tracing::error!(entry = %delivery.entry, "stream entry without a job id; dropping it");
                    self.store
                        .drop_entry(self.member_kind, &delivery.entry)
                        .await?;
                }
            }
        }
        Ok(())
    }

    /// Forms one batch of what is held. Members whose key repeats one of the batch stay held
    /// for the next; on an error everything stays held.
    async fn form(&self, held: &mut Held) -> Result<(), QueueError> {
        if held.is_empty() {
            return Ok(());
        }
        held.renew_if_due(&self.store, self.member_kind, &self.consumer)
            .await;
        let later = match self.distinct_by {
            Some(key_of) => self.repeated_keys(held, key_of).await?,
            None => Vec::new(),
        };
        let members: Vec<(JobId, String)> = held
            .members()
            .filter(|(_, entry)| !later.iter().any(|l| l == entry))
            .map(|(job, entry)| (job, entry.to_string()))
            .collect();
        let batch = JobId::new();
        let joined = self
            .store
            .form_batch(self.member_kind, self.batch_kind, &batch, &members)
            .await?;
        held.keep_only(&later);
        if joined > 0 {
            tracing::debug!(%batch, members = joined, waiting = later.len(), "formed a batch");
        }
        Ok(())
    }

    /// The entries of held members whose key an older held member already has: they wait
    /// for a later batch. Only members that can still join a batch claim a key; the others
    /// (finished, already in a batch after a replay, unreadable) go to `form_batch`, which
    /// skips them and clears their entries.
    async fn repeated_keys(
        &self,
        held: &Held,
        key_of: DistinctBy,
    ) -> Result<Vec<String>, QueueError> {
        let ids: Vec<JobId> = held.members().map(|(job, _)| job).collect();
        let records = self.store.records_each(&ids).await?;
        let mut keys = std::collections::HashSet::new();
        let mut later = Vec::new();
        for ((_, entry), record) in held.members().zip(records) {
            let key = match record {
                Some(Ok(r)) if !r.state.is_final() && r.batch.is_none() => key_of(&r.payload),
                _ => None,
            };
            if let Some(key) = key
                && !keys.insert(key)
            {
                later.push(entry.to_string());
            }
        }
        Ok(later)
    }

    /// Hands every entry this consumer still holds back to the stream (shutdown): the
    /// members it held but did not batch are at once available to another batcher.
    async fn release(&self) {
        let Ok(pending) = self
            .store
            .pending_deliveries(self.member_kind, &self.consumer)
            .await
        else {
            return;
        };
        for delivery in pending {
            let result = match delivery.job {
                Some(job) => {
                    self.store
                        .release(self.member_kind, &job, &delivery.entry, "")
                        .await
                }
                None => {
                    self.store
                        .drop_entry(self.member_kind, &delivery.entry)
                        .await
                }
            };
            if let Err(e) = result {
                tracing::warn!(error = %e, "batcher cannot hand a job back at shutdown; its lease will run out");
            }
        }
    }
}

struct Readers {
    idle: StreamReader,
    lingering: StreamReader,
}

/// The shutdown signal, remembered once seen. `seen` only looks, so a loop can check it
/// between reads instead of cancelling a read half-way.
struct Stop<F> {
    signal: Pin<Box<F>>,
    seen: bool,
}

impl<F: Future<Output = ()>> Stop<F> {
    fn new(signal: F) -> Self {
        Self {
            signal: Box::pin(signal),
            seen: false,
        }
    }

    fn seen(&mut self) -> bool {
        if !self.seen {
            self.seen = self.signal.as_mut().now_or_never().is_some();
        }
        self.seen
    }

    /// Resolves on shutdown (at once if it was seen already).
    async fn wait(&mut self) {
        if !self.seen {
            self.signal.as_mut().await;
            self.seen = true;
        }
    }
}
