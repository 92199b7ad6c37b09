//! Liveness and readiness, for orchestrators and load balancers (no token needed).
//!
//! - `GET /healthz`: the process is up and serving. Always 200: restarting a process
//!   because *Redis* is away would not bring Redis back.
//! - `GET /readyz`: this instance can take work now, i.e. Redis answers `PING` within
//!   [`PING_TIMEOUT`]. 503 otherwise, so a load balancer sends producers elsewhere
//!   meanwhile instead of letting them collect 503s one request at a time.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::ApiState;
use crate::api::error::{ApiError, ErrorBody};

/// How long `/readyz` waits for Redis: probes run often and must not pile up.
pub const PING_TIMEOUT: Duration = Duration::from_secs(2);

pub fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
}

/// `{"status": "ok"}` from `/healthz`, `{"status": "ready"}` from `/readyz`.
#[derive(Serialize, ToSchema)]
#[schema(as = HealthStatus)]
pub struct Status {
    #[schema(example = "ok")]
    status: &'static str,
}

/// Liveness: the process is up and serving (whether Redis answers or not).
#[utoipa::path(
    get,
    path = "/healthz",
    operation_id = "healthz",
    tag = "operations",
    responses((status = 200, description = "The process serves.", body = Status))
)]
async fn healthz() -> Json<Status> {
    Json(Status { status: "ok" })
}

/// Readiness: Redis answers `PING` in time, so this instance can take work.
#[utoipa::path(
    get,
    path = "/readyz",
    operation_id = "readyz",
    tag = "operations",
    responses(
        (status = 200, description = "Ready: Redis answers.", body = Status),
        (status = 503, description = "Not ready: Redis does not answer.", body = ErrorBody),
    )
)]
async fn readyz(State(state): State<ApiState>) -> Result<Json<Status>, ApiError> {
    match tokio::time::timeout(PING_TIMEOUT, state.producer().store().ping()).await {
        Ok(Ok(())) => Ok(Json(Status { status: "ready" })),
        Ok(Err(error)) => {
            tracing::warn!(%error, "not ready: redis does not answer PING");
            Err(ApiError::Unavailable(
                "not ready: Redis does not answer PING",
            ))
        }
        Err(_) => {
            tracing::warn!(timeout = ?PING_TIMEOUT, "not ready: redis PING timed out");
            Err(ApiError::Unavailable(
                "not ready: Redis did not answer PING in time",
            ))
        }
    }
}
