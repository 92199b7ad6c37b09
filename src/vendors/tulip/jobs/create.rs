//! `tulip.contract.create` and `tulip.contract.quote`: one `POST /contracts`, for real or
//! with `?preview=true`.
//!
//! A creation follows the "never twice" rule (`adopt.rs`): stamp the references, look for
//! an earlier attempt's contract when one may exist, mark, send. A quote stores nothing at
//! Tulip, so it is simply sent again on a retry.

use apalis::prelude::Data;
use serde_json::{Value, json};

use super::adopt::{self, reference};
use super::{CreateContract, QuoteContract, TulipDeps, failed};
use crate::queue::rate_limit::Priority;
use crate::queue::{ErrorDetail, JobContext, JobError, JobOutput};
use crate::vendors::http::vendor_detail;
use crate::vendors::tulip::classify::TulipError;
use crate::vendors::tulip::types::Contract;

/// Creates the contract, or adopts the one an earlier attempt created.
pub async fn create(
    job: CreateContract,
    ctx: JobContext,
    deps: Data<TulipDeps>,
) -> Result<JobOutput, JobError> {
    let request = job.0.with_internal_ids(|line| reference(&ctx.id, line));
    let may_exist = ctx.attempt > 1 || deps.sent.was_sent(&ctx.id).await.map_err(redis)?;
    if may_exist {
        if let Some(contract) = adopt::find(&deps, &ctx.id, &request, ctx.enqueued_at).await? {
            tracing::info!(job = %ctx.id, cid = contract.cid(), "adopting the Tulip contract an earlier attempt created");
            return Ok(JobOutput::new(created(&contract, true)));
        }
        tracing::info!(job = %ctx.id, "no earlier attempt created a Tulip contract; sending the creation");
    }
    deps.limiter.acquire(Priority::High).await?;
    deps.sent.mark(&ctx.id).await.map_err(redis)?;
    match deps.client.create(&request, false).await {
        Ok(contract) => Ok(JobOutput::new(created(&contract, false))),
        // A success we cannot read may still have made the contract: retry, and the next
        // attempt looks for it before anything is sent again.
        Err(TulipError::Decode {
            status,
            message,
            body,
        }) => Err(JobError::retryable(vendor_detail(
            format!(
                "Tulip answered HTTP {status} with a body we cannot read ({message}); the retry looks for the contract first"
            ),
            status,
            body,
        ))),
        Err(error) => Err(failed(&deps, error).await),
    }
}

/// Prices the contract without creating it.
pub async fn quote(job: QuoteContract, deps: Data<TulipDeps>) -> Result<JobOutput, JobError> {
    // Quotes wait behind creations and cancellations when the budget is short.
    deps.limiter.acquire(Priority::Low).await?;
    match deps.client.create(&job.0, true).await {
        Ok(quote) => Ok(JobOutput::new(json!({
            "price": quote.price(),
            "quote": quote.0,
        }))),
        Err(error) => Err(failed(&deps, error).await),
    }
}

/// A creation's result: what producers read first, and the contract as Tulip sent it.
fn created(contract: &Contract, adopted: bool) -> Value {
    json!({
        "cid": contract.cid(),
        "status": contract.status(),
        "price": contract.price(),
        "adopted": adopted,
        "contract": contract.0,
    })
}

/// Redis did not answer about the marks: nothing was sent, try again later.
fn redis(error: redis::RedisError) -> JobError {
    JobError::retryable(ErrorDetail::message(format!(
        "cannot read or write the job's sent mark in Redis ({error}); Tulip was not called"
    )))
}
