//! The outer layers of every API request: counting and the rate limit (outermost: the
//! vendor counts per source IP before anything else), then maintenance (inside the fault
//! layer: a maintenance page is the vendor's answer, not the network's).

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

use super::errors;
use super::state::Shared;

/// Counts the request, then answers `429` if the limiter (`rate.rs`) refuses it.
pub async fn front(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let refused = {
        let mut inner = shared.lock();
        inner.effects.requests_seen += 1;
        let refused = inner.limiter.arrive(Instant::now());
        if refused {
            inner.effects.rate_limited += 1;
        }
        refused
    };
    if refused {
        return errors::rate_limited(shared.config.rate_limit.retry_after_secs);
    }
    next.run(request).await
}

/// `503` with code 19 while the maintenance switch is on.
pub async fn maintenance(
    State(shared): State<Arc<Shared>>,
    request: Request,
    next: Next,
) -> Response {
    let maintenance = {
        let mut inner = shared.lock();
        let on = inner.switches.maintenance;
        if on {
            inner.effects.maintenance_refusals += 1;
        }
        on.then_some(inner.switches.maintenance_retry_after_secs)
    };
    match maintenance {
        Some(retry_after) => errors::maintenance(retry_after),
        None => next.run(request).await,
    }
}
