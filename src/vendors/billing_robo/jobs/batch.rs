//! `billing_robo.credit.batch`: one `bulk_register` call for the applications of a batch,
//! and what each item's outcome means for its member.
//!
//! | item outcome | member |
//! |---|---|
//! | registered | succeeded, with the application (`id`, `status` 2 pending) |
//! | `AlreadyApplied` (seed 5411) | succeeded, `already_applied`: an earlier attempt landed unseen, or an application made elsewhere is pending (no id: the vendor does not send it) |
//! | `Refused` (5401 unknown customer, a field) | failed, with the vendor's code and message |
//! | `OurDefect` | failed, and logged as an error: a bug on our side |
//! | `SendAgain` (another item failed) | moved to a batch of its own and sent again; when every item says so, the whole batch is retried |
//!
//! A call that failed as a whole is judged by `classify` (a 429 first pauses every
//! process's calls for `pause_on_429_secs`). Every retry first adopts what an earlier
//! attempt registered (`adopt.rs`). A member's result names the job that then waits for
//! its decision (`decision_job`).

use apalis::prelude::Data;
use serde_json::{Value, json};

use super::{BillingRoboDeps, CreditBatch, DECISION_STEP, adopt};
use crate::queue::members::{self, Members};
use crate::queue::rate_limit::Priority;
use crate::queue::{
    ChildOutcome, ErrorDetail, JobContext, JobError, JobId, JobKind, JobOutput, Store,
};
use crate::vendors::billing_robo::classify::{ItemOutcome, Registration};
use crate::vendors::billing_robo::types::{CreditApplication, ItemVerdict};

/// Sends a batch in one `bulk_register` call and settles every member with its own item.
pub async fn send_batch(
    batch: CreditBatch,
    ctx: JobContext,
    deps: Data<BillingRoboDeps>,
) -> Result<JobOutput, JobError> {
    let Members {
        ids: members,
        payloads: applications,
        unsendable,
        ..
    } = members::read::<CreditApplication>(&deps.store, &ctx.id, &batch.0, "application").await?;
    if applications.is_empty() && unsendable.is_empty() {
        return Err(JobError::permanent(ErrorDetail::message(
            "none of the batch's member jobs exists any more",
        )));
    }
    if applications.is_empty() {
        return Ok(JobOutput {
            result: json!({ "applications": 0 }),
            children: unsendable,
            attention: None,
        });
    }
    let (mut members, mut applications) = (members, applications);
    let mut children = unsendable;
    // A retry: the last attempt may have registered some of them (adopt.rs).
    if ctx.attempt > 1
        && let Some(began) = ctx.enqueued_at
    {
        let codes = applications
            .iter()
            .map(|a| a.billing_code().to_string())
            .collect();
        let mut found = adopt::registered_since(&deps, began, &codes).await?;
        let mut keep = Vec::new();
        for (id, application) in members.into_iter().zip(applications) {
            match found.remove(application.billing_code()) {
                Some(result) => children.push(ChildOutcome::Succeeded {
                    id,
                    result: with_decision_job(result, id),
                }),
                None => keep.push((id, application)),
            }
        }
        (members, applications) = keep.into_iter().unzip();
        if applications.is_empty() {
            tracing::info!(batch = %ctx.id, "every application of the batch was registered by an earlier attempt; adopted");
            return Ok(JobOutput {
                result: json!({ "applied": 0, "adopted": children.len() }),
                children,
                attention: None,
            });
        }
    }
    let registration = deps
        .metered(
            Priority::High,
            deps.client.register_credit_applications(&applications),
        )
        .await?;
    settle(&deps.store, &ctx.id, &members, registration, children).await
}

/// A member's result with the id of the job that waits for its decision (started when the
/// member succeeds, `jobs/decision.rs`), so the producer can follow it.
fn with_decision_job(mut result: Value, member: JobId) -> Value {
    result["decision_job"] = json!(JobId::then(&member, DECISION_STEP));
    result
}

/// Each member's outcome from its item (the table in the module docs).
async fn settle(
    store: &Store,
    batch: &JobId,
    members: &[JobId],
    registration: Registration,
    settled: Vec<ChildOutcome>,
) -> Result<JobOutput, JobError> {
    let mut children = settled;
    let mut again = Vec::new();
    let (mut applied, mut failed) = (0, 0);
    for (id, outcome) in members.iter().zip(&registration.outcomes) {
        match settle_one(*id, outcome) {
            Some(child @ ChildOutcome::Succeeded { .. }) => {
                applied += 1;
                children.push(child);
            }
            Some(child) => {
                failed += 1;
                children.push(child);
            }
            None => again.push(*id),
        }
    }
    if again.len() == members.len() {
        return Err(JobError::retryable(ErrorDetail {
            message: "Billing-Robo registered none of the batch's applications because of \
                      another item; sending the batch again"
                .into(),
            vendor_status: Some(200),
            vendor_body: serde_json::to_value(&registration.outcomes).ok(),
            ambiguous: false,
        }));
    }
    let mut result = json!({ "applied": applied, "failed": failed });
    if !again.is_empty() {
        let batches = store
            .split_batch(CreditBatch::KIND, batch, &again)
            .await
            .map_err(|e| JobError::retryable(ErrorDetail::message(format!("queue: {e}"))))?;
        tracing::info!(%batch, again = again.len(), "Billing-Robo asked for some applications again; sending each alone");
        result["sent_again_in"] = json!(batches);
    }
    Ok(JobOutput {
        result,
        children,
        attention: None,
    })
}

/// One member's outcome; `None` when its application must be sent again.
fn settle_one(id: JobId, outcome: &ItemOutcome) -> Option<ChildOutcome> {
    let code = &outcome.billing_code;
    let refusal = match &outcome.result {
        Ok(registered) => {
            return Some(ChildOutcome::Succeeded {
                id,
                result: with_decision_job(
                    json!({
                        "billing_code": code,
                        "id": registered.id,
                        "status": registered.status,
                        "requested_date": registered.requested_date,
                    }),
                    id,
                ),
            });
        }
        Err(refusal) => refusal,
    };
    let message = refusal.message.clone().unwrap_or_default();
    let answered = serde_json::to_value(&outcome.answered).unwrap_or(Value::Null);
    let failed = |what: &str| ChildOutcome::Failed {
        id,
        error: ErrorDetail {
            message: format!(
                "Billing-Robo {what} billing code {code}: code {}: {message}",
                refusal.code
            ),
            vendor_status: Some(200),
            vendor_body: Some(answered.clone()),
            ambiguous: false,
        },
    };
    match refusal.verdict {
        ItemVerdict::AlreadyApplied => Some(ChildOutcome::Succeeded {
            id,
            result: with_decision_job(
                json!({
                    "billing_code": code,
                    "already_applied": true,
                    "code": refusal.code,
                    "message": refusal.message,
                }),
                id,
            ),
        }),
        ItemVerdict::Refused => Some(failed("refused")),
        ItemVerdict::OurDefect => {
            tracing::error!(billing_code = %code, code = refusal.code, %message, "Billing-Robo says our application is malformed: a bug on our side");
            Some(failed("could not read the application of"))
        }
        ItemVerdict::SendAgain => None,
    }
}
