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
//! | `/v1/<vendor>/...`: each vendor's work to enqueue          | `vendors/<vendor>/api.rs` |
//! | `GET /v1/jobs`, `GET /v1/jobs/{id}`                       | `routes/jobs.rs`     |
//! | `GET`/`DELETE /v1/dead`, `POST /v1/dead/retry`            | `routes/dead.rs`     |
//! | `GET`/`DELETE /v1/dead/{id}`, `POST /v1/dead/{id}/retry`  | `routes/dead.rs`     |
//! | `/v1/webhook-endpoints[/{id}[/secret/rotate]]`            | `routes/webhook_endpoints.rs` |
//! | `/v1/webhook-deliveries[/{id}[/resend]]`, `/v1/webhook-endpoints/{id}/recover` | `routes/webhook_deliveries.rs` |
//!
//! `/v1/*` needs `Authorization: Bearer <token>` (`auth.rs`); the other three are open.
//!
//! ## What a request goes through, outside in
//!
//! 1. `observe.rs`: a tracing span and the `underwrite_http_requests_total` counter.
//! 2. the body limit (`api.body_limit_bytes`, default 256 KiB; 413 past it).
//! 3. for `/v1/*`, `auth.rs`: 401 unless the bearer token is one of ours.
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
//! - `error.rs`: the error shape and the status of each error.
//! - `extract.rs`: JSON body, path and query extractors that answer in that shape.
//! - `auth.rs`: bearer tokens, compared in constant time.
//! - `idempotency.rs`: the `Idempotency-Key` header.
//! - `submission.rs`: `reference` and `metadata`, beside any payload.
//! - `accepted.rs`: the 202 answer.
//! - `observe.rs`: tracing and metrics per request.
//! - `routes/`: one file per resource.

pub mod accepted;
pub mod auth;
pub mod error;
pub mod extract;
pub mod idempotency;
pub mod observe;
pub mod routes;
pub mod submission;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware;

use self::auth::Tokens;
use self::error::ApiError;
use crate::config::Settings;
use crate::producer::Producer;
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
    /// How long a rotated-out webhook secret keeps signing.
    rotation_grace: Duration,
    /// What webhook endpoint URLs may reach, judged when they are written.
    ssrf: SsrfPolicy,
}

impl ApiState {
    /// The API's state from the producer it enqueues with and the settings it reads:
    /// `api.body_limit_bytes`, the tokens of `secrets.api_tokens` (the idempotency
    /// window is the producer's own) and the SSRF policy of `webhooks.allow_cidrs` and
    /// `webhooks.https_only`.
    pub fn new(producer: Producer, settings: &Settings) -> Self {
        Self {
            inner: Arc::new(Inner {
                producer,
                tokens: Tokens::new(&settings.secrets.api_tokens),
                body_limit: settings.api.body_limit_bytes,
                rotation_grace: Duration::from_secs(settings.webhooks.rotation_grace_secs),
                ssrf: ssrf_policy(settings),
            }),
        }
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

    /// `webhooks.rotation_grace_secs`.
    pub fn rotation_grace(&self) -> Duration {
        self.inner.rotation_grace
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

/// The whole API, ready for `axum::serve`. `vendor_routes` are the registry's (each
/// vendor's routes, paths under `/v1` written in full: `/proteger/contracts`).
pub fn router(state: ApiState, vendor_routes: Vec<Router<ApiState>>) -> Router {
    let vendors = vendor_routes
        .into_iter()
        .fold(Router::new(), |all, routes| all.merge(routes));
    let v1 = Router::new()
        .merge(vendors)
        .merge(routes::jobs::routes())
        .merge(routes::dead::routes())
        .merge(routes::webhook_endpoints::routes())
        .merge(routes::webhook_deliveries::routes())
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(not_found)
        // `layer`, not `route_layer`: unknown paths under /v1 are refused without a token
        // too, so the set of routes cannot be probed anonymously.
        .layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_bearer,
        ));
    Router::new()
        .merge(routes::health::routes())
        .merge(routes::metrics::routes())
        .method_not_allowed_fallback(method_not_allowed)
        .nest("/v1", v1)
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(state.body_limit()))
        .layer(middleware::from_fn(observe::observe))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::NotFound("there is no route at this path".into())
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
