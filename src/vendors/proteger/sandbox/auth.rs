//! Authentication and request counting, the outermost layers of the API routes.
//!
//! The key travels in `X-Proteger-Auth-Token`; some of the vendor's examples spell it
//! `X-Proteger-Access-Token`, so both are accepted. With a token configured it must match
//! exactly (compared in constant time); without one, any non-empty token passes, so a demo
//! runs without secrets but a client that forgot the header still gets its 401.
//!
//! A 401 is answered before the idempotency layer, so it is never stored: the same key
//! with the right token then executes.
//!
//! Which of the two names a request authenticated by is counted in the effects report
//! (`Effects::authenticated_by_*`), so that a test can hold our client to the documented
//! one.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;
use subtle::ConstantTimeEq;

use super::errors::vendor_error;
use super::state::Shared;

pub const AUTH_HEADERS: [&str; 2] = ["x-proteger-auth-token", "x-proteger-access-token"];

pub async fn require_token(
    State(shared): State<Arc<Shared>>,
    request: Request,
    next: Next,
) -> Response {
    let presented = AUTH_HEADERS
        .iter()
        .find_map(|name| request.headers().get(*name).map(|value| (*name, value)))
        .map(|(name, value)| (name, value.as_bytes()))
        .filter(|(_, token)| !token.is_empty());
    let accepted = match (presented, shared.config.token.as_deref()) {
        (None, _) => None,
        (Some((name, _)), None) => Some(name),
        (Some((name, presented)), Some(expected)) => {
            bool::from(presented.ct_eq(expected.as_bytes())).then_some(name)
        }
    };
    let Some(name) = accepted else {
        return vendor_error(
            StatusCode::UNAUTHORIZED,
            "UnauthorizedException",
            "unauthorized",
        );
    };
    {
        let effects = &mut shared.lock().effects;
        if name == AUTH_HEADERS[0] {
            effects.authenticated_by_auth_token += 1;
        } else {
            effects.authenticated_by_access_token += 1;
        }
    }
    next.run(request).await
}

/// Counts every API request in the effects report, before anything can refuse it.
pub async fn count(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    shared.lock().effects.requests_seen += 1;
    next.run(request).await
}
