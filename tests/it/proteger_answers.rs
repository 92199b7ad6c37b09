//! Proteger's answers as the seeds allow them, not as our sandbox used to give them: a bulk
//! answered in another order still gives each job its own contract, and a 2xx whose body
//! cannot be read is kept raw for an operator instead of failing a job whose retry would
//! act twice.

use std::time::Duration;

use underwrite::producer::Submission;
use underwrite::queue::{JobId, JobRecord, JobState};
use underwrite::vendors::proteger::jobs::{CancelContract, CreateContract};
use underwrite::vendors::proteger::sandbox::{BulkOrder, Fault, Faults, ProtegerSandboxConfig};

use crate::helpers::worker::wait_for;
use crate::helpers::world::{World, created_contract};
use crate::proteger_sandbox::contract;

const WITHIN: Duration = Duration::from_secs(30);

fn sandbox(faults: Faults, bulk_order: BulkOrder) -> ProtegerSandboxConfig {
    ProtegerSandboxConfig {
        faults,
        bulk_order,
        persist_delay: Duration::ZERO,
        ..ProtegerSandboxConfig::default()
    }
}

async fn create(world: &World, prefix: &str, n: usize) -> Vec<JobId> {
    let submissions = (0..n)
        .map(|i| Submission::new(CreateContract(contract(&format!("{prefix}-{i}")))))
        .collect();
    world
        .producer
        .submit(
            &underwrite::queue::AppName::default_app(),
            submissions,
            None,
        )
        .await
        .expect("submit")
        .job_ids
}

async fn finished(world: &World, ids: &[JobId]) -> Vec<JobRecord> {
    let mut records = Vec::new();
    for id in ids {
        records.push(wait_for(&world.store, id, WITHIN, |r| r.state.is_final()).await);
    }
    records
}

#[tokio::test]
async fn a_bulk_answered_in_reverse_order_still_gives_each_job_its_own_contract() {
    let world = World::start(sandbox(Faults::none(), BulkOrder::Reversed), |_| {}).await;
    let ids = create(&world, "reversed", 7).await;
    let records = finished(&world, &ids).await;
    for (i, record) in records.iter().enumerate() {
        assert_eq!(record.state, JobState::Succeeded, "{record:?}");
        let result = record.result.as_ref().expect("a contract");
        assert_eq!(result["transactionId"], format!("reversed-{i}"), "{result}");
    }
    // At least one bulk call held several contracts, so the order did matter.
    let effects = world.sandbox.proteger.effects();
    assert!(effects.requests_seen < 7, "{effects:?}");
    assert_eq!(effects.contracts_created, 7);
    world.stop().await;
}

#[tokio::test]
async fn an_unreadable_bulk_answer_is_kept_for_an_operator_and_never_retried() {
    let attention_before = attention_count("proteger.contract.batch");
    let world = World::start(
        sandbox(Faults::scripted([Fault::Garble]), BulkOrder::AsSent),
        |_| {},
    )
    .await;
    let ids = create(&world, "garbled", 3).await;
    let records = finished(&world, &ids).await;
    for record in &records {
        assert_eq!(record.state, JobState::Succeeded, "{record:?}");
        let why = record.attention.as_deref().expect("marked for attention");
        assert!(why.contains("cannot be read"), "{why}");
    }
    let batch = records[0].batch.expect("a batch");
    let batch = wait_for(&world.store, &batch, WITHIN, |r| r.state.is_final()).await;
    assert_eq!(
        batch.result.as_ref().map(|r| r["version"].clone()),
        Some(2.into()),
        "the raw answer"
    );
    let effects = world.sandbox.proteger.effects();
    assert_eq!(effects.requests_seen, 1, "no retry: {effects:?}");
    assert_eq!(effects.contracts_created, 3);
    assert!(attention_count("proteger.contract.batch") > attention_before);
    world.stop().await;
}

#[tokio::test]
async fn an_unreadable_refund_answer_is_kept_for_an_operator() {
    let world = World::start(sandbox(Faults::none(), BulkOrder::AsSent), |_| {}).await;
    let created = create(&world, "refund", 1).await;
    let contract_id = created_contract(&world.store, &created[0]).await;
    world.sandbox.proteger.push_faults([Fault::Garble]);
    let job = world
        .producer
        .submit_one(
            &underwrite::queue::AppName::default_app(),
            Submission::new(CancelContract {
                contract_id,
                preview: false,
            }),
            None,
        )
        .await
        .expect("submit")
        .job_ids[0];
    let record = wait_for(&world.store, &job, WITHIN, |r| r.state.is_final()).await;
    assert_eq!(record.state, JobState::Succeeded, "{record:?}");
    assert!(record.attention.is_some(), "{record:?}");
    assert_eq!(world.sandbox.proteger.effects().cancellations_committed, 1);
    world.stop().await;
}

/// `underwrite_jobs_needing_attention_total{kind}` as this process counts it.
fn attention_count(kind: &str) -> u64 {
    underwrite::queue::metrics::JOBS_NEEDING_ATTENTION
        .with_label_values(&[kind])
        .get()
}
