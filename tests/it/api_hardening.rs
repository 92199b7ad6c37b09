//! The producer API under hostile clients (issue 13): two `Authorization` headers,
//! receiver credentials kept write-only, bounded and rate-limited secret rotation,
//! idempotency keys stored under a keyed hash, endpoint URLs stored normalised. The slow
//! clients and the connection bound are in `slow_clients.rs`.

use std::time::{Duration, Instant};

use chrono::Utc;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use underwrite::producer::Submission;
use underwrite::queue::{JobKind, ListFilter};
use underwrite::vendors::proteger::jobs::CreateContract;
use underwrite::vendors::proteger::sandbox::{Faults, ProtegerSandboxConfig, sample_contract};
use underwrite::webhooks::delivery::Delivery;
use underwrite::webhooks::endpoints::{EndpointStore, MASK, NewEndpoint};

use crate::helpers::answer::call;
use crate::helpers::api::{OTHER_TOKEN, TOKEN, TestApi};
use crate::helpers::receiver::{Receiver, independently_verified};
use crate::helpers::world::World;

/// A receiver credential, as a producer would put it in an endpoint's `headers`.
const CREDENTIAL: &str = "Bearer receiver-credential-5f1c";

#[tokio::test]
async fn two_authorization_headers_are_a_400_whatever_they_hold() {
    let api = TestApi::spawn().await;
    for (what, first, second) in [
        ("both valid", TOKEN, OTHER_TOKEN),
        ("the same twice", TOKEN, TOKEN),
        ("a valid one first", TOKEN, "guess"),
        ("a valid one second", "guess", TOKEN),
    ] {
        let mut headers = HeaderMap::new();
        for token in [first, second] {
            headers.append(
                AUTHORIZATION,
                HeaderValue::from_str(&format!("Bearer {token}")).expect("header"),
            );
        }
        let refused = call(api.anonymous(Method::GET, "/v1/jobs").headers(headers)).await;
        assert_eq!(
            refused.status,
            StatusCode::BAD_REQUEST,
            "{what}: {}",
            refused.text
        );
        assert_eq!(refused.code(), "bad_request", "{what}");
        assert_eq!(refused.fields(), ["authorization"], "{what}");
        assert!(
            !refused.text.contains(TOKEN),
            "{what}: the answer repeats a token"
        );
    }
    // One header still works.
    let one = call(api.get("/v1/jobs")).await;
    assert_eq!(one.status, StatusCode::OK, "{}", one.text);
}

#[tokio::test]
async fn endpoint_urls_are_stored_as_parsed() {
    // Without an allowlist, the decimal form of 127.0.0.1 is refused as the loopback it is.
    let strict = TestApi::spawn().await;
    let refused = call(
        strict
            .post("/v1/webhook-endpoints")
            .json(&json!({"url": "http://2130706433/"})),
    )
    .await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.text
    );
    assert_eq!(refused.fields(), ["url"]);

    // Admitted by the allowlist, it is stored and read back as the address it is.
    let api = TestApi::spawn_with(|s| s.webhooks.allow_cidrs = vec!["127.0.0.0/8".into()]).await;
    let created = call(
        api.post("/v1/webhook-endpoints")
            .json(&json!({"url": "http://2130706433/"})),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    assert_eq!(created.body["url"], json!("http://127.0.0.1/"));
    let id = created.body["id"].as_str().expect("id");
    let path = format!("/v1/webhook-endpoints/{id}");
    let shown = call(api.get(&path)).await;
    assert_eq!(shown.body["url"], json!("http://127.0.0.1/"));

    // A PATCH is normalised the same way: scheme and host lowercase, default port dropped.
    let patched = call(
        api.client
            .patch(format!("{}{path}", api.url))
            .bearer_auth(TOKEN)
            .json(&json!({"url": "HTTP://0x7F.1:80/Hook"})),
    )
    .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.text);
    assert_eq!(patched.body["url"], json!("http://127.0.0.1/Hook"));
    let listed = call(api.get("/v1/webhook-endpoints")).await;
    assert_eq!(
        listed.body["endpoints"][0]["url"],
        json!("http://127.0.0.1/Hook")
    );
}

fn patch(api: &TestApi, path: &str) -> RequestBuilder {
    api.client
        .patch(format!("{}{path}", api.url))
        .bearer_auth(TOKEN)
}

#[tokio::test]
async fn receiver_header_values_are_write_only() {
    let api = TestApi::spawn().await;
    let created = call(api.post("/v1/webhook-endpoints").json(&json!({
        "url": "https://receiver.example/hooks",
        "headers": {"Authorization": CREDENTIAL, "X-Team": "claims"},
    })))
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let id = created.body["id"].as_str().expect("id").to_string();
    let path = format!("/v1/webhook-endpoints/{id}");
    let masked = json!({"authorization": MASK, "x-team": MASK});
    assert_eq!(created.body["headers"], masked);

    // Every answer shows the names, never a value.
    let answers = [
        created,
        call(api.get("/v1/webhook-endpoints")).await,
        call(api.get(&path)).await,
        call(patch(&api, &path).json(&json!({"enabled": false}))).await,
        call(patch(&api, &path).json(&json!({"url": "https://receiver.example/v2"}))).await,
    ];
    for answer in &answers {
        assert!(answer.status.is_success(), "{}", answer.text);
        assert!(
            !answer.text.contains("receiver-credential"),
            "leaked: {}",
            answer.text
        );
        assert!(!answer.text.contains("claims"), "leaked: {}", answer.text);
    }
    assert_eq!(answers[1].body["endpoints"][0]["headers"], masked);
    assert_eq!(answers[2].body["headers"], masked);
    assert_eq!(answers[4].body["headers"], masked);

    // The values are still there, for the deliveries; the record's Debug hides them too.
    let store = EndpointStore::new(&api.store);
    let stored = store.get(&id).await.expect("get").expect("exists");
    assert_eq!(stored.headers["authorization"], CREDENTIAL);
    assert!(!format!("{stored:?}").contains("receiver-credential"));

    // Writing the mask back (a read-modify-write of the whole object) is refused, by name,
    // and changes nothing.
    let echoed = call(patch(&api, &path).json(&json!({
        "url": "https://receiver.example/v3",
        "headers": {"authorization": MASK, "x-team": "claims"},
    })))
    .await;
    assert_eq!(
        echoed.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        echoed.text
    );
    assert_eq!(echoed.fields(), ["headers.authorization"]);
    let unchanged = store.get(&id).await.expect("get").expect("exists");
    assert_eq!(unchanged.headers["authorization"], CREDENTIAL);
    assert_eq!(unchanged.url, "https://receiver.example/v2");
    let on_create = call(api.post("/v1/webhook-endpoints").json(&json!({
        "url": "https://receiver.example/hooks",
        "headers": {"authorization": MASK},
    })))
    .await;
    assert_eq!(on_create.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(on_create.fields(), ["headers.authorization"]);

    // A real new value replaces the old one; leaving `headers` out keeps them.
    let replaced = call(patch(&api, &path).json(&json!({
        "headers": {"authorization": "Bearer rotated-credential"},
    })))
    .await;
    assert_eq!(replaced.status, StatusCode::OK, "{}", replaced.text);
    assert_eq!(replaced.body["headers"], json!({"authorization": MASK}));
    let kept = call(patch(&api, &path).json(&json!({"ordered": true}))).await;
    assert_eq!(kept.status, StatusCode::OK, "{}", kept.text);
    let stored = store.get(&id).await.expect("get").expect("exists");
    assert_eq!(stored.headers["authorization"], "Bearer rotated-credential");
}

/// Waits (at most 30 s) until the receiver holds at least one delivery.
async fn first_delivery(receiver: &Receiver) -> crate::helpers::receiver::Received {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(received) = receiver.received().into_iter().next() {
            return received;
        }
        assert!(Instant::now() < deadline, "no delivery within 30 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn after_many_rotations_a_delivery_carries_two_signatures_and_records_no_credential() {
    let world = World::start(
        ProtegerSandboxConfig {
            faults: Faults::none(),
            persist_delay: Duration::from_millis(10),
            ..ProtegerSandboxConfig::default()
        },
        |s| {
            s.webhooks.allow_cidrs = vec!["127.0.0.0/8".into()];
            s.webhooks.jitter = 0.0;
        },
    )
    .await;
    let receiver = Receiver::start("127.0.0.1:0".parse().expect("addr")).await;
    let store = EndpointStore::new(&world.store);
    let (endpoint, _first) = store
        .create(NewEndpoint {
            url: receiver.url(),
            events: vec!["proteger.*".into()],
            headers: [("authorization".to_string(), CREDENTIAL.to_string())].into(),
            ..NewEndpoint::default()
        })
        .await
        .expect("create");
    // 30 rotations, each in the grace of the one before.
    let mut secrets = Vec::new();
    for _ in 0..30 {
        let rotation = store
            .rotate_at(&endpoint.id, Duration::from_secs(86_400), Utc::now())
            .await
            .expect("rotate");
        secrets.push(rotation.secret.expose());
    }
    let stored = store.get(&endpoint.id).await.expect("get").expect("exists");
    assert_eq!(stored.signing_secrets(Utc::now()).len(), 2);

    let submission = Submission::new(CreateContract(sample_contract("rotated-1")));
    world
        .producer
        .submit(
            &underwrite::queue::AppName::default_app(),
            vec![submission],
            None,
        )
        .await
        .expect("submit");
    let received = first_delivery(&receiver).await;
    let signatures: Vec<&str> = received.signature.split(' ').collect();
    assert_eq!(signatures.len(), 2, "{}", received.signature);
    let newest = secrets.last().expect("rotated");
    let previous = &secrets[secrets.len() - 2];
    assert!(independently_verified(newest, &received));
    assert!(independently_verified(previous, &received));
    assert!(
        !independently_verified(&secrets[secrets.len() - 3], &received),
        "an older previous secret still signs"
    );
    assert_eq!(
        received.authorization, CREDENTIAL,
        "the receiver gets the real value"
    );

    // Neither the delivery's record nor its attempts hold the credential.
    let deliveries = world
        .store
        .list(&ListFilter {
            kind: Some(Delivery::KIND.into()),
            limit: 50,
            ..ListFilter::default()
        })
        .await
        .expect("list")
        .jobs;
    assert!(!deliveries.is_empty());
    let keys = world.store.keys().clone();
    let mut conn = world.store.connection();
    for delivery in &deliveries {
        let record = serde_json::to_string(delivery).expect("json");
        assert!(!record.contains("receiver-credential"), "{record}");
        let attempts: Vec<String> = redis::AsyncCommands::lrange(
            &mut conn,
            keys.webhook_attempts(&delivery.id.to_string()),
            0,
            -1,
        )
        .await
        .expect("attempts");
        assert!(
            attempts.iter().all(|a| !a.contains("receiver-credential")),
            "{attempts:?}"
        );
    }
    receiver.stop();
    world.stop().await;
}

#[tokio::test]
async fn rotations_past_the_limit_are_a_429_with_retry_after() {
    let api = TestApi::spawn_with(|s| {
        s.webhooks.rotation_limit = 3;
        s.webhooks.rotation_limit_window_secs = 600;
    })
    .await;
    let mut ids = Vec::new();
    for _ in 0..2 {
        let created = call(
            api.post("/v1/webhook-endpoints")
                .json(&json!({"url": "https://receiver.example/"})),
        )
        .await;
        ids.push(created.body["id"].as_str().expect("id").to_string());
    }
    let rotate = |id: &str| api.post(&format!("/v1/webhook-endpoints/{id}/secret/rotate"));
    for n in 0..3 {
        let rotated = call(rotate(&ids[0])).await;
        assert_eq!(
            rotated.status,
            StatusCode::OK,
            "rotation {n}: {}",
            rotated.text
        );
    }
    let store = EndpointStore::new(&api.store);
    let before = store.get(&ids[0]).await.expect("get").expect("exists");
    let refused = call(rotate(&ids[0])).await;
    assert_eq!(
        refused.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        refused.text
    );
    assert_eq!(refused.code(), "too_many_requests");
    let retry_after: u64 = refused
        .headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After in seconds");
    assert!((1..=600).contains(&retry_after), "{retry_after}");
    assert!(
        refused.body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("3 times")
    );
    // Nothing changed: the same secrets sign.
    let after = store.get(&ids[0]).await.expect("get").expect("exists");
    assert_eq!(
        after.signing_secrets(Utc::now()),
        before.signing_secrets(Utc::now())
    );
    // The limit is per endpoint.
    let other = call(rotate(&ids[1])).await;
    assert_eq!(other.status, StatusCode::OK, "{}", other.text);
}

/// A contract as seed 000 shows it.
fn contract(transaction_id: &str) -> Value {
    json!({
        "transactionId": transaction_id,
        "transactionTotal": 12000,
        "transactionDate": "2021-01-31T13:16:06.239289+09:00",
        "customer": {"name": "山田 太郎", "email": "user@example.com"},
        "product": {"referenceId": "c10a0882-2b11-633d-7de6-0563bbf9dbed", "purchasePrice": 10000},
        "plan": {"purchasePrice": 2000, "planId": "c10a0882-2b11-633d-7de6-0563bbf9dbed"}
    })
}

#[tokio::test]
async fn idempotency_keys_are_stored_under_a_keyed_hash_of_the_token() {
    let api = TestApi::spawn().await;
    let send = |token: &str, key: &str| {
        api.anonymous(Method::POST, "/v1/proteger/contracts")
            .bearer_auth(token)
            .header("idempotency-key", key)
            .json(&contract("order-1"))
    };
    let first = call(send(TOKEN, "order-1")).await;
    assert_eq!(first.status, StatusCode::ACCEPTED, "{}", first.text);
    let other = call(send(OTHER_TOKEN, "order-1")).await;
    assert_eq!(other.status, StatusCode::ACCEPTED, "{}", other.text);

    let mut conn = api.store.connection();
    let pattern = format!(
        "{}:*",
        api.store.keys().idempotency("", "").trim_end_matches(':')
    );
    let stored: Vec<String> = redis::AsyncCommands::keys(&mut conn, &pattern)
        .await
        .expect("keys");
    assert_eq!(stored.len(), 2, "one record per caller: {stored:?}");
    for token in [TOKEN, OTHER_TOKEN] {
        let plain = hex::encode(Sha256::digest(token.as_bytes()));
        assert!(
            stored.iter().all(|key| !key.contains(&plain)),
            "a key holds the bare SHA-256 of a token: {stored:?}"
        );
    }
    // The deployment's secret is there, once, and the scheme still replays: same key, same
    // caller, same job.
    let secret: Option<String> =
        redis::AsyncCommands::get(&mut conn, api.store.keys().idempotency_secret())
            .await
            .expect("get");
    assert_eq!(secret.map(|s| s.len()), Some(64));
    let again = call(send(TOKEN, "order-1")).await;
    assert_eq!(again.status, StatusCode::ACCEPTED);
    assert_eq!(again.body["job_id"], first.body["job_id"]);
    assert_ne!(other.body["job_id"], first.body["job_id"]);
    assert_eq!(api.all_jobs().await.len(), 2);
}
