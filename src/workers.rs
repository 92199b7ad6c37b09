//! The worker role of a process: apalis's `Monitor` running one worker per job kind, plus
//! the background chores (batchers, retry promoters, retention, metrics sampling).
//!
//! Shutdown (SIGTERM/SIGINT, or the future handed to [`run`]): workers stop taking jobs,
//! running jobs get `worker.shutdown_timeout_secs` to finish, jobs taken but not started
//! go back to the queue at once, and whatever is still running at the deadline is left to
//! its lease, to be re-delivered to another worker.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use apalis::prelude::Monitor;
use futures::FutureExt;

use crate::config::Settings;
use crate::queue::JobKind;
use crate::queue::maintenance::{spawn_janitor, spawn_promoter};
use crate::queue::{FetchSettings, FinalHook, Redis, Store, WorkerIdentity};
use crate::vendors::proteger;
use crate::webhooks::{self, delivery::Delivery};

/// What every vendor's registration needs.
#[derive(Debug, Clone)]
pub struct WorkerDeps {
    pub settings: Settings,
    pub redis: Redis,
    pub store: Store,
    pub identity: WorkerIdentity,
    /// Turns finished jobs into webhook deliveries.
    pub hook: Option<Arc<dyn FinalHook>>,
}

impl WorkerDeps {
    /// Deps with a fresh identity (unique per process start) and no hook yet: [`run`]
    /// installs the webhook hook.
    pub fn new(settings: Settings, redis: Redis, store: Store) -> Self {
        Self {
            settings,
            redis,
            store,
            identity: WorkerIdentity::new(),
            hook: None,
        }
    }

    pub fn fetch_settings(&self, kind: &str) -> FetchSettings {
        FetchSettings {
            lease: self.settings.lease(),
            prefetch: self.settings.worker.concurrency.min(32),
            block: Duration::from_secs(2),
            max_crashes: self.settings.worker.max_crashes,
            policy: self.settings.retry_policy(kind),
            hook: self.hook.clone(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("cannot set up the Proteger client: {0}")]
    Proteger(#[from] proteger::classify::ProtegerError),
    #[error(transparent)]
    Webhooks(#[from] crate::webhooks::worker::WebhookSetupError),
    #[error("worker runtime: {0}")]
    Runtime(String),
}

/// Runs workers until `shutdown` resolves, then shuts down gracefully.
pub async fn run(
    mut deps: WorkerDeps,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), WorkerError> {
    tracing::info!(worker = %deps.identity, "starting workers");
    // First, so that every worker registered below writes webhook deliveries.
    let deliverer = webhooks::worker::setup(&mut deps).await?;
    let mut chores = Vec::new();
    for kind in proteger::jobs::WORKER_KINDS
        .into_iter()
        .chain([Delivery::KIND])
    {
        chores.push(spawn_promoter(deps.store.clone(), kind.to_string()));
    }
    chores.push(spawn_janitor(deps.store.clone(), Duration::from_secs(60)));

    let shutdown = shutdown.shared();
    let batcher = tokio::spawn(proteger::jobs::batcher(&deps).run(shutdown.clone()));

    let monitor = Monitor::new().shutdown_timeout(Duration::from_secs(
        deps.settings.worker.shutdown_timeout_secs,
    ));
    let monitor = proteger::jobs::register(monitor, &deps)?;
    let monitor = webhooks::worker::register(monitor, &deps, deliverer);
    let result = monitor
        .run_with_signal(shutdown.map(Ok))
        .await
        .map_err(|e| WorkerError::Runtime(e.to_string()));

    for chore in chores {
        chore.abort();
    }
    if let Ok(Err(e)) = batcher.await {
        tracing::warn!(error = %e, "batcher stopped with an error");
    }
    tracing::info!("workers stopped");
    result
}
