//! The webhook side of a worker process: the fan-out hook every job kind's settlement
//! calls, and the worker that delivers.

use std::sync::Arc;
use std::time::Duration;

use apalis::layers::WorkerBuilderExt;
use apalis::prelude::{Monitor, WorkerBuilder};

use super::delivery::{self, Deliverer, Delivery};
use super::endpoints::{EndpointError, EndpointStore};
use super::event::Catalogue;
use super::fanout::Fanout;
use super::http::WebhookHttp;
use crate::queue::{JobKind, QueueError, RedisBackend};
use crate::worker_deps::WorkerDeps;

#[derive(Debug, thiserror::Error)]
pub enum WebhookSetupError {
    #[error("webhook HTTP client: {0}")]
    Http(String),
    #[error("webhook endpoints from the config file: {0}")]
    Endpoints(String),
}

/// Installs the fan-out hook in `deps` (so every worker registered after this writes
/// deliveries with its jobs' final states), loads the config file's endpoints, and returns
/// what the delivery worker needs. `catalogue` holds every vendor's event types (the
/// registry builds it; this module knows no vendor).
pub async fn setup(
    deps: &mut WorkerDeps,
    catalogue: Catalogue,
) -> Result<Deliverer, WebhookSetupError> {
    let settings = deps.settings.webhooks.clone();
    // First: its policy judges the config file's endpoints too.
    let http = WebhookHttp::from_settings(&settings)
        .map_err(|e| WebhookSetupError::Http(e.to_string()))?;
    let endpoints = EndpointStore::new(&deps.store);
    // A worker may start while Redis is away (it reconnects by itself): wait for it here
    // rather than exit. A configuration error, on the other hand, stops the start at once.
    let mut backoff = Duration::from_millis(100);
    loop {
        let synced = endpoints
            .sync_configured(&settings.endpoints, http.policy(), |name| {
                std::env::var(name).ok()
            })
            .await;
        match synced {
            Ok(_) => break,
            Err(EndpointError::Store(QueueError::Redis(e))) => {
                tracing::warn!(error = %e, ?backoff, "cannot load the config file's webhook endpoints yet: redis is away; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
            Err(e) => return Err(WebhookSetupError::Endpoints(e.to_string())),
        }
    }
    deps.settings
        .retry
        .entry(Delivery::KIND.to_string())
        .or_insert_with(|| delivery::retry_policy(&settings));
    deps.hook = Some(Arc::new(Fanout::new(catalogue, endpoints.clone())));
    Ok(Deliverer::new(endpoints, http, settings))
}

/// Adds the delivery worker to the monitor. Deliveries raise no events of their own.
pub fn register(monitor: Monitor, deps: &WorkerDeps, deliverer: Deliverer) -> Monitor {
    let deps = deps.clone();
    // Deliveries wait on receivers, not on our CPU: run more of them at once than vendor
    // jobs; the per-endpoint limit keeps one receiver from taking them all.
    let concurrency = deps.settings.worker.concurrency * 4;
    crate::queue::metrics::set_concurrency(Delivery::KIND, concurrency);
    monitor.register(move |_| {
        let mut settings = deps.fetch_settings(Delivery::KIND);
        settings.hook = None;
        WorkerBuilder::new(deps.identity.consumer(Delivery::KIND))
            .backend(RedisBackend::<Delivery>::new(
                deps.store.clone(),
                deps.redis.clone(),
                &deps.identity,
                settings,
            ))
            .catch_panic()
            .concurrency(concurrency)
            .data(deliverer.clone())
            .build(delivery::deliver)
    })
}
