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
//! No jobs, producer routes or webhook events yet: the registration below provides the
//! settings, the secrets and the sandbox.
//!
//! [`BillingRobo`] is the vendor's entry in the registry (`vendors/mod.rs`).

pub mod classify;
pub mod client;
pub mod redact;
pub mod sandbox;
pub mod settings;
pub mod types;

use axum::Router;

use self::settings::{ACCESS_KEY_SECRET, BillingRoboSettings, NAME, USER_ID_SECRET};
use super::{Vendor, VendorError};
use crate::config::{ConfigError, Settings};

/// Billing-Robo in the vendor registry: served under `/billing-robo`.
#[derive(Debug, Clone, Copy)]
pub struct BillingRobo;

impl Vendor for BillingRobo {
    fn name(&self) -> &'static str {
        NAME
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

    fn secrets(&self) -> &'static [&'static str] {
        &[USER_ID_SECRET, ACCESS_KEY_SECRET]
    }

    fn check_settings(&self, settings: &Settings) -> Result<(), ConfigError> {
        BillingRoboSettings::from_settings(settings).map(|_| ())
    }
}
