//! Kill -9 of a real worker process mid-job: nothing lost, nothing done twice.

use std::time::{Duration, Instant};

use underwrite::producer::Submission;
use underwrite::queue::{JobId, JobRecord, JobState};
use underwrite::vendors::proteger::jobs::CreateContract;
use underwrite::vendors::proteger::sandbox::{Faults, ProtegerSandboxConfig, sample_contract};

use crate::helpers::process::Process;
use crate::helpers::redis::{TestRedis, unique_queue};
use crate::helpers::worker::wait_for;
use crate::helpers::world::test_settings;

const WITHIN: Duration = Duration::from_secs(60);

struct Rig {
    sandbox: underwrite::vendors::proteger::sandbox::ServedProteger,
    producer: underwrite::producer::Producer,
    store: underwrite::queue::Store,
    env: Vec<(String, String)>,
}

async fn rig(faults: Faults) -> Rig {
    let sandbox = underwrite::vendors::proteger::sandbox::serve(
        "127.0.0.1:0".parse().expect("addr"),
        ProtegerSandboxConfig {
            faults,
            persist_delay: Duration::from_millis(10),
            ..ProtegerSandboxConfig::default()
        },
    )
    .await
    .expect("sandbox");
    let redis = TestRedis::shared();
    let queue = unique_queue();
    let settings = test_settings(redis, &queue, &sandbox.proteger_url());
    let conn = underwrite::queue::Redis::open(&settings.redis.url).expect("redis");
    let store = underwrite::queue::Store::new(
        conn.manager().expect("manager"),
        underwrite::queue::Keys::new(&settings.redis.key_prefix, &queue),
        underwrite::queue::Retention::default(),
    );
    let producer = underwrite::producer::Producer::new(store.clone(), Duration::from_secs(60));
    let env = vec![
        ("UNDERWRITE_REDIS_URL".into(), redis.url()),
        ("UNDERWRITE_REDIS_QUEUE".into(), queue),
        (
            "UNDERWRITE_VENDORS_PROTEGER_BASE_URL".into(),
            sandbox.proteger_url(),
        ),
        ("UNDERWRITE_PROTEGER_TOKEN".into(), "sandbox-token".into()),
        ("UNDERWRITE_WORKER_LEASE_SECS".into(), "2".into()),
        ("UNDERWRITE_WORKER_SHUTDOWN_TIMEOUT_SECS".into(), "5".into()),
        ("UNDERWRITE_LOG".into(), "warn".into()),
    ];
    Rig {
        sandbox,
        producer,
        store,
        env,
    }
}

async fn submit(rig: &Rig, prefix: &str, n: usize) -> Vec<JobId> {
    let submissions = (0..n)
        .map(|i| Submission::new(CreateContract(sample_contract(&format!("{prefix}-{i}")))))
        .collect();
    rig.producer
        .submit(
            &underwrite::queue::AppName::default_app(),
            submissions,
            None,
        )
        .await
        .expect("submit")
        .job_ids
}

fn worker(rig: &Rig) -> Process {
    Process::start(&["serve", "--no-api"], &rig.env, None)
}

async fn until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + WITHIN;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn finals(rig: &Rig, ids: &[JobId]) -> Vec<JobRecord> {
    let mut records = Vec::new();
    for id in ids {
        records.push(wait_for(&rig.store, id, WITHIN, |r| r.state.is_final()).await);
    }
    records
}

#[tokio::test]
async fn sigkill_mid_job_loses_nothing_and_creates_nothing_twice() {
    // Every vendor call takes 1.5 s, so the worker is killed while calls are in flight.
    let rig = rig(Faults {
        latency_ms: 1_500,
        ..Faults::none()
    })
    .await;
    let ids = submit(&rig, "kill", 40).await;
    let mut first = worker(&rig);
    until("a vendor call in flight", || {
        rig.sandbox.proteger.effects().requests_seen >= 1
    })
    .await;
    first.kill9();
    let _second = worker(&rig);
    for record in finals(&rig, &ids).await {
        assert_eq!(record.state, JobState::Succeeded, "{record:?}");
    }
    let effects = rig.sandbox.proteger.effects();
    assert_eq!(effects.unique_transaction_ids, 40, "0 jobs lost");
    assert_eq!(
        effects.duplicate_transaction_ids, 0,
        "0 duplicate contracts"
    );
    assert_eq!(effects.contracts_created, 40);

    // The batches the killed worker was running were re-delivered, and that did not use
    // up an attempt.
    let mut batches: Vec<JobId> = Vec::new();
    for id in &ids {
        let record = rig.store.job(id).await.expect("read").expect("exists");
        if let Some(batch) = record.batch
            && !batches.contains(&batch)
        {
            batches.push(batch);
        }
    }
    let mut reclaimed = 0;
    for batch in batches {
        let record = rig.store.job(&batch).await.expect("read").expect("exists");
        assert_eq!(record.state, JobState::Succeeded);
        if record.crashes > 0 {
            reclaimed += 1;
            assert_eq!(record.attempts, 1, "a crash is not an attempt: {record:?}");
        }
    }
    assert!(reclaimed >= 1, "the killed worker held at least one batch");
}

#[tokio::test]
async fn a_job_whose_worker_is_killed_three_times_is_buried_as_poison() {
    // The vendor never answers in time: every worker that takes the batch hangs in the call.
    let rig = rig(Faults {
        latency_ms: 60_000,
        ..Faults::none()
    })
    .await;
    let ids = submit(&rig, "poison", 1).await;
    for round in 1..=3u64 {
        let mut process = worker(&rig);
        until("the batch's vendor call", || {
            rig.sandbox.proteger.effects().requests_seen >= round
        })
        .await;
        process.kill9();
    }
    // A fourth worker reclaims it once the lease runs out, sees three crashes and buries it
    // without calling the vendor again.
    let _last = worker(&rig);
    let record = wait_for(&rig.store, &ids[0], WITHIN, |r| r.state.is_final()).await;
    assert_eq!(record.state, JobState::Dead, "{record:?}");
    let message = record.last_error.expect("error").message;
    assert!(message.contains("poison"), "{message}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(rig.sandbox.proteger.effects().requests_seen, 3);
}

#[tokio::test]
async fn sigkill_during_webhook_delivery_loses_no_event() {
    use crate::helpers::receiver::{Receiver, independently_verified};
    use underwrite::webhooks::endpoints::{EndpointStore, NewEndpoint};

    let mut rig = rig(Faults::none()).await;
    rig.env.extend([
        (
            "UNDERWRITE_WEBHOOKS_ALLOW_CIDRS".to_string(),
            "127.0.0.0/8".to_string(),
        ),
        (
            "UNDERWRITE_WEBHOOKS_SCHEDULE_SECS".to_string(),
            "0,1,1,1,1,1,1,1".to_string(),
        ),
    ]);
    let receiver = Receiver::start("127.0.0.1:0".parse().expect("addr")).await;
    // Slow answers: the worker is killed while deliveries are in flight.
    receiver.delay(1_500);
    let (_, secret) = EndpointStore::new(&rig.store)
        .create(NewEndpoint {
            url: receiver.url(),
            ..NewEndpoint::default()
        })
        .await
        .expect("endpoint");
    let ids = submit(&rig, "hook", 10).await;
    let mut first = worker(&rig);
    for record in finals(&rig, &ids).await {
        assert_eq!(record.state, JobState::Succeeded);
    }
    // Deliveries are running now (each takes 1.5 s at the receiver): kill the worker.
    tokio::time::sleep(Duration::from_millis(500)).await;
    first.kill9();
    let _second = worker(&rig);
    until("10 events delivered", || receiver.distinct_ids() >= 10).await;
    for r in receiver.received() {
        assert!(independently_verified(&secret.expose(), &r));
    }
}
