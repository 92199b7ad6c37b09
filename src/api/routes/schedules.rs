//! Periodic jobs: what every schedule runs, and when it runs next.
//!
//! - `GET /v1/schedules`: `{"schedules": [...]}`, every schedule Redis knows, by name, each
//!   with its kind, interval and jitter, `next_run_at`, and its last run and job. The
//!   schedules are declared in code by the vendors (`Vendor::schedules`) and recorded by
//!   the workers' scheduler loops, so an API-only process lists them too.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::ApiState;
use crate::api::error::ApiError;
use crate::queue::ScheduleStatus;

pub fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new().routes(routes!(list))
}

/// Every schedule, by name.
#[derive(Debug, Serialize, ToSchema)]
pub struct Schedules {
    pub schedules: Vec<ScheduleStatus>,
}

/// Every periodic job's schedule, with when it runs next.
#[utoipa::path(
    get,
    path = "/schedules",
    operation_id = "list_schedules",
    tag = "schedules",
    responses(
        (status = 200, description = "Every schedule the workers declared, by name.", body = Schedules),
    )
)]
async fn list(State(state): State<ApiState>) -> Result<Json<Schedules>, ApiError> {
    let schedules = state.producer().store().schedules().await?;
    Ok(Json(Schedules { schedules }))
}
