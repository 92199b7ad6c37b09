//! The operator's endpoints, not the vendor's (no auth: the sandbox is local only).
//!
//! - `GET /_admin/effects`: what the sandbox did ([`Effects`]).
//! - `GET /_admin/faults`, `PUT /_admin/faults`: the faults in force ([`Faults`], JSON;
//!   fields left out take their defaults, so `{}` turns every fault off).
//! - `POST /_admin/reset`: forget every contract and key, zero the effects, restore the
//!   configured faults.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::faults::Faults;
use super::state::{Effects, Shared};

pub async fn effects(State(shared): State<Arc<Shared>>) -> Json<Effects> {
    Json(shared.effects())
}

pub async fn get_faults(State(shared): State<Arc<Shared>>) -> Json<Faults> {
    Json(shared.lock().faults.clone())
}

pub async fn put_faults(
    State(shared): State<Arc<Shared>>,
    faults: Result<Json<Faults>, JsonRejection>,
) -> Response {
    let faults = match faults {
        Ok(Json(faults)) => faults,
        Err(rejection) => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({ "error": rejection.body_text() })),
            )
                .into_response();
        }
    };
    if let Err(error) = faults.validate() {
        return (StatusCode::BAD_REQUEST, Json(json!({ "error": error }))).into_response();
    }
    shared.lock().faults = faults.clone();
    Json(faults).into_response()
}

pub async fn reset(State(shared): State<Arc<Shared>>) -> StatusCode {
    shared.reset();
    StatusCode::NO_CONTENT
}
