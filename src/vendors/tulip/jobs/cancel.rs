//! `tulip.contract.cancel`: `DELETE /contracts/{cid}` with the reason (and end date).
//!
//! Tulip decides by the contract's start: within 4 h it **cancels** (status `cancel`),
//! after it **terminates** (status `terminated`). The result records which, as `outcome`.
//!
//! ## A retry whose first attempt landed
//!
//! Ending a contract twice is harmless at Tulip but answered with a refusal (how is not
//! documented: 1052 "not open" is the likely code). So a refusal other than 1051 (no such
//! contract) is checked: the job reads the contract, and if it has ended, that is the
//! success it was after (`already_ended: true`). Otherwise the refusal stands.
//!
//! When Tulip's answer shows neither `cancel` nor `terminated` (a termination dated in the
//! future may leave the contract `open` until then), the outcome is inferred from the 4-hour
//! rule and marked `inferred: true`.

use apalis::prelude::Data;
use chrono::Utc;
use serde_json::{Value, json};

use super::{CancelContract, TulipDeps, failed};
use crate::queue::rate_limit::Priority;
use crate::queue::{JobError, JobOutput};
use crate::vendors::tulip::classify::TulipError;
use crate::vendors::tulip::types::codes::{CONTRACT_NOT_FOUND, NO_PERMISSION, QUOTA_REACHED};
use crate::vendors::tulip::types::{Contract, Ending};

/// Tulip cancels rather than terminates this long after a contract's start.
pub const CANCEL_WINDOW: chrono::Duration = chrono::Duration::hours(4);

/// Ends the contract and records how.
pub async fn cancel(job: CancelContract, deps: Data<TulipDeps>) -> Result<JobOutput, JobError> {
    deps.limiter.acquire(Priority::High).await?;
    let refusal = match deps.client.terminate(&job.cid, &job.termination()).await {
        Ok(contract) => return Ok(JobOutput::new(ended(&contract, false))),
        Err(TulipError::Decode {
            status,
            message,
            body,
        }) => {
            // It answered a success: the contract has ended. Keep the answer for a person.
            let raw = serde_json::from_str(&body).unwrap_or(Value::String(body));
            return Ok(JobOutput::needs_attention(
                raw,
                format!(
                    "Tulip answered HTTP {status} to the cancellation, with a body we cannot read ({message})"
                ),
            ));
        }
        Err(refusal) => refusal,
    };
    let checkable = matches!(
        refusal,
        TulipError::Status {
            status: 400 | 409 | 422,
            ..
        }
    ) && !matches!(
        refusal.code(),
        Some(CONTRACT_NOT_FOUND | NO_PERMISSION | QUOTA_REACHED)
    );
    if !checkable {
        return Err(failed(&deps, refusal).await);
    }
    deps.limiter.acquire(Priority::High).await?;
    match deps.client.get(&job.cid).await {
        Ok(contract) if contract.ending().is_some() => {
            tracing::info!(cid = %job.cid, "the Tulip contract had already ended; counting the cancellation as done");
            Ok(JobOutput::new(ended(&contract, true)))
        }
        // The check itself failed without an answer: the whole cancellation is safe to retry.
        Err(error) if error.unanswered() => Err(failed(&deps, error).await),
        _ => Err(failed(&deps, refusal).await),
    }
}

/// The result: cancelled or terminated, and the contract as Tulip sent it.
fn ended(contract: &Contract, already: bool) -> Value {
    let (outcome, inferred) = match contract.ending() {
        Some(ending) => (ending, false),
        None => {
            let started = contract.start_date().unwrap_or_else(Utc::now);
            let ending = if Utc::now() < started + CANCEL_WINDOW {
                Ending::Cancelled
            } else {
                Ending::Terminated
            };
            (ending, true)
        }
    };
    let mut result = json!({
        "cid": contract.cid(),
        "outcome": outcome,
        "status": contract.status(),
        "contract": contract.0,
    });
    if already {
        result["already_ended"] = json!(true);
    }
    if inferred {
        result["inferred"] = json!(true);
    }
    result
}
