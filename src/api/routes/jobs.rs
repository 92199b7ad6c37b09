//! Job records: what became of the work a producer handed over.
//!
//! - `GET /v1/jobs/{id}`: the record (state, attempts, timestamps, last error, result,
//!   reference, metadata). 400 for an id that is not a UUID, 404 for one we do not know
//!   (never existed, or expired after the retention window).
//! - `GET /v1/jobs?state=&kind=&cursor=&limit=`: newest first, `{"jobs", "next_cursor"}`;
//!   pass `next_cursor` back as `cursor` for the next page, until it is `null`. `limit`
//!   defaults to 50, at most 500. A page may hold fewer than `limit` jobs while
//!   `next_cursor` is still set (the store bounds how far one request scans for a `kind`).
//!
//! An app sees its own jobs only: another app's job answers 404 exactly like one that
//! does not exist, and listings leave it out. The operator sees every job, internal ones
//! (vendor batches, scheduled polls, of no app) included.

use axum::Json;
use axum::extract::State;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::ApiState;
use crate::api::auth::Caller;
use crate::api::error::{ApiError, ErrorBody};
use crate::api::extract::{JobIdPath, Paging, QueryParams};
use crate::queue::{JobRecord, JobState, ListFilter, Page};
use crate::validation::FieldError;

pub fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(show))
}

/// One job's record: its state, attempts, timestamps, last error and result.
#[utoipa::path(
    get,
    path = "/jobs/{id}",
    operation_id = "get_job",
    tag = "jobs",
    params(JobIdPath),
    responses(
        (status = 200, description = "The job's record.", body = JobRecord),
        (status = 400, description = "The id is not a UUID.", body = ErrorBody),
        (status = 404, description = "No such job: it never existed, expired after the retention window, or is another app's.", body = ErrorBody),
    )
)]
async fn show(
    State(state): State<ApiState>,
    caller: Caller,
    JobIdPath(id): JobIdPath,
) -> Result<Json<JobRecord>, ApiError> {
    state
        .producer()
        .store()
        .job(&id)
        .await?
        // Another app's job is no job of the caller's: the same 404, word for word.
        .filter(|record| caller.sees(record.app.as_ref()))
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no job {id}")))
}

/// Longest `kind` filter; kinds are short dotted names (`proteger.contract.create`).
const MAX_KIND_LEN: usize = 128;

/// Jobs, newest first, a page at a time: the caller's app's (every app's for the operator).
///
/// Pass `next_cursor` back as `cursor` until it is `null`. A page may hold fewer than
/// `limit` jobs (even none) while `next_cursor` is still set.
#[utoipa::path(
    get,
    path = "/jobs",
    operation_id = "list_jobs",
    tag = "jobs",
    params(
        ("state" = Option<JobState>, Query, description = "Only jobs in this state."),
        ("kind" = Option<String>, Query, max_length = 128, description = "Only jobs of this kind, as `<vendor>.<subject>.<action>`."),
        Paging,
    ),
    responses(
        (status = 200, description = "A page of job records.", body = Page),
        (status = 422, description = "An unknown query parameter, or a wrong value (every one listed).", body = ErrorBody),
    )
)]
async fn list(
    State(state): State<ApiState>,
    caller: Caller,
    query: QueryParams,
) -> Result<Json<Page>, ApiError> {
    let mut errors = Vec::new();
    query.check_known(&["state", "kind", "cursor", "limit"], &mut errors);
    let (cursor, limit) = query.paging(&mut errors);
    let job_state: Option<JobState> =
        match query.get("state").filter(|s| !s.is_empty()).map(str::parse) {
            None => None,
            Some(Ok(job_state)) => Some(job_state),
            // `JobState`'s own error lists the allowed values.
            Some(Err(reason)) => {
                errors.push(FieldError::new("state", reason));
                None
            }
        };
    let kind = query
        .get("kind")
        .filter(|k| !k.is_empty())
        .map(String::from);
    if kind.as_ref().is_some_and(|k| k.len() > MAX_KIND_LEN) {
        errors.push(FieldError::new(
            "kind",
            format!("must be at most {MAX_KIND_LEN} characters"),
        ));
    } else if let Some(kind) = kind.as_deref()
        && !state.kinds().contains(&kind)
    {
        // Like an unknown state: refused with what there is, not answered with nothing.
        errors.push(FieldError::new(
            "kind",
            format!(
                "unknown kind (the kinds are: {}){}",
                state.kinds().join(", "),
                crate::config_hints::suggestion(kind, state.kinds().iter().copied())
            ),
        ));
    }
    if !errors.is_empty() {
        return Err(ApiError::invalid(errors));
    }
    let filter = ListFilter {
        state: job_state,
        kind,
        cursor,
        limit,
        payload_field: None,
        app: caller.only_app().cloned(),
    };
    Ok(Json(state.producer().store().list(&filter).await?))
}
