//! Job records: what became of the work a producer handed over.
//!
//! - `GET /v1/jobs/{id}`: the record (state, attempts, timestamps, last error, result,
//!   reference, metadata). 400 for an id that is not a UUID, 404 for one we do not know
//!   (never existed, or expired after the retention window).
//! - `GET /v1/jobs?state=&kind=&cursor=&limit=`: newest first, `{"jobs", "next_cursor"}`;
//!   pass `next_cursor` back as `cursor` for the next page, until it is `null`. `limit`
//!   defaults to 50, at most 500. A page may hold fewer than `limit` jobs while
//!   `next_cursor` is still set (the store bounds how far one request scans for a `kind`).

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};

use crate::api::ApiState;
use crate::api::error::ApiError;
use crate::api::extract::{JobIdPath, QueryParams};
use crate::queue::{JobRecord, JobState, ListFilter, Page};
use crate::validation::FieldError;

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/jobs", get(list))
        .route("/jobs/{id}", get(show))
}

async fn show(
    State(state): State<ApiState>,
    JobIdPath(id): JobIdPath,
) -> Result<Json<JobRecord>, ApiError> {
    state
        .producer()
        .store()
        .job(&id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no job {id}")))
}

/// Longest `kind` filter; kinds are short dotted names (`proteger.contract.create`).
const MAX_KIND_LEN: usize = 128;

async fn list(State(state): State<ApiState>, query: QueryParams) -> Result<Json<Page>, ApiError> {
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
    };
    Ok(Json(state.producer().store().list(&filter).await?))
}
