//! Webhook endpoints against a real redis-server, through the store and through the real
//! router: secrets shown once, rotation, matching, disabling after failing too long (and
//! under concurrency), the config file's endpoints, validation, and URLs the SSRF guard
//! refuses as soon as they are written.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use futures::future::join_all;
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{Value, json};
use underwrite::config::ConfiguredEndpoint;
use underwrite::queue::Retention;
use underwrite::webhooks::endpoints::{
    EndpointError, EndpointPatch, EndpointStore, NewEndpoint, Source,
};
use underwrite::webhooks::signing::Secret;
use underwrite::webhooks::ssrf::SsrfPolicy;

use crate::helpers::answer::{Answer, call};
use crate::helpers::api::{TOKEN, TestApi};
use crate::helpers::redis::{TestRedis, store_on, unique_queue};

/// An endpoint store on a fresh queue of the shared redis-server.
fn endpoints() -> EndpointStore {
    let (store, _redis) = store_on(TestRedis::shared(), &unique_queue(), Retention::default());
    EndpointStore::new(&store)
}

fn new(url: &str, events: &[&str]) -> NewEndpoint {
    NewEndpoint {
        url: url.into(),
        events: events.iter().map(|e| e.to_string()).collect(),
        ..NewEndpoint::default()
    }
}

fn after(at: DateTime<Utc>, ms: i64) -> DateTime<Utc> {
    at + TimeDelta::milliseconds(ms)
}

/// Now, to the millisecond (what the store keeps).
fn now_ms() -> DateTime<Utc> {
    DateTime::from_timestamp_millis(Utc::now().timestamp_millis()).expect("now")
}

fn patch(api: &TestApi, path: &str) -> RequestBuilder {
    api.client
        .patch(format!("{}{path}", api.url))
        .bearer_auth(TOKEN)
}

#[tokio::test]
async fn create_shows_the_secret_once_and_never_again() {
    let api = TestApi::spawn().await;
    let created = call(api.post("/v1/webhook-endpoints").json(&json!({
        "url": "https://receiver.example/hooks",
        "events": ["proteger.*"],
        "headers": {"X-Team": "claims"},
        "ordered": true,
    })))
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let id = created.body["id"].as_str().expect("id").to_string();
    assert!(id.starts_with("ep_") && id.len() == 35, "{id}");
    let secret = created.body["secret"].as_str().expect("secret").to_string();
    let parsed = Secret::parse(&secret).expect("a whsec_ secret");
    assert_eq!(created.body["events"], json!(["proteger.*"]));
    assert_eq!(
        created.body["headers"],
        json!({"x-team": "********"}),
        "values are write-only"
    );
    assert_eq!(created.body["ordered"], json!(true));
    assert_eq!(created.body["enabled"], json!(true));
    assert_eq!(created.body["source"], json!("api"));
    assert_eq!(created.body["failing_since"], Value::Null);

    // It signs with the secret it showed.
    let stored = EndpointStore::new(&api.store)
        .get(&id)
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(stored.signing_secrets(Utc::now()), vec![parsed]);

    // ... and never shows it again: list, show, update, rotate's old one.
    let key = &secret["whsec_".len()..];
    let path = format!("/v1/webhook-endpoints/{id}");
    let answers = [
        call(api.get("/v1/webhook-endpoints")).await,
        call(api.get(&path)).await,
        call(patch(&api, &path).json(&json!({"url": "https://receiver.example/v2"}))).await,
        call(api.post(&format!("{path}/secret/rotate"))).await,
        call(api.get(&path)).await,
    ];
    for answer in &answers {
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        assert!(
            !answer.text.contains(key),
            "the secret leaked: {}",
            answer.text
        );
    }
    let [listed, shown, updated, rotated, _] = &answers;
    assert_eq!(listed.body["endpoints"][0]["id"], json!(id));
    assert!(listed.body["endpoints"][0].get("secret").is_none());
    assert!(shown.body.get("secret").is_none());
    assert_eq!(updated.body["url"], json!("https://receiver.example/v2"));
    assert!(updated.body.get("secret").is_none());
    // A rotation shows the *new* secret, once.
    let new_secret = rotated.body["secret"].as_str().expect("new secret");
    assert_ne!(new_secret, secret);
    assert!(
        !call(api.get(&path))
            .await
            .text
            .contains(&new_secret["whsec_".len()..])
    );

    // A secret can be chosen at creation.
    let chosen = Secret::generate().expose();
    let created = call(api.post("/v1/webhook-endpoints").json(&json!({
        "url": "https://receiver.example/other",
        "secret": chosen,
        "enabled": false,
    })))
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    assert_eq!(created.body["secret"], json!(chosen));
    assert_eq!(
        created.body["events"],
        json!(["*"]),
        "events default to all"
    );
    assert_eq!(created.body["enabled"], json!(false));
}

#[tokio::test]
async fn rotation_signs_with_both_secrets_until_the_grace_passes() {
    let store = endpoints();
    let (endpoint, old) = store
        .create(new("https://receiver.example/", &["*"]))
        .await
        .expect("create");
    let new_secret = store
        .rotate(&endpoint.id, Duration::from_millis(300))
        .await
        .expect("rotate");
    assert_ne!(new_secret, old);
    let rotated = store.get(&endpoint.id).await.expect("get").expect("exists");
    assert_eq!(
        rotated.signing_secrets(Utc::now()),
        vec![new_secret.clone(), old.clone()],
        "the new secret first, the old one still signing"
    );
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(
        rotated.signing_secrets(Utc::now()),
        vec![new_secret.clone()]
    );

    // With explicit times: a second rotation drops the expired secret; a third, during the
    // second's grace, replaces the older previous secret: two sign, never more.
    let t0 = now_ms();
    let second = store
        .rotate_at(&endpoint.id, Duration::from_secs(60), t0)
        .await
        .expect("rotate");
    assert_eq!(second.previous_expires_at, after(t0, 60_000));
    let third = store
        .rotate_at(&endpoint.id, Duration::from_secs(60), after(t0, 1))
        .await
        .expect("rotate");
    let now = store.get(&endpoint.id).await.expect("get").expect("exists");
    assert_eq!(
        now.signing_secrets(after(t0, 2)),
        vec![third.secret, second.secret]
    );
    assert_eq!(now.signing_secrets(after(t0, 60_001)).len(), 1);

    assert!(matches!(
        store.rotate("ep_nope", Duration::from_secs(1)).await,
        Err(EndpointError::NotFound(_))
    ));
}

#[tokio::test]
async fn the_api_rotates_with_the_configured_grace() {
    let api = TestApi::spawn_with(|s| s.webhooks.rotation_grace_secs = 7_200).await;
    let created = call(
        api.post("/v1/webhook-endpoints")
            .json(&json!({"url": "https://receiver.example/"})),
    )
    .await;
    let id = created.body["id"].as_str().expect("id");
    let old = Secret::parse(created.body["secret"].as_str().expect("secret")).expect("secret");
    let before = Utc::now();
    let rotated = call(api.post(&format!("/v1/webhook-endpoints/{id}/secret/rotate"))).await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.text);
    let new_secret = Secret::parse(rotated.body["secret"].as_str().expect("secret")).expect("ok");
    let expires: DateTime<Utc> =
        serde_json::from_value(rotated.body["previous_secret_expires_at"].clone()).expect("a time");
    let grace = expires - before;
    assert!(
        grace >= TimeDelta::seconds(7_199) && grace <= TimeDelta::seconds(7_201),
        "{grace}"
    );
    let stored = EndpointStore::new(&api.store)
        .get(id)
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(stored.signing_secrets(Utc::now()), vec![new_secret, old]);

    let missing = call(api.post("/v1/webhook-endpoints/ep_nope/secret/rotate")).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.body["error"]["code"], json!("not_found"));
}

#[tokio::test]
async fn endpoints_match_by_pattern_and_disabled_ones_never() {
    let store = endpoints();
    let mut ids = BTreeMap::new();
    for (name, events) in [
        ("all", vec!["*"]),
        ("proteger", vec!["proteger.*"]),
        ("created", vec!["proteger.contract.created"]),
        ("tulip", vec!["tulip.*", "proteger.contract.cancelled"]),
    ] {
        let (endpoint, _) = store
            .create(new("https://receiver.example/", &events))
            .await
            .expect("create");
        ids.insert(endpoint.id.clone(), name);
    }
    // Created disabled: never matches.
    let (off, _) = store
        .create(NewEndpoint {
            enabled: false,
            ..new("https://receiver.example/", &["*"])
        })
        .await
        .expect("create");
    ids.insert(off.id.clone(), "off");
    let matching = async |event_type: &str| -> Vec<&str> {
        let mut names: Vec<&str> = store
            .matching(event_type)
            .await
            .expect("matching")
            .iter()
            .map(|e| ids[&e.id])
            .collect();
        names.sort();
        names
    };
    assert_eq!(
        matching("proteger.contract.created").await,
        ["all", "created", "proteger"]
    );
    assert_eq!(
        matching("proteger.contract.failed").await,
        ["all", "proteger"]
    );
    assert_eq!(
        matching("proteger.contract.cancelled").await,
        ["all", "proteger", "tulip"]
    );
    assert_eq!(
        matching("tulip.application.approved").await,
        ["all", "tulip"]
    );
    assert_eq!(matching("billing_robo.invoice.paid").await, ["all"]);

    // Disabled by the sender, or by an operator.
    let id_of = |name: &str| ids.iter().find(|(_, n)| **n == name).expect("id").0.clone();
    store
        .disable(&id_of("all"), "the receiver answered 410 Gone")
        .await
        .expect("disable");
    store
        .update(
            &id_of("proteger"),
            None,
            EndpointPatch {
                enabled: Some(false),
                ..EndpointPatch::default()
            },
        )
        .await
        .expect("update");
    assert_eq!(matching("proteger.contract.created").await, ["created"]);
    assert_eq!(store.list().await.expect("list").len(), 5);
    let all = store
        .get(&id_of("all"))
        .await
        .expect("get")
        .expect("exists");
    assert!(!all.enabled && all.accepts("proteger.contract.created"));
    assert_eq!(
        all.disabled_reason.as_deref(),
        Some("the receiver answered 410 Gone")
    );
}

#[tokio::test]
async fn failing_without_a_success_for_disable_after_disables() {
    let store = endpoints();
    let limit = Duration::from_millis(100);
    let (endpoint, _) = store
        .create(new("https://receiver.example/", &["*"]))
        .await
        .expect("create");
    let id = &endpoint.id;
    let t0 = now_ms();
    let fail = async |at_ms: i64| {
        store
            .record_failure(id, after(t0, at_ms), limit)
            .await
            .expect("record failure")
    };

    assert!(!fail(0).await);
    assert!(!fail(60).await);
    let failing = store.get(id).await.expect("get").expect("exists");
    assert_eq!(failing.failing_since, Some(after(t0, 0)));
    assert!(failing.enabled);

    // A success in between starts the clock again.
    store
        .record_success(id, after(t0, 90))
        .await
        .expect("success");
    let healthy = store.get(id).await.expect("get").expect("exists");
    assert_eq!(healthy.failing_since, None);
    assert_eq!(healthy.last_success_at, Some(after(t0, 90)));
    assert!(
        !fail(120).await,
        "0 → 120 ms would be past the limit, but 90 succeeded"
    );
    // A failure of an attempt made before the success is stale.
    assert!(!fail(80).await);
    assert_eq!(
        store
            .get(id)
            .await
            .expect("get")
            .expect("exists")
            .failing_since,
        Some(after(t0, 120))
    );
    assert!(!fail(200).await, "80 ms of failing, under the limit");
    assert!(fail(220).await, "100 ms of failing without a success");
    let disabled = store.get(id).await.expect("get").expect("exists");
    assert!(!disabled.enabled);
    let reason = disabled.disabled_reason.expect("a reason");
    assert!(reason.contains("100 ms"), "{reason}");
    // Only the failure that disabled it says so.
    assert!(!fail(400).await);

    assert!(matches!(
        store.record_failure("ep_nope", t0, limit).await,
        Err(EndpointError::NotFound(_))
    ));
}

#[tokio::test]
async fn twenty_concurrent_failures_are_counted_consistently() {
    let store = endpoints();
    let limit = Duration::from_millis(1_000);
    let (endpoint, _) = store
        .create(new("https://receiver.example/", &["*"]))
        .await
        .expect("create");
    let t0 = now_ms();

    // Within the limit, in any order: none disables, the streak starts at the earliest.
    let answers = join_all((0..20).rev().map(|i| {
        let store = store.clone();
        let id = endpoint.id.clone();
        async move { store.record_failure(&id, after(t0, i * 10), limit).await }
    }))
    .await;
    assert!(
        answers.iter().all(|a| matches!(a, Ok(false))),
        "{answers:?}"
    );
    let failing = store.get(&endpoint.id).await.expect("get").expect("exists");
    assert_eq!(failing.failing_since, Some(t0));
    assert!(failing.enabled);

    // Past it, all at once: exactly one of them disables it.
    let answers = join_all((0..20).map(|i| {
        let store = store.clone();
        let id = endpoint.id.clone();
        async move { store.record_failure(&id, after(t0, 1_000 + i), limit).await }
    }))
    .await;
    let disabling = answers.iter().filter(|a| matches!(a, Ok(true))).count();
    assert!(answers.iter().all(Result::is_ok), "{answers:?}");
    assert_eq!(disabling, 1, "{answers:?}");
    let disabled = store.get(&endpoint.id).await.expect("get").expect("exists");
    assert!(!disabled.enabled);
    assert_eq!(disabled.failing_since, Some(after(t0, 0)));
}

#[tokio::test]
async fn patch_re_enables_and_starts_afresh() {
    let api = TestApi::spawn().await;
    let store = EndpointStore::new(&api.store);
    let (endpoint, _) = store
        .create(new("https://receiver.example/", &["*"]))
        .await
        .expect("create");
    let limit = Duration::from_millis(50);
    let t0 = now_ms();
    assert!(
        !store
            .record_failure(&endpoint.id, t0, limit)
            .await
            .expect("failure")
    );
    assert!(
        store
            .record_failure(&endpoint.id, after(t0, 60), limit)
            .await
            .expect("failure")
    );
    let path = format!("/v1/webhook-endpoints/{}", endpoint.id);
    let shown = call(api.get(&path)).await;
    assert_eq!(shown.body["enabled"], json!(false));
    assert!(shown.body["disabled_reason"].is_string());
    assert!(shown.body["failing_since"].is_string());

    tokio::time::sleep(Duration::from_millis(5)).await;
    let enabled = call(patch(&api, &path).json(&json!({"enabled": true}))).await;
    assert_eq!(enabled.status, StatusCode::OK, "{}", enabled.text);
    assert_eq!(enabled.body["enabled"], json!(true));
    assert_eq!(enabled.body["disabled_reason"], Value::Null);
    assert_eq!(enabled.body["failing_since"], Value::Null);
    assert_eq!(
        store
            .matching("proteger.contract.created")
            .await
            .expect("matching")
            .len(),
        1
    );

    // Failures of attempts made before it was enabled again do not count.
    assert!(
        !store
            .record_failure(&endpoint.id, after(t0, 1), limit)
            .await
            .expect("failure")
    );
    let again = store.get(&endpoint.id).await.expect("get").expect("exists");
    assert!(again.enabled && again.failing_since.is_none());

    // An operator can disable it too, and nothing else changes.
    let disabled = call(patch(&api, &path).json(&json!({"enabled": false}))).await;
    assert_eq!(disabled.body["enabled"], json!(false));
    assert_eq!(disabled.body["url"], json!("https://receiver.example/"));
}

#[tokio::test]
async fn delete_and_unknown_ids() {
    let api = TestApi::spawn().await;
    let created = call(
        api.post("/v1/webhook-endpoints")
            .json(&json!({"url": "https://receiver.example/"})),
    )
    .await;
    let path = format!(
        "/v1/webhook-endpoints/{}",
        created.body["id"].as_str().expect("id")
    );
    let deleted = call(api.delete(&path)).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert!(deleted.text.is_empty());
    for answer in [
        call(api.get(&path)).await,
        call(api.delete(&path)).await,
        call(patch(&api, &path).json(&json!({"enabled": true}))).await,
        call(api.post(&format!("{path}/secret/rotate"))).await,
    ] {
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{}", answer.text);
        assert_eq!(answer.body["error"]["code"], json!("not_found"));
    }
    let listed = call(api.get("/v1/webhook-endpoints")).await;
    assert_eq!(listed.body, json!({"endpoints": []}));
    // A deleted endpoint does not come back through a late delivery outcome.
    let store = EndpointStore::new(&api.store);
    let id = path.rsplit('/').next().expect("id");
    assert!(store.record_success(id, Utc::now()).await.is_err());
    assert!(store.disable(id, "gone").await.is_err());
    assert!(store.get(id).await.expect("get").is_none());

    let anonymous = call(api.anonymous(Method::GET, "/v1/webhook-endpoints")).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn validation_names_every_wrong_field() {
    let api = TestApi::spawn().await;
    let refused = call(api.post("/v1/webhook-endpoints").json(&json!({
        "url": "ftp://receiver.example/",
        "events": ["*", "Proteger.*", "proteger.contract"],
        "headers": {"webhook-id": "x", "Content-Type": "text/plain", "x-ok": "fine", "bad name": "x"},
        "secret": "whsec_c2hvcnQ=",
    })))
    .await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.text
    );
    assert_eq!(refused.body["error"]["code"], json!("validation_failed"));
    let mut fields = refused.fields();
    fields.sort();
    assert_eq!(
        fields,
        [
            "events[1]",
            "events[2]",
            "headers.Content-Type",
            "headers.bad name",
            "headers.webhook-id",
            "secret",
            "url"
        ]
    );
    assert!(!refused.text.contains("c2hvcnQ"), "{}", refused.text);

    let too_many: BTreeMap<String, String> =
        (0..21).map(|i| (format!("x-h{i}"), "v".into())).collect();
    for (body, field) in [
        (
            json!({"url": "https://receiver.example/", "events": []}),
            "events",
        ),
        (
            json!({"url": "https://receiver.example/", "headers": too_many}),
            "headers",
        ),
        (
            json!({"url": format!("https://receiver.example/{}", "a".repeat(2048))}),
            "url",
        ),
        (json!({"url": "not a url"}), "url"),
        (
            json!({"url": "https://receiver.example/", "colour": "red"}),
            "colour",
        ),
        (json!({"events": ["*"]}), "url"),
        (
            json!({"url": "https://receiver.example/", "secret": "not a secret"}),
            "secret",
        ),
    ] {
        let refused = call(api.post("/v1/webhook-endpoints").json(&body)).await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            refused.text
        );
        assert_eq!(refused.fields(), [field], "{body}");
    }
    assert!(
        EndpointStore::new(&api.store)
            .list()
            .await
            .expect("list")
            .is_empty()
    );

    // PATCH checks the same way, and refuses what it does not change (a secret).
    let created = call(
        api.post("/v1/webhook-endpoints")
            .json(&json!({"url": "https://receiver.example/"})),
    )
    .await;
    let path = format!(
        "/v1/webhook-endpoints/{}",
        created.body["id"].as_str().expect("id")
    );
    for (body, field) in [
        (json!({"events": ["proteger.contract.*"]}), "events[0]"),
        (json!({"url": "https://user:pw@receiver.example/"}), "url"),
        (json!({"headers": {"Host": "elsewhere"}}), "headers.Host"),
        (json!({"secret": Secret::generate().expose()}), "secret"),
    ] {
        let refused = call(patch(&api, &path).json(&body)).await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            refused.text
        );
        assert_eq!(refused.fields(), [field], "{body}");
    }
    let unchanged = call(api.get(&path)).await;
    assert_eq!(unchanged.body["events"], json!(["*"]));
    assert_eq!(unchanged.body["headers"], json!({}));
}

fn configured(id: &str, url: &str, var: &str) -> ConfiguredEndpoint {
    ConfiguredEndpoint {
        id: id.into(),
        app: None,
        url: url.into(),
        secret_env: var.into(),
        events: vec!["proteger.*".into()],
        ordered: false,
        headers: BTreeMap::new(),
    }
}

#[tokio::test]
async fn configured_endpoints_sync_from_the_file_and_the_environment() {
    let api = TestApi::spawn().await;
    let store = EndpointStore::new(&api.store);
    let secret = Secret::generate().expose();
    let env = |name: &str| (name == "SHOP_SECRET").then(|| secret.clone());
    let strict = SsrfPolicy::default();

    // A missing variable is named, and nothing is written.
    let missing = store
        .sync_configured(
            &[
                configured("shop", "https://shop.example/hooks", "SHOP_SECRET"),
                configured("crm", "https://crm.example/hooks", "CRM_SECRET"),
            ],
            &strict,
            env,
        )
        .await
        .expect_err("CRM_SECRET is not set");
    assert!(matches!(missing, EndpointError::MissingSecret { .. }));
    assert!(missing.to_string().contains("CRM_SECRET"), "{missing}");
    assert!(missing.to_string().contains("crm"), "{missing}");
    assert!(store.list().await.expect("list").is_empty());
    // So is one that holds no secret, without quoting it.
    let bad = store
        .sync_configured(
            &[configured(
                "shop",
                "https://shop.example/hooks",
                "SHOP_SECRET",
            )],
            &strict,
            |_| Some("whsec_bm90LWEtc2VjcmV0".into()),
        )
        .await
        .expect_err("not a secret");
    assert!(bad.to_string().contains("SHOP_SECRET"), "{bad}");
    assert!(!bad.to_string().contains("bm90LWEtc2VjcmV0"), "{bad}");
    let invalid = store
        .sync_configured(
            &[configured("shop", "gopher://shop.example/", "SHOP_SECRET")],
            &strict,
            env,
        )
        .await
        .expect_err("bad url");
    assert!(invalid.to_string().contains("url"), "{invalid}");

    let synced = store
        .sync_configured(
            &[configured(
                "shop",
                "https://shop.example/hooks",
                "SHOP_SECRET",
            )],
            &strict,
            env,
        )
        .await
        .expect("sync");
    assert_eq!(synced.created, ["shop"]);
    let shop = store.get("shop").await.expect("get").expect("exists");
    assert_eq!(shop.source, Source::Config);
    assert_eq!(
        shop.signing_secrets(Utc::now()),
        vec![Secret::parse(&secret).expect("secret")]
    );

    // Runtime state survives a restart with a changed file; an unchanged one writes nothing.
    store
        .disable("shop", "the receiver answered 410 Gone")
        .await
        .expect("disable");
    let mut changed = configured("shop", "https://shop.example/v2", "SHOP_SECRET");
    changed.events = vec!["*".into()];
    let synced = store
        .sync_configured(std::slice::from_ref(&changed), &strict, env)
        .await
        .expect("sync");
    assert_eq!(synced.updated, ["shop"]);
    let shop = store.get("shop").await.expect("get").expect("exists");
    assert_eq!(shop.url, "https://shop.example/v2");
    assert_eq!(shop.events, ["*"]);
    assert!(!shop.enabled);
    assert_eq!(
        shop.disabled_reason.as_deref(),
        Some("the receiver answered 410 Gone")
    );
    let synced = store
        .sync_configured(std::slice::from_ref(&changed), &strict, env)
        .await
        .expect("sync");
    assert_eq!(synced, Default::default());

    // Through the API it may be re-enabled, but not changed, rotated or deleted.
    let path = "/v1/webhook-endpoints/shop";
    let enabled = call(patch(&api, path).json(&json!({"enabled": true}))).await;
    assert_eq!(enabled.status, StatusCode::OK, "{}", enabled.text);
    assert_eq!(enabled.body["source"], json!("config"));
    for answer in [
        call(patch(&api, path).json(&json!({"url": "https://elsewhere.example/"}))).await,
        call(api.post(&format!("{path}/secret/rotate"))).await,
        call(api.delete(path)).await,
    ] {
        assert_eq!(answer.status, StatusCode::CONFLICT, "{}", answer.text);
    }

    // Gone from the file, gone from the store; API endpoints stay.
    let (kept, _) = store
        .create(new("https://api.example/", &["*"]))
        .await
        .expect("create");
    let synced = store
        .sync_configured(&[], &strict, env)
        .await
        .expect("sync");
    assert_eq!(synced.removed, ["shop"]);
    let ids: Vec<String> = store
        .list()
        .await
        .expect("list")
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(ids, [kept.id]);
}

/// URLs the SSRF guard refuses without a lookup, and the range each is refused as.
const UNREACHABLE: [(&str, &str); 7] = [
    ("http://169.254.169.254/latest/meta-data", "cloud metadata"),
    ("http://127.0.0.1:6379/", "loopback"),
    ("http://[::1]:8080/hook", "loopback"),
    ("http://localhost:6379/", "`localhost` names this machine"),
    (
        "http://api.localhost/hook",
        "`api.localhost` names this machine",
    ),
    (
        "http://[::ffff:127.0.0.1]:6379/",
        "IPv4-mapped form of 127.0.0.1: loopback",
    ),
    ("https://10.1.2.3/hook", "private"),
];

/// A 422 that names `url`, the range, and where the allowlist that would admit it is set.
fn assert_refused_url(answer: &Answer, url: &str, range: &str) {
    assert_eq!(
        answer.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{url}: {}",
        answer.text
    );
    assert_eq!(answer.body["error"]["code"], json!("validation_failed"));
    assert_eq!(answer.fields(), ["url"], "{url}");
    let reason = answer.body["error"]["fields"][0]["reason"]
        .as_str()
        .expect("reason");
    for part in [
        range,
        "webhooks.allow_cidrs",
        "UNDERWRITE_WEBHOOKS_ALLOW_CIDRS",
    ] {
        assert!(reason.contains(part), "{url}: `{part}` not in {reason}");
    }
}

#[tokio::test]
async fn a_url_webhooks_may_not_reach_is_refused_when_written() {
    let api = TestApi::spawn_with(|s| s.webhooks.allow_cidrs = Vec::new()).await;
    let store = EndpointStore::new(&api.store);
    for (url, range) in UNREACHABLE {
        let refused = call(api.post("/v1/webhook-endpoints").json(&json!({"url": url}))).await;
        assert_refused_url(&refused, url, range);
    }
    assert!(
        store.list().await.expect("list").is_empty(),
        "nothing stored"
    );

    // A public IP literal is an ordinary receiver.
    for url in [
        "http://93.184.215.14/hook",
        "https://[2606:4700:4700::1111]/",
    ] {
        let created = call(api.post("/v1/webhook-endpoints").json(&json!({"url": url}))).await;
        assert_eq!(
            created.status,
            StatusCode::CREATED,
            "{url}: {}",
            created.text
        );
        assert_eq!(created.body["url"], json!(url));
    }

    // PATCH refuses the same URLs, and the endpoint keeps the one it had.
    let (endpoint, _) = store
        .create(new("https://receiver.example/", &["*"]))
        .await
        .expect("create");
    let path = format!("/v1/webhook-endpoints/{}", endpoint.id);
    for (url, range) in UNREACHABLE {
        let refused = call(patch(&api, &path).json(&json!({"url": url}))).await;
        assert_refused_url(&refused, url, range);
    }
    let kept = store.get(&endpoint.id).await.expect("get").expect("exists");
    assert_eq!(kept.url, "https://receiver.example/");
    assert_eq!(kept.updated_at, endpoint.updated_at, "nothing written");
    assert_eq!(store.list().await.expect("list").len(), 3);
}

#[tokio::test]
async fn the_allowlist_admits_when_written_what_it_admits_when_sending() {
    let api = TestApi::spawn_with(|s| {
        s.webhooks.allow_cidrs = ["127.0.0.0/8", "::1/128", "169.254.169.254/32", "10.0.0.0/8"]
            .map(String::from)
            .to_vec();
    })
    .await;
    for (url, _) in UNREACHABLE {
        let created = call(api.post("/v1/webhook-endpoints").json(&json!({"url": url}))).await;
        assert_eq!(
            created.status,
            StatusCode::CREATED,
            "{url}: {}",
            created.text
        );
        let path = format!(
            "/v1/webhook-endpoints/{}",
            created.body["id"].as_str().expect("id")
        );
        let patched = call(patch(&api, &path).json(&json!({"url": url}))).await;
        assert_eq!(patched.status, StatusCode::OK, "{url}: {}", patched.text);
    }
    // An entry admits what it contains, nothing more.
    for (url, range) in [
        ("http://169.254.170.2/v2/credentials", "cloud metadata"),
        ("http://192.168.1.1/", "private"),
    ] {
        let refused = call(api.post("/v1/webhook-endpoints").json(&json!({"url": url}))).await;
        assert_refused_url(&refused, url, range);
    }
    let stored = EndpointStore::new(&api.store).list().await.expect("list");
    assert_eq!(stored.len(), UNREACHABLE.len());
}

#[tokio::test]
async fn a_config_file_url_webhooks_may_not_reach_fails_the_sync() {
    let store = endpoints();
    let secret = Secret::generate().expose();
    let env = |_: &str| Some(secret.clone());
    let file = [
        configured("shop", "https://shop.example/hooks", "SHOP_SECRET"),
        configured("metadata", "http://169.254.169.254/latest/", "META_SECRET"),
    ];
    let refused = store
        .sync_configured(&file, &SsrfPolicy::default(), env)
        .await
        .expect_err("refused");
    let EndpointError::BadConfig { id, fields } = &refused else {
        panic!("expected BadConfig, got {refused:?}");
    };
    assert_eq!(id, "metadata");
    assert_eq!(fields.len(), 1, "{fields:?}");
    assert_eq!(fields[0].field, "url");
    let text = refused.to_string();
    for part in [
        "cloud metadata",
        "webhooks.allow_cidrs",
        "UNDERWRITE_WEBHOOKS_ALLOW_CIDRS",
    ] {
        assert!(text.contains(part), "`{part}` not in {text}");
    }
    assert!(
        store.list().await.expect("list").is_empty(),
        "nothing stored"
    );

    let admitted = SsrfPolicy::new(&["169.254.169.254/32"], false).expect("policy");
    let synced = store
        .sync_configured(&file, &admitted, env)
        .await
        .expect("sync");
    assert_eq!(synced.created, ["shop", "metadata"]);
}

/// A URL whose host *name* resolves only to addresses the guard refuses (this machine's own
/// name, here) is created, but the answer warns that deliveries will be refused and names
/// the setting that would admit it. Judged against an independent lookup of the same name.
#[tokio::test]
async fn a_name_that_resolves_to_a_refused_address_is_created_with_a_warning() {
    let api = TestApi::spawn().await;
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .expect("this machine's name")
        .trim()
        .to_string();
    let found: Vec<std::net::IpAddr> = tokio::net::lookup_host((host.as_str(), 0))
        .await
        .map(|addrs| addrs.map(|a| a.ip()).collect())
        .unwrap_or_default();
    let created = call(
        api.post("/v1/webhook-endpoints")
            .json(&json!({"url": format!("http://{host}:8099/hook")})),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let warnings: Vec<&str> = created.body["warnings"]
        .as_array()
        .map(|w| w.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let private = |ip: &std::net::IpAddr| match ip {
        std::net::IpAddr::V4(v4) => v4.is_loopback() || v4.is_private() || v4.is_link_local(),
        std::net::IpAddr::V6(v6) => v6.is_loopback() || (v6.segments()[0] & 0xfe00) == 0xfc00,
    };
    if found.is_empty() {
        assert_eq!(warnings.len(), 1, "{}", created.text);
        assert!(warnings[0].contains("DNS lookup"), "{warnings:?}");
    } else if found.iter().all(private) {
        assert_eq!(
            warnings.len(),
            1,
            "{host} resolves to {found:?}: {}",
            created.text
        );
        assert!(warnings[0].contains(&host), "{warnings:?}");
        assert!(
            warnings[0].contains("UNDERWRITE_WEBHOOKS_ALLOW_CIDRS"),
            "{warnings:?}"
        );
    } else {
        assert!(
            warnings.is_empty(),
            "{host} resolves to {found:?}: {warnings:?}"
        );
    }
    // A public literal address needs no lookup and gets no warning.
    let public = call(
        api.post("/v1/webhook-endpoints")
            .json(&json!({"url": "https://93.184.216.34/hook"})),
    )
    .await;
    assert_eq!(public.status, StatusCode::CREATED, "{}", public.text);
    assert!(public.body.get("warnings").is_none(), "{}", public.text);
}
