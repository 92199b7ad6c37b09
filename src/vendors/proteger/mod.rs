//! Proteger, the Japanese extended-warranty vendor (seeds 000 and 001).
//!
//! - `types.rs`: the wire types, shared by the client and the sandbox, with validation.
//! - `settings.rs`: `[vendors.proteger]` and the token's name.
//! - `client.rs`: the HTTP client (where Proteger is called); `classify.rs`: which vendor
//!   answers are worth a retry; `idempotency_key.rs`: the key of a bulk call.
//! - `jobs.rs`: the job kinds and their handlers (bulk creation in batches, cancellation).
//! - `recent.rs`: the contracts we created lately, so that a cancellation that comes before
//!   the vendor has persisted its contract is retried rather than failed.
//! - `api.rs`: the producer routes under `/v1/proteger/`.
//! - `events.rs`: which finished job becomes which webhook event.
//! - `sandbox/`: a faithful local fake of the vendor API, with fault injection.
//!
//! [`Proteger`] is the vendor's entry in the registry (`vendors/mod.rs`).

pub mod api;
pub mod classify;
pub mod client;
pub mod events;
pub mod idempotency_key;
pub mod jobs;
pub mod recent;
pub mod sandbox;
pub mod settings;
pub mod types;

use apalis::prelude::Monitor;
use axum::Router;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use utoipa_axum::router::OpenApiRouter;

use self::settings::{NAME, ProtegerSettings, TOKEN_SECRET};
use super::{Vendor, VendorError};
use crate::api::ApiState;
use crate::config::{ConfigError, Settings};
use crate::webhooks::event::Catalogue;
use crate::worker_deps::WorkerDeps;

/// Proteger in the vendor registry.
#[derive(Debug, Clone, Copy)]
pub struct Proteger;

impl Vendor for Proteger {
    fn name(&self) -> &'static str {
        NAME
    }

    fn worker_kinds(&self) -> Vec<&'static str> {
        jobs::WORKER_KINDS.to_vec()
    }

    fn member_kinds(&self) -> Vec<&'static str> {
        jobs::MEMBER_KINDS.to_vec()
    }

    fn register_workers(
        &self,
        monitor: Monitor,
        deps: &WorkerDeps,
    ) -> Result<Monitor, VendorError> {
        jobs::register(monitor, deps).map_err(|e| VendorError::new(NAME, e))
    }

    fn spawn_chores(&self, deps: &WorkerDeps, shutdown: CancellationToken) -> Vec<JoinHandle<()>> {
        super::spawn_batcher(NAME, jobs::batcher(deps), shutdown)
    }

    fn routes(&self, _settings: &Settings) -> OpenApiRouter<ApiState> {
        api::routes()
    }

    fn events(&self, catalogue: &mut Catalogue) {
        events::register(catalogue);
    }

    fn sandbox(&self, settings: &Settings) -> Result<Router, VendorError> {
        let ours =
            ProtegerSettings::from_settings(settings).map_err(|e| VendorError::new(NAME, e))?;
        let config = sandbox::ProtegerSandboxConfig {
            token: settings
                .secrets
                .vendor(NAME, TOKEN_SECRET)
                .map(String::from),
            persist_delay: ours.persist_delay(),
            ..sandbox::ProtegerSandboxConfig::default()
        };
        Ok(sandbox::ProtegerSandbox::new(config).router())
    }

    fn operations(&self) -> &'static [&'static str] {
        &client::OPERATIONS
    }

    fn secrets(&self) -> &'static [&'static str] {
        &[TOKEN_SECRET]
    }

    fn check_settings(&self, settings: &Settings) -> Result<(), ConfigError> {
        let ours = ProtegerSettings::from_settings(settings)?;
        reqwest::Url::parse(&ours.base_url).map_err(|e| {
            ConfigError::Invalid(format!(
                "vendors.proteger.base_url `{}` is not a URL: {e}",
                ours.base_url
            ))
        })?;
        Ok(())
    }
}
