//! `proteger.contract.cancel`: `PUT /v1/contracts/{id}/refund`, a quote when `preview`.
//!
//! ## A cancellation right after the creation
//!
//! Proteger persists contracts asynchronously (seed 000), so a refund sent right after the
//! creation can answer 404 for a contract that does exist. A 404 is retried, like a 5xx,
//! when *we* created that contract less than `vendors.proteger.not_found_retry_secs` ago
//! (the batch job notes what it creates: `recent.rs`); every try uses up an attempt of the
//! job's retry policy. Any other 404 (a contract we did not create, or created long ago)
//! fails the job at once, as before: nothing will make it exist.

use apalis::prelude::Data;

use super::{CancelContract, ProtegerDeps};
use crate::queue::clock::now_ms;
use crate::queue::{JobError, JobOutput};
use crate::vendors::proteger::classify::{ProtegerError, not_yet_persisted};
use crate::vendors::proteger::recent::RecentContracts;

/// Cancels a contract, or quotes the refund without changing anything.
pub async fn cancel(job: CancelContract, deps: Data<ProtegerDeps>) -> Result<JobOutput, JobError> {
    match deps.client.refund(&job.contract_id, !job.preview).await {
        Ok(quote) => Ok(JobOutput::new(
            serde_json::to_value(&quote).unwrap_or_default(),
        )),
        // A 2xx we cannot read: the cancellation (or quote) happened; keep the answer raw
        // for an operator rather than fail a job whose retry would cancel again.
        Err(ProtegerError::Decode {
            status,
            message,
            body,
        }) => {
            tracing::error!(contract = %job.contract_id, status, "Proteger's refund answer cannot be read; kept raw for an operator");
            let raw = serde_json::from_str(&body).unwrap_or(serde_json::Value::String(body));
            Ok(JobOutput::needs_attention(
                raw,
                format!(
                    "Proteger answered HTTP {status} but the answer cannot be read ({message})"
                ),
            ))
        }
        Err(error) if error.status() == Some(404) => {
            Err(not_found(&deps, &job.contract_id, error).await)
        }
        Err(error) => Err(error.into()),
    }
}

/// The verdict on a 404: retry when we created the contract lately, else permanent.
async fn not_found(deps: &ProtegerDeps, contract_id: &str, error: ProtegerError) -> JobError {
    let recent = RecentContracts::new(&deps.store, deps.settings.not_found_retry());
    match recent.created_ago(contract_id, now_ms()).await {
        Ok(Some(age)) => {
            tracing::info!(
                contract = contract_id,
                created_ms_ago = age.as_millis() as u64,
                "Proteger does not know a contract we created moments ago yet; retrying"
            );
            not_yet_persisted(
                error,
                &format!(
                    "underwrite created this contract {:.1} s ago and Proteger persists \
                     contracts asynchronously: retrying",
                    age.as_secs_f64()
                ),
            )
        }
        Ok(None) => error.into(),
        // Unable to tell: a retry costs one attempt, failing for good could lose a
        // cancellation that was only early.
        Err(queue) => not_yet_persisted(
            error,
            &format!(
                "cannot tell whether underwrite created this contract lately ({queue}): retrying"
            ),
        ),
    }
}
