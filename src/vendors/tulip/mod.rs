//! Tulip, French rental insurance for bikes and other rented goods (seed 004,
//! `vendor-specs/tulip/`): contracts quoted, created and ended, checked locally with the
//! vendor's own codes, and never created twice.
//!
//! - `types/`: the wire types, shared by the client, the jobs, the API and the sandbox;
//!   `types/validate/` holds every rule we know, with the code Tulip answers for it.
//! - `settings.rs`: `[vendors.tulip]` and the key's name (`UNDERWRITE_TULIP_API_KEY`).
//! - `client.rs`: the HTTP client (where Tulip is called); `classify.rs`: which answers are
//!   worth a retry.
//! - `jobs/`: the job kinds and their handlers; `jobs/adopt.rs` is the "never twice" rule.
//! - `api.rs`: the producer routes under `/v1/tulip/`.
//! - `events.rs`: which finished job becomes which webhook event.
//! - `sandbox/`: a faithful local fake of the calls we make, with fault injection.
//!
//! ## Never twice
//!
//! Tulip has no idempotency key, so a creation retried after a timeout could make a second
//! contract. A creation job therefore puts its reference (`uw:<job id>:<line>`) into each
//! product's `data.internal_id` unless the producer set one, notes in Redis that it is
//! about to send, and any later run first lists the renter's contracts
//! (`GET /contracts?uid=`) and adopts the one carrying its reference; it sends again only
//! when none does. The details are in `jobs/adopt.rs`.
//!
//! [`Tulip`] is the vendor's entry in the registry (`vendors/mod.rs`).

pub mod api;
pub mod classify;
pub mod client;
pub mod events;
pub mod jobs;
pub mod sandbox;
pub mod settings;
pub mod types;

use apalis::prelude::Monitor;
use axum::Router;
use utoipa_axum::router::OpenApiRouter;

use self::settings::{API_KEY_SECRET, NAME, TulipSettings};
use super::{Vendor, VendorError};
use crate::api::ApiState;
use crate::config::{ConfigError, Settings};
use crate::webhooks::event::Catalogue;
use crate::worker_deps::WorkerDeps;

/// Tulip in the vendor registry: served under `/tulip`.
#[derive(Debug, Clone, Copy)]
pub struct Tulip;

impl Vendor for Tulip {
    fn name(&self) -> &'static str {
        NAME
    }

    fn worker_kinds(&self) -> Vec<&'static str> {
        jobs::WORKER_KINDS.to_vec()
    }

    fn register_workers(
        &self,
        monitor: Monitor,
        deps: &WorkerDeps,
    ) -> Result<Monitor, VendorError> {
        jobs::register(monitor, deps).map_err(|e| VendorError::new(NAME, e))
    }

    fn routes(&self, _settings: &Settings) -> OpenApiRouter<ApiState> {
        api::routes()
    }

    fn events(&self, catalogue: &mut Catalogue) {
        events::register(catalogue);
    }

    fn sandbox(&self, settings: &Settings) -> Result<Router, VendorError> {
        let ours = TulipSettings::from_settings(settings).map_err(|e| VendorError::new(NAME, e))?;
        let config = sandbox::TulipSandboxConfig {
            keys: settings
                .secrets
                .vendor(NAME, API_KEY_SECRET)
                .map(|key| vec![key.to_string()])
                .unwrap_or_default(),
            switches: sandbox::Switches {
                lcd_min_one_day: ours.sandbox_lcd_min_one_day,
                ..sandbox::Switches::default()
            },
            faults: Vec::new(),
        };
        Ok(sandbox::TulipSandbox::new(config).router())
    }

    fn operations(&self) -> &'static [&'static str] {
        &client::OPERATIONS
    }

    fn secrets(&self) -> &'static [&'static str] {
        &[API_KEY_SECRET]
    }

    fn check_settings(&self, settings: &Settings) -> Result<(), ConfigError> {
        TulipSettings::from_settings(settings).map(|_| ())
    }
}
