//! Billing-Robo's decisions end to end: applications registered, then each waiting in its
//! decision job until the periodic poll finds the sandbox's decision, with their webhooks;
//! an expiry; a timeout after the vendor registered; and two worker processes sharing the
//! vendor's rate limit.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use underwrite::config::Settings;
use underwrite::producer::Submission;
use underwrite::queue::{JobId, JobRecord, JobState};
use underwrite::vendors::billing_robo::jobs::{ApplyCredit, Watchlist};
use underwrite::vendors::billing_robo::sandbox::{
    BillingRoboSandboxConfig, Fault, RateLimit, ServedBillingRobo, StallThen,
};
use underwrite::vendors::billing_robo::types::{ApiVersion, CreditApplication, today_jst};
use underwrite::vendors::proteger::sandbox::ProtegerSandboxConfig;
use underwrite::webhooks::endpoints::{EndpointStore, NewEndpoint};
use underwrite::webhooks::signing::{Secret, Verifier};

use crate::billing_robo_sandbox::{ACCESS_KEY, USER_ID, config, item, start};
use crate::helpers::receiver::Receiver;
use crate::helpers::worker::wait_for;
use crate::helpers::world::World;

const WITHIN: Duration = Duration::from_secs(30);

/// Workers pointed at `sandbox`, polling every second, with `tweak` on top.
async fn world_with(sandbox: &ServedBillingRobo, tweak: impl FnOnce(&mut Settings)) -> World {
    let url = sandbox.url();
    World::start(
        ProtegerSandboxConfig::default(),
        |settings: &mut Settings| {
            settings.set_vendor("billing_robo", "base_url", url);
            settings.set_vendor("billing_robo", "linger_ms", 200);
            settings.set_vendor("billing_robo", "timeout_ms", 1_000);
            settings.set_vendor("billing_robo", "poll_interval_secs", 1);
            settings
                .secrets
                .set_vendor("billing_robo", "user_id", USER_ID);
            settings
                .secrets
                .set_vendor("billing_robo", "access_key", ACCESS_KEY);
            settings.webhooks.allow_cidrs = vec!["127.0.0.0/8".into()];
            tweak(settings);
        },
    )
    .await
}

/// A sandbox that decides every application a second after it is made (rejecting billing
/// codes that contain `reject`).
async fn deciding_sandbox() -> ServedBillingRobo {
    start(BillingRoboSandboxConfig {
        decide_after: Some(Duration::from_secs(1)),
        ..config()
    })
    .await
}

async fn submit(world: &World, codes: &[&str]) -> Vec<JobId> {
    let submissions = codes
        .iter()
        .map(|code| {
            let application = CreditApplication::parse(&item(code), ApiVersion::Seed, today_jst())
                .expect("valid");
            Submission::new(ApplyCredit(application))
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

/// The decision job an application's job names once it succeeded.
async fn decision_job(world: &World, applied: &JobId) -> JobId {
    let record = wait_for(&world.store, applied, WITHIN, |r| r.state.is_final()).await;
    assert_eq!(record.state, JobState::Succeeded, "{record:?}");
    let result = record.result.expect("the application");
    serde_json::from_value(result["decision_job"].clone()).expect("a decision job id")
}

async fn final_record(world: &World, id: &JobId) -> JobRecord {
    wait_for(&world.store, id, WITHIN, |r| r.state.is_final()).await
}

async fn endpoint(world: &World, receiver: &Receiver) -> Secret {
    let (_, secret) = EndpointStore::new(&world.store)
        .create(NewEndpoint {
            url: receiver.url(),
            events: vec!["billing_robo.*".into()],
            ordered: true,
            ..NewEndpoint::default()
        })
        .await
        .expect("endpoint");
    secret
}

/// The event types each billing code received, in order, once `expected` arrived.
async fn events_by_code(
    receiver: &Receiver,
    secret: &Secret,
    expected: usize,
) -> HashMap<String, Vec<String>> {
    let deadline = Instant::now() + WITHIN;
    while receiver.received().len() < expected {
        assert!(
            Instant::now() < deadline,
            "{} of {expected} webhooks arrived",
            receiver.received().len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let verifier = Verifier::new(vec![secret.clone()]);
    let mut by_code: HashMap<String, Vec<String>> = HashMap::new();
    for delivery in receiver.received() {
        verifier
            .verify_parts(
                &delivery.id,
                &delivery.timestamp,
                &delivery.signature,
                &delivery.body,
                chrono::Utc::now().timestamp(),
            )
            .expect("every webhook verifies");
        let event = delivery.json();
        let code = event["data"]["billing_code"]
            .as_str()
            .expect("billing code");
        by_code
            .entry(code.to_string())
            .or_default()
            .push(event["type"].as_str().expect("type").to_string());
    }
    by_code
}

#[tokio::test]
async fn billing_robo_the_poll_finds_approvals_and_rejections_and_each_application_hears_them_in_order()
 {
    let sandbox = deciding_sandbox().await;
    let world = world_with(&sandbox, |_| {}).await;
    let receiver = Receiver::start("127.0.0.1:0".parse().expect("addr")).await;
    let secret = endpoint(&world, &receiver).await;
    let applied = submit(&world, &["cust-good", "cust-reject-me"]).await;
    let good = final_record(&world, &decision_job(&world, &applied[0]).await).await;
    let bad = final_record(&world, &decision_job(&world, &applied[1]).await).await;
    assert_eq!(good.state, JobState::Succeeded, "{good:?}");
    assert_eq!(
        good.result.as_ref().expect("result")["decision"],
        json!("approved")
    );
    assert_eq!(bad.state, JobState::Succeeded, "{bad:?}");
    assert_eq!(
        bad.result.as_ref().expect("result")["decision"],
        json!("rejected")
    );
    // They waited without using attempts, and no job searched on its own: the polls did.
    assert!(good.snoozes >= 1, "{good:?}");
    assert_eq!(good.attempts, 1, "{good:?}");
    let effects = sandbox.billing_robo.effects();
    assert!(effects.credit_searches >= 1, "{effects:?}");
    let events = events_by_code(&receiver, &secret, 4).await;
    assert_eq!(
        events["cust-good"],
        [
            "billing_robo.credit.applied",
            "billing_robo.credit.approved"
        ]
    );
    assert_eq!(
        events["cust-reject-me"],
        [
            "billing_robo.credit.applied",
            "billing_robo.credit.rejected"
        ]
    );
    let watchlist = Watchlist::new(world.store.clone());
    assert_eq!(watchlist.pending().await.expect("pending"), 0);
    world.stop().await;
}

#[tokio::test]
async fn billing_robo_an_application_never_decided_expires_with_its_webhook() {
    // The sandbox never decides; the application gives up after three seconds, having
    // searched its own billing code each second in between.
    let sandbox = start(config()).await;
    let world = world_with(&sandbox, |settings| {
        settings.set_vendor("billing_robo", "expiry_secs", 3);
        settings.set_vendor("billing_robo", "straggler_check_secs", 1);
    })
    .await;
    let receiver = Receiver::start("127.0.0.1:0".parse().expect("addr")).await;
    let secret = endpoint(&world, &receiver).await;
    let applied = submit(&world, &["cust-slow"]).await;
    let waiting = decision_job(&world, &applied[0]).await;
    let record = final_record(&world, &waiting).await;
    assert_eq!(record.state, JobState::Expired, "{record:?}");
    let events = events_by_code(&receiver, &secret, 2).await;
    assert_eq!(
        events["cust-slow"],
        ["billing_robo.credit.applied", "billing_robo.credit.expired"]
    );
    assert!(sandbox.billing_robo.effects().credit_searches >= 2);
    let watchlist = Watchlist::new(world.store.clone());
    assert_eq!(
        watchlist.pending().await.expect("pending"),
        0,
        "an expired application leaves the watch list"
    );
    world.stop().await;
}

#[tokio::test]
async fn billing_robo_a_timeout_after_the_vendor_registered_adopts_the_application_and_sends_nothing_again()
 {
    let sandbox = deciding_sandbox().await;
    // The first register call is carried out, then answered after the client gave up.
    sandbox.billing_robo.push_faults([Fault::Stall {
        ms: 2_500,
        then: StallThen::Answer,
    }]);
    let world = world_with(&sandbox, |_| {}).await;
    let applied = submit(&world, &["cust-t1", "cust-t2"]).await;
    let mut results = Vec::new();
    for id in &applied {
        let record = final_record(&world, id).await;
        assert_eq!(record.state, JobState::Succeeded, "{record:?}");
        results.push(record.result.expect("result"));
    }
    for result in &results {
        assert_eq!(result["adopted"], json!(true), "{result}");
    }
    let effects = sandbox.billing_robo.effects();
    assert_eq!(effects.register_calls, 1, "sent once: {effects:?}");
    assert_eq!(effects.applications_registered, 2, "{effects:?}");
    // The adopted applications still hear their decision.
    let decided = final_record(&world, &decision_job(&world, &applied[0]).await).await;
    assert_eq!(
        decided.result.as_ref().expect("result")["decision"],
        json!("approved"),
        "{decided:?}"
    );
    world.stop().await;
}

#[tokio::test]
async fn billing_robo_two_worker_processes_together_never_draw_a_429() {
    // The sandbox allows 6 calls per 5 s (no lag); our budget is 5 per 5 s. 14 applications
    // sent one per call from two processes would draw 429s without the shared limiter.
    let sandbox = start(BillingRoboSandboxConfig {
        rate_limit: RateLimit {
            limit: 6,
            window: Duration::from_secs(5),
            lag: Duration::ZERO,
            retry_after_secs: None,
        },
        ..config()
    })
    .await;
    let world = world_with(&sandbox, |settings| {
        settings.set_vendor("billing_robo", "batch_size", 1);
        settings.set_vendor("billing_robo", "linger_ms", 0);
        settings.set_vendor("billing_robo", "rate_limit", 5);
        settings.set_vendor("billing_robo", "rate_limit_window_secs", 5);
        settings.set_vendor("billing_robo", "high_priority_reserve", 1);
        settings.set_vendor("billing_robo", "poll_interval_secs", 300);
    })
    .await;
    let second = world.another_process();
    let codes: Vec<String> = (0..14).map(|i| format!("cust-rl-{i}")).collect();
    let codes: Vec<&str> = codes.iter().map(String::as_str).collect();
    let applied = submit(&world, &codes).await;
    for id in &applied {
        let record = wait_for(&world.store, id, Duration::from_secs(60), |r| {
            r.state.is_final()
        })
        .await;
        assert_eq!(record.state, JobState::Succeeded, "{record:?}");
    }
    let effects = sandbox.billing_robo.effects();
    assert_eq!(effects.rate_limited, 0, "{effects:?}");
    assert_eq!(effects.applications_registered, 14, "{effects:?}");
    second.stop().await;
    world.stop().await;
}

/// The access key appears nowhere after a whole run: not in Redis, not in a webhook.
#[tokio::test]
async fn billing_robo_the_access_key_is_nowhere_after_a_full_run() {
    let sandbox = deciding_sandbox().await;
    let world = world_with(&sandbox, |_| {}).await;
    let receiver = Receiver::start("127.0.0.1:0".parse().expect("addr")).await;
    let secret = endpoint(&world, &receiver).await;
    let applied = submit(&world, &["cust-k1", "stranger-k"]).await;
    final_record(&world, &decision_job(&world, &applied[0]).await).await;
    final_record(&world, &applied[1]).await;
    events_by_code(&receiver, &secret, 3).await;
    for delivery in receiver.received() {
        let body = String::from_utf8_lossy(&delivery.body).to_string();
        assert!(
            !body.contains(ACCESS_KEY),
            "a webhook carries the key: {body}"
        );
    }
    let dump = dump_queue(&world).await;
    assert!(dump.contains("cust-k1"), "the dump reads the queue");
    assert!(!dump.contains(ACCESS_KEY), "Redis holds the access key");
    world.stop().await;
}

/// Every string value of every key of the world's queue, concatenated.
async fn dump_queue(world: &World) -> String {
    let mut conn = world.store.connection();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(world.store.keys().pattern())
        .query_async(&mut conn)
        .await
        .expect("keys");
    let mut dump = String::new();
    for key in keys {
        let kind: String = redis::cmd("TYPE")
            .arg(&key)
            .query_async(&mut conn)
            .await
            .expect("type");
        let values: Vec<Value> = match kind.as_str() {
            "string" => vec![redis_value(&mut conn, "GET", &key).await],
            "hash" => vec![redis_value(&mut conn, "HGETALL", &key).await],
            "list" => vec![redis_range(&mut conn, "LRANGE", &key).await],
            "set" => vec![redis_value(&mut conn, "SMEMBERS", &key).await],
            "zset" => vec![redis_range(&mut conn, "ZRANGE", &key).await],
            "stream" => vec![redis_stream(&mut conn, &key).await],
            _ => Vec::new(),
        };
        for value in values {
            dump.push_str(&value.to_string());
        }
    }
    dump
}

async fn redis_value(conn: &mut redis::aio::ConnectionManager, cmd: &str, key: &str) -> Value {
    let value: redis::Value = redis::cmd(cmd)
        .arg(key)
        .query_async(conn)
        .await
        .expect("read");
    json!(format!("{value:?}"))
}

async fn redis_range(conn: &mut redis::aio::ConnectionManager, cmd: &str, key: &str) -> Value {
    let value: redis::Value = redis::cmd(cmd)
        .arg(key)
        .arg(0)
        .arg(-1)
        .query_async(conn)
        .await
        .expect("read");
    json!(format!("{value:?}"))
}

async fn redis_stream(conn: &mut redis::aio::ConnectionManager, key: &str) -> Value {
    let value: redis::Value = redis::cmd("XRANGE")
        .arg(key)
        .arg("-")
        .arg("+")
        .query_async(conn)
        .await
        .expect("read");
    json!(format!("{value:?}"))
}
