//! What every job worker is built from, whoever defines it: the settings, the Redis
//! handles, this process's worker identity and the hook that writes webhook deliveries.
//!
//! It sits below both the vendors and the webhooks (each registers workers with it) and
//! above the queue, so that neither side has to import the other or `workers.rs`.

use std::sync::Arc;
use std::time::Duration;

use crate::config::Settings;
use crate::queue::{FetchSettings, FinalHook, JobKind, Redis, RedisBackend, Store, WorkerIdentity};

/// What every worker registration needs.
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
    /// Deps with a fresh identity (unique per process start) and no hook yet:
    /// `workers::run` installs the webhook hook.
    pub fn new(settings: Settings, redis: Redis, store: Store) -> Self {
        Self {
            settings,
            redis,
            store,
            identity: WorkerIdentity::new(),
            hook: None,
        }
    }

    /// How the workers of `kind` fetch and settle jobs: lease, prefetch, retry policy.
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

    /// The queue backend a worker of `J` fetches from, with [`WorkerDeps::fetch_settings`].
    /// Reports the shared concurrency (`worker.concurrency`) for the kind; a worker built
    /// with another sets its own (`queue::metrics::set_concurrency`).
    pub fn backend<J: JobKind>(&self) -> RedisBackend<J> {
        crate::queue::metrics::set_concurrency(J::KIND, self.settings.worker.concurrency);
        RedisBackend::new(
            self.store.clone(),
            self.redis.clone(),
            &self.identity,
            self.fetch_settings(J::KIND),
        )
    }
}
