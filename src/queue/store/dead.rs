//! The dead set, as operators act on it: requeue a job, or purge it.
//!
//! A job lands in the dead set (`dead`, scored by when it died) as `failed` (a permanent
//! error) or `dead` (retries exhausted, or a poison job). Requeueing gives it a full retry
//! budget again, and its member jobs with it; purging deletes it for good. Listing the
//! dead set is in `list.rs`, its automatic trimming in `retention.rs`.
//!
//! ## Nothing twice
//!
//! A retry must never make the vendor do again what it may have done already:
//! - a batch is retried under its own idempotency key, which the vendor replays rather than
//!   repeats (its handler refuses to send a key too old to be replayed);
//! - a job whose error is `ambiguous` (the vendor may have carried it out: it stored an
//!   error answer, the idempotency key expired, or the key met another body) and that would
//!   go under a new key is refused unless the operator says they checked the vendor
//!   ([`RetryOptions::vendor_checked`]); a checked retry of an ambiguous batch sends its
//!   members back to be batched under new keys, its own key never used again;
//! - a member retried on its own leaves its batch and travels under a new key, so an
//!   ambiguous one needs the check; `--all` never takes members out of their batches: they
//!   go with it, under its key;
//! - a batch never sends a member that left it (`vendors/*/jobs`), so a batch and one of
//!   its members cannot both go through.

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
    /// An ambiguous batch, retried by an operator who checked the vendor: its key is not
    /// used again; its members went back to be batched anew under new keys.
    Released {
        members: u64,
    },
    Missing,
    NotDead(JobState),
    /// The vendor may have carried the job out (`ErrorDetail::ambiguous`) and the retry
    /// would use a new key: refused without [`RetryOptions::vendor_checked`].
    Ambiguous,
    /// A member of a batch, left for its batch to retry under the batch's key (`--all`).
    InBatch(JobId),
}

/// How far an operator retry may go.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetryOptions {
    /// The operator checked at the vendor that the work was not carried out: an ambiguous
    /// job may be retried (a batch's members then go under new keys).
    pub vendor_checked: bool,
}

/// What `dead retry --all` did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct RequeueAll {
    /// Jobs put back (a batch counts once; its members go with it).
    pub requeued: u64,
    /// Members of ambiguous batches sent back to be batched anew (with `vendor_checked`).
    pub released: u64,
    /// Left in the dead set: the vendor may have carried them out.
    pub ambiguous: u64,
    /// Left in the dead set with their batch, which stays there (it is ambiguous).
    pub in_batch: u64,
}

impl Store {
    /// Puts a job of the dead set back in its queue with a full retry budget, unless that
    /// could make the vendor do something twice (see `requeue.lua`). A member of a batch
    /// leaves it and travels alone under a new key, which an ambiguous one may do only with
    /// `vendor_checked`.
    pub async fn requeue(&self, id: &JobId, options: RetryOptions) -> Result<Requeue, QueueError> {
        self.requeue_with(id, options.vendor_checked, true).await
    }

    async fn requeue_with(
        &self,
        id: &JobId,
        vendor_checked: bool,
        may_leave_batch: bool,
    ) -> Result<Requeue, QueueError> {
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
        // The members' stream, from the first member still recorded (one round trip).
        let member_kind = self
            .records_each(&children)
            .await?
            .into_iter()
            .flatten()
            .find_map(Result::ok)
            .map_or(record.kind.clone(), |member| member.kind);
        let member_stream = self.keys.stream(&member_kind);
        let batch_key = match &record.batch {
            Some(batch) => self.keys.job(batch),
            None => self.keys.job(id),
        };
        let mut invocation = SCRIPTS.requeue.prepare_invoke();
        invocation
            .key(self.keys.state_keys())
            .key(self.keys.job(id))
            .key(self.keys.stream(&record.kind))
            .key(batch_key)
            .key(member_stream)
            .arg(now_ms())
            .arg(if vendor_checked { "1" } else { "0" })
            .arg(if may_leave_batch { "1" } else { "0" });
        for child in &children {
            invocation.key(self.keys.job(child));
        }
        let mut conn = self.conn.clone();
        let answer: Vec<String> = invocation.invoke_async(&mut conn).await?;
        let word = |i: usize| answer.get(i).map(String::as_str).unwrap_or_default();
        Ok(match word(0) {
            "ok" => Requeue::Requeued,
            "released" => Requeue::Released {
                members: word(1).parse().unwrap_or_default(),
            },
            "not_dead" => Requeue::NotDead(record.state),
            "ambiguous" => Requeue::Ambiguous,
            "in_batch" => match word(1).parse() {
                Ok(batch) => Requeue::InBatch(batch),
                Err(_) => Requeue::Ambiguous,
            },
            _ => Requeue::Missing,
        })
    }

    /// Requeues every job of the dead set that can go without a risk of doing something
    /// twice: batches with their members, under their keys; jobs on their own. Members never
    /// leave their batch here, even with `vendor_checked` (that takes a retry of the one
    /// member): a member skipped on its own goes with its batch when the batch's turn comes.
    pub async fn requeue_all(&self, options: RetryOptions) -> Result<RequeueAll, QueueError> {
        let mut done = RequeueAll::default();
        let mut in_batch = Vec::new();
        // One pass over a snapshot: what is skipped stays in the dead set.
        for id in self.dead_ids(usize::MAX).await? {
            match self
                .requeue_with(&id, options.vendor_checked, false)
                .await?
            {
                Requeue::Requeued => done.requeued += 1,
                Requeue::Released { members } => done.released += members,
                Requeue::Ambiguous => done.ambiguous += 1,
                Requeue::InBatch(_) => in_batch.push(id),
                Requeue::Missing | Requeue::NotDead(_) => {}
            }
        }
        // Members whose batch stayed behind are still dead; the others went with it.
        for id in in_batch {
            if let Some(record) = self.job(&id).await?
                && record.state.is_dead()
            {
                done.in_batch += 1;
            }
        }
        Ok(done)
    }

    async fn dead_ids(&self, max: usize) -> Result<Vec<JobId>, QueueError> {
        let mut conn = self.conn.clone();
        let stop = isize::try_from(max).map_or(-1, |max| max - 1);
        let members: Vec<String> = conn.zrange(self.keys.dead(), 0, stop).await?;
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
