//! `chaos poison`: corrupt jobs written straight into Redis, among good ones.
//!
//! A producer in another language with a bug, an operator's hand edit, a half-finished
//! migration: what reaches the queue is not always what our own producer writes. Such a job
//! can never succeed, and what matters is what it does to everything else. Midway through
//! the good contracts, the run writes, with plain Redis commands and no script of ours:
//!
//! | corrupt job | kind | what it is |
//! |---|---|---|
//! | truncated JSON | contract create (batched) | `{"transactionId": ` |
//! | wrong shape | contract create (batched) | `{"hello": "world"}` |
//! | truncated JSON | cancel | `{"contract_id` |
//! | wrong shape | cancel | `{"preview": "maybe"}` |
//! | batch of a job that does not exist | contract batch | `["<random id>"]` |
//! | not JSON at all | contract batch | `ten contracts, please` |
//! | not JSON at all | webhook delivery | `\u{1}\u{2}binary` |
//!
//! plus two stream entries that name no job: one without an `id` field, one whose id has
//! no record (both are dropped: there is nothing to bury).
//!
//! Promised: every corrupt job ends in the dead set (state `failed` or `dead`) without a
//! vendor call for it; every good contract succeeds with its webhook, none twice, even those
//! batched together with a corrupt one; and no worker process exits. A corrupt job that is
//! not buried counts as lost, and so does a good one that does not succeed.

use redis::AsyncCommands;

use super::{ChaosError, ChaosOptions, ChaosReport, Rig, RigConfig, Scenario, err};
use crate::config::Settings;
use crate::queue::{JobId, JobKind, JobState, Store};
use crate::vendors::proteger::jobs::{CancelContract, ContractBatch, CreateContract};
use crate::vendors::proteger::sandbox::ProtegerSandboxConfig;
use crate::webhooks::delivery::Delivery;

/// Runs the scenario on the Redis at `settings.redis.url`.
pub async fn run(settings: &Settings, options: &ChaosOptions) -> Result<ChaosReport, ChaosError> {
    let mut sandbox = ProtegerSandboxConfig::default();
    sandbox.faults.latency_ms = options.vendor_latency.as_millis() as u64;
    let mut rig = Rig::start(settings, RigConfig::new(options.workers, sandbox)).await?;
    let half = options.jobs / 2;
    let mut good = rig.submit_contracts(0, half).await?;
    let corrupt = write_corrupt_jobs(&rig.store).await?;
    good.extend(rig.submit_contracts(half, options.jobs - half).await?);

    let settled = rig.wait_settled(good.len(), options.patience).await;
    let mut report = ChaosReport::new(Scenario::Poison);
    rig.tally(&mut report, &good).await?;
    let unburied = unburied(&rig.store, &corrupt).await?;
    report.jobs += corrupt.len();
    report.lost += unburied.len();
    report.details.push(format!(
        "{} corrupt jobs, {} buried",
        corrupt.len(),
        corrupt.len() - unburied.len()
    ));
    for (id, what) in &unburied {
        report
            .broken
            .push(format!("corrupt job {id} was not buried: {what}"));
    }
    report.broken.extend(rig.fleet.exited());
    if !settled {
        report.details.push("did not settle in time".into());
    }
    rig.finish().await;
    Ok(report)
}

/// Writes the corrupt jobs of the table above, as a careless producer would: a record, its
/// index entries and a stream entry, with plain commands.
async fn write_corrupt_jobs(store: &Store) -> Result<Vec<JobId>, ChaosError> {
    let ghost = JobId::new().to_string();
    let corrupt = [
        (CreateContract::KIND, r#"{"transactionId": "#.to_string()),
        (CreateContract::KIND, r#"{"hello": "world"}"#.to_string()),
        (CancelContract::KIND, r#"{"contract_id"#.to_string()),
        (CancelContract::KIND, r#"{"preview": "maybe"}"#.to_string()),
        (ContractBatch::KIND, format!(r#"["{ghost}"]"#)),
        (ContractBatch::KIND, "ten contracts, please".to_string()),
        (Delivery::KIND, "\u{1}\u{2}binary".to_string()),
    ];
    let mut ids = Vec::with_capacity(corrupt.len());
    for (kind, payload) in corrupt {
        ids.push(write_raw_job(store, kind, &payload, &[]).await?);
    }
    // Records whose bookkeeping is garbage, around a payload that would be fine.
    let cancel = r#"{"contract_id": "no-such-contract", "preview": true}"#;
    for field in [("attempts", "many"), ("crashes", "-x"), ("state", "bogus")] {
        ids.push(write_raw_job(store, CancelContract::KIND, cancel, &[field]).await?);
    }
    // Stream entries that name no job: nothing to bury, but nothing may choke on them.
    let mut conn = store.connection();
    let stream = store.keys().stream(CancelContract::KIND);
    let _: String = conn
        .xadd(&stream, "*", &[("garbage", "no id here")])
        .await
        .map_err(err)?;
    let _: String = conn
        .xadd(&stream, "*", &[("id", JobId::new().to_string())])
        .await
        .map_err(err)?;
    Ok(ids)
}

/// Writes one job by hand; `overrides` replace fields of the record.
async fn write_raw_job(
    store: &Store,
    kind: &str,
    payload: &str,
    overrides: &[(&str, &str)],
) -> Result<JobId, ChaosError> {
    let id = JobId::new();
    let keys = store.keys();
    let now = crate::queue::store::now_ms().to_string();
    let id_text = id.to_string();
    let mut fields = vec![
        ("id", id_text.as_str()),
        ("kind", kind),
        ("payload", payload),
        ("state", "queued"),
        ("attempts", "0"),
        ("crashes", "0"),
        ("enqueued_at", now.as_str()),
        ("updated_at", now.as_str()),
    ];
    fields.extend_from_slice(overrides);
    let mut conn = store.connection();
    let () = redis::pipe()
        .atomic()
        .hset_multiple(keys.job(&id), &fields)
        .ignore()
        .zadd(keys.index_all(), &id_text, &now)
        .ignore()
        .zadd(keys.index(JobState::Queued), &id_text, &now)
        .ignore()
        .sadd(keys.kinds(), kind)
        .ignore()
        .xadd(keys.stream(kind), "*", &[("id", &id_text)])
        .ignore()
        .query_async(&mut conn)
        .await
        .map_err(err)?;
    Ok(id)
}

/// The corrupt jobs that are not in the dead set, with what became of them.
async fn unburied(store: &Store, ids: &[JobId]) -> Result<Vec<(JobId, String)>, ChaosError> {
    let mut conn = store.connection();
    let mut unburied = Vec::new();
    for id in ids {
        let in_dead_set: Option<f64> = conn
            .zscore(store.keys().dead(), id.to_string())
            .await
            .map_err(err)?;
        let state: Option<String> = conn
            .hget(store.keys().job(id), "state")
            .await
            .map_err(err)?;
        let buried = matches!(state.as_deref(), Some("failed" | "dead"));
        if in_dead_set.is_none() || !buried {
            unburied.push((
                *id,
                format!("state {}", state.as_deref().unwrap_or("(none)")),
            ));
        }
    }
    Ok(unburied)
}
