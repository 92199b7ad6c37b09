//! The operator's endpoints, not the vendor's (no key: the sandbox is local only). Under
//! `/tulip/_admin/` in the combined sandbox:
//!
//! - `GET /_admin/effects`: what the sandbox did ([`Effects`]).
//! - `GET /_admin/counts?uid=&internal_id=`: `{"contracts": n}`, the contracts stored for
//!   that renter and/or carrying that `data.internal_id`: the proof that nothing was
//!   created twice.
//! - `GET /_admin/contracts`: every contract, as stored.
//! - `POST /_admin/contracts/{cid}/backdate` `{"hours": 5}`: moves a contract's dates into
//!   the past (to reach the termination window).
//! - `GET`, `PUT /_admin/switches`; `GET`, `PUT /_admin/faults` (`{"next": [...]}`).
//! - `POST /_admin/reset`: back to the configured start.
//!
//! [`Effects`]: super::Effects

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::contracts::backdate as backdate_contract;
use super::faults::Faults;
use super::state::{Effects, Shared, StoredContract, Switches};

pub async fn effects(State(shared): State<Arc<Shared>>) -> Json<Effects> {
    Json(shared.effects())
}

pub async fn counts(
    State(shared): State<Arc<Shared>>,
    Query(params): Query<HashMap<String, String>>,
) -> Json<Value> {
    let n = count(
        &shared,
        params.get("uid").map(String::as_str),
        params.get("internal_id").map(String::as_str),
    );
    Json(json!({ "contracts": n }))
}

/// The contracts stored for `uid` (any when `None`) that carry `internal_id` (any when
/// `None`).
pub fn count(shared: &Shared, uid: Option<&str>, internal_id: Option<&str>) -> usize {
    shared
        .lock()
        .contracts
        .iter()
        .filter(|c| uid.is_none_or(|uid| c.uid() == uid))
        .filter(|c| internal_id.is_none_or(|id| c.carries(id)))
        .count()
}

pub async fn contracts(State(shared): State<Arc<Shared>>) -> Json<Vec<StoredContract>> {
    Json(shared.lock().contracts.clone())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Backdate {
    hours: i64,
}

pub async fn backdate(
    State(shared): State<Arc<Shared>>,
    Path(cid): Path<String>,
    by: Result<Json<Backdate>, JsonRejection>,
) -> Response {
    let by = match body(by) {
        Ok(by) => by,
        Err(why) => return bad_body(why),
    };
    match backdate_contract(&shared, &cid, by.hours) {
        Some(contract) => Json(contract).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({"error": format!("no contract {cid}")})),
        )
            .into_response(),
    }
}

pub async fn get_switches(State(shared): State<Arc<Shared>>) -> Json<Switches> {
    Json(shared.lock().switches.clone())
}

pub async fn put_switches(
    State(shared): State<Arc<Shared>>,
    switches: Result<Json<Switches>, JsonRejection>,
) -> Response {
    match body(switches) {
        Ok(switches) => {
            shared.lock().switches = switches.clone();
            Json(switches).into_response()
        }
        Err(why) => bad_body(why),
    }
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
        return bad_body(error);
    }
    shared.lock().faults = faults.next.clone();
    Json(faults).into_response()
}

pub async fn reset(State(shared): State<Arc<Shared>>) -> StatusCode {
    shared.reset();
    StatusCode::NO_CONTENT
}

fn body<T: DeserializeOwned>(parsed: Result<Json<T>, JsonRejection>) -> Result<T, String> {
    parsed
        .map(|Json(value)| value)
        .map_err(|rejection| rejection.body_text())
}

fn bad_body(why: String) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": why }))).into_response()
}
