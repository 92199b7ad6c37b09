//! The one error shape of the API, and how every failure becomes it.
//!
//! Whatever refuses a request (a handler, an extractor, the auth layer, the router's own
//! 404 and 405, the body limit and timeout, the head limit), the caller gets the same body
//! (only heads past hyper's own cap get hyper's bare 431, see `serve/mod.rs`):
//!
//! ```json
//! {"error": {"code": "validation_failed",
//!            "message": "2 fields are invalid",
//!            "fields": [{"field": "contracts[3].customer.email", "reason": "must be an e-mail address"}]}}
//! ```
//!
//! - `code` is for programs and never changes meaning; `message` is for people.
//! - `fields` lists *every* wrong field that could be found, not just the first, so a caller
//!   fixes a request in one round trip. It is empty when the error is not about fields; an
//!   empty `field` means the body as a whole.
//! - Nothing internal leaks: a Redis error becomes `503 unavailable` (Redis is away),
//!   `503 store_full` (Redis is full: `maxmemory` under `noeviction`; `Retry-After: 30`,
//!   logged at most once a minute, counted in `underwrite_store_full_refusals_total`) or
//!   `500 internal` (anything else), and the details go to the log, once, here. Messages
//!   never repeat what the caller sent in a header.

use std::sync::atomic::{AtomicI64, Ordering};

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa::openapi::{Object, ObjectBuilder, Type};

use crate::producer::ProduceError;
use crate::queue::QueueError;
use crate::validation::FieldError;

/// Why a request was refused. Each variant is one HTTP status and one `code`.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the body is not JSON at all (the message carries serde's line and column).
    #[error("the body is not valid JSON: {0}")]
    MalformedJson(String),
    /// 400: a header, a path segment or the query string cannot be read.
    #[error("{message}")]
    BadRequest {
        message: String,
        fields: Vec<FieldError>,
    },
    /// 401, with `WWW-Authenticate: Bearer`.
    #[error("{0}")]
    Unauthorized(&'static str),
    /// 403: the caller's role may not do this (an app on an operator's route, the operator
    /// on an app's). Never for another app's record: that is a 404, as if it did not exist.
    #[error("{0}")]
    Forbidden(String),
    /// 404: no such job, or no such route.
    #[error("{0}")]
    NotFound(String),
    /// 405: the route exists, the method does not (axum adds the `Allow` header).
    #[error("this route does not accept this method")]
    MethodNotAllowed,
    /// 409: the request is valid but the resource is not in a state that allows it.
    #[error("{0}")]
    Conflict(String),
    /// 409: the vendor may have carried the job out, and retrying it would use a new
    /// idempotency key: check at the vendor, then retry with `vendor_checked=true`.
    #[error("{0}")]
    VendorCheckRequired(String),
    /// 408: the body did not arrive in full within `api.body_timeout_secs`; the connection
    /// is closed after the answer.
    #[error("the body did not arrive within {secs} s; nothing was done")]
    RequestTimeout { secs: u64 },
    /// 413: the body is larger than `api.body_limit_bytes`.
    #[error("the body is larger than the limit of {limit} bytes")]
    PayloadTooLarge { limit: usize },
    /// 431: the request line and headers are larger than `api.max_header_bytes`, or more
    /// than `count` headers.
    #[error(
        "the request line and headers are larger than {limit} bytes, or more than {count} headers"
    )]
    HeadersTooLarge { limit: usize, count: usize },
    /// 415: the body is not declared as JSON.
    #[error("the body must be JSON, sent with `Content-Type: application/json`")]
    UnsupportedMediaType,
    /// 422: well-formed JSON with values we refuse.
    #[error("{message}")]
    Invalid {
        message: String,
        fields: Vec<FieldError>,
    },
    /// 422: the `Idempotency-Key` answered another request before.
    #[error("the Idempotency-Key was already used with a different request")]
    IdempotencyKeyReused,
    /// 429, with `Retry-After`: done too often (a webhook secret rotated past its limit);
    /// nothing was done.
    #[error("{message}")]
    TooManyRequests {
        message: String,
        retry_after_secs: u64,
    },
    /// 503: Redis does not answer; nothing was done, the caller may retry.
    #[error("{0}")]
    Unavailable(&'static str),
    /// 503: Redis is full (`maxmemory` under `noeviction`) and refused the write; nothing
    /// was stored, the caller may retry once an operator made room.
    #[error("the job store is full and refused the write; nothing was stored, try again later")]
    StoreFull,
    /// 500: a bug or corrupt data; the details are in the log, not in the answer.
    #[error("internal error; the details are in the service's log")]
    Internal,
}

impl ApiError {
    /// A 422 for these field errors, with a message that summarises them.
    pub fn invalid(fields: Vec<FieldError>) -> Self {
        let message = match fields.as_slice() {
            [one] if one.field.is_empty() => format!("the body is invalid: {}", one.reason),
            [one] => format!("`{}` is invalid: {}", one.field, one.reason),
            many => format!("{} fields are invalid", many.len()),
        };
        Self::Invalid { message, fields }
    }

    /// A 400 about one named part of the request (a header, a path segment).
    pub fn bad_request(field: &str, reason: impl Into<String>) -> Self {
        let reason = reason.into();
        Self::BadRequest {
            message: format!("{field}: {reason}"),
            fields: vec![FieldError::new(field, reason)],
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::MalformedJson(_) | Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict(_) | Self::VendorCheckRequired(_) => StatusCode::CONFLICT,
            Self::RequestTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::HeadersTooLarge { .. } => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Invalid { .. } | Self::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(_) | Self::StoreFull => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Every [`ApiError::code`], for the document.
    pub const CODES: [&'static str; 18] = [
        "malformed_json",
        "bad_request",
        "unauthorized",
        "forbidden",
        "not_found",
        "method_not_allowed",
        "conflict",
        "vendor_check_required",
        "request_timeout",
        "payload_too_large",
        "headers_too_large",
        "unsupported_media_type",
        "validation_failed",
        "idempotency_key_reused",
        "too_many_requests",
        "unavailable",
        "store_full",
        "internal",
    ];

    /// The stable, machine-readable name of the error.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MalformedJson(_) => "malformed_json",
            Self::BadRequest { .. } => "bad_request",
            Self::Unauthorized(_) => "unauthorized",
            Self::Forbidden(_) => "forbidden",
            Self::NotFound(_) => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::Conflict(_) => "conflict",
            Self::VendorCheckRequired(_) => "vendor_check_required",
            Self::RequestTimeout { .. } => "request_timeout",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::HeadersTooLarge { .. } => "headers_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::Invalid { .. } => "validation_failed",
            Self::IdempotencyKeyReused => "idempotency_key_reused",
            Self::TooManyRequests { .. } => "too_many_requests",
            Self::Unavailable(_) => "unavailable",
            Self::StoreFull => "store_full",
            Self::Internal => "internal",
        }
    }
}

/// Every refusal of the API, whatever its status.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody<'a> {
    error: ErrorObject<'a>,
}

/// What was refused, and why.
#[derive(Serialize, ToSchema)]
pub struct ErrorObject<'a> {
    #[schema(schema_with = code_schema)]
    code: &'static str,
    /// For people; its wording may change.
    message: String,
    /// Every wrong field found (empty when the error is not about fields).
    fields: &'a [FieldError],
}

/// `code` in the document: a string, one of [`ApiError::CODES`].
fn code_schema() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(ApiError::CODES))
        .description(Some(
            "Machine-readable, and never changes meaning; `message` is for people.",
        ))
        .build()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let fields = match &self {
            Self::BadRequest { fields, .. } | Self::Invalid { fields, .. } => fields.as_slice(),
            _ => &[],
        };
        let body = ErrorBody {
            error: ErrorObject {
                code: self.code(),
                message: self.to_string(),
                fields,
            },
        };
        let mut response = (self.status(), Json(body)).into_response();
        let headers = response.headers_mut();
        match self {
            Self::TooManyRequests {
                retry_after_secs, ..
            } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            }
            Self::Unauthorized(_) => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            // The rest of a late body may still be coming: the connection cannot be reused.
            Self::RequestTimeout { .. } => {
                headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            // Redis usually comes back within seconds; a hint keeps clients from hammering.
            Self::Unavailable(_) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            // Room is made by an operator (or the janitor), not in a second.
            Self::StoreFull => {
                headers.insert(
                    header::RETRY_AFTER,
                    HeaderValue::from_static(STORE_FULL_RETRY_AFTER),
                );
            }
            _ => {}
        }
        response
    }
}

/// `Retry-After` of a refusal because Redis is full, in seconds.
const STORE_FULL_RETRY_AFTER: &str = "30";
/// A full Redis is logged at most once per this many seconds: every request would
/// otherwise log it, and the first line says it all.
const STORE_FULL_LOG_EVERY_SECS: i64 = 60;
static STORE_FULL_LOGGED_AT: AtomicI64 = AtomicI64::new(0);

impl From<QueueError> for ApiError {
    fn from(error: QueueError) -> Self {
        if error.is_out_of_memory() {
            crate::metrics::STORE_FULL_REFUSALS.inc();
            let now = chrono::Utc::now().timestamp();
            let last = STORE_FULL_LOGGED_AT.load(Ordering::Relaxed);
            if now - last >= STORE_FULL_LOG_EVERY_SECS
                && STORE_FULL_LOGGED_AT
                    .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                    .is_ok()
            {
                tracing::error!(%error, "redis is full (maxmemory under noeviction): refusing writes with 503 until it has room; see underwrite_store_full_refusals_total for how many");
            }
            return Self::StoreFull;
        }
        if error.is_connection() {
            tracing::warn!(%error, "redis is unreachable; answering 503");
            return Self::Unavailable("the job store is unreachable; nothing was done, try again");
        }
        match error {
            QueueError::BadCursor => Self::invalid(vec![FieldError::new(
                "cursor",
                "is not a cursor this API handed out",
            )]),
            error => {
                tracing::error!(%error, "queue error; answering 500");
                Self::Internal
            }
        }
    }
}

impl From<ProduceError> for ApiError {
    fn from(error: ProduceError) -> Self {
        match error {
            ProduceError::KeyReused => Self::IdempotencyKeyReused,
            ProduceError::Queue(error) => error.into(),
            ProduceError::Encode(error) => {
                tracing::error!(%error, "cannot encode a validated payload; answering 500");
                Self::Internal
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_lists_every_code() {
        let one_of_each = [
            ApiError::MalformedJson(String::new()),
            ApiError::bad_request("x", "y"),
            ApiError::Unauthorized(""),
            ApiError::Forbidden(String::new()),
            ApiError::NotFound(String::new()),
            ApiError::MethodNotAllowed,
            ApiError::Conflict(String::new()),
            ApiError::VendorCheckRequired(String::new()),
            ApiError::RequestTimeout { secs: 1 },
            ApiError::PayloadTooLarge { limit: 1 },
            ApiError::HeadersTooLarge { limit: 1, count: 1 },
            ApiError::UnsupportedMediaType,
            ApiError::invalid(Vec::new()),
            ApiError::IdempotencyKeyReused,
            ApiError::TooManyRequests {
                message: String::new(),
                retry_after_secs: 1,
            },
            ApiError::Unavailable(""),
            ApiError::StoreFull,
            ApiError::Internal,
        ];
        let codes = one_of_each.map(|error| match error {
            // Exhaustive on purpose: a new variant stops this from compiling until it is
            // added above, and its code to `CODES`.
            ApiError::MalformedJson(_)
            | ApiError::BadRequest { .. }
            | ApiError::Unauthorized(_)
            | ApiError::Forbidden(_)
            | ApiError::NotFound(_)
            | ApiError::MethodNotAllowed
            | ApiError::Conflict(_)
            | ApiError::VendorCheckRequired(_)
            | ApiError::RequestTimeout { .. }
            | ApiError::PayloadTooLarge { .. }
            | ApiError::HeadersTooLarge { .. }
            | ApiError::UnsupportedMediaType
            | ApiError::Invalid { .. }
            | ApiError::IdempotencyKeyReused
            | ApiError::TooManyRequests { .. }
            | ApiError::Unavailable(_)
            | ApiError::StoreFull
            | ApiError::Internal => error.code(),
        });
        assert_eq!(codes, ApiError::CODES);
    }
}
