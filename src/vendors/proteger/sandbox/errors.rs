//! The vendor's error answers, in the one shape the seeds document:
//! `{"requestId": "<32 chars>", "code": "BadRequestException", "error": "..."}`.
//!
//! Only `BadRequestException` (400) is documented. The other codes are our guesses, named
//! the same way (`NotFoundException`, `UnauthorizedException`, ...).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use rand::distr::{Alphanumeric, SampleString};

use crate::validation::FieldError;
use crate::vendors::proteger::types::VendorErrorBody;

/// Put on a response that was refused *before* anything executed (malformed body, failed
/// validation): the idempotency layer then forgets the key instead of storing the answer,
/// as the vendor documents, so the caller may fix the body and reuse the key.
#[derive(Debug, Clone, Copy)]
pub struct NotExecuted;

/// A 32-character request id, like the vendor's.
pub fn request_id() -> String {
    Alphanumeric.sample_string(&mut rand::rng(), 32)
}

/// An error answer in the vendor's shape.
pub fn vendor_error(status: StatusCode, code: &str, error: impl Into<String>) -> Response {
    let body = VendorErrorBody {
        request_id: request_id(),
        code: code.to_string(),
        error: error.into(),
    };
    (status, Json(body)).into_response()
}

pub fn bad_request(error: impl Into<String>) -> Response {
    vendor_error(StatusCode::BAD_REQUEST, "BadRequestException", error)
}

pub fn not_found(error: impl Into<String>) -> Response {
    vendor_error(StatusCode::NOT_FOUND, "NotFoundException", error)
}

/// A refusal before execution: a 400 that the idempotency layer does not store.
pub fn refused_before_executing(error: impl Into<String>) -> Response {
    let mut response = bad_request(error);
    response.extensions_mut().insert(NotExecuted);
    response
}

/// Field errors as one line, the way a vendor that only has an `error` string would say it.
pub fn invalid_fields(operation: &str, errors: &[FieldError]) -> Response {
    let fields: Vec<String> = errors
        .iter()
        .map(|e| format!("{}: {}", e.field, e.reason))
        .collect();
    refused_before_executing(format!(
        "{operation}: invalid request: {}",
        fields.join("; ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_look_like_the_vendors() {
        let id = request_id();
        assert_eq!(id.len(), 32);
        assert!(id.chars().all(|c| c.is_ascii_alphanumeric()));
    }
}
