//! Webhook deliveries: what was sent where, every attempt, and sending again.
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
//!
//! A delivery belongs to the app of the endpoint it goes to, which is the app of the job
//! whose event it carries (`webhooks/fanout.rs`; a resend keeps it). An app sees and
//! resends its own deliveries only: another app's answers 404 as if it did not exist, and
//! listings leave it out. Recovering another app's endpoint (or one that does not exist)
//! finds no delivery of the caller's and answers `{"requeued": 0}`, as for an endpoint
//! with nothing to recover: it tells nothing of other apps either. The operator sees and
//! acts on every delivery.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use redis::AsyncCommands;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::ApiState;
use crate::api::accepted::{JobLink, Requeued};
use crate::api::auth::Caller;
use crate::api::error::{ApiError, ErrorBody};
use crate::api::extract::{ApiPath, JobIdPath, JsonBody, Paging, QueryParams};
use crate::queue::{JobKind, JobRecord, JobState, ListFilter, Page};
use crate::validation::FieldError;
use crate::webhooks::delivery::{AttemptRecord, Delivery, attempts_key};
use crate::webhooks::replay::{self, ReplayError};

pub fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(show))
        .routes(routes!(resend))
        .routes(routes!(recover))
}

/// Deliveries, newest first, a page at a time.
#[utoipa::path(
    get,
    path = "/webhook-deliveries",
    operation_id = "list_webhook_deliveries",
    tag = "webhook deliveries",
    params(
        ("endpoint" = Option<String>, Query, description = "Only deliveries to this endpoint."),
        ("state" = Option<JobState>, Query, description = "Only deliveries in this state."),
        Paging,
    ),
    responses(
        (status = 200, description = "A page of deliveries: job records of kind `webhook.delivery`.", body = Page),
        (status = 422, description = "An unknown query parameter, or a wrong value.", body = ErrorBody),
    )
)]
async fn list(
    State(state): State<ApiState>,
    caller: Caller,
    query: QueryParams,
) -> Result<Json<Page>, ApiError> {
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
        app: caller.only_app().cloned(),
    };
    Ok(Json(state.producer().store().list(&filter).await?))
}

/// A delivery and its attempts.
#[derive(Serialize, ToSchema)]
pub struct DeliveryAttempts {
    /// The delivery's job record.
    delivery: JobRecord,
    /// Oldest first; the last 50 are kept.
    attempts: Vec<AttemptRecord>,
}

/// One delivery, with its attempts.
///
/// Each attempt with its time, status, duration and the first 4 KiB of the answer.
#[utoipa::path(
    get,
    path = "/webhook-deliveries/{id}",
    operation_id = "get_webhook_delivery",
    tag = "webhook deliveries",
    params(JobIdPath),
    responses(
        (status = 200, description = "The delivery and its attempts.", body = DeliveryAttempts),
        (status = 400, description = "The id is not a UUID.", body = ErrorBody),
        (status = 404, description = "No such delivery (or another app's).", body = ErrorBody),
    )
)]
async fn show(
    State(state): State<ApiState>,
    caller: Caller,
    JobIdPath(id): JobIdPath,
) -> Result<Json<DeliveryAttempts>, ApiError> {
    let store = state.producer().store();
    let record = match store.job(&id).await? {
        Some(record) if record.kind == Delivery::KIND && caller.sees(record.app.as_ref()) => record,
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
    Ok(Json(DeliveryAttempts {
        delivery: record,
        attempts,
    }))
}

/// Sends a delivery again.
///
/// A failed one goes back in the queue; a delivered one is sent again under the same
/// `webhook-id`.
#[utoipa::path(
    post,
    path = "/webhook-deliveries/{id}/resend",
    operation_id = "resend_webhook_delivery",
    tag = "webhook deliveries",
    params(JobIdPath),
    responses(
        (status = 202, description = "Queued; follow `status_url`.", body = JobLink),
        (status = 400, description = "The id is not a UUID.", body = ErrorBody),
        (status = 404, description = "No such delivery (or another app's).", body = ErrorBody),
        (status = 409, description = "The delivery is still on its way.", body = ErrorBody),
    )
)]
async fn resend(
    State(state): State<ApiState>,
    caller: Caller,
    JobIdPath(id): JobIdPath,
) -> Result<Response, ApiError> {
    match replay::resend(state.producer().store(), &id, caller.only_app()).await {
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

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = WebhookRecovery)]
struct RecoverBody {
    /// Failed deliveries of the endpoint since then (RFC 3339) go back in the queue.
    since: DateTime<Utc>,
}

/// Queues again the failed deliveries of an endpoint since a time.
///
/// For when its receiver is fixed: every delivery to it that failed for good at or after
/// `since` goes back in the queue.
#[utoipa::path(
    post,
    path = "/webhook-endpoints/{id}/recover",
    operation_id = "recover_webhook_endpoint",
    tag = "webhook deliveries",
    params(("id" = String, Path, description = "The endpoint's id.")),
    request_body = RecoverBody,
    responses(
        (status = 202, description = "How many deliveries were queued again.", body = Requeued),
        (status = 422, description = "`since` is missing or not an RFC 3339 time.", body = ErrorBody),
    )
)]
async fn recover(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(endpoint): ApiPath<String>,
    JsonBody(body): JsonBody<RecoverBody>,
) -> Result<Response, ApiError> {
    let requeued = replay::recover(
        state.producer().store(),
        &endpoint,
        caller.only_app(),
        body.since,
    )
    .await?;
    tracing::info!(%endpoint, requeued, since = %body.since, "failed webhook deliveries recovered by an operator");
    Ok((StatusCode::ACCEPTED, Json(Requeued { requeued })).into_response())
}
