//! The sandbox's answers in Tulip's two documented envelopes (`state.rs`, [`Envelope`]).

use axum::Json;
use axum::body::{Body, Bytes};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::state::Envelope;
use crate::sandbox::DropConnection;
use crate::vendors::tulip::types::codes;

/// A fresh `execution_id`.
pub fn execution_id() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

/// A success: `field` (`contract` or `contracts`) in the envelope.
pub fn success(envelope: Envelope, field: &str, value: Value) -> Response {
    let body = match envelope {
        Envelope::Openapi => {
            json!({"status": "success", "execution_id": execution_id(), field: value})
        }
        Envelope::Guide => json!({"success": true, "data": value}),
    };
    (StatusCode::OK, Json(body)).into_response()
}

/// An error answer with Tulip's `code` and its message.
pub fn error(envelope: Envelope, status: u16, code: u32) -> Response {
    error_with(envelope, status, code, codes::message(code))
}

pub fn error_with(envelope: Envelope, status: u16, code: u32, message: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    let error = json!({"code": code, "message": message});
    let body = match envelope {
        Envelope::Openapi => json!({
            "execution_id": execution_id(),
            "status": "error",
            "type": "bad_request",
            "message": "bad request",
            "error": error,
        }),
        Envelope::Guide => json!({"success": false, "error": error}),
    };
    (status, Json(body)).into_response()
}

/// A gateway's 5xx page: not Tulip's JSON.
pub fn server_error(status: u16) -> Response {
    let status = StatusCode::from_u16(status)
        .ok()
        .filter(StatusCode::is_server_error)
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let page = format!("<html><body><h1>{status}</h1></body></html>");
    (status, [(header::CONTENT_TYPE, "text/html")], page).into_response()
}

/// A response the server never sends: it closes the connection instead.
pub fn dropped() -> Response {
    let body = Body::from_stream(futures::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::other(
            "connection dropped by fault injection",
        ))
    }));
    let mut response = Response::new(body);
    *response.status_mut() = StatusCode::BAD_GATEWAY;
    response.extensions_mut().insert(DropConnection);
    response
}
