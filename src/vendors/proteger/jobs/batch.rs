//! `proteger.contract.batch`: one bulk call for the contracts of a batch, and what its
//! answer means for each of them (see the rules in `jobs/mod.rs`).

use std::time::Duration;

use apalis::prelude::Data;
use serde_json::json;

use super::matching::match_contracts;
use super::{ContractBatch, ProtegerDeps};
use crate::queue::members::{self, Members};
use crate::queue::store::now_ms;
use crate::queue::{
    ChildOutcome, ErrorDetail, JobContext, JobError, JobId, JobKind, JobOutput, Store,
};
use crate::vendors::proteger::classify::{ProtegerError, key_reused};
use crate::vendors::proteger::idempotency_key::IdempotencyKey;
use crate::vendors::proteger::recent::note_created;
use crate::vendors::proteger::types::ContractRequest;

/// Sends a batch in one bulk call and settles every member with its own contract.
pub async fn send_batch(
    batch: ContractBatch,
    ctx: JobContext,
    deps: Data<ProtegerDeps>,
) -> Result<JobOutput, JobError> {
    let Members {
        ids: members,
        payloads: contracts,
        unsendable,
        left_out,
    } = members::read::<ContractRequest>(&deps.store, &ctx.id, &batch.0, "contract").await?;
    if contracts.is_empty() && unsendable.is_empty() {
        return Err(JobError::permanent(ErrorDetail::message(
            "none of the batch's member jobs exists any more",
        )));
    }
    if contracts.is_empty() {
        return Ok(JobOutput {
            result: json!({ "contracts": 0 }),
            children: unsendable,
            attention: None,
        });
    }
    let key = IdempotencyKey::for_batch(&ctx.id);
    if let Some(expired) = key_expired(&ctx.id, deps.settings.key_usable_for()) {
        // Sent now, the call would be a new request at the vendor, and the first one may
        // have executed: only an operator who checked can let these contracts go again.
        tracing::warn!(batch = %ctx.id, "the batch's idempotency key is too old to send again");
        return Err(JobError::permanent(
            ErrorDetail::message(expired).ambiguous(),
        ));
    }
    match deps.client.create_contracts_bulk(&key, &contracts).await {
        Ok(created) => {
            let answered = created.len();
            let raw = serde_json::to_value(&created).unwrap_or_default();
            match match_contracts(&members, &contracts, created) {
                Ok(matched) => {
                    note_created(&deps.store, deps.settings.not_found_retry(), &matched).await;
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
                        attention: None,
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
        Err(ProtegerError::Decode {
            status,
            message,
            body,
        }) => Ok(unreadable_success(
            &ctx.id, &members, unsendable, status, &message, body,
        )),
        Err(error) => {
            // Whether the vendor may have carried out this batch, now or in an earlier
            // attempt (a batch requeued by an operator keeps its last error).
            let landed_before = earlier_attempt_ambiguous(&deps.store, &ctx.id).await;
            let may_have_landed =
                matches!(error, ProtegerError::Network(_) | ProtegerError::Timeout(_))
                    || error.status().is_some_and(|s| s >= 500);
            // A refusal about the content is certain only on a first attempt of the body
            // the batch was formed with: later, the same 400 may mean "this key was used
            // with another body", i.e. the first call executed (the vendor's wording for it
            // is unknown). Splitting then would send the contracts again under new keys.
            let clean_first_try =
                ctx.attempt <= 1 && left_out == 0 && !landed_before && !key_reused(&error);
            let mut error = JobError::from(error);
            if !clean_first_try && refuses_content(&error) {
                error = mark_ambiguous(error, "refused under a key that may have executed before");
            } else if may_have_landed || landed_before {
                // A 5xx is stored under the key (it may have come after executing), a
                // timeout or a cut connection may have landed: the same key replays what
                // happened, a new key may create the contracts twice.
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
                    attention: None,
                });
            }
            Err(error)
        }
    }
}

/// Why the batch's key may no longer be sent, if it is older than `usable_for`. The key is
/// the batch id, whose UUID v7 timestamp is when the batch was formed (no later than its
/// first call), so the age is never underestimated.
fn key_expired(batch: &JobId, usable_for: Duration) -> Option<String> {
    let made = batch.created_at_ms()?;
    let age = Duration::from_millis(u64::try_from(now_ms() - made).unwrap_or_default());
    (age > usable_for).then(|| {
        format!(
            "the batch's idempotency key is {} min old, past the {} min it may be sent for: \
             Proteger keeps a key 24 h, after which the same key is a new request, and an \
             earlier call may have created these contracts; check at the vendor, then retry \
             with --vendor-checked",
            age.as_secs() / 60,
            usable_for.as_secs() / 60
        )
    })
}

/// Proteger answered 2xx, so the contracts exist, but the answer is not what seed 000
/// documents. Failing would invite a retry of something that happened: the batch and its
/// members succeed with the raw answer kept, marked for an operator's attention.
fn unreadable_success(
    batch: &JobId,
    members: &[JobId],
    unsendable: Vec<ChildOutcome>,
    status: u16,
    message: &str,
    body: String,
) -> JobOutput {
    let reason = format!(
        "Proteger answered HTTP {status} but the answer cannot be read ({message}): the \
         contracts were created; find them at the vendor by transactionId"
    );
    tracing::error!(%batch, status, "Proteger's bulk answer cannot be read; kept raw for an operator");
    let raw = serde_json::from_str(&body).unwrap_or(serde_json::Value::String(body));
    let children = members
        .iter()
        .map(|id| ChildOutcome::Succeeded {
            id: *id,
            result: json!({ "batch": batch, "unreadable_answer": true }),
        })
        .chain(unsendable)
        .collect();
    JobOutput {
        children,
        ..JobOutput::needs_attention(raw, reason)
    }
}

/// Whether an earlier attempt of this batch ended ambiguous. Unreadable counts as yes: the
/// cautious answer.
async fn earlier_attempt_ambiguous(store: &Store, batch: &JobId) -> bool {
    match store.job(batch).await {
        Ok(Some(record)) => record.last_error.is_some_and(|e| e.ambiguous),
        Ok(None) => false,
        Err(_) => true,
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

/// A permanent refusal about what was sent (not about who sent it).
fn refuses_content(error: &JobError) -> bool {
    matches!(
        error,
        JobError::Permanent { detail } if matches!(detail.vendor_status, Some(400 | 404 | 409 | 422))
    )
}
