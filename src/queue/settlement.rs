//! What settling writes: the answer of one attempt, and the jobs it causes.
//!
//! These are plain values, built by the acknowledgement layer (`ack.rs`) and the webhook
//! hook (`hook.rs`), written by the store (`store/settle.rs`), gathered by the group commit
//! (`commit.rs`) and counted by the metrics (`metrics.rs`). They live apart from all of
//! them so that none of those files needs another just for a type.

use super::id::JobId;
use super::job::{JobState, NewJob};
use super::outcome::ErrorDetail;

/// The answer of one attempt, as `settle` writes it.
#[derive(Debug, Clone)]
pub enum Settlement {
    Succeeded {
        result: serde_json::Value,
        children: Vec<(JobId, ChildSettlement)>,
        /// Why the job and its succeeded members need an operator (`JobOutput::attention`).
        attention: Option<String>,
    },
    Retrying {
        error: ErrorDetail,
        due_ms: i64,
        children: Vec<JobId>,
    },
    /// Not its turn yet: run again at `due_ms` without using up an attempt.
    Deferred { due_ms: i64 },
    /// The vendor is not done yet: `snoozed` until `due_ms`, no attempt used, no error
    /// recorded (`snooze.rs`). Member jobs stay with their batch, as for a deferral.
    Snoozed { due_ms: i64, reason: String },
    /// Snoozed past its kind's deadline: `expired`, final, not in the dead set; the member
    /// jobs it carried end with it. `error` says why, for the record and the webhooks.
    Expired {
        error: ErrorDetail,
        children: Vec<JobId>,
    },
    /// `failed` (permanent error) or `dead` (exhausted, poison).
    Buried {
        state: JobState,
        error: ErrorDetail,
        children: Vec<JobId>,
    },
}

/// What a batch's answer means for one of the member jobs it carried: a batch call can
/// succeed as a whole and still refuse some of its members.
#[derive(Debug, Clone)]
pub enum ChildSettlement {
    Succeeded(serde_json::Value),
    Failed(ErrorDetail),
}

/// A job to enqueue in the same atomic step as a settlement (a webhook delivery), and
/// optionally a sorted set to index it in, with its score.
#[derive(Debug, Clone)]
pub struct FollowUp {
    pub job: NewJob,
    pub index: Option<(String, f64)>,
}

/// One attempt's answer with all `Store::settle` was given: what the group commit
/// gathers.
#[derive(Debug, Clone)]
pub(crate) struct SettleRequest {
    pub kind: String,
    pub id: JobId,
    pub entry: String,
    pub token: String,
    pub settlement: Settlement,
    pub follow_ups: Vec<FollowUp>,
}
