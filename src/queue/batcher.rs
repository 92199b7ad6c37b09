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

use std::future::Future;
use std::time::Duration;

use super::connection::{MAX_BACKOFF, Redis};
use super::error::QueueError;
use super::id::JobId;
use super::reader::StreamReader;
use super::store::Store;

#[derive(Debug, Clone)]
pub struct Batcher {
    pub store: Store,
    pub redis: Redis,
    pub member_kind: &'static str,
    pub batch_kind: &'static str,
    pub consumer: String,
    pub lease: Duration,
    pub max: usize,
}

impl Batcher {
    /// Forms batches until `shutdown` resolves, then hands back what it read but did not
    /// batch.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), QueueError> {
        let block = Duration::from_secs(2);
        let mut reader = StreamReader::new(
            self.store.clone(),
            self.redis.blocking(block)?,
            self.member_kind,
            self.consumer.clone(),
            self.lease,
            block,
        );
        tokio::pin!(shutdown);
        let mut backoff = Duration::from_millis(50);
        loop {
            let deliveries = tokio::select! {
                _ = &mut shutdown => break,
                deliveries = reader.next(self.max) => deliveries,
            };
            let result = match deliveries {
                Ok(deliveries) => self.form(deliveries).await,
                Err(e) => Err(e),
            };
            match result {
                Ok(()) => backoff = Duration::from_millis(50),
                Err(e) => {
                    tracing::warn!(kind = self.member_kind, error = %e, ?backoff, "batcher cannot reach the queue; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
        self.release().await;
        Ok(())
    }

    async fn form(&self, deliveries: Vec<super::reader::Delivery>) -> Result<(), QueueError> {
        let mut members = Vec::with_capacity(deliveries.len());
        for delivery in deliveries {
            match delivery.job {
                Some(job) => members.push((job, delivery.entry)),
                None => {
                    tracing::error!(entry = %delivery.entry, "stream entry without a job id; dropping it");
                    self.store
                        .drop_entry(self.member_kind, &delivery.entry)
                        .await?;
                }
            }
        }
        if members.is_empty() {
            return Ok(());
        }
        let batch = JobId::new();
        let joined = self
            .store
            .form_batch(self.member_kind, self.batch_kind, &batch, &members)
            .await?;
        if joined > 0 {
            tracing::debug!(%batch, members = joined, "formed a batch");
        }
        Ok(())
    }

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
