//! One span and one counter per request: what an operator sees of the API.
//!
//! - a `tracing` span `http` with `method`, `route`, and, once answered, `status` and
//!   `latency_ms`, closed by one `answered` event (warn for 5xx, info otherwise);
//! - `underwrite_http_requests_total{route, status}` (see `metrics.rs`);
//! - the request's W3C `traceparent`, current while it is handled, so that the jobs it
//!   enqueues keep it (`trace_context.rs`); its trace id is in the span.
//!
//! `route` is the *template* (`/v1/jobs/{id}`), never the actual path: ids in a label would
//! make one time series per job, and paths nobody routes (scanners, typos) are all counted
//! as `unmatched`. Bodies and headers are never recorded: bodies hold customers' personal
//! data, headers hold bearer tokens.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;
use tracing::field::Empty;

use crate::metrics::HTTP_REQUESTS;
use crate::queue::trace_context;

/// The route label of requests that matched no route.
pub const UNMATCHED: &str = "unmatched";

/// Middleware, layered over the whole router (so it sees 401s, 404s and 413s too).
pub async fn observe(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or(UNMATCHED, MatchedPath::as_str)
        .to_string();
    let traceparent = trace_context::parse_header(
        request
            .headers()
            .get("traceparent")
            .and_then(|v| v.to_str().ok()),
    );
    let trace_id = traceparent.map(|t| t.trace_id());
    let span = tracing::info_span!(
        "http",
        method = %request.method(),
        route = %route,
        trace_id = trace_id.as_deref(),
        status = Empty,
        latency_ms = Empty,
    );
    let started = Instant::now();
    let response =
        trace_context::scope(traceparent, next.run(request).instrument(span.clone())).await;
    let status = response.status();
    span.record("status", status.as_u16());
    span.record("latency_ms", started.elapsed().as_secs_f64() * 1000.0);
    span.in_scope(|| {
        if status.is_server_error() {
            tracing::warn!("answered");
        } else {
            tracing::info!("answered");
        }
    });
    HTTP_REQUESTS
        .with_label_values(&[route.as_str(), status.as_str()])
        .inc();
    response
}
