//! Billing-Robo (請求管理ロボ, Robot Payment): まるなげ与信, credit applications for
//! billing customers (seeds 002 and 003, `vendor-specs/billing-robo/`).
//!
//! - `types/`: the wire types, shared by the client and the sandbox, with the field checks
//!   (one parser for our API and the sandbox) and the item codes of both API versions.
//! - `settings.rs`: `[vendors.billing_robo]` and the secrets' names.
//! - `client.rs`: the HTTP client (where Billing-Robo is called); `redact.rs`: the echoed
//!   credentials kept out of everything it returns; `classify.rs`: which answers are worth
//!   a retry, and what each application's outcome means.
//! - `sandbox/`: a faithful local fake of the vendor's credit calls, with its rate limit,
//!   maintenance, faults and decisions.
//!
//! - `api.rs`: the producer routes under `/v1/billing-robo/`.
//! - `events.rs`: which finished job becomes which webhook event.
//! - `decision.rs`: what a credit record says about an application waiting for its
//!   decision.
//! - `jobs/`: the job kinds and their handlers: applications sent in batches, each then
//!   waiting for its decision, found by a periodic poll of what changed.
//!
//! [`BillingRobo`] is the vendor's entry in the registry (`vendors/mod.rs`).

pub mod api;
pub mod classify;
pub mod client;
pub mod decision;
pub mod events;
pub mod jobs;
pub mod redact;
pub mod sandbox;
pub mod settings;
pub mod types;

use apalis::prelude::Monitor;
use axum::Router;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use utoipa_axum::router::OpenApiRouter;

use self::settings::{ACCESS_KEY_SECRET, BillingRoboSettings, NAME, USER_ID_SECRET};
use super::{Vendor, VendorError};
use crate::api::ApiState;
use crate::config::{ConfigError, Settings};
use crate::queue::{Chains, JobKind, Schedule};
use crate::webhooks::event::Catalogue;
use crate::worker_deps::WorkerDeps;

/// Billing-Robo in the vendor registry: served under `/billing-robo`.
#[derive(Debug, Clone, Copy)]
pub struct BillingRobo;

impl Vendor for BillingRobo {
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

    fn routes(&self, settings: &Settings) -> OpenApiRouter<ApiState> {
        // Checked at startup; an unreadable section cannot get this far.
        let version = BillingRoboSettings::from_settings(settings)
            .map(|s| s.api_version)
            .unwrap_or_default();
        api::routes(version)
    }

    fn schedules(&self, settings: &Settings) -> Vec<Schedule> {
        // Checked at startup; an unreadable section cannot get this far.
        let Ok(ours) = BillingRoboSettings::from_settings(settings) else {
            return Vec::new();
        };
        match jobs::poll_schedule(&ours) {
            Ok(schedule) => vec![schedule],
            Err(e) => {
                tracing::error!(error = %e, "Billing-Robo's poll cannot be scheduled");
                Vec::new()
            }
        }
    }

    fn events(&self, catalogue: &mut Catalogue) {
        events::register(catalogue);
    }

    fn chains(&self, chains: &mut Chains) {
        chains.register(jobs::ApplyCredit::KIND, jobs::decision_after_apply);
    }

    fn sandbox(&self, settings: &Settings) -> Result<Router, VendorError> {
        let ours =
            BillingRoboSettings::from_settings(settings).map_err(|e| VendorError::new(NAME, e))?;
        let secret = |name| settings.secrets.vendor(NAME, name).map(String::from);
        let config = sandbox::BillingRoboSandboxConfig::from_settings(
            &ours,
            secret(USER_ID_SECRET),
            secret(ACCESS_KEY_SECRET),
        );
        Ok(sandbox::BillingRoboSandbox::new(config).router())
    }

    fn operations(&self) -> &'static [&'static str] {
        &client::OPERATIONS
    }

    fn secrets(&self) -> &'static [&'static str] {
        &[USER_ID_SECRET, ACCESS_KEY_SECRET]
    }

    fn check_settings(&self, settings: &Settings) -> Result<(), ConfigError> {
        BillingRoboSettings::from_settings(settings).map(|_| ())
    }
}
