//! Billing-Robo's job kinds and their handlers: where Billing-Robo is called from the queue.
//!
//! - `billing_robo.credit.apply`: one credit application a producer asked for (its payload
//!   is the validated [`CreditApplication`]). Never run alone: the batcher gathers waiting
//!   ones, no billing code twice, into a `billing_robo.credit.batch` of up to `batch_size`.
//! - `billing_robo.credit.batch`: one `request_marunage_credit/bulk_register` call for its
//!   members, each settled with its own item's outcome (`batch.rs`).
//!
//! Every call first takes one request from the shared budget ([`RateLimiter`], high
//! priority): a spent budget defers the batch without using an attempt, and a 429 pauses
//! every process for `pause_on_429_secs`.
//!
//! Not here yet: polling pending applications (status 2) for their decision.

mod batch;

use std::sync::Arc;

use apalis::layers::WorkerBuilderExt;
use apalis::prelude::{Monitor, WorkerBuilder};
use serde::{Deserialize, Serialize};

pub use self::batch::send_batch;
use super::classify::BillingRoboError;
use super::client::{BillingRoboClient, Credentials};
use super::settings::{BillingRoboSettings, NAME};
use super::types::CreditApplication;
use crate::queue::rate_limit::{Budget, RateLimiter};
use crate::queue::{JobId, JobKind, Store};
use crate::worker_deps::WorkerDeps;

/// One credit application to register.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ApplyCredit(pub CreditApplication);

impl JobKind for ApplyCredit {
    const KIND: &'static str = "billing_robo.credit.apply";
}

/// Member jobs sent in one `bulk_register` call.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CreditBatch(pub Vec<JobId>);

impl JobKind for CreditBatch {
    const KIND: &'static str = "billing_robo.credit.batch";
}

/// What the handlers need.
#[derive(Debug, Clone)]
pub struct BillingRoboDeps {
    pub client: Arc<BillingRoboClient>,
    pub store: Store,
    pub settings: Arc<BillingRoboSettings>,
    /// The vendor's request budget, shared by every process.
    pub limiter: RateLimiter,
}

/// The kinds that have a worker (and so a retry promoter) in this process.
pub const WORKER_KINDS: [&str; 1] = [CreditBatch::KIND];

/// Adds Billing-Robo's workers to the monitor.
pub fn register(monitor: Monitor, deps: &WorkerDeps) -> Result<Monitor, BillingRoboError> {
    let settings = BillingRoboSettings::from_settings(&deps.settings)
        .map_err(|e| BillingRoboError::Config(e.to_string()))?;
    let client = Arc::new(BillingRoboClient::new(
        &settings,
        Credentials::from_settings(&deps.settings),
    )?);
    let budget = Budget::new(settings.rate_limit, settings.rate_limit_window())
        .map_err(|e| BillingRoboError::Config(format!("{e:?}")))?;
    let data = BillingRoboDeps {
        client,
        store: deps.store.clone(),
        limiter: RateLimiter::new(deps.store.clone(), NAME, budget),
        settings: Arc::new(settings),
    };
    let batch_deps = deps.clone();
    let concurrency = deps.settings.worker.concurrency;
    Ok(monitor.register(move |_| {
        WorkerBuilder::new(batch_deps.identity.consumer(CreditBatch::KIND))
            .backend(batch_deps.backend::<CreditBatch>())
            .catch_panic()
            .concurrency(concurrency)
            .data(data.clone())
            .build(send_batch)
    }))
}

/// The batcher that turns waiting applications into batches.
pub fn batcher(
    deps: &WorkerDeps,
) -> Result<crate::queue::batcher::Batcher, crate::config::ConfigError> {
    let settings = BillingRoboSettings::from_settings(&deps.settings)?;
    Ok(crate::queue::batcher::Batcher {
        store: deps.store.clone(),
        redis: deps.redis.clone(),
        member_kind: ApplyCredit::KIND,
        batch_kind: CreditBatch::KIND,
        consumer: deps.identity.consumer(ApplyCredit::KIND),
        lease: deps.settings.lease(),
        max: settings.batch_size,
        linger: settings.linger(),
        distinct_by: Some(billing_code),
    })
}

/// An application's billing code, read from a waiting application's payload: the vendor
/// refuses both applications of a billing code sent twice in one call, and answers are
/// matched to members by it.
fn billing_code(payload: &serde_json::Value) -> Option<String> {
    payload["billing_code"].as_str().map(String::from)
}
