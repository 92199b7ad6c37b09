//! The `202 Accepted` answer: work is stored, not done. The caller follows `status_url` (or
//! its webhook) to learn the outcome.
//!
//! ```json
//! {"job_id": "0190...", "status_url": "/v1/jobs/0190..."}          one job, with `Location`
//! {"jobs": [{"job_id": "...", "status_url": "..."}, ...]}          a bulk, in request order
//! ```
//!
//! An operator's requeue (`POST /v1/dead/retry`, `.../recover`) answers how many jobs went
//! back in the queue: `{"requeued": n}`.
//!
//! A replay of an earlier request under the same `Idempotency-Key` answers exactly the same,
//! plus `Idempotent-Replayed: true`.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use super::error::ApiError;
use super::idempotency::{REPLAYED, REPLAYED_HEADER};
use crate::producer::Accepted;
use crate::queue::JobId;

/// Where a job's record is read.
pub fn status_url(id: &JobId) -> String {
    format!("/v1/jobs/{id}")
}

/// A job that was accepted, and where to read what becomes of it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct JobLink {
    pub job_id: JobId,
    /// `/v1/jobs/{job_id}`, where the job's record is read.
    pub status_url: String,
}

impl JobLink {
    pub fn new(id: JobId) -> Self {
        Self {
            job_id: id,
            status_url: status_url(&id),
        }
    }
}

/// The jobs of a bulk request, one per item, in request order.
#[derive(Serialize, ToSchema)]
pub struct JobLinks {
    jobs: Vec<JobLink>,
}

/// How many jobs went back in the queue.
#[derive(Serialize, ToSchema)]
pub struct Requeued {
    pub requeued: u64,
}

/// The answer for a request that enqueued exactly one job.
pub fn one(accepted: Accepted) -> Result<Response, ApiError> {
    let [id] = accepted.job_ids.as_slice() else {
        tracing::error!(
            count = accepted.job_ids.len(),
            "a single submission was answered with another number of jobs"
        );
        return Err(ApiError::Internal);
    };
    let link = JobLink::new(*id);
    let location = HeaderValue::from_str(&link.status_url).map_err(|_| ApiError::Internal)?;
    let mut response = (StatusCode::ACCEPTED, Json(link)).into_response();
    response.headers_mut().insert(header::LOCATION, location);
    Ok(mark_replay(response, accepted.replayed))
}

/// The answer for a bulk request: one link per submission, in request order.
pub fn many(accepted: Accepted) -> Response {
    let jobs = accepted.job_ids.into_iter().map(JobLink::new).collect();
    let response = (StatusCode::ACCEPTED, Json(JobLinks { jobs })).into_response();
    mark_replay(response, accepted.replayed)
}

fn mark_replay(mut response: Response, replayed: bool) -> Response {
    if replayed {
        response.headers_mut().insert(REPLAYED_HEADER, REPLAYED);
    }
    response
}
