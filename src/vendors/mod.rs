//! The vendor registry: one folder per vendor, and the one list that names them.
//!
//! A vendor folder (`vendors/<vendor>/`) holds its wire types, its HTTP client, its job
//! handlers, its producer routes, its webhook events and its sandbox, and exports one value
//! implementing [`Vendor`]: everything the rest of the service needs to know about it.
//! [`all`] lists those values; it is the only place outside a vendor's folder that names a
//! vendor. `startup`, `workers`, `api`, `sandbox`, `config` and `webhooks` take the list (or
//! what it yields) as a value and never name a vendor, so a vendor defined outside the
//! crate (the test suite has one) plugs in the same way.
//!
//! ## What a vendor provides
//!
//! | method               | used by        | for                                              |
//! |----------------------|----------------|--------------------------------------------------|
//! | [`Vendor::name`]     | everyone       | `/v1/<name>/…`, `/<name>` in the sandbox, `[vendors.<name>]` |
//! | [`Vendor::worker_kinds`], [`Vendor::register_workers`] | `workers.rs` | its job kinds and their workers |
//! | [`Vendor::spawn_chores`] | `workers.rs` | batchers and other background loops          |
//! | [`Vendor::schedules`] | `workers.rs`  | its periodic jobs (one job per tick across processes, `queue/schedule.rs`) |
//! | [`Vendor::routes`]   | `api/`         | its producer routes, mounted under `/v1`         |
//! | [`Vendor::events`]   | `webhooks/`    | which finished job becomes which event           |
//! | [`Vendor::sandbox`]  | `sandbox.rs`   | its fake API, mounted under `/<name>`            |
//! | [`Vendor::secrets`]  | `config.rs`    | the names of its credentials (`UNDERWRITE_<NAME>_<SECRET>`) |
//! | [`Vendor::check_settings`] | startup  | refuse a bad `[vendors.<name>]` before anything runs |
//!
//! Dependencies point one way: a vendor uses `queue`, `webhooks::event`, `api`'s extractors
//! and `worker_deps`; none of those knows any vendor.

pub mod billing_robo;
pub mod http;
pub mod proteger;
pub mod tulip;

use std::fmt;
use std::sync::Arc;

use apalis::prelude::Monitor;
use axum::Router;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use utoipa_axum::router::OpenApiRouter;

use crate::api::ApiState;
use crate::config::{ConfigError, Settings, vendor_secret_var};
use crate::queue::batcher::Batcher;
use crate::queue::{Chains, Schedule};
use crate::webhooks::event::Catalogue;
use crate::worker_deps::WorkerDeps;

/// Every vendor of this build. The only list of vendors in the crate.
pub fn all() -> Vendors {
    Vendors::new(vec![
        Arc::new(proteger::Proteger),
        Arc::new(billing_robo::BillingRobo),
        Arc::new(tulip::Tulip),
    ])
}

/// Everything the rest of the service needs to know about one vendor.
pub trait Vendor: Send + Sync + 'static {
    /// Lowercase letters, digits and `_`: `proteger`, `billing_robo`. Its API routes live
    /// under `/v1/<name with - for _>/`, its sandbox under the same prefix, its settings in
    /// `[vendors.<name>]`.
    fn name(&self) -> &'static str;

    /// The kinds that have a worker here (each gets a retry promoter too).
    fn worker_kinds(&self) -> Vec<&'static str> {
        Vec::new()
    }

    /// The kinds that travel to the vendor inside batch jobs (no worker of their own): they
    /// are enqueued, listed and counted like the others.
    fn member_kinds(&self) -> Vec<&'static str> {
        Vec::new()
    }

    /// Adds this vendor's workers to the monitor.
    fn register_workers(
        &self,
        monitor: Monitor,
        _deps: &WorkerDeps,
    ) -> Result<Monitor, VendorError> {
        Ok(monitor)
    }

    /// Starts background loops (batchers) that end when `shutdown` is cancelled, after
    /// handing back what they hold. Periodic jobs are [`Vendor::schedules`] instead.
    fn spawn_chores(
        &self,
        _deps: &WorkerDeps,
        _shutdown: CancellationToken,
    ) -> Vec<JoinHandle<()>> {
        Vec::new()
    }

    /// Its periodic jobs. Every worker process runs them (`workers.rs`), and each tick
    /// enqueues one job across all of them (`queue/schedule.rs`). Names must be unique
    /// across vendors: `<vendor>.<what>`.
    fn schedules(&self, _settings: &Settings) -> Vec<Schedule> {
        Vec::new()
    }

    /// The producer routes, with paths relative to the vendor's own prefix (`/contracts`
    /// for `/v1/proteger/contracts`): [`Vendors::routes`] nests them there, so a vendor
    /// cannot mount a route anywhere else.
    fn routes(&self, _settings: &Settings) -> OpenApiRouter<ApiState> {
        OpenApiRouter::new()
    }

    /// Registers which finished jobs raise which webhook events.
    fn events(&self, _catalogue: &mut Catalogue) {}

    /// Registers which finished jobs start which next job (`queue/chain.rs`): a stage that
    /// must wait apart from the one before it.
    fn chains(&self, _chains: &mut Chains) {}

    /// The fake of this vendor's API, mounted at `/<prefix>` of the sandbox server.
    fn sandbox(&self, _settings: &Settings) -> Result<Router, VendorError> {
        Ok(Router::new())
    }

    /// The operations its client counts in `underwrite_vendor_requests_total`: their series
    /// exist from the start, at 0.
    fn operations(&self) -> &'static [&'static str] {
        &[]
    }

    /// The names of its secrets, lowercase: `token` is `UNDERWRITE_<NAME>_TOKEN`.
    fn secrets(&self) -> &'static [&'static str] {
        &[]
    }

    /// Checks `[vendors.<name>]` (and anything else it reads) before anything starts.
    fn check_settings(&self, _settings: &Settings) -> Result<(), ConfigError> {
        Ok(())
    }

    /// The path prefix of its routes and sandbox: the name with `-` for `_`.
    fn path_prefix(&self) -> String {
        self.name().replace('_', "-")
    }
}

/// Runs a vendor's batcher (its [`Vendor::spawn_chores`]) until `shutdown`: it then hands
/// back what it holds. An error it stops with is logged. `Err` (settings that cannot be
/// read, which startup's check has already refused) starts nothing and says so.
pub fn spawn_batcher(
    vendor: &'static str,
    batcher: Result<Batcher, ConfigError>,
    shutdown: CancellationToken,
) -> Vec<JoinHandle<()>> {
    match batcher {
        Ok(batcher) => vec![tokio::spawn(async move {
            if let Err(e) = batcher.run(shutdown.cancelled_owned()).await {
                tracing::warn!(vendor, error = %e, "a batcher stopped with an error");
            }
        })],
        Err(e) => {
            tracing::error!(vendor, error = %e, "no batcher");
            Vec::new()
        }
    }
}

/// A vendor's setup failed (a bad base URL, an unusable token).
#[derive(Debug, thiserror::Error)]
#[error("{vendor}: {reason}")]
pub struct VendorError {
    pub vendor: &'static str,
    pub reason: String,
}

impl VendorError {
    pub fn new(vendor: &'static str, reason: impl fmt::Display) -> Self {
        Self {
            vendor,
            reason: reason.to_string(),
        }
    }
}

/// The vendors a process runs. Cheap to clone.
#[derive(Clone)]
pub struct Vendors(Arc<[Arc<dyn Vendor>]>);

impl fmt::Debug for Vendors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.iter().map(|v| v.name()))
            .finish()
    }
}

impl Vendors {
    pub fn new(vendors: Vec<Arc<dyn Vendor>>) -> Self {
        Self(vendors.into())
    }

    /// These vendors and `more`.
    pub fn with(&self, more: Arc<dyn Vendor>) -> Self {
        let mut list: Vec<_> = self.0.to_vec();
        list.push(more);
        Self::new(list)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<dyn Vendor>> {
        self.0.iter()
    }

    /// Every job kind there is: each vendor's worker and member kinds, and the webhook
    /// deliveries'. What `--kind` and `?kind=` filters are checked against.
    pub fn job_kinds(&self) -> Vec<&'static str> {
        self.iter()
            .flat_map(|vendor| {
                let mut kinds = vendor.worker_kinds();
                kinds.extend(vendor.member_kinds());
                kinds
            })
            .chain([<crate::webhooks::delivery::Delivery as crate::queue::JobKind>::KIND])
            .collect()
    }

    /// Every vendor's event types in one catalogue.
    pub fn catalogue(&self) -> Catalogue {
        let mut catalogue = Catalogue::default();
        for vendor in self.iter() {
            vendor.events(&mut catalogue);
        }
        catalogue
    }

    /// Every vendor's chains, for `workers.rs`.
    pub fn chains(&self) -> Chains {
        let mut chains = Chains::default();
        for vendor in self.iter() {
            vendor.chains(&mut chains);
        }
        chains
    }

    /// Every vendor's periodic jobs, for `workers.rs`.
    pub fn schedules(&self, settings: &Settings) -> Vec<Schedule> {
        self.iter()
            .flat_map(|vendor| vendor.schedules(settings))
            .collect()
    }

    /// Every vendor's producer routes, each nested under `/<prefix>` (so under
    /// `/v1/<prefix>/` once `api::router` mounts them), for `api::router`.
    pub fn routes(&self, settings: &Settings) -> Vec<OpenApiRouter<ApiState>> {
        self.iter()
            .map(|vendor| {
                OpenApiRouter::new().nest(
                    &format!("/{}", vendor.path_prefix()),
                    vendor.routes(settings),
                )
            })
            .collect()
    }

    /// Every vendor's sandbox with its path prefix, for `sandbox::spawn`.
    pub fn sandboxes(&self, settings: &Settings) -> Result<Vec<(String, Router)>, VendorError> {
        self.iter()
            .map(|vendor| Ok((vendor.path_prefix(), vendor.sandbox(settings)?)))
            .collect()
    }

    /// Refuses settings that no vendor here owns, secrets a vendor does not declare, and
    /// whatever a vendor's own check refuses.
    pub fn check(&self, settings: &Settings) -> Result<(), ConfigError> {
        let known = |name: &str| self.iter().any(|vendor| vendor.name() == name);
        for section in settings.vendors.keys() {
            if !known(section) {
                return Err(ConfigError::Invalid(format!(
                    "[vendors.{section}]: no such vendor (known: {})",
                    self.names().join(", ")
                )));
            }
        }
        for vendor in self.iter() {
            let declared = vendor.secrets();
            for given in settings.secrets.vendor_names(vendor.name()) {
                if !declared.contains(&given) {
                    let expected: Vec<String> = declared
                        .iter()
                        .map(|name| vendor_secret_var(vendor.name(), name))
                        .collect();
                    return Err(ConfigError::Env {
                        var: vendor_secret_var(vendor.name(), given),
                        reason: format!(
                            "not a secret of {} (its secrets: {}); its settings are UNDERWRITE_VENDORS_{}_<KEY>",
                            vendor.name(),
                            if expected.is_empty() {
                                "none".to_string()
                            } else {
                                expected.join(", ")
                            },
                            vendor.name().to_ascii_uppercase()
                        ),
                    });
                }
            }
            vendor.check_settings(settings)?;
        }
        Ok(())
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.iter().map(|vendor| vendor.name()).collect()
    }
}
