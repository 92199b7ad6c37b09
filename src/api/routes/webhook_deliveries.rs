//! Webhook deliveries, for operators: what was sent where, every attempt, and sending
//! again.
//!
//! - `GET /v1/webhook-deliveries?endpoint=&state=&cursor=&limit=`: `{"jobs", "next_cursor"}`,
//!   newest first (a delivery is a job of kind `webhook.delivery`).
//! - `GET /v1/webhook-deliveries/{id}`: `{"delivery": <job record>, "attempts": [...]}`,
//!   each attempt with its time, status, duration and the first 4 KiB of the answer.
//! - `POST /v1/webhook-deliveries/{id}/resend`: 202 `{"job_id", "status_url"}`; a failed
//!   delivery goes back in the queue, a delivered one is sent again under the same
//!   `webhook-id`; 409 while it is still on its way.
//! - `POST /v1/webhook-endpoints/{id}/recover` with `{"since": RFC 3339}`: every failed
//!   delivery of the endpoint since then goes back in the queue; 202 `{"requeued": n}`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use redis::AsyncCommands;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::ApiState;
use crate::api::accepted::JobLink;
use crate::api::error::ApiError;
use crate::api::extract::{ApiPath, JobIdPath, JsonBody, QueryParams};
use crate::queue::{JobKind, JobState, ListFilter, Page};
use crate::validation::FieldError;
use crate::webhooks::delivery::{AttemptRecord, Delivery, attempts_key};
use crate::webhooks::replay::{self, ReplayError};

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/webhook-deliveries", get(list))
        .route("/webhook-deliveries/{id}", get(show))
        .route("/webhook-deliveries/{id}/resend", post(resend))
        .route("/webhook-endpoints/{id}/recover", post(recover))
}

async fn list(State(state): State<ApiState>, query: QueryParams) -> Result<Json<Page>, ApiError> {
    let mut errors = Vec::new();
    query.check_known(&["endpoint", "state", "cursor", "limit"], &mut errors);
    let (cursor, limit) = query.paging(&mut errors);
    let job_state = match query.get("state").map(str::parse::<JobState>) {
        Some(Ok(s)) => Some(s),
        Some(Err(reason)) => {
            errors.push(FieldError::new("state", reason));
            None
        }
        None => None,
    };
    if !errors.is_empty() {
        return Err(ApiError::invalid(errors));
    }
    let filter = ListFilter {
        state: job_state,
        kind: Some(Delivery::KIND.into()),
        payload_field: query
            .get("endpoint")
            .map(|e| ("endpoint_id".to_string(), e.to_string())),
        cursor,
        limit,
    };
    Ok(Json(state.producer().store().list(&filter).await?))
}

async fn show(
    State(state): State<ApiState>,
    JobIdPath(id): JobIdPath,
) -> Result<Json<Value>, ApiError> {
    let store = state.producer().store();
    let record = match store.job(&id).await? {
        Some(record) if record.kind == Delivery::KIND => record,
        _ => return Err(ApiError::NotFound(format!("no webhook delivery {id}"))),
    };
    let mut conn = store.connection();
    let raw: Vec<String> = conn
        .lrange(attempts_key(store.keys(), &id.to_string()), 0, -1)
        .await
        .map_err(crate::queue::QueueError::from)?;
    let attempts: Vec<AttemptRecord> = raw
        .iter()
        .filter_map(|a| serde_json::from_str(a).ok())
        .collect();
    Ok(Json(json!({ "delivery": record, "attempts": attempts })))
}

async fn resend(
    State(state): State<ApiState>,
    JobIdPath(id): JobIdPath,
) -> Result<Response, ApiError> {
    match replay::resend(state.producer().store(), &id).await {
        Ok(job) => {
            tracing::info!(delivery = %id, job = %job, "webhook delivery resent by an operator");
            Ok((StatusCode::ACCEPTED, Json(JobLink::new(job))).into_response())
        }
        Err(ReplayError::NotFound(_)) => {
            Err(ApiError::NotFound(format!("no webhook delivery {id}")))
        }
        Err(e @ ReplayError::InFlight(..)) => Err(ApiError::Conflict(e.to_string())),
        Err(ReplayError::Queue(e)) => Err(e.into()),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RecoverBody {
    since: DateTime<Utc>,
}

async fn recover(
    State(state): State<ApiState>,
    ApiPath(endpoint): ApiPath<String>,
    JsonBody(body): JsonBody<RecoverBody>,
) -> Result<Response, ApiError> {
    let requeued = replay::recover(state.producer().store(), &endpoint, body.since).await?;
    tracing::info!(%endpoint, requeued, since = %body.since, "failed webhook deliveries recovered by an operator");
    Ok((StatusCode::ACCEPTED, Json(json!({ "requeued": requeued }))).into_response())
}
