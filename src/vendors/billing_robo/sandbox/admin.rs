//! The operator's endpoints, not the vendor's (no auth: the sandbox is local only). Under
//! `/billing-robo/_admin/` in the combined sandbox:
//!
//! - `GET /_admin/effects`: what the sandbox did ([`Effects`]): calls received, 429s
//!   sent, applications stored, decisions, ...
//! - `GET`, `PUT /_admin/switches`: maintenance, source IP refused, the まるなげ option,
//!   the answer order, how searches refuse ([`Switches`], JSON; fields left out take their
//!   defaults).
//! - `GET`, `PUT /_admin/faults`: the scripted faults (`{"next": [...]}`).
//! - `POST /_admin/customers`: adds (or replaces) a billing customer
//!   (`{"billing_code": "...", "phone_registered": true, "department_approved": true}`).
//! - `GET /_admin/applications`: every application, as stored.
//! - `POST /_admin/applications/{id}/approve`, `POST /_admin/applications/{id}/reject`:
//!   decides one pending application now (404 unknown, 409 already decided).
//! - `POST /_admin/reset`: back to the configured start.
//!
//! [`Effects`]: super::Effects
//! [`Switches`]: super::Switches

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde::de::DeserializeOwned;
use serde_json::json;

use super::decisions::{DecideError, decide, settle};
use super::faults::Faults;
use super::state::{Customer, Effects, Shared, StoredApplication, Switches};

pub async fn effects(State(shared): State<Arc<Shared>>) -> Json<Effects> {
    Json(shared.effects())
}

pub async fn get_switches(State(shared): State<Arc<Shared>>) -> Json<Switches> {
    Json(shared.lock().switches.clone())
}

pub async fn put_switches(
    State(shared): State<Arc<Shared>>,
    switches: Result<Json<Switches>, JsonRejection>,
) -> Response {
    let switches = match body(switches) {
        Ok(switches) => switches,
        Err(why) => return bad_body(why),
    };
    shared.lock().switches = switches.clone();
    Json(switches).into_response()
}

pub async fn get_faults(State(shared): State<Arc<Shared>>) -> Json<Faults> {
    Json(Faults {
        next: shared.lock().faults.clone(),
    })
}

pub async fn put_faults(
    State(shared): State<Arc<Shared>>,
    faults: Result<Json<Faults>, JsonRejection>,
) -> Response {
    let faults = match body(faults) {
        Ok(faults) => faults,
        Err(why) => return bad_body(why),
    };
    if let Err(error) = faults.validate() {
        return (StatusCode::BAD_REQUEST, Json(json!({ "error": error }))).into_response();
    }
    shared.lock().faults = faults.next.clone();
    Json(faults).into_response()
}

pub async fn add_customer(
    State(shared): State<Arc<Shared>>,
    customer: Result<Json<Customer>, JsonRejection>,
) -> Response {
    match body(customer) {
        Ok(customer) => {
            shared.lock().add_customer(customer);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(why) => bad_body(why),
    }
}

pub async fn applications(State(shared): State<Arc<Shared>>) -> Json<Vec<StoredApplication>> {
    let mut inner = shared.lock();
    settle(&mut inner, shared.config.version, Utc::now());
    Json(inner.applications.clone())
}

pub async fn approve(State(shared): State<Arc<Shared>>, Path(id): Path<u64>) -> Response {
    decided(&shared, id, true)
}

pub async fn reject(State(shared): State<Arc<Shared>>, Path(id): Path<u64>) -> Response {
    decided(&shared, id, false)
}

fn decided(shared: &Shared, id: u64, approve: bool) -> Response {
    let now = Utc::now();
    let mut inner = shared.lock();
    let version = shared.config.version;
    settle(&mut inner, version, now);
    match decide(&mut inner, version, id, approve, now) {
        Ok(application) => Json(application).into_response(),
        Err(DecideError::NotFound) => (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": format!("no application {id}") })),
        )
            .into_response(),
        Err(DecideError::AlreadyDecided(status)) => (
            StatusCode::CONFLICT,
            Json(json!({
                "error": format!("application {id} is already decided"),
                "status": i64::from(status),
            })),
        )
            .into_response(),
    }
}

pub async fn reset(State(shared): State<Arc<Shared>>) -> StatusCode {
    shared.reset();
    StatusCode::NO_CONTENT
}

/// The admin's JSON body, or why not (answer it with [`bad_body`]).
fn body<T: DeserializeOwned>(parsed: Result<Json<T>, JsonRejection>) -> Result<T, String> {
    parsed
        .map(|Json(value)| value)
        .map_err(|rejection| rejection.body_text())
}

fn bad_body(why: String) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": why }))).into_response()
}
