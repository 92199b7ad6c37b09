//! The producer HTTP API (axum): upstream apps hand over work and read what became of it.
//!
//! A request that enqueues is answered `202 Accepted` as soon as its jobs are stored in
//! Redis; the vendor is called later, by the workers. Nothing here talks to a vendor.
//!
//! ## Routes
//!
//! | Route                                                     | File                 |
//! |-----------------------------------------------------------|----------------------|
//! | `GET /healthz`, `GET /readyz`                             | `routes/health.rs`   |
//! | `GET /metrics`                                            | `routes/metrics.rs`  |
//! | `GET /openapi.json`                                       | `routes/openapi.rs`  |
//! | `/v1/<vendor>/...`: each vendor's work to enqueue          | `vendors/<vendor>/api.rs` |
//! | `GET /v1/jobs`, `GET /v1/jobs/{id}`                       | `routes/jobs.rs`     |
//! | `GET`/`DELETE /v1/dead`, `POST /v1/dead/retry`            | `routes/dead.rs`     |
//! | `GET`/`DELETE /v1/dead/{id}`, `POST /v1/dead/{id}/retry`  | `routes/dead.rs`     |
//! | `GET /v1/schedules`                                       | `routes/schedules.rs` |
//! | `/v1/webhook-endpoints[/{id}[/secret/rotate]]`            | `routes/webhook_endpoints.rs` |
//! | `/v1/webhook-deliveries[/{id}[/resend]]`, `/v1/webhook-endpoints/{id}/recover` | `routes/webhook_deliveries.rs` |
//!
//! `/v1/*` needs `Authorization: Bearer <token>` (`auth.rs`); the other four are open.
//!
//! Proteger's routes are a vendor's: `router` does not name them, it takes each vendor's
//! routes as an argument (`startup.rs` passes them) and mounts them under `/v1` like the
//! rest. Every route, vendors' included, is in the OpenAPI document at `/openapi.json`
//! (`openapi.rs`).
//!
//! ## What a request goes through, outside in
//!
//! 0. the server (`serve/`): connections past `api.max_connections` wait to be accepted; a
//!    head not complete `api.header_read_timeout_secs` (10 s) after its first byte, and a
//!    connection idle `api.idle_timeout_secs` (60 s), are closed.
//! 1. `observe.rs`: a tracing span and the `underwrite_http_requests_total` counter.
//! 2. `head_limit.rs`: 431 past `api.max_header_bytes` (16 KiB) or 100 headers; then the
//!    body limit (`api.body_limit_bytes`, default 256 KiB; 413 past it) and the body
//!    timeout (`api.body_timeout_secs`, 30 s from when reading begins; 408 past it).
//! 3. for `/v1/*`, `auth.rs`: 401 unless the bearer token is one of ours; the request then
//!    knows its caller, an app or the operator, and handlers show an app its own records
//!    only (another app's answer 404, as if they did not exist).
//! 4. the extractors (`extract.rs`, `idempotency.rs`): 415 if the body is not declared
//!    JSON, 400 if it is not JSON or a header is malformed, 422 if a value is wrong.
//! 5. the handler, which calls the [`Producer`] or the queue's `Store`.
//!
//! Every refusal on the way has one shape, `{"error": {"code", "message", "fields"}}`
//! (`error.rs`), including the router's own 404 and 405. A refused request enqueues
//! nothing: validation finishes before the producer is called, and the producer's enqueue
//! is all or nothing.
//!
//! ## Files
//!
//! - `serve/`: the HTTP server and its limits against slow clients (`timed_io.rs`).
//! - `head_limit.rs`: 431 in our shape.
//! - `error.rs`: the error shape and the status of each error.
//! - `extract.rs`: JSON body, path and query extractors that answer in that shape.
//! - `auth.rs`: bearer tokens, compared in constant time; the caller's role (an app, or the
//!   operator) and the extractors that demand one.
//! - `idempotency.rs`: the `Idempotency-Key` header.
//! - `scope_key.rs`: the deployment's secret that idempotency scopes are keyed with.
//! - `submission.rs`: `reference` and `metadata`, beside any payload.
//! - `accepted.rs`: the 202 answer.
//! - `observe.rs`: tracing and metrics per request.
//! - `openapi.rs`: the OpenAPI document, from the routes.
//! - `routes/`: one file per resource.

pub mod accepted;
pub mod auth;
pub mod bulk;
pub mod error;
pub mod extract;
pub mod head_limit;
pub mod idempotency;
pub mod observe;
pub mod openapi;
pub mod routes;
pub mod scope_key;
pub mod serve;
pub mod submission;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::{Extension, Router, middleware};
use utoipa_axum::router::OpenApiRouter;

use self::auth::Tokens;
use self::error::ApiError;
use crate::config::Settings;
use crate::producer::Producer;
use crate::webhooks::endpoints::RotationLimit;
use crate::webhooks::ssrf::SsrfPolicy;

/// What every handler can reach. Cheap to clone (one `Arc`).
#[derive(Debug, Clone)]
pub struct ApiState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    producer: Producer,
    tokens: Tokens,
    body_limit: usize,
    /// How long a body may take to arrive (`api.body_timeout_secs`).
    body_timeout: Duration,
    /// The largest request head answered (`api.max_header_bytes`).
    max_header_bytes: usize,
    /// How long a rotated-out webhook secret keeps signing.
    rotation_grace: Duration,
    /// How often an endpoint's secret may be rotated.
    rotation_limit: RotationLimit,
    /// What webhook endpoint URLs may reach, judged when they are written.
    ssrf: SsrfPolicy,
    /// The job kinds there are (the vendors' and the deliveries'): what `?kind=` may be.
    kinds: Vec<&'static str>,
}

impl ApiState {
    /// The API's state from the producer it enqueues with and the settings it reads:
    /// `api.body_limit_bytes`, the tokens of `secrets.api_tokens` and
    /// `secrets.operator_tokens` (the idempotency
    /// window is the producer's own) and the SSRF policy of `webhooks.allow_cidrs` and
    /// `webhooks.https_only`; `kinds`: every job kind (`Vendors::job_kinds`).
    pub fn new(producer: Producer, settings: &Settings, kinds: Vec<&'static str>) -> Self {
        Self {
            inner: Arc::new(Inner {
                producer,
                tokens: Tokens::new(
                    &settings.secrets.api_tokens,
                    &settings.secrets.operator_tokens,
                ),
                body_limit: settings.api.body_limit_bytes,
                body_timeout: Duration::from_secs(settings.api.body_timeout_secs),
                max_header_bytes: settings.api.max_header_bytes,
                rotation_grace: Duration::from_secs(settings.webhooks.rotation_grace_secs),
                rotation_limit: RotationLimit {
                    limit: settings.webhooks.rotation_limit,
                    window: Duration::from_secs(settings.webhooks.rotation_limit_window_secs),
                },
                ssrf: ssrf_policy(settings),
                kinds,
            }),
        }
    }

    /// The job kinds there are, for `?kind=` filters.
    pub fn kinds(&self) -> &[&'static str] {
        &self.inner.kinds
    }

    pub fn producer(&self) -> &Producer {
        &self.inner.producer
    }

    pub(crate) fn tokens(&self) -> &Tokens {
        &self.inner.tokens
    }

    pub fn body_limit(&self) -> usize {
        self.inner.body_limit
    }

    /// `api.body_timeout_secs`.
    pub fn body_timeout(&self) -> Duration {
        self.inner.body_timeout
    }

    /// `api.max_header_bytes`.
    pub fn max_header_bytes(&self) -> usize {
        self.inner.max_header_bytes
    }

    /// `webhooks.rotation_grace_secs`.
    pub fn rotation_grace(&self) -> Duration {
        self.inner.rotation_grace
    }

    /// `webhooks.rotation_limit` per `webhooks.rotation_limit_window_secs`.
    pub fn rotation_limit(&self) -> RotationLimit {
        self.inner.rotation_limit
    }

    /// What webhook endpoint URLs may reach (`webhooks.allow_cidrs`, `webhooks.https_only`).
    pub fn ssrf_policy(&self) -> &SsrfPolicy {
        &self.inner.ssrf
    }
}

/// The SSRF policy of the settings. A bad `webhooks.allow_cidrs` entry stops the workers from
/// starting; an API-only process logs it and judges without the allowlist, refusing what
/// it would have admitted rather than admitting what it should refuse.
fn ssrf_policy(settings: &Settings) -> SsrfPolicy {
    SsrfPolicy::from_settings(&settings.webhooks).unwrap_or_else(|error| {
        tracing::error!(%error, "webhook endpoint URLs are judged without webhooks.allow_cidrs");
        SsrfPolicy {
            allow: Vec::new(),
            https_only: settings.webhooks.https_only,
        }
    })
}

/// The whole API, ready for `serve::serve`: the routes of `routes/`, those of each vendor
/// (`vendor_routes`, nested under `/v1` like the rest), and the document of them all at
/// `/openapi.json`.
pub fn router(state: ApiState, vendor_routes: Vec<OpenApiRouter<ApiState>>) -> Router {
    let v1 = vendor_routes.into_iter().fold(
        OpenApiRouter::new()
            .merge(routes::jobs::routes())
            .merge(routes::dead::routes())
            .merge(routes::schedules::routes())
            .merge(routes::webhook_endpoints::routes())
            .merge(routes::webhook_deliveries::routes()),
        OpenApiRouter::merge,
    );
    let open = OpenApiRouter::new()
        .merge(routes::health::routes())
        .merge(routes::metrics::routes())
        .merge(routes::openapi::routes());
    // From here on the routes are complete: what follows adds fallbacks and layers only.
    let (v1, v1_document) = v1.split_for_parts();
    let (open, open_document) = open.split_for_parts();
    let document = openapi::document(open_document, v1_document);

    let v1 = v1
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(not_found)
        // `layer`, not `route_layer`: unknown paths under /v1 are refused without a token
        // too, so the set of routes cannot be probed anonymously.
        .layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_bearer,
        ));
    open.method_not_allowed_fallback(method_not_allowed)
        .nest("/v1", v1)
        .fallback(not_found)
        .layer(Extension(routes::openapi::Served::new(&document)))
        .layer(DefaultBodyLimit::max(state.body_limit()))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            head_limit::limit_head,
        ))
        .layer(middleware::from_fn(observe::observe))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::NotFound("there is no route at this path".into())
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
