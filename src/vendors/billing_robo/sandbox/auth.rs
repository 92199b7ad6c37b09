//! The credentials, which travel in the JSON body (`user_id`, `access_key`), so every
//! handler checks them once it has the body.
//!
//! | what | answer |
//! |---|---|
//! | the source IP switch is on | `401`, code 13 |
//! | `user_id` missing, not メール形式, over 100 characters, or not the configured one | `401`, code 11 |
//! | `access_key` missing, not 半角英数, over 100 characters, or not the configured one | `401`, code 12 |
//!
//! Without configured credentials any well-formed pair passes, so a demo runs without
//! secrets but a client that forgot them still gets its 401. The configured ones are
//! compared in constant time.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value};
use subtle::ConstantTimeEq;

use super::errors::vendor_error;
use super::state::Shared;
use crate::vendors::billing_robo::types::{common, is_email, is_half_width_alnum};

const MAX_CREDENTIAL: usize = 100;

/// The `401` to answer when the body's credentials are not accepted; `None` when they are.
pub fn refusal_of(shared: &Shared, body: &Map<String, Value>) -> Option<Response> {
    let (code, message) = check(shared, body)?;
    shared.lock().effects.unauthorized += 1;
    Some(vendor_error(StatusCode::UNAUTHORIZED, code, message))
}

fn check(shared: &Shared, body: &Map<String, Value>) -> Option<(u32, &'static str)> {
    if shared.lock().switches.source_ip_refused {
        return Some((common::INVALID_SOURCE_IP, "Invalid source IP address."));
    }
    let text = |key: &str| body.get(key).and_then(Value::as_str).unwrap_or_default();
    let matches = |given: &str, expected: &Option<String>| match expected {
        None => true,
        Some(expected) => bool::from(given.as_bytes().ct_eq(expected.as_bytes())),
    };
    let user_id = text("user_id");
    if user_id.len() > MAX_CREDENTIAL
        || !is_email(user_id)
        || !matches(user_id, &shared.config.user_id)
    {
        return Some((common::INVALID_USER_ID, "Invalid 'user_id'."));
    }
    let access_key = text("access_key");
    if access_key.is_empty()
        || access_key.len() > MAX_CREDENTIAL
        || !is_half_width_alnum(access_key)
        || !matches(access_key, &shared.config.access_key)
    {
        return Some((common::INVALID_ACCESS_KEY, "Invalid 'access_key'."));
    }
    None
}

/// The envelope every answer starts with: the vendor echoes both credentials (seed 002's
/// example does), and so does the sandbox, so that a client that forgets to redact them
/// is caught.
pub fn echo(body: &Map<String, Value>) -> Map<String, Value> {
    let mut answer = Map::new();
    for key in ["user_id", "access_key"] {
        answer.insert(key.into(), body.get(key).cloned().unwrap_or(Value::Null));
    }
    answer
}
