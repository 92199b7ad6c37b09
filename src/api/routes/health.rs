//! Liveness and readiness, for orchestrators and load balancers (no token needed).
//!
//! - `GET /healthz`: the process is up and serving. Always 200: restarting a process
//!   because *Redis* is away would not bring Redis back.
//! - `GET /readyz`: this instance can take work now, i.e. Redis answers `PING` within
//!   [`PING_TIMEOUT`]. 503 otherwise, so a load balancer sends producers elsewhere
//!   meanwhile instead of letting them collect 503s one request at a time.

use std::time::Duration;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::api::ApiState;
use crate::api::error::ApiError;

/// How long `/readyz` waits for Redis: probes run often and must not pile up.
pub const PING_TIMEOUT: Duration = Duration::from_secs(2);

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

async fn readyz(State(state): State<ApiState>) -> Result<Json<Value>, ApiError> {
    match tokio::time::timeout(PING_TIMEOUT, state.producer().store().ping()).await {
        Ok(Ok(())) => Ok(Json(json!({ "status": "ready" }))),
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
