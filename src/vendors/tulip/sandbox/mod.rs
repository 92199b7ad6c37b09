//! A local fake of Tulip's contract calls that behaves like the real one as far as its
//! documents tell (seed 004, `vendor-specs/tulip/`), and misbehaves on demand. Where the
//! documents are silent or disagree, it says so where it decides, and offers the reading
//! hardest on its clients as a switch ([`Switches`]).
//!
//! - `routes.rs`: the route table and the order of the layers (start here).
//! - `faults.rs`: scripted faults: drops, 429 with `Retry-After`, 5xx before or after
//!   executing, stalls after the contract was stored.
//! - `gate.rs`: the `key` header (9001, 9002), the quota (99888) and permission (98888)
//!   switches.
//! - `contracts.rs`: create (and preview), list, read, cancel or terminate, with the same
//!   validation and codes as our API (`types/validate/`); `price.rs`: a deterministic price.
//! - `admin.rs`: `/_admin/...`: effects, counts of contracts per renter and `internal_id`,
//!   switches, faults, backdating, reset. `state.rs`: the shared state.
//! - `errors.rs`: Tulip's envelopes, the OpenAPI file's by default.

mod admin;
mod contracts;
mod errors;
mod faults;
mod gate;
mod price;
mod routes;
mod state;

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use serde_json::Value;

use super::settings::NAME;
use crate::sandbox::SandboxServer;

pub use faults::{Fault, Faults, Phase, StallThen};
pub use price::CATALOGUE_VALUE;
pub use state::{Effects, Envelope, StoredContract, Switches};

/// How the sandbox starts (and what `POST /_admin/reset` returns to).
#[derive(Clone, Default)]
pub struct TulipSandboxConfig {
    /// The API keys it accepts; empty: any non-empty key.
    pub keys: Vec<String>,
    pub switches: Switches,
    /// Scripted faults for the first requests.
    pub faults: Vec<Fault>,
}

impl fmt::Debug for TulipSandboxConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TulipSandboxConfig")
            .field(
                "keys",
                &self.keys.iter().map(|_| "<redacted>").collect::<Vec<_>>(),
            )
            .field("switches", &self.switches)
            .field("faults", &self.faults)
            .finish()
    }
}

/// A handle on one sandbox: cheap to clone, every clone sees the same state.
#[derive(Clone)]
pub struct TulipSandbox {
    shared: Arc<state::Shared>,
}

impl fmt::Debug for TulipSandbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TulipSandbox")
            .field("config", &self.shared.config)
            .finish_non_exhaustive()
    }
}

impl TulipSandbox {
    pub fn new(config: TulipSandboxConfig) -> Self {
        Self {
            shared: Arc::new(state::Shared::new(config)),
        }
    }

    /// The vendor's routes (under `/v2`) and the admin routes, relative.
    pub fn router(&self) -> axum::Router {
        routes::router(self.shared.clone())
    }

    pub fn effects(&self) -> Effects {
        self.shared.effects()
    }

    /// The contracts stored for `uid` and/or carrying `internal_id` (as `GET
    /// /_admin/counts`).
    pub fn count(&self, uid: Option<&str>, internal_id: Option<&str>) -> usize {
        admin::count(&self.shared, uid, internal_id)
    }

    /// Every contract, as stored.
    /// The `traceparent` headers of the latest requests that carried one, oldest first.
    pub fn traceparents(&self) -> Vec<String> {
        self.shared.lock().traceparents.iter().cloned().collect()
    }

    pub fn contracts(&self) -> Vec<StoredContract> {
        self.shared.lock().contracts.clone()
    }

    pub fn switches(&self) -> Switches {
        self.shared.lock().switches.clone()
    }

    pub fn set_switches(&self, switches: Switches) {
        self.shared.lock().switches = switches;
    }

    /// Adds scripted faults for the next requests, after those already scripted.
    pub fn push_faults(&self, faults: impl IntoIterator<Item = Fault>) {
        self.shared.lock().faults.extend(faults);
    }

    /// Moves contract `cid`'s dates `hours` into the past; its contract, or `None`.
    pub fn backdate(&self, cid: &str, hours: i64) -> Option<Value> {
        contracts::backdate(&self.shared, cid, hours)
    }

    pub fn reset(&self) {
        self.shared.reset();
    }
}

/// A sandbox server with Tulip's fake alone, and the fake's handle.
#[derive(Debug)]
pub struct ServedTulip {
    pub server: SandboxServer,
    pub tulip: TulipSandbox,
}

impl ServedTulip {
    /// The base URL for a client, e.g. `http://127.0.0.1:43117/tulip/v2`.
    pub fn url(&self) -> String {
        format!("{}/v2", self.server.url(NAME))
    }

    /// The admin routes' base, e.g. `http://127.0.0.1:43117/tulip/_admin`.
    pub fn admin_url(&self) -> String {
        format!("{}/_admin", self.server.url(NAME))
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.addr
    }

    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }
}

/// Serves Tulip's fake alone on `listen` (port 0 picks a free port), under `/tulip` as in
/// the combined sandbox.
pub async fn serve(listen: SocketAddr, config: TulipSandboxConfig) -> std::io::Result<ServedTulip> {
    let tulip = TulipSandbox::new(config);
    let server = crate::sandbox::spawn(listen, vec![(NAME.to_string(), tulip.router())]).await?;
    Ok(ServedTulip { server, tulip })
}
