//! `dead retry` after a vendor outage never makes Proteger create a contract twice: with
//! `--all`, members go with their batch under its key; a member whose batch may have
//! executed leaves it (for a new key) only when an operator says they checked the vendor; a
//! batch never sends a member that left it; and a batch whose key is too old stops and
//! waits for an operator.

use std::time::Duration;

use underwrite::producer::Submission;
use underwrite::queue::{JobId, JobRecord, JobState, Requeue, RetryOptions, RetryPolicy};
use underwrite::vendors::proteger::jobs::{ContractBatch, CreateContract};
use underwrite::vendors::proteger::sandbox::{Faults, ProtegerSandboxConfig};
use underwrite::vendors::proteger::settings::NAME;

use crate::helpers::worker::wait_for;
use crate::helpers::world::World;
use crate::proteger_sandbox::contract;
use underwrite::queue::JobKind;

const WITHIN: Duration = Duration::from_secs(30);
const CHECKED: RetryOptions = RetryOptions {
    vendor_checked: true,
};

/// Every call answered 5xx before the vendor executes anything (a load balancer in front of
/// it), and stored nowhere: the outage of the review's finding.
fn outage() -> Faults {
    Faults {
        error_rate: 1.0,
        error_after_share: 0.0,
        ..Faults::none()
    }
}

/// A world whose batches give up after two attempts.
async fn world(faults: Faults, tweak: impl FnOnce(&mut underwrite::config::Settings)) -> World {
    let config = ProtegerSandboxConfig {
        faults,
        persist_delay: Duration::ZERO,
        ..ProtegerSandboxConfig::default()
    };
    World::start(config, |settings| {
        settings.retry.insert(
            ContractBatch::KIND.to_string(),
            RetryPolicy {
                max_attempts: 2,
                base_ms: 20,
                cap_ms: 40,
                snooze_deadline_secs: None,
            },
        );
        tweak(settings);
    })
    .await
}

async fn submit(world: &World, prefix: &str, n: usize) -> Vec<JobId> {
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

async fn wait_all(
    world: &World,
    ids: &[JobId],
    done: impl Fn(&JobRecord) -> bool,
) -> Vec<JobRecord> {
    let mut records = Vec::new();
    for id in ids {
        records.push(wait_for(&world.store, id, WITHIN, &done).await);
    }
    records
}

fn dead(record: &JobRecord) -> bool {
    matches!(record.state, JobState::Dead | JobState::Failed)
}

fn batch_of(record: &JobRecord) -> JobId {
    record.batch.expect("a member of a batch")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_retry_all_after_an_outage_creates_each_contract_once() {
    let world = world(outage(), |_| {}).await;
    let ids = submit(&world, "outage", 12).await;
    let members = wait_all(&world, &ids, dead).await;

    // A member on its own would go under a new key, and the outage's calls may have
    // landed: refused without the operator's word.
    assert_eq!(
        world
            .store
            .requeue(&ids[0], RetryOptions::default())
            .await
            .expect("requeue"),
        Requeue::Ambiguous
    );

    world.sandbox.proteger.set_faults(Faults::none());
    let done = world
        .store
        .requeue_all(RetryOptions::default())
        .await
        .expect("retry all");
    let batches: std::collections::HashSet<JobId> = members.iter().map(batch_of).collect();
    assert_eq!(done.requeued, batches.len() as u64, "{done:?}");
    assert_eq!((done.ambiguous, done.in_batch), (0, 0), "{done:?}");

    let records = wait_all(&world, &ids, |r| r.state == JobState::Succeeded).await;
    let effects = world.sandbox.proteger.effects();
    assert_eq!(effects.contracts_created, 12, "{effects:?}");
    assert_eq!(effects.duplicate_transaction_ids, 0, "{effects:?}");
    // Each job holds the contract made for its own transaction.
    for (i, record) in records.iter().enumerate() {
        let result = record.result.as_ref().expect("a contract");
        assert_eq!(result["transactionId"], format!("outage-{i}"));
    }
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_that_left_its_batch_is_never_sent_by_the_batch() {
    let world = world(outage(), |_| {}).await;
    let ids = submit(&world, "left", 3).await;
    let members = wait_all(&world, &ids, dead).await;
    let batch = batch_of(&members[0]);
    world.sandbox.proteger.set_faults(Faults::none());

    // The operator checked the vendor and sends one member alone, under a key of its own.
    assert_eq!(
        world
            .store
            .requeue(&ids[0], CHECKED)
            .await
            .expect("requeue"),
        Requeue::Requeued
    );
    let alone = wait_for(&world.store, &ids[0], WITHIN, |r| {
        r.state == JobState::Succeeded
    })
    .await;
    assert_ne!(alone.batch, Some(batch), "it travelled in a new batch");

    // Then the whole batch: it sends the two members it still has, not the one that left.
    let done = world
        .store
        .requeue_all(RetryOptions::default())
        .await
        .expect("retry all");
    assert_eq!(done.requeued, 1, "{done:?}");
    wait_all(&world, &ids, |r| r.state == JobState::Succeeded).await;
    let effects = world.sandbox.proteger.effects();
    assert_eq!(effects.contracts_created, 3, "{effects:?}");
    assert_eq!(effects.duplicate_transaction_ids, 0, "{effects:?}");
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stored_error_keeps_the_batch_under_its_key_until_an_operator_checks() {
    // Every call executes, then answers 500; the vendor stores that answer under the key.
    let after = Faults {
        error_rate: 1.0,
        error_after_share: 1.0,
        ..Faults::none()
    };
    let world = world(after, |_| {}).await;
    let ids = submit(&world, "stored", 2).await;
    let members = wait_all(&world, &ids, dead).await;
    let batch = batch_of(&members[0]);
    for member in &members {
        let error = member.last_error.as_ref().expect("an error");
        assert!(error.ambiguous, "{error:?}");
    }
    let created = world.sandbox.proteger.effects().contracts_created;
    assert_eq!(created, 2, "the first call executed");
    world.sandbox.proteger.set_faults(Faults::none());

    // Alone, a member is refused: it would go under a new key.
    assert_eq!(
        world
            .store
            .requeue(&ids[0], RetryOptions::default())
            .await
            .expect("requeue"),
        Requeue::Ambiguous
    );
    // Retry all: the batch goes again under its key, the vendor replays its stored 500,
    // and nothing is created again.
    world
        .store
        .requeue_all(RetryOptions::default())
        .await
        .expect("retry all");
    wait_for(&world.store, &batch, WITHIN, |r| {
        dead(r) && r.attempts >= 1 && r.finished_at.is_some()
    })
    .await;
    wait_all(&world, &ids, dead).await;
    let effects = world.sandbox.proteger.effects();
    assert_eq!(effects.contracts_created, 2, "{effects:?}");
    assert_eq!(effects.duplicate_transaction_ids, 0, "{effects:?}");
    assert!(effects.idempotent_replays >= 1, "{effects:?}");
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_whose_key_is_too_old_stops_and_an_operator_releases_its_members() {
    // Keys usable for one second, and an outage longer than that.
    let world = world(outage(), |settings| {
        settings.set_vendor(NAME, "key_lifetime_secs", 2);
        settings.set_vendor(NAME, "key_margin_secs", 1);
        settings.retry.insert(
            ContractBatch::KIND.to_string(),
            RetryPolicy {
                max_attempts: 100,
                base_ms: 200,
                cap_ms: 300,
                snooze_deadline_secs: None,
            },
        );
    })
    .await;
    let ids = submit(&world, "old", 2).await;
    let members = wait_all(&world, &ids, dead).await;
    let batch = batch_of(&members[0]);
    let batch_record = wait_for(&world.store, &batch, WITHIN, dead).await;
    let error = batch_record.last_error.expect("an error");
    assert!(error.ambiguous, "{error:?}");
    assert!(
        error.message.contains("idempotency key"),
        "{}",
        error.message
    );
    assert_eq!(
        batch_record.state,
        JobState::Failed,
        "stopped, not exhausted"
    );
    world.sandbox.proteger.set_faults(Faults::none());

    // Without a check, the batch goes again and stops again at once: the key is too old.
    assert_eq!(
        world
            .store
            .requeue(&batch, RetryOptions::default())
            .await
            .expect("requeue"),
        Requeue::Requeued
    );
    wait_for(&world.store, &batch, WITHIN, dead).await;
    assert_eq!(world.sandbox.proteger.effects().contracts_created, 0);

    // Checked: the members go back to be batched under a new key, and are created once.
    assert_eq!(
        world.store.requeue(&batch, CHECKED).await.expect("requeue"),
        Requeue::Released { members: 2 }
    );
    wait_all(&world, &ids, |r| r.state == JobState::Succeeded).await;
    let effects = world.sandbox.proteger.effects();
    assert_eq!(effects.contracts_created, 2, "{effects:?}");
    assert_eq!(effects.duplicate_transaction_ids, 0, "{effects:?}");
    assert!(
        world.store.job(&batch).await.expect("read").is_none(),
        "the old batch is done with"
    );
    world.stop().await;
}
