//! What a batch job sends: the member jobs that still belong to it, their payloads read as
//! the vendor's type, and the ones that cannot be sent.
//!
//! One rule for every vendor with a bulk API, so that "nothing twice" does not depend on
//! each handler remembering it:
//! - a member that left the batch (an operator retried it on its own, under a key of its
//!   own) or is already final is never sent by the batch again;
//! - a member whose record is gone (purged) is left out: there is nothing to settle;
//! - a member whose record or payload cannot be read fails alone, so the others do not pay
//!   for it. The split is the same on every attempt, so the body under the batch's
//!   idempotency key stays the same.

use serde::de::DeserializeOwned;

use super::id::JobId;
use super::outcome::{ChildOutcome, ErrorDetail, JobError};
use super::store::Store;

/// A batch's members as read from the queue.
#[derive(Debug)]
pub struct Members<P> {
    /// The members to send, in batch order, parallel to `payloads`.
    pub ids: Vec<JobId>,
    pub payloads: Vec<P>,
    /// Members that cannot be sent, already settled as failed.
    pub unsendable: Vec<ChildOutcome>,
    /// Members formed into the batch that it no longer sends (gone, left, final): the
    /// body under its key has changed since it was formed.
    pub left_out: usize,
}

/// Reads the members `ids` of `batch`, their payloads as `P` (`what` names it in errors:
/// "contract", "application").
pub async fn read<P: DeserializeOwned>(
    store: &Store,
    batch: &JobId,
    ids: &[JobId],
    what: &str,
) -> Result<Members<P>, JobError> {
    let mut members = Members {
        ids: Vec::with_capacity(ids.len()),
        payloads: Vec::with_capacity(ids.len()),
        unsendable: Vec::new(),
        left_out: 0,
    };
    let records = store
        .records_each(ids)
        .await
        .map_err(|e| JobError::retryable(ErrorDetail::message(format!("queue: {e}"))))?;
    for (member, record) in ids.iter().zip(records) {
        let decoded = match record {
            None => {
                tracing::warn!(%member, "a batch member's record is gone; leaving it out");
                members.left_out += 1;
                continue;
            }
            Some(Ok(record)) if record.batch != Some(*batch) || record.state.is_final() => {
                tracing::warn!(%member, %batch, "a member left the batch; leaving it out");
                members.left_out += 1;
                continue;
            }
            Some(Ok(record)) => serde_json::from_value::<P>(record.payload)
                .map_err(|e| format!("member job {member} holds an invalid {what}: {e}")),
            Some(Err(e)) => Err(format!("member job {member} cannot be read: {e}")),
        };
        match decoded {
            Ok(payload) => {
                members.ids.push(*member);
                members.payloads.push(payload);
            }
            Err(message) => members.unsendable.push(ChildOutcome::Failed {
                id: *member,
                error: ErrorDetail::message(message),
            }),
        }
    }
    Ok(members)
}
