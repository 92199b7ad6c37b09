//! A local fake of Proteger's API that behaves like the real one as far as we know it
//! (`/work/shared/vendors.md`, seeds 000 and 001), and misbehaves on demand.
//!
//! Where the vendor's documentation is silent, the sandbox picks the behaviour that is
//! hardest on its clients and says so where it is made (search for "unknown").
//!
//! - `routes.rs`: the route table and the order of the layers (start here).
//! - `auth.rs`: the token check and the request counter.
//! - `headers.rs`: the `Content-Type` and `Accept` the vendor's pages require.
//! - `faults.rs`: fault injection (5xx before or after executing, 429, drops, stalls).
//! - `idempotency.rs`: `X-Idempotency-Key`, stored answers and their replay.
//! - `contracts.rs`: create (one, bulk: all-or-nothing) and read (asynchronous persistence).
//! - `refund.rs`: quotes and cancellations, the refund formula, cancelling twice.
//! - `catalogue.rs`: the fixed products and plans, and their endpoints.
//! - `admin.rs`: `/_admin/effects`, `/_admin/faults`, `/_admin/reset`.
//! - `state.rs`: the shared state and the [`Effects`] report.
//! - `errors.rs`: the vendor's error shape.
//!
//! Routes are relative (`/v1/...`, `/_admin/...`): the combined sandbox server
//! (`crate::sandbox`) mounts them under `/proteger`, and serves dropped connections
//! properly (see [`crate::sandbox::DropConnection`]).
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use underwrite::vendors::proteger::sandbox::{Fault, Faults, Phase, ProtegerSandboxConfig};
//! let config = ProtegerSandboxConfig {
//!     faults: Faults::scripted([Fault::Error { status: 500, phase: Phase::After }]),
//!     ..ProtegerSandboxConfig::default()
//! };
//! let server = underwrite::vendors::proteger::sandbox::serve(
//!     "127.0.0.1:0".parse().expect("address"),
//!     config,
//! )
//! .await?;
//! // ... run a client against server.proteger_url(), then:
//! assert_eq!(server.proteger.effects().duplicate_transaction_ids, 0);
//! # Ok(()) }
//! ```

mod admin;
mod auth;
mod catalogue;
mod contracts;
mod errors;
mod faults;
mod headers;
mod idempotency;
mod refund;
mod routes;
mod state;

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use super::settings::NAME;
use crate::sandbox::SandboxServer;

pub use catalogue::{
    SANDBOX_PHONE_PLAN_ID, SANDBOX_PHONE_PRODUCT_ID, SANDBOX_PLAN_3Y_ID, SANDBOX_PLAN_ID,
    SANDBOX_PRODUCT_ID, SANDBOX_STORE_ID, sample_contract,
};
pub use faults::{Fault, Faults, Phase, StallThen};
pub use idempotency::REPLAYED_HEADER;
pub use refund::{ALREADY_CANCELLED, refund_amount};
pub use state::Effects;

/// How the sandbox starts (and what `POST /_admin/reset` returns to).
#[derive(Clone)]
pub struct ProtegerSandboxConfig {
    /// The API key clients must present; `None` accepts any non-empty key.
    pub token: Option<String>,
    /// How long a created contract stays invisible to reads.
    pub persist_delay: Duration,
    /// How long an idempotency key replays its answer.
    pub idempotency_ttl: Duration,
    pub faults: Faults,
    /// The order of a bulk answer. Seed 000 does not promise the request's order, so a
    /// client must match by `transactionId`; [`BulkOrder::Reversed`] proves it does.
    pub bulk_order: BulkOrder,
}

/// How the sandbox orders the contracts of a bulk answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum BulkOrder {
    /// As they were sent (what our sandbox did before, and the kind reading).
    #[default]
    AsSent,
    /// Last sent, first answered: the unkind reading of the seed.
    Reversed,
}

impl Default for ProtegerSandboxConfig {
    fn default() -> Self {
        Self {
            token: None,
            persist_delay: Duration::from_millis(500),
            idempotency_ttl: Duration::from_secs(24 * 3600),
            faults: Faults::none(),
            bulk_order: BulkOrder::AsSent,
        }
    }
}

impl fmt::Debug for ProtegerSandboxConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProtegerSandboxConfig")
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("persist_delay", &self.persist_delay)
            .field("idempotency_ttl", &self.idempotency_ttl)
            .field("faults", &self.faults)
            .field("bulk_order", &self.bulk_order)
            .finish()
    }
}

/// A handle on one sandbox: cheap to clone, every clone sees the same state.
#[derive(Clone)]
pub struct ProtegerSandbox {
    shared: Arc<state::Shared>,
}

impl fmt::Debug for ProtegerSandbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProtegerSandbox")
            .field("config", &self.shared.config)
            .finish_non_exhaustive()
    }
}

impl ProtegerSandbox {
    pub fn new(config: ProtegerSandboxConfig) -> Self {
        Self {
            shared: Arc::new(state::Shared::new(config)),
        }
    }

    /// The vendor's routes and the admin routes, relative (`/v1/...`, `/_admin/...`).
    pub fn router(&self) -> axum::Router {
        routes::router(self.shared.clone())
    }

    /// What the sandbox did so far.
    pub fn effects(&self) -> Effects {
        self.shared.effects()
    }

    /// The faults in force.
    pub fn faults(&self) -> Faults {
        self.shared.lock().faults.clone()
    }

    /// Replaces the faults in force (as `PUT /_admin/faults`).
    pub fn set_faults(&self, faults: Faults) {
        self.shared.lock().faults = faults;
    }

    /// Adds scripted faults for the next requests, after those already scripted.
    pub fn push_faults(&self, faults: impl IntoIterator<Item = Fault>) {
        self.shared.lock().faults.next.extend(faults);
    }

    /// Forgets every contract and key and zeroes the effects (as `POST /_admin/reset`).
    pub fn reset(&self) {
        self.shared.reset();
    }
}

/// A sandbox server with Proteger's fake alone, and the fake's handle: for the tests,
/// chaos runs and benchmarks that check what the vendor saw.
#[derive(Debug)]
pub struct ServedProteger {
    pub server: SandboxServer,
    pub proteger: ProtegerSandbox,
}

impl ServedProteger {
    /// The base URL for a Proteger client, e.g. `http://127.0.0.1:43117/proteger`.
    pub fn proteger_url(&self) -> String {
        self.server.url(NAME)
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.addr
    }

    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }
}

/// Serves Proteger's fake alone on `listen` (port 0 picks a free port), under `/proteger`
/// as in the combined sandbox.
pub async fn serve(
    listen: SocketAddr,
    config: ProtegerSandboxConfig,
) -> std::io::Result<ServedProteger> {
    let proteger = ProtegerSandbox::new(config);
    let server = crate::sandbox::spawn(listen, vec![(NAME.to_string(), proteger.router())]).await?;
    Ok(ServedProteger { server, proteger })
}
