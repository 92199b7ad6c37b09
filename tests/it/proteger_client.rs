//! Our Proteger client against the sandbox over real HTTP: every failure the sandbox can
//! produce, as the client reports it and as the queue will classify it. The thread through
//! all of them: whatever the client saw, the sandbox's effects show nothing done twice
//! unless a *new* idempotency key was used.

use std::time::{Duration, Instant};

use underwrite::queue::{JobError, JobId};
use underwrite::vendors::proteger::classify::{ProtegerError, credential_failures};
use underwrite::vendors::proteger::client::ProtegerClient;
use underwrite::vendors::proteger::idempotency_key::IdempotencyKey;
use underwrite::vendors::proteger::sandbox::ServedProteger;
use underwrite::vendors::proteger::sandbox::{Fault, Phase, ProtegerSandboxConfig, StallThen};
use underwrite::vendors::proteger::settings::ProtegerSettings;
use underwrite::vendors::proteger::types::ContractStatus;

use super::proteger_sandbox::{TOKEN, config, contract, start};

fn client_with(server: &ServedProteger, token: &str, timeout_ms: u64) -> ProtegerClient {
    let settings = ProtegerSettings {
        base_url: server.proteger_url(),
        connect_timeout_ms: 1_000,
        timeout_ms,
        ..ProtegerSettings::default()
    };
    ProtegerClient::new(&settings, Some(token.into())).expect("client")
}

/// The key of a batch named `name` in this test process: the same name, the same key (every
/// test has a sandbox of its own, so names need only differ within a test).
fn key(name: &str) -> IdempotencyKey {
    static BASE: std::sync::OnceLock<JobId> = std::sync::OnceLock::new();
    let base = BASE.get_or_init(JobId::new);
    let index = name.bytes().fold(0usize, |hash, byte| {
        hash.wrapping_mul(31).wrapping_add(byte as usize)
    });
    IdempotencyKey::for_batch(&JobId::derived(base, index))
}

fn client(server: &ServedProteger) -> ProtegerClient {
    client_with(server, TOKEN, 5_000)
}

fn retryable(error: ProtegerError) -> (JobError, Option<Duration>) {
    let job = JobError::from(error);
    let JobError::Retryable { retry_after, .. } = &job else {
        panic!("expected retryable, got {job:?}");
    };
    let retry_after = *retry_after;
    (job, retry_after)
}

fn permanent(error: ProtegerError) -> JobError {
    let job = JobError::from(error);
    assert!(
        matches!(job, JobError::Permanent { .. }),
        "expected permanent, got {job:?}"
    );
    job
}

/// Waits until `done` holds, or fails the test after 5 s.
async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn bulk_create() {
    let server = start(config()).await;
    let created = client(&server)
        .create_contracts_bulk(&key("key-1"), &[contract("order-1"), contract("order-2")])
        .await
        .expect("created");
    assert_eq!(created.len(), 2);
    assert_eq!(created[0].transaction_id, "order-1");
    assert_eq!(created[1].transaction_id, "order-2");
    assert_eq!(created[0].status, ContractStatus::Active);
    assert_eq!(server.proteger.effects().contracts_created, 2);
}

#[tokio::test]
async fn an_unknown_product_is_permanent_with_the_vendors_answer() {
    let server = start(config()).await;
    let mut bad = contract("bad-1");
    bad.product.reference_id = "no-such-product".into();
    let error = client(&server)
        .create_contracts_bulk(&key("key-bad"), &[contract("good-1"), bad])
        .await
        .expect_err("refused");
    let vendor = error.vendor_error().expect("the vendor's error shape");
    assert_eq!(vendor.code, "BadRequestException");
    assert_eq!(
        vendor.error,
        "failed create contract: failed get product: not found"
    );
    assert_eq!(vendor.request_id.len(), 32);
    let job = permanent(error);
    let detail = job.detail();
    assert_eq!(detail.vendor_status, Some(400));
    assert_eq!(
        detail
            .vendor_body
            .as_ref()
            .and_then(|b| b["error"].as_str()),
        Some("failed create contract: failed get product: not found")
    );
    assert_eq!(server.proteger.effects().contracts_created, 0);
}

#[tokio::test]
async fn a_wrong_token_is_permanent_and_counted() {
    let server = start(config()).await;
    let before = credential_failures().get();
    let error = client_with(&server, "wrong-token", 5_000)
        .create_contracts_bulk(&key("key-401"), &[contract("a-1")])
        .await
        .expect_err("refused");
    assert_eq!(error.status(), Some(401));
    let job = permanent(error);
    assert!(!format!("{job:?}").contains(TOKEN));
    assert!(credential_failures().get() > before);
}

#[tokio::test]
async fn a_5xx_before_executing_is_retryable_and_the_same_key_then_creates() {
    let server = start(config()).await;
    server.proteger.push_faults([Fault::Error {
        status: 503,
        phase: Phase::Before,
    }]);
    let client = client(&server);
    let batch = [contract("b-1")];
    let error = client
        .create_contracts_bulk(&key("key-503"), &batch)
        .await
        .expect_err("503");
    assert_eq!(error.status(), Some(503));
    let (job, _) = retryable(error);
    // A gateway's HTML page, kept as text.
    assert!(
        job.detail()
            .vendor_body
            .as_ref()
            .is_some_and(|b| b.is_string())
    );
    assert_eq!(server.proteger.effects().contracts_created, 0);
    let created = client
        .create_contracts_bulk(&key("key-503"), &batch)
        .await
        .expect("the retry executes");
    assert_eq!(created.len(), 1);
    assert_eq!(server.proteger.effects().contracts_created, 1);
}

#[tokio::test]
async fn a_429_is_retryable_after_the_vendors_delay() {
    let server = start(config()).await;
    server.proteger.push_faults([Fault::RateLimit {
        retry_after_secs: 7,
    }]);
    let error = client(&server)
        .create_contracts_bulk(&key("key-429"), &[contract("r-1")])
        .await
        .expect_err("429");
    let (_, retry_after) = retryable(error);
    assert_eq!(retry_after, Some(Duration::from_secs(7)));
    assert_eq!(server.proteger.effects().contracts_created, 0);
}

/// The case idempotency keys exist for: the vendor created the contract, then failed.
#[tokio::test]
async fn a_stored_500_is_replayed_for_the_same_key_but_a_new_key_creates_again() {
    let server = start(config()).await;
    server.proteger.push_faults([Fault::Error {
        status: 500,
        phase: Phase::After,
    }]);
    let client = client(&server);
    let batch = [contract("dup-1")];
    let first = client
        .create_contracts_bulk(&key("key-500"), &batch)
        .await
        .expect_err("500");
    assert_eq!(first.status(), Some(500));
    retryable(first.clone());
    assert_eq!(
        server.proteger.effects().contracts_created,
        1,
        "created despite the 500"
    );

    // The same key: the stored 500 again, and nothing new at the vendor.
    let replayed = client
        .create_contracts_bulk(&key("key-500"), &batch)
        .await
        .expect_err("replayed 500");
    assert_eq!(replayed, first);
    let effects = server.proteger.effects();
    assert_eq!(effects.contracts_created, 1);
    assert_eq!(effects.idempotent_replays, 1);
    assert_eq!(effects.duplicate_transaction_ids, 0);

    // A new key: the vendor cannot know it is the same contract, and makes it twice.
    client
        .create_contracts_bulk(&key("key-500-new"), &batch)
        .await
        .expect("created again");
    let effects = server.proteger.effects();
    assert_eq!(effects.contracts_created, 2);
    assert_eq!(effects.duplicate_transaction_ids, 1);
}

#[tokio::test]
async fn the_same_key_in_flight_is_a_retryable_409() {
    let server = start(config()).await;
    server.proteger.push_faults([Fault::Stall {
        ms: 1_500,
        then: StallThen::Answer,
    }]);
    let client = client(&server);
    let batch = [contract("f-1")];
    let first = tokio::spawn({
        let client = client.clone();
        let batch = batch.clone();
        async move { client.create_contracts_bulk(&key("key-409"), &batch).await }
    });
    // The create executes at once, then stalls with its key in flight.
    eventually("the first call to execute", || {
        server.proteger.effects().contracts_created == 1
    })
    .await;
    let error = client
        .create_contracts_bulk(&key("key-409"), &batch)
        .await
        .expect_err("409");
    assert_eq!(error.status(), Some(409));
    retryable(error);
    let created = first.await.expect("task").expect("the first call succeeds");
    let replayed = client
        .create_contracts_bulk(&key("key-409"), &batch)
        .await
        .expect("replayed");
    assert_eq!(replayed, created);
    assert_eq!(server.proteger.effects().contracts_created, 1);
}

#[tokio::test]
async fn the_same_key_with_another_body_is_a_permanent_400() {
    let server = start(config()).await;
    let client = client(&server);
    client
        .create_contracts_bulk(&key("key-other"), &[contract("o-1")])
        .await
        .expect("created");
    let error = client
        .create_contracts_bulk(&key("key-other"), &[contract("o-2")])
        .await
        .expect_err("mismatch");
    assert_eq!(error.status(), Some(400));
    permanent(error);
    assert_eq!(server.proteger.effects().contracts_created, 1);
}

#[tokio::test]
async fn a_quote_changes_nothing_a_commit_cancels_and_a_second_cancel_succeeds() {
    let server = start(config()).await;
    let client = client(&server);
    let created = client
        .create_contracts_bulk(&key("key-refund"), &[contract("c-1")])
        .await
        .expect("created");
    let id = &created[0].id;

    let quote = client.refund(id, false).await.expect("quote");
    assert_eq!(quote.contract.status, ContractStatus::Active);
    let amount = quote.refund_amount.expect("an amount");
    assert!((0..=2000).contains(&amount), "{amount}");
    assert_eq!(
        client.get_contract(id).await.expect("read").status,
        ContractStatus::Active
    );

    let cancelled = client.refund(id, true).await.expect("cancelled");
    assert_eq!(cancelled.contract.status, ContractStatus::Cancelled);
    assert!(
        cancelled
            .refund_amount
            .is_some_and(|a| (0..=2000).contains(&a))
    );

    // A retried cancel whose first attempt landed: success, with no amount to repeat.
    let again = client
        .refund(id, true)
        .await
        .expect("already cancelled is success");
    assert_eq!(again.contract.status, ContractStatus::Cancelled);
    assert_eq!(again.refund_amount, None);

    let effects = server.proteger.effects();
    assert_eq!(effects.quotes_served, 1);
    assert_eq!(effects.cancellations_committed, 1);

    // A contract that does not exist stays a permanent 404.
    let error = client
        .refund("no-such-contract", true)
        .await
        .expect_err("404");
    assert_eq!(error.status(), Some(404));
    permanent(error);
}

#[tokio::test]
async fn every_call_carries_the_documented_headers() {
    // The sandbox refuses a bulk create or a refund without `Content-Type` and `Accept:
    // application/json` (seeds 000, 001), and counts which token header it authenticated by.
    let server = start(config()).await;
    let client = client(&server);
    let created = client
        .create_contracts_bulk(&key("key-headers"), &[contract("hd-1")])
        .await
        .expect("bulk create: Content-Type and Accept sent");
    let id = &created[0].id;
    client
        .refund(id, false)
        .await
        .expect("quote: Content-Type sent on a PUT without a body");
    client.refund(id, true).await.expect("cancel");
    client.get_contract(id).await.expect("read: Accept sent");
    let effects = server.proteger.effects();
    assert_eq!(
        (
            effects.authenticated_by_auth_token,
            effects.authenticated_by_access_token
        ),
        (4, 0),
        "every call authenticates by X-Proteger-Auth-Token, never the other spelling"
    );
}

#[tokio::test]
async fn a_new_contract_reads_404_until_it_is_persisted() {
    let server = start(ProtegerSandboxConfig {
        persist_delay: Duration::from_millis(1_000),
        ..config()
    })
    .await;
    let client = client(&server);
    let created = client
        .create_contracts_bulk(&key("key-persist"), &[contract("p-1")])
        .await
        .expect("created");
    let id = created[0].id.clone();
    let error = client.get_contract(&id).await.expect_err("not yet");
    assert_eq!(error.status(), Some(404));
    let deadline = Instant::now() + Duration::from_secs(5);
    let read = loop {
        match client.get_contract(&id).await {
            Ok(contract) => break contract,
            Err(error) => {
                assert_eq!(error.status(), Some(404), "{error:?}");
                assert!(Instant::now() < deadline, "never persisted");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    assert_eq!(read.id, id);
    assert_eq!(read.transaction_id, "p-1");
}

#[tokio::test]
async fn a_dropped_connection_is_a_retryable_network_error() {
    let server = start(config()).await;
    server.proteger.push_faults([Fault::Drop]);
    let client = client(&server);
    let batch = [contract("d-1")];
    let error = client
        .create_contracts_bulk(&key("key-drop"), &batch)
        .await
        .expect_err("dropped");
    // No status, no body: hyper's "connection closed before message completed".
    assert!(
        matches!(&error, ProtegerError::Network(m) if m.contains("closed")),
        "{error:?}"
    );
    retryable(error);
    assert_eq!(server.proteger.effects().contracts_created, 0);
    client
        .create_contracts_bulk(&key("key-drop"), &batch)
        .await
        .expect("the retry executes");
    assert_eq!(server.proteger.effects().contracts_created, 1);
}

#[tokio::test]
async fn a_drop_after_executing_is_retryable_and_the_same_key_finds_the_contract() {
    let server = start(config()).await;
    server.proteger.push_faults([Fault::Stall {
        ms: 0,
        then: StallThen::Drop,
    }]);
    let client = client(&server);
    let batch = [contract("sd-1")];
    let error = client
        .create_contracts_bulk(&key("key-stall-drop"), &batch)
        .await
        .expect_err("dropped");
    assert!(matches!(error, ProtegerError::Network(_)), "{error:?}");
    assert_eq!(server.proteger.effects().contracts_created, 1);
    let created = client
        .create_contracts_bulk(&key("key-stall-drop"), &batch)
        .await
        .expect("replayed");
    assert_eq!(created[0].transaction_id, "sd-1");
    let effects = server.proteger.effects();
    assert_eq!(effects.contracts_created, 1);
    assert_eq!(effects.idempotent_replays, 1);
}

#[tokio::test]
async fn a_stall_past_the_timeout_is_retryable_and_the_same_key_finds_the_contract() {
    let server = start(config()).await;
    server.proteger.push_faults([Fault::Stall {
        ms: 1_000,
        then: StallThen::Answer,
    }]);
    let client = client_with(&server, TOKEN, 300);
    let batch = [contract("s-1")];
    let error = client
        .create_contracts_bulk(&key("key-stall"), &batch)
        .await
        .expect_err("timed out");
    assert!(matches!(error, ProtegerError::Timeout(_)), "{error:?}");
    retryable(error);
    // The vendor carried on without us: the contract exists.
    eventually("the stalled call to execute", || {
        server.proteger.effects().contracts_created == 1
    })
    .await;
    // Retrying with the same key: 409 while the first call still stalls, then its answer.
    let deadline = Instant::now() + Duration::from_secs(5);
    let created = loop {
        match client
            .create_contracts_bulk(&key("key-stall"), &batch)
            .await
        {
            Ok(created) => break created,
            Err(error) => {
                assert_eq!(error.status(), Some(409), "{error:?}");
                assert!(Instant::now() < deadline, "the key never settled");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    assert_eq!(created[0].transaction_id, "s-1");
    let effects = server.proteger.effects();
    assert_eq!(effects.contracts_created, 1);
    assert_eq!(effects.duplicate_transaction_ids, 0);
}
