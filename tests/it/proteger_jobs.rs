//! Proteger end to end: producer → queue → batcher → workers → the sandbox over HTTP.
//! The sandbox's effect count proves that no contract is ever created twice.

use std::time::Duration;

use serde_json::Value;
use underwrite::producer::Submission;
use underwrite::queue::{JobId, JobState};
use underwrite::vendors::proteger::jobs::{CancelContract, CreateContract};
use underwrite::vendors::proteger::sandbox::{
    Fault, Faults, Phase, ProtegerSandboxConfig, StallThen,
};

use crate::helpers::worker::{wait_for, wait_for_state};
use crate::helpers::world::{World, created_contract};
use crate::proteger_sandbox::contract;

const WITHIN: Duration = Duration::from_secs(30);

fn sandbox(faults: Faults) -> ProtegerSandboxConfig {
    ProtegerSandboxConfig {
        faults,
        persist_delay: Duration::from_millis(50),
        ..ProtegerSandboxConfig::default()
    }
}

async fn submit(world: &World, transaction_ids: &[String]) -> Vec<JobId> {
    let submissions = transaction_ids
        .iter()
        .map(|t| Submission::new(CreateContract(contract(t))))
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

fn transaction_ids(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}-{i:03}")).collect()
}

async fn all_final(world: &World, ids: &[JobId]) -> Vec<underwrite::queue::JobRecord> {
    let mut records = Vec::new();
    for id in ids {
        records.push(wait_for(&world.store, id, WITHIN, |r| r.state.is_final()).await);
    }
    records
}

#[tokio::test]
async fn contracts_go_out_in_bulk_calls_of_ten_and_each_job_gets_its_own_contract() {
    let world = World::start(sandbox(Faults::none()), |_| {}).await;
    let tx = transaction_ids("bulk", 25);
    let ids = submit(&world, &tx).await;
    let records = all_final(&world, &ids).await;
    for (record, transaction_id) in records.iter().zip(&tx) {
        assert_eq!(record.state, JobState::Succeeded, "{record:?}");
        let result = record.result.as_ref().expect("the vendor's contract");
        assert_eq!(
            result["transactionId"],
            Value::String(transaction_id.clone())
        );
        assert!(result["id"].as_str().is_some_and(|id| !id.is_empty()));
        assert!(record.batch.is_some());
    }
    let effects = world.sandbox.proteger.effects();
    assert_eq!(effects.contracts_created, 25);
    assert_eq!(effects.duplicate_transaction_ids, 0);
    assert_eq!(
        effects.requests_seen, 3,
        "25 contracts need 3 bulk calls of at most 10"
    );
    world.stop().await;
}

#[tokio::test]
async fn two_waiting_contracts_with_one_transaction_id_go_in_two_batches_and_each_gets_its_own() {
    // Bulk answers are matched to members by transactionId: in one batch, these two could
    // not be told apart and the batch would fail. The batcher sends them in two.
    let world = World::start(sandbox(Faults::none()), |_| {}).await;
    let tx: Vec<String> = ["twice", "once", "twice"].map(String::from).into();
    let ids = submit(&world, &tx).await;
    let records = all_final(&world, &ids).await;
    for (record, transaction_id) in records.iter().zip(&tx) {
        assert_eq!(record.state, JobState::Succeeded, "{record:?}");
        let result = record.result.as_ref().expect("the vendor's contract");
        assert_eq!(result["transactionId"], transaction_id.as_str());
    }
    let contract = |i: usize| records[i].result.as_ref().map(|r| r["id"].clone());
    assert_ne!(contract(0), contract(2), "each got its own contract");
    assert_ne!(records[0].batch, records[2].batch);
    let effects = world.sandbox.proteger.effects();
    assert_eq!(effects.contracts_created, 3);
    assert_eq!(
        effects.requests_seen, 2,
        "two batches, neither refused nor split"
    );
    world.stop().await;
}

#[tokio::test]
async fn one_bad_contract_does_not_sink_the_good_ones() {
    let world = World::start(sandbox(Faults::none()), |_| {}).await;
    let tx = transaction_ids("split", 5);
    let mut submissions: Vec<Submission<CreateContract>> = tx
        .iter()
        .map(|t| Submission::new(CreateContract(contract(t))))
        .collect();
    submissions[2].payload.0.product.reference_id = "no-such-product".into();
    let ids = world
        .producer
        .submit(
            &underwrite::queue::AppName::default_app(),
            submissions,
            None,
        )
        .await
        .expect("submit")
        .job_ids;
    let records = all_final(&world, &ids).await;
    for (i, record) in records.iter().enumerate() {
        if i == 2 {
            assert_eq!(record.state, JobState::Failed);
            let error = record.last_error.as_ref().expect("vendor answer");
            assert_eq!(error.vendor_status, Some(400));
            let body = error.vendor_body.as_ref().expect("vendor body");
            assert_eq!(
                body["error"],
                "failed create contract: failed get product: not found"
            );
        } else {
            assert_eq!(record.state, JobState::Succeeded, "{record:?}");
        }
    }
    let effects = world.sandbox.proteger.effects();
    assert_eq!(effects.contracts_created, 4);
    assert_eq!(effects.duplicate_transaction_ids, 0);
    world.stop().await;
}

#[tokio::test]
async fn a_batch_retried_after_the_vendor_executed_it_creates_nothing_twice() {
    // The first call executes, then stalls past the client's 1 s timeout (what a timeout
    // looks like from our side); the next is a 500 after executing... of a *new* key it
    // would be a duplicate. The batch keeps its key, so the vendor replays instead.
    let faults = Faults::scripted([
        Fault::Stall {
            ms: 1_500,
            then: StallThen::Answer,
        },
        Fault::Drop,
    ]);
    let world = World::start(sandbox(faults), |_| {}).await;
    let tx = transaction_ids("replay", 7);
    let ids = submit(&world, &tx).await;
    for record in all_final(&world, &ids).await {
        assert_eq!(record.state, JobState::Succeeded, "{record:?}");
        assert!(record.attempts >= 2, "the first attempt timed out");
    }
    let effects = world.sandbox.proteger.effects();
    assert_eq!(effects.contracts_created, 7);
    assert_eq!(effects.unique_transaction_ids, 7);
    assert_eq!(effects.duplicate_transaction_ids, 0);
    assert!(effects.idempotent_replays >= 1, "{effects:?}");
    world.stop().await;
}

#[tokio::test]
async fn a_stored_500_is_never_turned_into_a_duplicate() {
    let faults = Faults::scripted([Fault::Error {
        status: 500,
        phase: Phase::After,
    }]);
    let world = World::start(sandbox(faults), |s| {
        s.retry.insert(
            "proteger.contract.batch".into(),
            underwrite::queue::RetryPolicy {
                max_attempts: 3,
                base_ms: 20,
                cap_ms: 50,
                snooze_deadline_secs: None,
            },
        );
    })
    .await;
    let ids = submit(&world, &transaction_ids("stored500", 3)).await;
    // The vendor created the contracts but answers 500 for this key until the key expires:
    // we keep the key, so the batch dies instead of creating them again.
    for record in all_final(&world, &ids).await {
        assert_eq!(record.state, JobState::Dead, "{record:?}");
        assert_eq!(
            record.last_error.as_ref().and_then(|e| e.vendor_status),
            Some(500)
        );
    }
    let effects = world.sandbox.proteger.effects();
    assert_eq!(effects.contracts_created, 3);
    assert_eq!(effects.duplicate_transaction_ids, 0);
    world.stop().await;
}

#[tokio::test]
async fn a_429_waits_for_retry_after() {
    let faults = Faults::scripted([Fault::RateLimit {
        retry_after_secs: 1,
    }]);
    let world = World::start(sandbox(faults), |_| {}).await;
    let ids = submit(&world, &transaction_ids("ratelimited", 2)).await;
    let member = wait_for(&world.store, &ids[0], WITHIN, |r| r.batch.is_some()).await;
    let batch = member.batch.expect("batch");
    let retrying = wait_for_state(&world.store, &batch, JobState::Retrying, WITHIN).await;
    let wait = retrying.next_attempt_at.expect("next") - retrying.started_at.expect("started");
    assert!(
        wait >= chrono::Duration::seconds(1),
        "retried after {wait:?}, before Retry-After"
    );
    for record in all_final(&world, &ids).await {
        assert_eq!(record.state, JobState::Succeeded);
    }
    assert_eq!(world.sandbox.proteger.effects().contracts_created, 2);
    world.stop().await;
}

#[tokio::test]
async fn wrong_credentials_fail_at_once_without_retries() {
    let config = ProtegerSandboxConfig {
        token: Some("the-real-token".into()),
        ..sandbox(Faults::none())
    };
    let world = World::start(config, |_| {}).await;
    let ids = submit(&world, &transaction_ids("badcreds", 3)).await;
    for record in all_final(&world, &ids).await {
        assert_eq!(record.state, JobState::Failed);
        assert_eq!(record.attempts, 1);
        assert_eq!(
            record.last_error.as_ref().and_then(|e| e.vendor_status),
            Some(401)
        );
    }
    let effects = world.sandbox.proteger.effects();
    assert_eq!(effects.contracts_created, 0);
    assert_eq!(
        effects.requests_seen, 1,
        "no split and no retry on bad credentials"
    );
    world.stop().await;
}

#[tokio::test]
async fn a_preview_quotes_and_a_cancellation_cancels_once() {
    let world = World::start(sandbox(Faults::none()), |_| {}).await;
    let ids = submit(&world, &transaction_ids("cancel", 1)).await;
    let contract_id = created_contract(&world.store, &ids[0]).await;

    let cancel = |preview: bool| {
        Submission::new(CancelContract {
            contract_id: contract_id.clone(),
            preview,
        })
    };
    let preview = world
        .producer
        .submit_one(
            &underwrite::queue::AppName::default_app(),
            cancel(true),
            None,
        )
        .await
        .expect("submit")
        .job_ids[0];
    let quote = wait_for(&world.store, &preview, WITHIN, |r| r.state.is_final()).await;
    assert_eq!(quote.state, JobState::Succeeded, "{quote:?}");
    let result = quote.result.expect("quote");
    assert!(result["refundAmount"].as_i64().is_some(), "{result}");
    assert_eq!(world.sandbox.proteger.effects().cancellations_committed, 0);

    for _ in 0..2 {
        let job = world
            .producer
            .submit_one(
                &underwrite::queue::AppName::default_app(),
                cancel(false),
                None,
            )
            .await
            .expect("submit")
            .job_ids[0];
        let done = wait_for(&world.store, &job, WITHIN, |r| r.state.is_final()).await;
        assert_eq!(
            done.state,
            JobState::Succeeded,
            "cancelling twice is a success: {done:?}"
        );
        assert_eq!(done.result.expect("contract")["status"], "Cancelled");
    }
    let effects = world.sandbox.proteger.effects();
    assert_eq!(effects.cancellations_committed, 1);
    assert_eq!(effects.quotes_served, 1);
    world.stop().await;
}

/// A cancel policy with room for many early tries: the window, not the budget, must be what
/// ends them.
fn patient_cancels(settings: &mut underwrite::config::Settings) {
    settings.retry.insert(
        "proteger.contract.cancel".into(),
        underwrite::queue::RetryPolicy {
            max_attempts: 30,
            base_ms: 50,
            cap_ms: 200,
            snooze_deadline_secs: None,
        },
    );
}

async fn cancel_now(world: &World, contract_id: &str) -> underwrite::queue::JobRecord {
    let job = world
        .producer
        .submit_one(
            &underwrite::queue::AppName::default_app(),
            Submission::new(CancelContract {
                contract_id: contract_id.to_string(),
                preview: false,
            }),
            None,
        )
        .await
        .expect("submit")
        .job_ids[0];
    wait_for(&world.store, &job, WITHIN, |r| r.state.is_final()).await
}

#[tokio::test]
async fn a_cancellation_right_after_the_creation_waits_for_the_vendor_to_persist() {
    // The vendor keeps the contract unknown for 1.5 s; the cancellation goes out at once.
    let world = World::start(
        ProtegerSandboxConfig {
            persist_delay: Duration::from_millis(1_500),
            ..sandbox(Faults::none())
        },
        patient_cancels,
    )
    .await;
    let ids = submit(&world, &transaction_ids("early", 1)).await;
    let contract_id = created_contract(&world.store, &ids[0]).await;
    let done = cancel_now(&world, &contract_id).await;
    assert_eq!(done.state, JobState::Succeeded, "{done:?}");
    assert!(
        done.attempts >= 2,
        "the first try came before the vendor persisted the contract: {done:?}"
    );
    assert_eq!(done.result.expect("contract")["status"], "Cancelled");
    assert_eq!(world.sandbox.proteger.effects().cancellations_committed, 1);
    world.stop().await;
}

#[tokio::test]
async fn a_404_on_a_contract_we_never_created_fails_at_once() {
    let world = World::start(sandbox(Faults::none()), patient_cancels).await;
    let done = cancel_now(&world, "01a207a6-0000-7000-8000-000000000000").await;
    assert_eq!(done.state, JobState::Failed, "{done:?}");
    assert_eq!(done.attempts, 1, "no retry: {done:?}");
    let error = done.last_error.expect("the vendor's answer");
    assert_eq!(error.vendor_status, Some(404));
    assert_eq!(
        error.vendor_body.as_ref().map(|b| &b["code"]),
        Some(&Value::from("NotFoundException"))
    );
    world.stop().await;
}

#[tokio::test]
async fn past_the_window_a_404_on_our_own_contract_is_permanent_again() {
    // The vendor never persists within the test; we retry its 404 for 1 s, then give up
    // as a permanent failure (not by running out of attempts: 30 tries take longer).
    let world = World::start(
        ProtegerSandboxConfig {
            persist_delay: Duration::from_secs(3_600),
            ..sandbox(Faults::none())
        },
        |settings| {
            patient_cancels(settings);
            settings.set_vendor("proteger", "not_found_retry_secs", 1i64);
        },
    )
    .await;
    let ids = submit(&world, &transaction_ids("late", 1)).await;
    let contract_id = created_contract(&world.store, &ids[0]).await;
    let done = cancel_now(&world, &contract_id).await;
    assert_eq!(done.state, JobState::Failed, "{done:?}");
    assert!(
        (2..30).contains(&done.attempts),
        "retried within the window, then stopped by it: {done:?}"
    );
    let error = done.last_error.expect("the vendor's answer");
    assert_eq!(error.vendor_status, Some(404));
    // The vendor's own reason, and no longer the "created ... ago" of a retried 404.
    assert_eq!(
        error.message,
        "Proteger answered HTTP 404: failed refund contract: failed get contract: not found",
        "{error:?}"
    );
    assert_eq!(world.sandbox.proteger.effects().cancellations_committed, 0);
    world.stop().await;
}
