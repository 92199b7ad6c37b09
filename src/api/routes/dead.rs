//! The dead set: jobs that will not run again by themselves, because the
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
//! ## Who may
//!
//! An app lists, reads, retries and purges its own jobs of the dead set, one at a time:
//! another app's job (and an internal one, such as a vendor batch) answers 404 as if it
//! were not there. The bulk routes (`POST /v1/dead/retry`, `DELETE /v1/dead`) act on every
//! app's jobs at once, so they are the operator's: an app token gets 403 `forbidden`. The
//! operator sees and acts on everything. (A job's app never changes, so checking it before
//! acting leaves no gap.)
//!
//! These routes do not read `Idempotency-Key`: a retry that is sent twice finds the job
//! queued the second time and answers 409, and a purge is idempotent by nature.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::ApiState;
use crate::api::accepted::JobLink;
use crate::api::auth::{Caller, Operator};
use crate::api::error::{ApiError, ErrorBody};
use crate::api::extract::{JobIdPath, Paging, QueryParams};
use crate::queue::{JobId, JobRecord, ListFilter, Page, Requeue, RequeueAll, RetryOptions};
use crate::validation::FieldError;

/// One `routes!` per path: the macro registers all its handlers on every path it is given.
pub fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(list, purge_all))
        .routes(routes!(retry_all))
        .routes(routes!(show, purge))
        .routes(routes!(retry))
}

/// Whether a record belongs in the dead set.
fn is_dead(record: &JobRecord) -> bool {
    record.state.is_dead()
}

fn not_in_dead_set(id: impl std::fmt::Display) -> ApiError {
    ApiError::NotFound(format!("job {id} is not in the dead set"))
}

/// The dead set, most recent death first, a page at a time: the caller's app's jobs (every
/// job for the operator). A page may hold fewer than `limit` jobs while `next_cursor` is set.
#[utoipa::path(
    get,
    path = "/dead",
    operation_id = "list_dead",
    tag = "dead set",
    params(Paging),
    responses(
        (status = 200, description = "A page of failed and dead jobs.", body = Page),
        (status = 422, description = "An unknown query parameter, or a wrong value.", body = ErrorBody),
    )
)]
async fn list(
    State(state): State<ApiState>,
    caller: Caller,
    query: QueryParams,
) -> Result<Json<Page>, ApiError> {
    let mut errors = Vec::new();
    query.check_known(&["cursor", "limit"], &mut errors);
    let (cursor, limit) = query.paging(&mut errors);
    if !errors.is_empty() {
        return Err(ApiError::invalid(errors));
    }
    let filter = ListFilter {
        cursor,
        limit,
        app: caller.only_app().cloned(),
        ..ListFilter::default()
    };
    Ok(Json(state.producer().store().dead_filtered(&filter).await?))
}

/// The job's record, if it exists and the caller may see it (another app's is no job of
/// the caller's).
async fn visible(
    state: &ApiState,
    caller: &Caller,
    id: &JobId,
) -> Result<Option<JobRecord>, ApiError> {
    Ok(state
        .producer()
        .store()
        .job(id)
        .await?
        .filter(|record| caller.sees(record.app.as_ref())))
}

/// One job of the dead set, with the vendor's last answer.
#[utoipa::path(
    get,
    path = "/dead/{id}",
    operation_id = "get_dead",
    tag = "dead set",
    params(JobIdPath),
    responses(
        (status = 200, description = "The job's record.", body = JobRecord),
        (status = 400, description = "The id is not a UUID.", body = ErrorBody),
        (status = 404, description = "The job is not in the dead set (or is another app's).", body = ErrorBody),
    )
)]
async fn show(
    State(state): State<ApiState>,
    caller: Caller,
    JobIdPath(id): JobIdPath,
) -> Result<Json<JobRecord>, ApiError> {
    match visible(&state, &caller, &id).await? {
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

/// For the document: `?vendor_checked=`, which [`retry_options`] reads.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct VendorChecked {
    /// `true` once the operator checked at the vendor that the work was not carried out:
    /// lets an ambiguous job go again (under a new idempotency key).
    vendor_checked: Option<bool>,
}

/// Queues a failed or dead job again, with a full retry budget, unless that could make the
/// vendor do something twice.
#[utoipa::path(
    post,
    path = "/dead/{id}/retry",
    operation_id = "retry_dead",
    tag = "dead set",
    params(JobIdPath, VendorChecked),
    responses(
        (status = 202, description = "Queued again; follow `status_url`. A checked ambiguous batch answers `{job_id, released}`.", body = JobLink),
        (status = 400, description = "The id is not a UUID.", body = ErrorBody),
        (status = 404, description = "No such job (or another app's).", body = ErrorBody),
        (status = 409, description = "`conflict`: neither failed nor dead (a retry sent twice finds it queued); `vendor_check_required`: the vendor may have carried it out, check there and pass `vendor_checked=true`.", body = ErrorBody),
        (status = 422, description = "`vendor_checked` is not true or false.", body = ErrorBody),
    )
)]
async fn retry(
    State(state): State<ApiState>,
    caller: Caller,
    JobIdPath(id): JobIdPath,
    query: QueryParams,
) -> Result<Response, ApiError> {
    let options = retry_options(&query)?;
    let Some(record) = visible(&state, &caller, &id).await? else {
        return Err(ApiError::NotFound(format!("no job {id}")));
    };
    match state.producer().store().requeue(&id, options).await? {
        Requeue::Requeued => {
            tracing::info!(job = %id, vendor_checked = options.vendor_checked, "dead job requeued by an operator");
            Ok((StatusCode::ACCEPTED, Json(JobLink::new(id))).into_response())
        }
        Requeue::Released { members } => {
            tracing::info!(batch = %id, members, "ambiguous batch released by an operator who checked the vendor");
            let link = JobLink::new(id);
            let body = serde_json::json!({ "job_id": link.job_id, "released": members });
            Ok((StatusCode::ACCEPTED, Json(body)).into_response())
        }
        Requeue::Missing => Err(ApiError::NotFound(format!("no job {id}"))),
        Requeue::NotDead(job_state) => Err(ApiError::Conflict(format!(
            "job {id} is {job_state}: only failed or dead jobs can be retried"
        ))),
        Requeue::Ambiguous | Requeue::InBatch(_) => {
            // A batch is internal (of no app): an app asks the operator to retry it.
            let batch = match (record.batch, &caller) {
                (Some(batch), Caller::Operator) => format!(
                    "; or retry its batch (POST /v1/dead/{batch}/retry), which sends it again \
                     under the batch's own idempotency key"
                ),
                (Some(batch), Caller::App(_)) => format!(
                    "; or ask the operator to retry its batch {batch}, which sends it again \
                     under the batch's own idempotency key"
                ),
                (None, _) => String::new(),
            };
            Err(ApiError::VendorCheckRequired(format!(
                "job {id} may have been carried out by the vendor (see its last_error) and \
                     would go under a new idempotency key: check at the vendor, then retry with \
                     vendor_checked=true{batch}"
            )))
        }
    }
}

/// Queues every job of the dead set again that can go without a risk of doing something
/// twice: batches with their members under their own keys, other jobs on their own.
///
/// Every app's jobs at once: the operator's token only (an app's gets 403).
#[utoipa::path(
    post,
    path = "/dead/retry",
    operation_id = "retry_all_dead",
    tag = "dead set",
    params(VendorChecked),
    responses(
        (status = 202, description = "What went back, and what stays in the dead set.", body = RequeueAll),
        (status = 403, description = "`forbidden`: an app's token; this route is the operator's.", body = ErrorBody),
        (status = 422, description = "`vendor_checked` is not true or false.", body = ErrorBody),
    )
)]
async fn retry_all(
    State(state): State<ApiState>,
    _: Operator,
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

/// Deletes a job of the dead set, record and all.
#[utoipa::path(
    delete,
    path = "/dead/{id}",
    operation_id = "purge_dead",
    tag = "dead set",
    params(JobIdPath),
    responses(
        (status = 204, description = "The record is gone."),
        (status = 400, description = "The id is not a UUID.", body = ErrorBody),
        (status = 404, description = "The job is not in the dead set (or is another app's).", body = ErrorBody),
    )
)]
async fn purge(
    State(state): State<ApiState>,
    caller: Caller,
    JobIdPath(id): JobIdPath,
) -> Result<StatusCode, ApiError> {
    if visible(&state, &caller, &id).await?.is_none() {
        return Err(not_in_dead_set(id));
    }
    if state.producer().store().purge(&id).await? {
        tracing::info!(job = %id, "dead job purged by an operator");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(not_in_dead_set(id))
    }
}

/// How many jobs a purge deleted.
#[derive(Serialize, ToSchema)]
pub struct Purged {
    purged: u64,
}

/// Deletes every job of the dead set.
///
/// Every app's jobs at once: the operator's token only (an app's gets 403).
#[utoipa::path(
    delete,
    path = "/dead",
    operation_id = "purge_all_dead",
    tag = "dead set",
    responses(
        (status = 200, description = "How many jobs were deleted.", body = Purged),
        (status = 403, description = "`forbidden`: an app's token; this route is the operator's.", body = ErrorBody),
    )
)]
async fn purge_all(State(state): State<ApiState>, _: Operator) -> Result<Json<Purged>, ApiError> {
    let purged = state.producer().store().purge_all().await?;
    tracing::info!(purged, "dead set purged by an operator");
    Ok(Json(Purged { purged }))
}
