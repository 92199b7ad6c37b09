//! The `Idempotency-Key` header of the enqueueing POSTs.
//!
//! A caller that is not sure its request got through (a timeout, a dropped connection)
//! sends it again with the same key and gets the *same* job ids back instead of a second
//! set of jobs; the answer then carries `Idempotent-Replayed: true`. The same key with a
//! different body is refused (422 `idempotency_key_reused`): it is a bug in the caller, and
//! guessing which request it meant would be worse. Keys live `api.idempotency_secs`
//! (default 24 h).
//!
//! This file only reads the header. The guarantee itself, including two identical requests
//! racing, is the producer's: one atomic Redis step (see `producer.rs` and `enqueue.lua`).
//!
//! Keys are scoped by caller (a keyed hash of its app, see `scope_key.rs`): two upstream
//! apps that both pick the key `order-1` never collide, nor learn of each other's jobs;
//! the tokens of one app share its keys.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue};
use utoipa::IntoParams;
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::{ObjectBuilder, Type};

use super::ApiState;
use super::auth::Caller;
use super::error::ApiError;
use super::scope_key::ScopeKey;
use crate::producer::IdempotencyKey;

pub const KEY_HEADER: HeaderName = HeaderName::from_static("idempotency-key");
pub const REPLAYED_HEADER: HeaderName = HeaderName::from_static("idempotent-replayed");
pub const REPLAYED: HeaderValue = HeaderValue::from_static("true");

/// Longest key accepted (Stripe's limit, and more than a UUID needs).
pub const MAX_KEY_LEN: usize = 255;

/// The request's idempotency key, if it sent one, scoped to the caller.
#[derive(Debug)]
pub struct Idempotency(pub Option<IdempotencyKey>);

impl FromRequestParts<ApiState> for Idempotency {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, ApiError> {
        let mut values = parts.headers.get_all(KEY_HEADER).iter();
        let Some(value) = values.next() else {
            return Ok(Self(None));
        };
        if values.next().is_some() {
            return Err(refuse("send it once, not several times"));
        }
        let key = parse(value.as_bytes())?;
        let Some(caller) = parts.extensions.get::<Caller>() else {
            // Only routes behind `require_bearer` read this header; reaching here means the
            // router was assembled wrongly, not that the caller did something wrong.
            tracing::error!("Idempotency-Key read on a route without authentication");
            return Err(ApiError::Internal);
        };
        let scope_key = ScopeKey::load(state.producer().store()).await?;
        Ok(Self(Some(IdempotencyKey {
            scope: scope_key.scope(&caller.scope_identity()),
            key,
        })))
    }
}

/// For the document: the header, as [`parse`] accepts it.
impl IntoParams for Idempotency {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let key = ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(1))
            .max_length(Some(MAX_KEY_LEN))
            .pattern(Some("^[!-~]+$"));
        vec![
            ParameterBuilder::new()
                .name("Idempotency-Key")
                .parameter_in(ParameterIn::Header)
                .description(Some(
                    "Sent again with the same body, the same key answers the same jobs \
                     (with `Idempotent-Replayed: true`) instead of enqueueing new ones; with \
                     another body it is refused (422 `idempotency_key_reused`). Visible ASCII, \
                     kept `api.idempotency_secs` (24 h by default), scoped to the app (its tokens share keys).",
                ))
                .schema(Some(key))
                .build(),
        ]
    }
}

/// 1 to [`MAX_KEY_LEN`] visible ASCII characters: no spaces, no control characters, nothing
/// a log line or a Redis key name could misread.
fn parse(raw: &[u8]) -> Result<String, ApiError> {
    if raw.is_empty() || raw.len() > MAX_KEY_LEN {
        return Err(refuse(&format!(
            "must be 1 to {MAX_KEY_LEN} characters long"
        )));
    }
    if !raw.iter().all(|b| b.is_ascii_graphic()) {
        return Err(refuse(
            "must be visible ASCII characters only (no spaces or control characters)",
        ));
    }
    // All bytes are ASCII, so this cannot fail; no unwrap all the same.
    String::from_utf8(raw.to_vec()).map_err(|_| refuse("must be ASCII"))
}

/// A 400 naming the header; the key itself is never repeated back.
fn refuse(reason: &str) -> ApiError {
    ApiError::bad_request("Idempotency-Key", reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_visible_ascii_of_bounded_length() {
        assert_eq!(
            parse(b"order-1:2024/05").ok().as_deref(),
            Some("order-1:2024/05")
        );
        assert!(parse(&[b'k'; MAX_KEY_LEN]).is_ok());
        for bad in [
            &b""[..],
            &[b'k'; MAX_KEY_LEN + 1][..],
            b"with space",
            b"tab\there",
            "caf\u{e9}".as_bytes(),
        ] {
            assert!(parse(bad).is_err(), "{bad:?} must be refused");
        }
    }
}
