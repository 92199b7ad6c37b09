//! `GET /metrics`: every metric in Prometheus's text exposition format (no token needed,
//! as scrapers rarely carry one; nothing in it is secret). The metrics are defined in
//! `crate::metrics`.

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::IntoResponse;
use axum::routing::get;

use crate::api::ApiState;

/// The content type of the text format, version 0.0.4.
const TEXT_FORMAT: HeaderValue =
    HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8");

pub fn routes() -> Router<ApiState> {
    Router::new().route("/metrics", get(metrics))
}

async fn metrics() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, TEXT_FORMAT)],
        crate::metrics::render(),
    )
}
