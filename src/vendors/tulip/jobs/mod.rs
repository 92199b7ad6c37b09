//! Tulip's job kinds and their handlers: where Tulip is called from the queue.
//!
//! - `tulip.contract.quote`: `POST /contracts?preview=true`; the result is the quote
//!   (price, no `cid`). Nothing is stored at Tulip, so a retry is always safe.
//! - `tulip.contract.create`: `POST /contracts`; the result is the contract (`cid`,
//!   `status`, `price`). Tulip has no idempotency key: the "never twice" rule of `adopt.rs`
//!   keeps a retried creation from making a second contract.
//! - `tulip.contract.cancel`: `DELETE /contracts/{cid}`; the result says whether Tulip
//!   cancelled the contract (within 4 h of its start) or terminated it (after).
//!
//! Every call first takes one request from the budget shared by every process
//! ([`RateLimiter`]: creations and cancellations high priority, quotes low): a spent budget
//! defers the job without using an attempt. A 429 or a spent quota (99888) pauses every
//! process's calls, for `Retry-After` or the configured pause, and the job retries after it.

mod adopt;
mod cancel;
mod create;
mod sent;

use std::sync::Arc;

use apalis::layers::WorkerBuilderExt;
use apalis::prelude::{Monitor, WorkerBuilder};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use self::adopt::reference;
pub use self::cancel::cancel;
pub use self::create::{create, quote};
pub use self::sent::SentMarks;
use super::classify::{TulipError, classify};
use super::client::TulipClient;
use super::settings::{API_KEY_SECRET, NAME, TulipSettings};
use super::types::{ContractRequest, Termination};
use crate::queue::rate_limit::{Budget, RateLimiter};
use crate::queue::{JobError, JobKind, Store};
use crate::worker_deps::WorkerDeps;

/// A contract to price only.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct QuoteContract(pub ContractRequest);

impl JobKind for QuoteContract {
    const KIND: &'static str = "tulip.contract.quote";
}

/// A contract to create.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CreateContract(pub ContractRequest);

impl JobKind for CreateContract {
    const KIND: &'static str = "tulip.contract.create";
}

/// A contract to end: cancelled or terminated, as Tulip decides by its start.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CancelContract {
    pub cid: String,
    pub reason: String,
    /// When the termination takes effect; absent: at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_date: Option<DateTime<Utc>>,
}

impl CancelContract {
    pub fn termination(&self) -> Termination {
        Termination {
            reason: self.reason.clone(),
            end_date: self.end_date,
        }
    }
}

impl JobKind for CancelContract {
    const KIND: &'static str = "tulip.contract.cancel";
}

/// What the handlers need.
#[derive(Debug, Clone)]
pub struct TulipDeps {
    pub client: Arc<TulipClient>,
    pub store: Store,
    pub settings: Arc<TulipSettings>,
    /// Tulip's request budget, shared by every process.
    pub limiter: RateLimiter,
    pub sent: SentMarks,
}

/// The kinds that have a worker (and so a retry promoter) in this process.
pub const WORKER_KINDS: [&str; 3] = [
    QuoteContract::KIND,
    CreateContract::KIND,
    CancelContract::KIND,
];

/// Adds Tulip's workers to the monitor.
pub fn register(monitor: Monitor, deps: &WorkerDeps) -> Result<Monitor, TulipError> {
    let settings = TulipSettings::from_settings(&deps.settings)
        .map_err(|e| TulipError::Config(e.to_string()))?;
    let key = deps
        .settings
        .secrets
        .vendor(NAME, API_KEY_SECRET)
        .map(String::from);
    let client = Arc::new(TulipClient::new(&settings, key)?);
    let budget = Budget::new(settings.rate_limit, settings.rate_limit_window())
        .map_err(|e| TulipError::Config(e.to_string()))?;
    let data = TulipDeps {
        client,
        store: deps.store.clone(),
        limiter: RateLimiter::new(deps.store.clone(), NAME, budget),
        sent: SentMarks::new(&deps.store),
        settings: Arc::new(settings),
    };
    let concurrency = deps.settings.worker.concurrency;
    let (quote_deps, quote_data) = (deps.clone(), data.clone());
    let (create_deps, create_data) = (deps.clone(), data.clone());
    let cancel_deps = deps.clone();
    Ok(monitor
        .register(move |_| {
            WorkerBuilder::new(quote_deps.identity.consumer(QuoteContract::KIND))
                .backend(quote_deps.backend::<QuoteContract>())
                .catch_panic()
                .concurrency(concurrency)
                .data(quote_data.clone())
                .build(quote)
        })
        .register(move |_| {
            WorkerBuilder::new(create_deps.identity.consumer(CreateContract::KIND))
                .backend(create_deps.backend::<CreateContract>())
                .catch_panic()
                .concurrency(concurrency)
                .data(create_data.clone())
                .build(create)
        })
        .register(move |_| {
            WorkerBuilder::new(cancel_deps.identity.consumer(CancelContract::KIND))
                .backend(cancel_deps.backend::<CancelContract>())
                .catch_panic()
                .concurrency(concurrency)
                .data(data.clone())
                .build(cancel)
        }))
}

/// The verdict on a failed call (`classify.rs`), after pausing every process's calls when
/// Tulip asked for a pause (a 429, a spent quota).
pub(crate) async fn failed(deps: &TulipDeps, error: TulipError) -> JobError {
    let pause = error.pause(deps.settings.pause_on_429(), deps.settings.quota_pause());
    // The pause is for every other job; this one's own delay is in its verdict.
    if let Some(pause) = pause {
        deps.limiter.pause_or_log(pause).await;
    }
    classify(error, pause)
}
