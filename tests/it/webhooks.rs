//! Webhooks end to end: jobs finish → deliveries → a real HTTP receiver written in the test,
//! which verifies every signature with its own HMAC code (not the library's).

use std::time::{Duration, Instant};

use underwrite::producer::Submission;
use underwrite::queue::{JobId, JobKind, JobRecord, JobState, ListFilter};
use underwrite::vendors::proteger::jobs::{CancelContract, CreateContract};
use underwrite::vendors::proteger::sandbox::{Faults, ProtegerSandboxConfig, sample_contract};
use underwrite::webhooks::delivery::Delivery;
use underwrite::webhooks::endpoints::{EndpointStore, NewEndpoint};

use crate::helpers::receiver::{Receiver, independently_verified};
use crate::helpers::worker::wait_for;
use crate::helpers::world::{World, created_contract};

const WITHIN: Duration = Duration::from_secs(30);

fn sandbox() -> ProtegerSandboxConfig {
    ProtegerSandboxConfig {
        faults: Faults::none(),
        persist_delay: Duration::from_millis(10),
        ..ProtegerSandboxConfig::default()
    }
}

/// A world whose webhooks may reach loopback and retry every second.
async fn world() -> World {
    World::start(sandbox(), |s| {
        s.webhooks.allow_cidrs = vec!["127.0.0.0/8".into()];
        s.webhooks.schedule_secs = vec![0, 1, 1, 1, 1, 1, 1, 1];
        s.webhooks.jitter = 0.0;
        s.webhooks.timeout_ms = 2_000;
    })
    .await
}

/// Creates an endpoint; returns its id and its secret (`whsec_...`).
async fn endpoint(world: &World, url: &str, events: &[&str], ordered: bool) -> (String, String) {
    let store = EndpointStore::new(&world.store);
    let (endpoint, secret) = store
        .create(NewEndpoint {
            url: url.to_string(),
            events: events.iter().map(|e| e.to_string()).collect(),
            ordered,
            ..NewEndpoint::default()
        })
        .await
        .expect("create endpoint");
    (endpoint.id, secret.expose())
}

async fn submit(world: &World, prefix: &str, n: usize) -> Vec<JobId> {
    let submissions = (0..n)
        .map(|i| {
            let mut s = Submission::new(CreateContract(sample_contract(&format!("{prefix}-{i}"))));
            s.reference = Some(format!("ref-{prefix}-{i}"));
            s
        })
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

async fn until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + WITHIN;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Polls the deliveries until `done` holds for them (or fails after `WITHIN`).
async fn deliveries_until(
    world: &World,
    what: &str,
    done: impl Fn(&[JobRecord]) -> bool,
) -> Vec<JobRecord> {
    let deadline = Instant::now() + WITHIN;
    loop {
        let all = deliveries(world).await;
        if done(&all) {
            return all;
        }
        assert!(Instant::now() < deadline, "{what}: {all:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn deliveries(world: &World) -> Vec<JobRecord> {
    world
        .store
        .list(&ListFilter {
            kind: Some(Delivery::KIND.into()),
            limit: 500,
            ..ListFilter::default()
        })
        .await
        .expect("list")
        .jobs
}

#[tokio::test]
async fn every_event_is_delivered_once_and_verifies_independently() {
    let world = world().await;
    let receiver = Receiver::start("127.0.0.1:0".parse().expect("addr")).await;
    let (_id, secret) = endpoint(&world, &receiver.url(), &["proteger.*"], false).await;
    let mut submissions: Vec<Submission<CreateContract>> = (0..5)
        .map(|i| Submission::new(CreateContract(sample_contract(&format!("ev-{i}")))))
        .collect();
    submissions[4].payload.0.product.reference_id = "no-such-product".into();
    submissions[0].reference = Some("order-0".into());
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
    let contract_id = created_contract(&world.store, &ids[0]).await;
    for preview in [true, false] {
        let cancel = CancelContract {
            contract_id: contract_id.clone(),
            preview,
        };
        world
            .producer
            .submit_one(
                &underwrite::queue::AppName::default_app(),
                Submission::new(cancel),
                None,
            )
            .await
            .expect("cancel");
    }
    // 4 created, 1 failed, 1 refund quoted, 1 cancelled.
    until("7 events", || receiver.distinct_ids() >= 7).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let received = receiver.received();
    assert_eq!(received.len(), 7, "each event delivered once");
    for r in &received {
        assert!(
            independently_verified(&secret, r),
            "signature of {} does not verify",
            r.id
        );
    }
    let mut types: Vec<String> = received
        .iter()
        .map(|r| r.json()["type"].as_str().unwrap_or("").to_string())
        .collect();
    types.sort();
    assert_eq!(
        types,
        vec![
            "proteger.contract.cancelled",
            "proteger.contract.created",
            "proteger.contract.created",
            "proteger.contract.created",
            "proteger.contract.created",
            "proteger.contract.failed",
            "proteger.contract.refund_quoted",
        ]
    );
    let created_0 = received
        .iter()
        .map(|r| r.json())
        .find(|b| b["data"]["job_id"] == serde_json::json!(ids[0]))
        .expect("event of job 0");
    assert_eq!(created_0["data"]["reference"], "order-0");
    assert_eq!(created_0["data"]["contract"]["id"], contract_id.as_str());
    assert_eq!(
        created_0["data"]["event_id"],
        received
            .iter()
            .find(|r| r.json()["data"]["job_id"] == serde_json::json!(ids[0]))
            .map(|r| r.id.clone())
            .unwrap_or_default()
            .as_str()
    );
    world.stop().await;
}

#[tokio::test]
async fn a_receiver_down_for_a_while_gets_every_event_when_it_is_back() {
    let world = world().await;
    // A port nobody listens on yet.
    let addr = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr")
    };
    let (_id, secret) = endpoint(&world, &format!("http://{addr}/hook"), &["*"], false).await;
    submit(&world, "down", 4).await;
    // Wait until the deliveries have failed at least once.
    deliveries_until(&world, "deliveries never tried", |all| {
        all.len() == 4 && all.iter().all(|d| d.attempts >= 1)
    })
    .await;
    let receiver = Receiver::start(addr).await;
    until("4 events after the receiver came back", || {
        receiver.distinct_ids() >= 4
    })
    .await;
    for r in receiver.received() {
        assert!(independently_verified(&secret, &r));
    }
    world.stop().await;
}

#[tokio::test]
async fn gone_disables_the_endpoint() {
    let world = world().await;
    let receiver = Receiver::start("127.0.0.1:0".parse().expect("addr")).await;
    receiver.answer(410, 0);
    let (id, _secret) = endpoint(&world, &receiver.url(), &["*"], false).await;
    submit(&world, "gone", 1).await;
    let store = EndpointStore::new(&world.store);
    let deadline = Instant::now() + WITHIN;
    loop {
        let endpoint = store.get(&id).await.expect("get").expect("exists");
        if !endpoint.enabled {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "410 did not disable the endpoint"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let all = deliveries(&world).await;
    assert_eq!(all.len(), 1);
    let failed = wait_for(&world.store, &all[0].id, WITHIN, |r| r.state.is_final()).await;
    assert_eq!(failed.state, JobState::Failed);
    // A disabled endpoint gets nothing more.
    let more = submit(&world, "gone-after", 1).await;
    wait_for(&world.store, &more[0], WITHIN, |r| r.state.is_final()).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(deliveries(&world).await.len(), 1);
    assert_eq!(receiver.received().len(), 1);
    world.stop().await;
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let world = world().await;
    let receiver = Receiver::start("127.0.0.1:0".parse().expect("addr")).await;
    receiver.answer(429, 3);
    endpoint(&world, &receiver.url(), &["*"], false).await;
    submit(&world, "ra", 1).await;
    let is_retrying = |d: &JobRecord| d.state == JobState::Retrying && d.attempts >= 1;
    let retrying = deliveries_until(&world, "no retrying delivery", |all| {
        all.iter().any(is_retrying)
    })
    .await
    .into_iter()
    .find(is_retrying)
    .expect("a retrying delivery");
    let wait = retrying.next_attempt_at.expect("next") - retrying.started_at.expect("started");
    assert!(
        wait >= chrono::Duration::seconds(3),
        "retried after {wait:?}, before Retry-After"
    );
    receiver.answer(204, 0);
    wait_for(&world.store, &retrying.id, WITHIN, |r| {
        r.state == JobState::Succeeded
    })
    .await;
    world.stop().await;
}

#[tokio::test]
async fn after_rotation_both_secrets_sign() {
    let world = world().await;
    let receiver = Receiver::start("127.0.0.1:0".parse().expect("addr")).await;
    let (id, old) = endpoint(&world, &receiver.url(), &["*"], false).await;
    let new = EndpointStore::new(&world.store)
        .rotate(&id, Duration::from_secs(3600))
        .await
        .expect("rotate")
        .expose();
    submit(&world, "rot", 1).await;
    until("one event", || receiver.distinct_ids() >= 1).await;
    let received = &receiver.received()[0];
    assert_eq!(received.signature.split(' ').count(), 2);
    assert!(independently_verified(&old, received));
    assert!(independently_verified(&new, received));
    world.stop().await;
}

#[tokio::test]
async fn private_addresses_are_refused_unless_allowlisted() {
    let world = World::start(sandbox(), |s| {
        s.webhooks.allow_cidrs = Vec::new();
        s.webhooks.schedule_secs = vec![0, 1];
    })
    .await;
    let receiver = Receiver::start("127.0.0.1:0".parse().expect("addr")).await;
    let port = receiver.addr.port();
    for url in [
        "http://10.0.0.1/hook".to_string(),
        "http://169.254.169.254/latest/meta-data".to_string(),
        format!("http://localhost:{port}/hook"),
    ] {
        endpoint(&world, &url, &["*"], false).await;
    }
    submit(&world, "ssrf", 1).await;
    let all = deliveries_until(&world, "deliveries not refused", |all| {
        all.len() == 3 && all.iter().all(|d| d.state.is_final())
    })
    .await;
    for d in &all {
        assert_eq!(d.state, JobState::Failed, "{d:?}");
        let message = &d.last_error.as_ref().expect("error").message;
        assert!(message.contains("SSRF"), "{message}");
    }
    assert!(
        receiver.received().is_empty(),
        "nothing reached the local receiver"
    );
    world.stop().await;
}

#[tokio::test]
async fn an_ordered_endpoint_gets_a_subjects_events_one_at_a_time_in_order() {
    let world = world().await;
    let receiver = Receiver::start("127.0.0.1:0".parse().expect("addr")).await;
    receiver.answer(500, 0);
    endpoint(
        &world,
        &receiver.url(),
        &["proteger.contract.created", "proteger.contract.cancelled"],
        true,
    )
    .await;
    let ids = submit(&world, "ordered", 1).await;
    let contract_id = created_contract(&world.store, &ids[0]).await;
    let cancel = CancelContract {
        contract_id,
        preview: false,
    };
    let job = world
        .producer
        .submit_one(
            &underwrite::queue::AppName::default_app(),
            Submission::new(cancel),
            None,
        )
        .await
        .expect("cancel")
        .job_ids[0];
    wait_for(&world.store, &job, WITHIN, |r| {
        r.state == JobState::Succeeded
    })
    .await;
    // While the first event keeps failing, the second waits its turn.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let types = |r: &crate::helpers::receiver::Received| {
        r.json()["type"].as_str().unwrap_or("").to_string()
    };
    assert!(
        receiver.received().len() >= 2,
        "the first event was retried"
    );
    assert!(
        receiver
            .received()
            .iter()
            .all(|r| types(r) == "proteger.contract.created")
    );
    receiver.answer(204, 0);
    until("both events", || receiver.distinct_ids() >= 2).await;
    let received = receiver.received();
    let last_created = received
        .iter()
        .rposition(|r| types(r) == "proteger.contract.created");
    let first_cancelled = received
        .iter()
        .position(|r| types(r) == "proteger.contract.cancelled");
    assert!(
        last_created < first_cancelled,
        "cancelled went out before created was delivered"
    );
    world.stop().await;
}

#[tokio::test]
async fn a_stale_head_does_not_block_an_ordered_subject() {
    let world = world().await;
    let receiver = Receiver::start("127.0.0.1:0".parse().expect("addr")).await;
    receiver.answer(500, 0);
    endpoint(&world, &receiver.url(), &["*"], true).await;
    submit(&world, "stale-head", 1).await;
    until("a first attempt", || !receiver.received().is_empty()).await;
    // A delivery buried without running never releases its turn: put one at the head.
    let mut conn = world.store.connection();
    // Every ordered subject's key: both parts of the name are globs.
    let pattern = world.store.keys().webhook_order("*", "*");
    let orders: Vec<String> = redis::cmd("KEYS")
        .arg(&pattern)
        .query_async(&mut conn)
        .await
        .expect("keys");
    assert_eq!(orders.len(), 1, "one ordered subject: {orders:?}");
    let ghost = JobId::new().to_string();
    let _: i64 = redis::cmd("ZADD")
        .arg(&orders[0])
        .arg(0)
        .arg(&ghost)
        .query_async(&mut conn)
        .await
        .expect("zadd");
    receiver.answer(204, 0);
    deliveries_until(&world, "the event, past the stale head", |all| {
        all.len() == 1 && all[0].state == JobState::Succeeded
    })
    .await;
    world.stop().await;
}

#[tokio::test]
async fn failed_deliveries_are_recovered_and_a_delivered_one_can_be_resent() {
    let world = World::start(sandbox(), |s| {
        s.webhooks.allow_cidrs = vec!["127.0.0.0/8".into()];
        s.webhooks.schedule_secs = vec![0, 1];
        s.webhooks.jitter = 0.0;
    })
    .await;
    let receiver = Receiver::start("127.0.0.1:0".parse().expect("addr")).await;
    receiver.answer(503, 0);
    let since = chrono::Utc::now();
    let (id, _secret) = endpoint(&world, &receiver.url(), &["*"], false).await;
    submit(&world, "recover", 3).await;
    deliveries_until(&world, "deliveries did not die", |all| {
        all.len() == 3 && all.iter().all(|d| d.state == JobState::Dead)
    })
    .await;
    receiver.answer(204, 0);
    let requeued = underwrite::webhooks::replay::recover(&world.store, &id, None, since)
        .await
        .expect("recover");
    assert_eq!(requeued, 3);
    // 3 deliveries × 2 failed attempts, then the 3 recovered ones.
    until("3 recovered events", || receiver.received().len() >= 9).await;
    let all = deliveries(&world).await;
    for d in &all {
        wait_for(&world.store, &d.id, WITHIN, |r| {
            r.state == JobState::Succeeded
        })
        .await;
    }
    // Resending a delivered one sends the same event (same webhook-id) again.
    let before = receiver.received().len();
    let again = underwrite::webhooks::replay::resend(&world.store, &all[0].id, None)
        .await
        .expect("resend");
    wait_for(&world.store, &again, WITHIN, |r| {
        r.state == JobState::Succeeded
    })
    .await;
    let received = receiver.received();
    assert_eq!(received.len(), before + 1);
    assert_eq!(receiver.distinct_ids(), 3, "a resend keeps the webhook-id");
    world.stop().await;
}

#[tokio::test]
async fn a_slow_receiver_gets_at_most_its_concurrency_limit_and_starves_no_one() {
    let world = World::start(sandbox(), |s| {
        s.webhooks.allow_cidrs = vec!["127.0.0.0/8".into()];
        s.webhooks.endpoint_concurrency = 2;
    })
    .await;
    let slow = Receiver::start("127.0.0.1:0".parse().expect("addr")).await;
    slow.delay(300);
    let fast = Receiver::start("127.0.0.1:0".parse().expect("addr")).await;
    endpoint(&world, &slow.url(), &["*"], false).await;
    endpoint(&world, &fast.url(), &["*"], false).await;
    submit(&world, "limit", 10).await;
    // The fast receiver is served while the slow one still has work waiting.
    until("the fast receiver's 10 events", || {
        fast.distinct_ids() >= 10
    })
    .await;
    assert!(
        slow.distinct_ids() < 10,
        "the fast receiver waited for the slow one"
    );
    until("the slow receiver's 10 events", || {
        slow.distinct_ids() >= 10
    })
    .await;
    assert!(
        slow.most_in_flight() <= 2,
        "{} at once",
        slow.most_in_flight()
    );
    world.stop().await;
}
