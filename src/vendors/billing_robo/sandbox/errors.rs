//! The vendor's answers to a request that failed as a whole.
//!
//! `index.md` documents `{"error":{"code":N,"message":"..."}}` with `400`, `401` for bad
//! credentials or source IP, `503` for maintenance, and `429` and `413` besides, and warns
//! that some failures come without that body (rate limiting, unknown URIs, internal
//! errors). The messages are the sandbox's own (only `Invalid 'user_id'.` is the
//! vendor's example).

use axum::Json;
use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::sandbox::DropConnection;
use crate::vendors::billing_robo::types::common;

/// `{"error":{"code":code,"message":message}}` with `status`.
pub fn vendor_error(status: StatusCode, code: u32, message: &str) -> Response {
    (
        status,
        Json(json!({ "error": { "code": code, "message": message } })),
    )
        .into_response()
}

/// A body that is not a JSON object. Which code the vendor answers is **unknown**; 1
/// (内部エラー) is its catch-all.
pub fn unreadable_body(why: &str) -> Response {
    vendor_error(
        StatusCode::BAD_REQUEST,
        common::INTERNAL,
        &format!("Invalid request body: {why}"),
    )
}

/// Parses the body as the JSON object every call takes; `Err` says why not (answer it
/// with [`unreadable_body`]).
pub fn parse_body(body: &Bytes) -> Result<Map<String, Value>, String> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err("not a JSON object".into()),
        Err(e) => Err(e.to_string()),
    }
}

pub fn maintenance(retry_after_secs: Option<u64>) -> Response {
    let mut response = vendor_error(
        StatusCode::SERVICE_UNAVAILABLE,
        common::MAINTENANCE,
        "メンテナンス中",
    );
    if let Some(secs) = retry_after_secs {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

/// A `429` as a front end would send it: plain text, no JSON error.
pub fn rate_limited(retry_after_secs: Option<u64>) -> Response {
    let mut response = (
        StatusCode::TOO_MANY_REQUESTS,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "Too Many Requests",
    )
        .into_response();
    if let Some(secs) = retry_after_secs {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

/// An injected 5xx: an HTML page, as a server or gateway in trouble sends it.
pub fn server_error(status: u16) -> Response {
    let status = StatusCode::from_u16(status)
        .ok()
        .filter(StatusCode::is_server_error)
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let reason = status.canonical_reason().unwrap_or("Error");
    let page = format!(
        "<html><head><title>{code} {reason}</title></head><body><h1>{code} {reason}</h1></body></html>",
        code = status.as_u16()
    );
    (status, [(header::CONTENT_TYPE, "text/html")], page).into_response()
}

/// A `200` whose body is JSON but not the call's shape (a release that changed it),
/// still echoing the request's credentials (`echo`), as every answer of the vendor does:
/// the client must not keep them in the error it makes of it.
pub fn garbled(echo: Map<String, Value>) -> Response {
    let mut body = echo;
    body.insert("result".into(), json!("the answer moved"));
    body.insert("version".into(), json!(2));
    (StatusCode::OK, Json(Value::Object(body))).into_response()
}

/// A connection closed without an answer: the sandbox server honours the
/// [`DropConnection`] mark; served by anything else, the body fails at once.
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
