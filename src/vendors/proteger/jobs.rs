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

use apalis::layers::WorkerBuilderExt;
use apalis::prelude::{Data, Monitor, WorkerBuilder};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::client::ProtegerClient;
use super::idempotency_key::IdempotencyKey;
use super::settings::{NAME, ProtegerSettings, TOKEN_SECRET};
use super::types::ContractRequest;
use crate::queue::{
    ChildOutcome, ErrorDetail, JobContext, JobError, JobId, JobKind, JobOutput, Store,
};
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
}

/// Sends a batch in one bulk call and settles every member with its own contract.
pub async fn send_batch(
    batch: ContractBatch,
    ctx: JobContext,
    deps: Data<ProtegerDeps>,
) -> Result<JobOutput, JobError> {
    let Readable {
        members,
        contracts,
        unsendable,
    } = read_members(&deps.store, &batch.0).await?;
    if contracts.is_empty() && unsendable.is_empty() {
        return Err(JobError::permanent(ErrorDetail::message(
            "none of the batch's member jobs exists any more",
        )));
    }
    if contracts.is_empty() {
        return Ok(JobOutput {
            result: json!({ "contracts": 0 }),
            children: unsendable,
        });
    }
    let key = IdempotencyKey::for_batch(&ctx.id);
    match deps.client.create_contracts_bulk(&key, &contracts).await {
        Ok(created) if created.len() == members.len() => {
            let children = members
                .iter()
                .zip(&created)
                .map(|(id, contract)| ChildOutcome::Succeeded {
                    id: *id,
                    result: serde_json::to_value(contract).unwrap_or_default(),
                })
                .chain(unsendable)
                .collect();
            Ok(JobOutput {
                result: json!({ "idempotency_key": key.as_str(), "contracts": created.len() }),
                children,
            })
        }
        Ok(created) => Err(JobError::permanent(ErrorDetail::message(format!(
            "Proteger answered {} contracts for a bulk of {}",
            created.len(),
            members.len()
        )))),
        Err(error) => {
            let error = JobError::from(error);
            if members.len() > 1 && refuses_content(&error) {
                let batches = deps
                    .store
                    .split_batch(ContractBatch::KIND, &ctx.id, &members)
                    .await
                    .map_err(|e| {
                        JobError::retryable(ErrorDetail::message(format!("queue: {e}")))
                    })?;
                tracing::info!(batch = %ctx.id, members = members.len(), "Proteger refused the batch; sending its contracts one by one");
                return Ok(JobOutput {
                    result: json!({ "split_into": batches, "reason": error.detail() }),
                    children: unsendable,
                });
            }
            Err(error)
        }
    }
}

/// A batch's members as read from the queue: the ones to send, with their contracts, and
/// the ones that cannot be sent.
struct Readable {
    members: Vec<JobId>,
    contracts: Vec<ContractRequest>,
    unsendable: Vec<ChildOutcome>,
}

/// Reads the members of a batch. A member whose record is unreadable or whose payload is not
/// a contract (written by something other than underwrite) fails alone: the others must not
/// pay for it. The split is the same on every attempt, so the body sent under the batch's
/// idempotency key stays the same. A member whose record is gone (purged by an operator) is
/// left out: there is nothing left to settle.
async fn read_members(store: &Store, ids: &[JobId]) -> Result<Readable, JobError> {
    let mut readable = Readable {
        members: Vec::with_capacity(ids.len()),
        contracts: Vec::with_capacity(ids.len()),
        unsendable: Vec::new(),
    };
    let records = store
        .records_each(ids)
        .await
        .map_err(|e| JobError::retryable(ErrorDetail::message(format!("queue: {e}"))))?;
    for (member, record) in ids.iter().zip(records) {
        let decoded = match record {
            None => {
                tracing::warn!(%member, "a batch member's record is gone; leaving it out");
                continue;
            }
            Some(Ok(record)) => serde_json::from_value::<ContractRequest>(record.payload)
                .map_err(|e| format!("member job {member} holds an invalid contract: {e}")),
            Some(Err(e)) => Err(format!("member job {member} cannot be read: {e}")),
        };
        match decoded {
            Ok(contract) => {
                readable.members.push(*member);
                readable.contracts.push(contract);
            }
            Err(message) => readable.unsendable.push(ChildOutcome::Failed {
                id: *member,
                error: ErrorDetail::message(message),
            }),
        }
    }
    Ok(readable)
}

/// A permanent refusal about what was sent (not about who sent it).
fn refuses_content(error: &JobError) -> bool {
    matches!(
        error,
        JobError::Permanent { detail } if matches!(detail.vendor_status, Some(400 | 404 | 409 | 422))
    )
}

/// Cancels a contract, or quotes the refund without changing anything.
pub async fn cancel(job: CancelContract, deps: Data<ProtegerDeps>) -> Result<JobOutput, JobError> {
    let quote = deps.client.refund(&job.contract_id, !job.preview).await?;
    Ok(JobOutput::new(
        serde_json::to_value(&quote).unwrap_or_default(),
    ))
}

/// The kinds that have a worker (and so a retry promoter) in this process.
pub const WORKER_KINDS: [&str; 2] = [ContractBatch::KIND, CancelContract::KIND];

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
    })
}
