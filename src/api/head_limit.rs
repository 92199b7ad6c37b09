//! `431 headers_too_large`, in the API's JSON shape.
//!
//! hyper answers a head it cannot hold with a bare 431 and closes the connection, before
//! any handler or middleware could shape the answer. So hyper is given a much larger cap
//! (`serve/mod.rs`), and the limit callers meet is this middleware's: a request line and
//! headers past `api.max_header_bytes`, or more than [`MAX_HEADER_COUNT`] headers, get a
//! 431 like every other refusal, and the connection closes (the client may be sending
//! more). Only heads past hyper's cap still get hyper's bare 431.
//!
//! The size counted is what the head takes on the wire, near enough: method, target,
//! and `name: value\r\n` for each header.

use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::ApiState;
use super::error::ApiError;

/// The most headers a request may carry (hyper's default, as before this limit existed).
pub const MAX_HEADER_COUNT: usize = 100;

/// Middleware over the whole router: refuses oversized heads before anything else.
pub async fn limit_head(State(state): State<ApiState>, request: Request, next: Next) -> Response {
    let limit = state.max_header_bytes();
    let headers = request.headers();
    let size = request.method().as_str().len()
        + request.uri().to_string().len()
        + headers
            .iter()
            .map(|(name, value)| name.as_str().len() + value.len() + 4)
            .sum::<usize>();
    if size > limit || headers.len() > MAX_HEADER_COUNT {
        let mut response = ApiError::HeadersTooLarge {
            limit,
            count: MAX_HEADER_COUNT,
        }
        .into_response();
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        return response;
    }
    next.run(request).await
}
