//! The dead set, for operators: jobs that will not run again by themselves, because the
//! vendor refused them for good (`failed`) or because they used up their retries or killed
//! their workers (`dead`). Their records keep the vendor's last answer.
//!
//! - `GET /v1/dead?cursor=&limit=`: `{"jobs", "next_cursor"}`, most recent death first.
//! - `GET /v1/dead/{id}`: the record; 404 unless the job is in the dead set.
//! - `POST /v1/dead/{id}/retry[?vendor_checked=true]`: 202 `{"job_id", "status_url"}`, queued
//!   again with a full retry budget; 404 when there is no such job, 409 `conflict` when it is
//!   neither failed nor dead. Never twice (see `queue/store/dead.rs`):
//!   - 409 `vendor_check_required`: the vendor may have carried the job out (its error is
//!     `ambiguous`); check the vendor, then retry with `vendor_checked=true`. A checked
//!     ambiguous batch answers 202 `{"job_id", "released": n}`: its members go back to be
//!     batched under new keys;
//!   - a member retried on its own leaves its batch for a new key; when it is ambiguous,
//!     the message names its batch, whose retry sends it under the batch's own key.
//! - `POST /v1/dead/retry[?vendor_checked=true]`: every job of the dead set that can go,
//!   202 `{"requeued", "released", "ambiguous", "in_batch"}` (the last two stay dead).
//! - `DELETE /v1/dead/{id}`: 204, the record is gone; 404 unless it was in the dead set.
//! - `DELETE /v1/dead`: 200 `{"purged": n}`.
//!
//! These routes do not read `Idempotency-Key`: a retry that is sent twice finds the job
//! queued the second time and answers 409, and a purge is idempotent by nature.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

use crate::api::ApiState;
use crate::api::accepted::JobLink;
use crate::api::error::ApiError;
use crate::api::extract::{JobIdPath, QueryParams};
use crate::queue::{JobRecord, JobState, Page, Requeue, RetryOptions};
use crate::validation::FieldError;

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/dead", get(list).delete(purge_all))
        .route("/dead/retry", post(retry_all))
        .route("/dead/{id}", get(show).delete(purge))
        .route("/dead/{id}/retry", post(retry))
}

/// Whether a record belongs in the dead set.
fn is_dead(record: &JobRecord) -> bool {
    matches!(record.state, JobState::Failed | JobState::Dead)
}

fn not_in_dead_set(id: impl std::fmt::Display) -> ApiError {
    ApiError::NotFound(format!("job {id} is not in the dead set"))
}

async fn list(State(state): State<ApiState>, query: QueryParams) -> Result<Json<Page>, ApiError> {
    let mut errors = Vec::new();
    query.check_known(&["cursor", "limit"], &mut errors);
    let (cursor, limit) = query.paging(&mut errors);
    if !errors.is_empty() {
        return Err(ApiError::invalid(errors));
    }
    Ok(Json(state.producer().store().dead(cursor, limit).await?))
}

async fn show(
    State(state): State<ApiState>,
    JobIdPath(id): JobIdPath,
) -> Result<Json<JobRecord>, ApiError> {
    match state.producer().store().job(&id).await? {
        Some(record) if is_dead(&record) => Ok(Json(record)),
        _ => Err(not_in_dead_set(id)),
    }
}

/// `?vendor_checked=true|false` (default false): the operator checked the vendor.
fn retry_options(query: &QueryParams) -> Result<RetryOptions, ApiError> {
    let mut errors = Vec::new();
    query.check_known(&["vendor_checked"], &mut errors);
    let vendor_checked = match query.get("vendor_checked") {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => {
            errors.push(FieldError::new("vendor_checked", "must be true or false"));
            false
        }
    };
    if errors.is_empty() {
        Ok(RetryOptions { vendor_checked })
    } else {
        Err(ApiError::invalid(errors))
    }
}

async fn retry(
    State(state): State<ApiState>,
    JobIdPath(id): JobIdPath,
    query: QueryParams,
) -> Result<Response, ApiError> {
    let options = retry_options(&query)?;
    match state.producer().store().requeue(&id, options).await? {
        Requeue::Requeued => {
            tracing::info!(job = %id, vendor_checked = options.vendor_checked, "dead job requeued by an operator");
            Ok((StatusCode::ACCEPTED, Json(JobLink::new(id))).into_response())
        }
        Requeue::Released { members } => {
            tracing::info!(batch = %id, members, "ambiguous batch released by an operator who checked the vendor");
            let link = JobLink::new(id);
            let body = json!({ "job_id": link.job_id, "released": members });
            Ok((StatusCode::ACCEPTED, Json(body)).into_response())
        }
        Requeue::Missing => Err(ApiError::NotFound(format!("no job {id}"))),
        Requeue::NotDead(job_state) => Err(ApiError::Conflict(format!(
            "job {id} is {job_state}: only failed or dead jobs can be retried"
        ))),
        Requeue::Ambiguous | Requeue::InBatch(_) => {
            let batch = match state.producer().store().job(&id).await? {
                Some(JobRecord {
                    batch: Some(batch), ..
                }) => format!(
                    "; or retry its batch (POST /v1/dead/{batch}/retry), which sends it again \
                     under the batch's own idempotency key"
                ),
                _ => String::new(),
            };
            Err(ApiError::ConflictWith {
                code: "vendor_check_required",
                message: format!(
                    "job {id} may have been carried out by the vendor (see its last_error) and \
                     would go under a new idempotency key: check at the vendor, then retry with \
                     vendor_checked=true{batch}"
                ),
            })
        }
    }
}

async fn retry_all(
    State(state): State<ApiState>,
    query: QueryParams,
) -> Result<Response, ApiError> {
    let options = retry_options(&query)?;
    let done = state.producer().store().requeue_all(options).await?;
    tracing::info!(
        requeued = done.requeued,
        released = done.released,
        ambiguous = done.ambiguous,
        in_batch = done.in_batch,
        vendor_checked = options.vendor_checked,
        "dead set requeued by an operator"
    );
    Ok((StatusCode::ACCEPTED, Json(done)).into_response())
}

async fn purge(
    State(state): State<ApiState>,
    JobIdPath(id): JobIdPath,
) -> Result<StatusCode, ApiError> {
    if state.producer().store().purge(&id).await? {
        tracing::info!(job = %id, "dead job purged by an operator");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(not_in_dead_set(id))
    }
}

async fn purge_all(State(state): State<ApiState>) -> Result<Json<serde_json::Value>, ApiError> {
    let purged = state.producer().store().purge_all().await?;
    tracing::info!(purged, "dead set purged by an operator");
    Ok(Json(json!({ "purged": purged })))
}
