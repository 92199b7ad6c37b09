//! `proteger.contract.batch`: one bulk call for the contracts of a batch, and what its
//! answer means for each of them (see the rules in `jobs/mod.rs`).

use apalis::prelude::Data;
use serde_json::json;

use super::matching::match_contracts;
use super::{ContractBatch, ProtegerDeps};
use crate::queue::{
    ChildOutcome, ErrorDetail, JobContext, JobError, JobId, JobKind, JobOutput, Store,
};
use crate::vendors::proteger::classify::key_reused;
use crate::vendors::proteger::idempotency_key::IdempotencyKey;
use crate::vendors::proteger::types::ContractRequest;

/// Sends a batch in one bulk call and settles every member with its own contract.
pub async fn send_batch(
    batch: ContractBatch,
    ctx: JobContext,
    deps: Data<ProtegerDeps>,
) -> Result<JobOutput, JobError> {
    let Readable {
        members,
        contracts,
        unsendable,
        left_out,
    } = read_members(&deps.store, &ctx.id, &batch.0).await?;
    if contracts.is_empty() && unsendable.is_empty() {
        return Err(JobError::permanent(ErrorDetail::message(
            "none of the batch's member jobs exists any more",
        )));
    }
    if contracts.is_empty() {
        return Ok(JobOutput {
            result: json!({ "contracts": 0 }),
            children: unsendable,
        });
    }
    let key = IdempotencyKey::for_batch(&ctx.id);
    match deps.client.create_contracts_bulk(&key, &contracts).await {
        Ok(created) => {
            let answered = created.len();
            let raw = serde_json::to_value(&created).unwrap_or_default();
            match match_contracts(&members, &contracts, created) {
                Ok(matched) => {
                    super::super::recent::note_created(&deps.store, &deps.client, &matched).await;
                    let children = matched
                        .into_iter()
                        .map(|(id, contract)| ChildOutcome::Succeeded {
                            id,
                            result: serde_json::to_value(contract).unwrap_or_default(),
                        })
                        .chain(unsendable)
                        .collect();
                    Ok(JobOutput {
                        result: json!({ "idempotency_key": key.as_str(), "contracts": answered }),
                        children,
                    })
                }
                Err(mismatch) => {
                    // The contracts exist at the vendor, but whose is whose is unknown: keep
                    // the answer for the operator and stop; never guess.
                    tracing::error!(batch = %ctx.id, %mismatch, "Proteger's bulk answer does not match the batch; its contracts need reconciling by hand");
                    Err(JobError::permanent(ErrorDetail {
                        message: format!(
                            "Proteger's answer ({answered} contracts for {} sent) cannot be matched to the batch: {mismatch}",
                            members.len()
                        ),
                        vendor_body: Some(raw),
                        ..ErrorDetail::default()
                    }
                    .ambiguous()))
                }
            }
        }
        Err(error) => {
            // A refusal about the content is certain only on a first attempt of the body
            // the batch was formed with: later, the same 400 may mean "this key was used
            // with another body", i.e. the first call executed (the vendor's wording for it
            // is unknown). Splitting then would send the contracts again under new keys.
            let clean_first_try = ctx.attempt <= 1 && left_out == 0 && !key_reused(&error);
            let mut error = JobError::from(error);
            if !clean_first_try && refuses_content(&error) {
                error = mark_ambiguous(error, "refused under a key that may have executed before");
            } else if error.detail().vendor_status.is_some_and(|s| s >= 500) {
                // Proteger stores a 5xx under the key (it may have come after executing):
                // the same key replays it, a new key may create the contracts twice.
                error = mark_ambiguous(error, "");
            }
            if clean_first_try && members.len() > 1 && refuses_content(&error) {
                let batches = deps
                    .store
                    .split_batch(ContractBatch::KIND, &ctx.id, &members)
                    .await
                    .map_err(|e| {
                        JobError::retryable(ErrorDetail::message(format!("queue: {e}")))
                    })?;
                tracing::info!(batch = %ctx.id, members = members.len(), "Proteger refused the batch; sending its contracts one by one");
                return Ok(JobOutput {
                    result: json!({ "split_into": batches, "reason": error.detail() }),
                    children: unsendable,
                });
            }
            Err(error)
        }
    }
}

/// The error, marked ambiguous (see [`ErrorDetail::ambiguous`]), with `why` added to its
/// message when given.
fn mark_ambiguous(error: JobError, why: &str) -> JobError {
    let with = |mut detail: ErrorDetail| {
        if !why.is_empty() {
            detail.message = format!("{}: {why}", detail.message);
        }
        detail.ambiguous()
    };
    match error {
        JobError::Retryable {
            detail,
            retry_after,
        } => JobError::Retryable {
            detail: with(detail),
            retry_after,
        },
        JobError::Permanent { detail } => JobError::Permanent {
            detail: with(detail),
        },
        deferred => deferred,
    }
}

/// A batch's members as read from the queue: the ones to send, with their contracts, and
/// the ones that cannot be sent.
struct Readable {
    members: Vec<JobId>,
    contracts: Vec<ContractRequest>,
    unsendable: Vec<ChildOutcome>,
    /// Members formed into the batch that it no longer sends: the body under its key has
    /// changed since it was formed.
    left_out: usize,
}

/// Reads the members of a batch. A member whose record is unreadable or whose payload is not
/// a contract (written by something other than underwrite) fails alone: the others must not
/// pay for it. The split is the same on every attempt, so the body sent under the batch's
/// idempotency key stays the same. A member whose record is gone (purged by an operator) is
/// left out: there is nothing left to settle. So is a member that left the batch (an
/// operator retried it on its own, under a key of its own) or that is already final: the
/// batch must never send it again.
async fn read_members(store: &Store, batch: &JobId, ids: &[JobId]) -> Result<Readable, JobError> {
    let mut readable = Readable {
        members: Vec::with_capacity(ids.len()),
        contracts: Vec::with_capacity(ids.len()),
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
                readable.left_out += 1;
                continue;
            }
            Some(Ok(record)) if record.batch != Some(*batch) || record.state.is_final() => {
                tracing::warn!(%member, %batch, "a member left the batch; leaving it out");
                readable.left_out += 1;
                continue;
            }
            Some(Ok(record)) => serde_json::from_value::<ContractRequest>(record.payload)
                .map_err(|e| format!("member job {member} holds an invalid contract: {e}")),
            Some(Err(e)) => Err(format!("member job {member} cannot be read: {e}")),
        };
        match decoded {
            Ok(contract) => {
                readable.members.push(*member);
                readable.contracts.push(contract);
            }
            Err(message) => readable.unsendable.push(ChildOutcome::Failed {
                id: *member,
                error: ErrorDetail::message(message),
            }),
        }
    }
    Ok(readable)
}

/// A permanent refusal about what was sent (not about who sent it).
fn refuses_content(error: &JobError) -> bool {
    matches!(
        error,
        JobError::Permanent { detail } if matches!(detail.vendor_status, Some(400 | 404 | 409 | 422))
    )
}
