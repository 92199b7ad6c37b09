//! A local fake of Billing-Robo's まるなげ与信 calls that behaves like the real one as far
//! as we know it (seeds 002 and 003, `vendor-specs/billing-robo/`, `/work/shared/vendors.md`),
//! and misbehaves on demand. Where the documents are silent or disagree, it picks the
//! reading hardest on its clients and says so where it is made (search for "unknown");
//! the kinder reading is a switch away where one matters.
//!
//! - `routes.rs`: the route table and the order of the layers (start here).
//! - `gate.rs`: request counting, the rate limit (`rate.rs`: 300 per 5 minutes with the
//!   vendor's lag), maintenance.
//! - `faults.rs`: scripted faults (drops, 5xx before or after executing, stalls, garbled
//!   answers).
//! - `auth.rs`: `user_id` and `access_key` in the body; 401 with code 11, 12 or 13; the
//!   credentials echoed in every answer, as the vendor does.
//! - `register.rs`: `request_marunage_credit/bulk_register`, all or nothing, item codes.
//! - `search.rs`: `request_marunage_credit/search`, `marunage_credit/search`, paging.
//! - `decisions.rs`: approving and rejecting, by the admin or the demo rule.
//! - `admin.rs`: `/_admin/...`; `state.rs`: the shared state and the [`Effects`] report;
//!   `errors.rs`: the vendor's error answers.
//!
//! It speaks either [`ApiVersion`] (`config.version`): the seed's shape and codes, or the
//! current pages'. Routes are relative (`/api/v1.0/...`, `/_admin/...`): the combined
//! sandbox server (`crate::sandbox`) mounts them under `/billing-robo`.

mod admin;
mod auth;
mod decisions;
mod errors;
mod faults;
mod gate;
mod rate;
mod register;
mod routes;
mod search;
mod state;

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;

use super::settings::{BillingRoboSettings, NAME};
use super::types::ApiVersion;
use crate::sandbox::SandboxServer;

pub use decisions::{DecideError, REJECT_MARK};
pub use faults::{Fault, Faults, Phase, StallThen};
pub use rate::RateLimit;
pub use routes::MAX_BODY;
pub use state::{
    AnswerOrder, Customer, Effects, SearchErrors, StoredApplication, StoredCredit, Switches,
};

/// How the sandbox starts (and what `POST /_admin/reset` returns to).
#[derive(Clone)]
pub struct BillingRoboSandboxConfig {
    /// The credentials clients must present; `None` accepts any well-formed one.
    pub user_id: Option<String>,
    pub access_key: Option<String>,
    pub version: ApiVersion,
    /// The billing customers that exist (others get 5401).
    pub customers: Vec<Customer>,
    /// The demo rule: decide a pending application this long after it was made.
    pub decide_after: Option<Duration>,
    pub rate_limit: RateLimit,
    pub switches: Switches,
    /// Scripted faults for the first requests.
    pub faults: Vec<Fault>,
}

impl Default for BillingRoboSandboxConfig {
    /// The seed's API, any credentials, customers `demo-*`, no automatic decisions, the
    /// vendor's rate limit, no faults.
    fn default() -> Self {
        Self {
            user_id: None,
            access_key: None,
            version: ApiVersion::Seed,
            customers: vec![Customer::new("demo-*")],
            decide_after: None,
            rate_limit: RateLimit::default(),
            switches: Switches::default(),
            faults: Vec::new(),
        }
    }
}

impl BillingRoboSandboxConfig {
    /// The sandbox `underwrite sandbox` serves: `[vendors.billing_robo]`'s sandbox knobs,
    /// the same API version as the client, and the configured credentials if any.
    pub fn from_settings(
        ours: &BillingRoboSettings,
        user_id: Option<String>,
        access_key: Option<String>,
    ) -> Self {
        Self {
            user_id,
            access_key,
            version: ours.api_version,
            customers: ours
                .sandbox_known_customers
                .iter()
                .map(Customer::new)
                .collect(),
            decide_after: (ours.sandbox_decide_after_secs > 0)
                .then(|| Duration::from_secs(ours.sandbox_decide_after_secs)),
            rate_limit: RateLimit {
                limit: ours.sandbox_rate_limit,
                window: Duration::from_secs(ours.sandbox_rate_window_secs),
                lag: Duration::from_secs(ours.sandbox_rate_lag_secs),
                retry_after_secs: None,
            },
            ..Self::default()
        }
    }
}

impl fmt::Debug for BillingRoboSandboxConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = |secret: &Option<String>| secret.as_ref().map(|_| "<redacted>");
        f.debug_struct("BillingRoboSandboxConfig")
            .field("user_id", &shown(&self.user_id))
            .field("access_key", &shown(&self.access_key))
            .field("version", &self.version)
            .field("customers", &self.customers)
            .field("decide_after", &self.decide_after)
            .field("rate_limit", &self.rate_limit)
            .field("switches", &self.switches)
            .field("faults", &self.faults)
            .finish()
    }
}

/// A handle on one sandbox: cheap to clone, every clone sees the same state.
#[derive(Clone)]
pub struct BillingRoboSandbox {
    shared: Arc<state::Shared>,
}

impl fmt::Debug for BillingRoboSandbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BillingRoboSandbox")
            .field("config", &self.shared.config)
            .finish_non_exhaustive()
    }
}

impl BillingRoboSandbox {
    pub fn new(config: BillingRoboSandboxConfig) -> Self {
        Self {
            shared: Arc::new(state::Shared::new(config)),
        }
    }

    /// The vendor's routes and the admin routes, relative.
    pub fn router(&self) -> axum::Router {
        routes::router(self.shared.clone())
    }

    /// What the sandbox did so far.
    pub fn effects(&self) -> Effects {
        self.shared.effects()
    }

    pub fn switches(&self) -> Switches {
        self.shared.lock().switches.clone()
    }

    /// Replaces the switches (as `PUT /_admin/switches`).
    pub fn set_switches(&self, switches: Switches) {
        self.shared.lock().switches = switches;
    }

    /// Adds scripted faults for the next requests, after those already scripted.
    pub fn push_faults(&self, faults: impl IntoIterator<Item = Fault>) {
        self.shared.lock().faults.extend(faults);
    }

    /// Adds or replaces a billing customer (as `POST /_admin/customers`).
    pub fn add_customer(&self, customer: Customer) {
        self.shared.lock().add_customer(customer);
    }

    /// Every application, as stored (due decisions applied first).
    pub fn applications(&self) -> Vec<StoredApplication> {
        let mut inner = self.shared.lock();
        decisions::settle(&mut inner, self.shared.config.version, Utc::now());
        inner.applications.clone()
    }

    /// Approves (or rejects) application `id` now (as the admin endpoints).
    pub fn decide(&self, id: u64, approve: bool) -> Result<StoredApplication, DecideError> {
        let now = Utc::now();
        let mut inner = self.shared.lock();
        let version = self.shared.config.version;
        decisions::settle(&mut inner, version, now);
        decisions::decide(&mut inner, version, id, approve, now)
    }

    /// Back to the configured start (as `POST /_admin/reset`).
    pub fn reset(&self) {
        self.shared.reset();
    }
}

/// A sandbox server with Billing-Robo's fake alone, and the fake's handle.
#[derive(Debug)]
pub struct ServedBillingRobo {
    pub server: SandboxServer,
    pub billing_robo: BillingRoboSandbox,
}

impl ServedBillingRobo {
    /// The base URL for a client, e.g. `http://127.0.0.1:43117/billing-robo`.
    pub fn url(&self) -> String {
        self.server.url(&NAME.replace('_', "-"))
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.addr
    }

    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }
}

/// Serves Billing-Robo's fake alone on `listen` (port 0 picks a free port), under
/// `/billing-robo` as in the combined sandbox.
pub async fn serve(
    listen: SocketAddr,
    config: BillingRoboSandboxConfig,
) -> std::io::Result<ServedBillingRobo> {
    let billing_robo = BillingRoboSandbox::new(config);
    let prefix = NAME.replace('_', "-");
    let server = crate::sandbox::spawn(listen, vec![(prefix, billing_robo.router())]).await?;
    Ok(ServedBillingRobo {
        server,
        billing_robo,
    })
}
