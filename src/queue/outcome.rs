//! What a job handler hands back to the queue.
//!
//! A handler answers with `Result<JobOutput, JobError>`. The queue (see `ack.rs`) turns
//! that answer into the job's next state; the handler never decides *when* a retry happens,
//! only *whether* the failure is worth retrying (`JobError::Retryable`) or not
//! (`JobError::Permanent`). The retry policy (`retry.rs`) does the rest.
//!
//! Two answers are not failures at all, and use no attempt: `JobError::Deferred` (not this
//! job's turn: a busy endpoint, a spent rate budget) and `JobError::Snooze` (the vendor is
//! not done yet: look again later; `snooze.rs` decides until when).

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::id::JobId;

/// The successful answer of a handler.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct JobOutput {
    /// Stored as the job's `result` (for example the vendor's contract). Must be redacted.
    pub result: Value,
    /// For jobs that carry other jobs (a vendor batch): the outcome of each member job,
    /// recorded in the same atomic step as the parent's own success.
    pub children: Vec<ChildOutcome>,
    /// Set when the vendor acted but its answer could not be read: `result` then holds the
    /// raw answer, and the job (with the members it carried) is marked for an operator's
    /// attention with this reason instead of failing (a failure would invite a retry of
    /// something that happened).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attention: Option<String>,
}

impl JobOutput {
    pub fn new(result: Value) -> Self {
        Self {
            result,
            children: Vec::new(),
            attention: None,
        }
    }

    /// A success whose answer needs a person: see [`JobOutput::attention`].
    pub fn needs_attention(raw: Value, reason: impl Into<String>) -> Self {
        Self {
            result: raw,
            children: Vec::new(),
            attention: Some(reason.into()),
        }
    }
}

/// The final outcome of one member of a batch job.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ChildOutcome {
    Succeeded { id: JobId, result: Value },
    Failed { id: JobId, error: ErrorDetail },
}

/// A failure, as stored in a job record's `last_error`. Everything here is already
/// redacted: it is shown by the API and carried in webhooks.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct ErrorDetail {
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vendor_status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vendor_body: Option<Value>,
    /// The vendor may have carried the call out although it failed (it stored an error
    /// answer, the idempotency key expired, or the key was reused with another body), and
    /// retrying cannot tell: an operator must check the vendor first. `dead retry` refuses
    /// such a job without `--vendor-checked`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ambiguous: bool,
}

impl ErrorDetail {
    pub fn message(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            ..Self::default()
        }
    }

    /// The same, marked [`ErrorDetail::ambiguous`].
    pub fn ambiguous(mut self) -> Self {
        self.ambiguous = true;
        self
    }
}

impl std::fmt::Display for ErrorDetail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.vendor_status {
            Some(status) => write!(f, "{} (vendor status {status})", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// Why a handler did not succeed.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum JobError {
    /// Worth another attempt: network errors, timeouts, 5xx, 429. `retry_after` is the
    /// vendor's `Retry-After`, which the retry policy honours as a minimum delay.
    #[error("retryable: {detail}")]
    Retryable {
        detail: ErrorDetail,
        retry_after: Option<Duration>,
    },
    /// Will fail the same way every time (validation, unknown contract, bad
    /// credentials): the job goes to the dead set at once with this answer.
    #[error("permanent: {detail}")]
    Permanent { detail: ErrorDetail },
    /// Not this job's turn (its endpoint is busy, an earlier event must go first): run it
    /// again after `after`, without using up an attempt.
    #[error("deferred: {reason}")]
    Deferred { after: Duration, reason: String },
    /// The vendor is not done yet (an application still under review): look again after
    /// `after`. No attempt is used and no error recorded; the job shows `snoozed`, with
    /// `reason` and `next_attempt_at`. A kind with a snooze deadline
    /// (`RetryPolicy::snooze_deadline_secs`) ends `expired` once a snooze comes after it.
    #[error("snoozed: {reason}")]
    Snooze { after: Duration, reason: String },
}

impl JobError {
    pub fn retryable(detail: ErrorDetail) -> Self {
        Self::Retryable {
            detail,
            retry_after: None,
        }
    }

    pub fn permanent(detail: ErrorDetail) -> Self {
        Self::Permanent { detail }
    }

    /// "Not yet, look again after `after`": see [`JobError::Snooze`].
    pub fn snooze(after: Duration, reason: impl Into<String>) -> Self {
        Self::Snooze {
            after,
            reason: reason.into(),
        }
    }

    /// What to record as the job's `last_error`.
    pub fn detail(&self) -> ErrorDetail {
        match self {
            Self::Retryable { detail, .. } | Self::Permanent { detail } => detail.clone(),
            Self::Deferred { reason, .. } | Self::Snooze { reason, .. } => {
                ErrorDetail::message(reason.clone())
            }
        }
    }
}
