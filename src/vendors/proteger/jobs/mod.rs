//! Proteger's job kinds and their handlers: where Proteger is called from the queue.
//!
//! - `proteger.contract.create`: one contract a producer asked for. Never run alone: the
//!   batcher gathers waiting ones into a `proteger.contract.batch` of up to 10.
//! - `proteger.contract.batch`: one `POST /v1/contracts/bulk` call whose
//!   `X-Idempotency-Key` is the batch's job id, identical on every retry of the batch.
//! - `proteger.contract.cancel`: `PUT /v1/contracts/{id}/refund`, a quote when `preview`.
//!
//! ## When the vendor refuses a whole batch
//!
//! Proteger's bulk call is all-or-nothing (our sandbox models it so): one contract with an
//! unknown product makes the whole call answer 400 and creates nothing. The rule:
//!
//! - a permanent refusal about the *content* (400, 404, 409, 422) of a batch of several
//!   contracts: **split** the batch into one batch per contract, each with its own new key
//!   (derived from the batch id, so a replayed split creates nothing new). The good
//!   contracts then go through; the bad one fails alone with the vendor's answer. New keys
//!   are safe because the refused call created nothing.
//! - the same refusal for a batch of one: that contract `failed`, with the vendor's answer.
//! - 401/403 (credentials): no split, every contract of the batch fails; splitting would
//!   only repeat the refusal ten times.
//! - retryable answers (network, timeout, 5xx, 429): the **whole batch** is retried with
//!   the **same key**, so a call that did land at the vendor is replayed, not repeated.

use std::sync::Arc;

mod batch;
mod cancel;
pub mod matching;

use apalis::layers::WorkerBuilderExt;
use apalis::prelude::{Monitor, WorkerBuilder};
use serde::{Deserialize, Serialize};

pub use self::batch::send_batch;
pub use self::cancel::cancel;
use super::client::ProtegerClient;
use super::settings::{NAME, ProtegerSettings, TOKEN_SECRET};
use super::types::ContractRequest;
use crate::queue::{JobId, JobKind, Store};
use crate::worker_deps::WorkerDeps;

/// One contract to create.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CreateContract(pub ContractRequest);

impl JobKind for CreateContract {
    const KIND: &'static str = "proteger.contract.create";
}

/// Member jobs sent in one bulk call.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ContractBatch(pub Vec<JobId>);

impl JobKind for ContractBatch {
    const KIND: &'static str = "proteger.contract.batch";
}

/// Cancel a contract, or only quote its refund (`preview`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CancelContract {
    pub contract_id: String,
    pub preview: bool,
}

impl JobKind for CancelContract {
    const KIND: &'static str = "proteger.contract.cancel";
}

/// What the handlers need.
#[derive(Debug, Clone)]
pub struct ProtegerDeps {
    pub client: Arc<ProtegerClient>,
    pub store: Store,
    /// `[vendors.proteger]`: the key lifetime, the batch size.
    pub settings: Arc<ProtegerSettings>,
}

/// The kinds that have a worker (and so a retry promoter) in this process.
pub const WORKER_KINDS: [&str; 2] = [ContractBatch::KIND, CancelContract::KIND];

/// The kinds that travel in batches: a contract to create.
pub const MEMBER_KINDS: [&str; 1] = [CreateContract::KIND];

/// Adds Proteger's workers to the monitor.
pub fn register(
    monitor: Monitor,
    deps: &WorkerDeps,
) -> Result<Monitor, super::classify::ProtegerError> {
    let settings = ProtegerSettings::from_settings(&deps.settings)
        .map_err(|e| super::classify::ProtegerError::Config(e.to_string()))?;
    let client = Arc::new(ProtegerClient::new(
        &settings,
        deps.settings
            .secrets
            .vendor(NAME, TOKEN_SECRET)
            .map(String::from),
    )?);
    let proteger = ProtegerDeps {
        client,
        store: deps.store.clone(),
        settings: Arc::new(settings),
    };
    let batch_deps = deps.clone();
    let batch_data = proteger.clone();
    let cancel_deps = deps.clone();
    let concurrency = deps.settings.worker.concurrency;
    Ok(monitor
        .register(move |_| {
            WorkerBuilder::new(batch_deps.identity.consumer(ContractBatch::KIND))
                .backend(batch_deps.backend::<ContractBatch>())
                .catch_panic()
                .concurrency(concurrency)
                .data(batch_data.clone())
                .build(send_batch)
        })
        .register(move |_| {
            WorkerBuilder::new(cancel_deps.identity.consumer(CancelContract::KIND))
                .backend(cancel_deps.backend::<CancelContract>())
                .catch_panic()
                .concurrency(concurrency)
                .data(proteger.clone())
                .build(cancel)
        }))
}

/// The batcher that turns waiting contracts into batches.
pub fn batcher(
    deps: &WorkerDeps,
) -> Result<crate::queue::batcher::Batcher, crate::config::ConfigError> {
    let settings = ProtegerSettings::from_settings(&deps.settings)?;
    Ok(crate::queue::batcher::Batcher {
        store: deps.store.clone(),
        redis: deps.redis.clone(),
        member_kind: CreateContract::KIND,
        batch_kind: ContractBatch::KIND,
        consumer: deps.identity.consumer(CreateContract::KIND),
        lease: deps.settings.lease(),
        max: settings.batch_size,
        linger: std::time::Duration::from_millis(settings.linger_ms),
        distinct_by: Some(transaction_id),
    })
}

/// A contract's `transactionId`, read from a waiting contract's payload: Proteger matches
/// a bulk answer to its members by it (`matching.rs`), so no two members of one batch may
/// share one.
fn transaction_id(payload: &serde_json::Value) -> Option<String> {
    payload["transactionId"].as_str().map(String::from)
}
