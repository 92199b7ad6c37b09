//! Per-app tenancy through the real API: each token is an app's (or the operator's); an
//! app sees and acts on its own jobs, webhook endpoints and deliveries only (another's
//! answer 404, word for word as one that does not exist); the dead set's bulk routes are
//! the operator's; events go only to the submitting app's endpoints; a bare-token setup,
//! and records written before apps existed, are the app `default`.

use std::time::{Duration, Instant};

use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{Value, json};
use underwrite::config::Settings;
use underwrite::queue::{AppName, JobKind, JobState, NewJob, Redis};
use underwrite::vendors::proteger::sandbox::{Faults, ProtegerSandboxConfig, sample_contract};
use underwrite::webhooks::endpoints::{EndpointStore, NewEndpoint};

use crate::helpers::api::{OPERATOR_TOKEN, OTHER_APP, OTHER_TOKEN, TOKEN, TestApi};
use crate::helpers::receiver::{Receiver, independently_verified};
use crate::helpers::worker::{Scripted, TestWorker, WorkerOptions, wait_for_state};
use crate::helpers::world::World;

const WITHIN: Duration = Duration::from_secs(30);

struct Answer {
    status: StatusCode,
    body: Value,
}

impl Answer {
    fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or_default()
    }

    fn message(&self) -> &str {
        self.body["error"]["message"].as_str().unwrap_or_default()
    }
}

async fn call(request: RequestBuilder) -> Answer {
    let response = request.send().await.expect("request");
    let status = response.status();
    let text = response.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Answer { status, body }
}

/// A request of app A (`default`, the bare TOKEN), app B ([`OTHER_APP`]) or the operator.
fn a(api: &TestApi, method: Method, path: &str) -> RequestBuilder {
    api.request_as(TOKEN, method, path)
}

fn b(api: &TestApi, method: Method, path: &str) -> RequestBuilder {
    api.request_as(OTHER_TOKEN, method, path)
}

fn operator(api: &TestApi, method: Method, path: &str) -> RequestBuilder {
    api.request_as(OPERATOR_TOKEN, method, path)
}

/// A contract the sandbox's catalogue knows.
fn contract(transaction_id: &str) -> Value {
    serde_json::to_value(sample_contract(transaction_id)).expect("contract")
}

/// Submits one contract as whoever `request` is; the job's id.
async fn submit(request: RequestBuilder, transaction_id: &str) -> String {
    let accepted = call(request.json(&contract(transaction_id))).await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.body);
    accepted.body["job_id"]
        .as_str()
        .expect("job_id")
        .to_string()
}

fn ids(page: &Value, list: &str) -> Vec<String> {
    page[list]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|item| item["id"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

async fn until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + WITHIN;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The 404 an app gets for another app's record is the one it gets for no record: same
/// status, code and message shape (the id is the only difference).
fn assert_same_404(theirs: &Answer, none: &Answer, theirs_id: &str, none_id: &str, what: &str) {
    assert_eq!(
        theirs.status,
        StatusCode::NOT_FOUND,
        "{what}: {}",
        theirs.body
    );
    assert_eq!(
        none.status,
        StatusCode::NOT_FOUND,
        "{what} (none): {}",
        none.body
    );
    assert_eq!(theirs.code(), "not_found", "{what}");
    assert_eq!(
        theirs.message().replace(theirs_id, "<id>"),
        none.message().replace(none_id, "<id>"),
        "{what}: another app's record must read as no record"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_b_gets_404_for_app_a_s_job_endpoint_and_delivery_and_events_reach_only_a() {
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
    let redis = Redis::open(&world.settings.redis.url).expect("redis");
    let api = TestApi::on_queue(world.store.clone(), redis, &world.settings).await;
    let receiver_a = Receiver::start("127.0.0.1:0".parse().expect("addr")).await;
    let receiver_b = Receiver::start("127.0.0.1:0".parse().expect("addr")).await;

    // Each app subscribes its own receiver to every event.
    let created_a = call(
        a(&api, Method::POST, "/v1/webhook-endpoints").json(&json!({"url": receiver_a.url()})),
    )
    .await;
    assert_eq!(created_a.status, StatusCode::CREATED, "{}", created_a.body);
    assert_eq!(created_a.body["app"], "default");
    let endpoint_a = created_a.body["id"].as_str().expect("id").to_string();
    let secret_a = created_a.body["secret"]
        .as_str()
        .expect("secret")
        .to_string();
    let created_b = call(
        b(&api, Method::POST, "/v1/webhook-endpoints").json(&json!({"url": receiver_b.url()})),
    )
    .await;
    assert_eq!(created_b.status, StatusCode::CREATED, "{}", created_b.body);
    assert_eq!(created_b.body["app"], OTHER_APP);
    let endpoint_b = created_b.body["id"].as_str().expect("id").to_string();

    // App A's job (a member of a vendor batch, which belongs to no app) finishes: its
    // event reaches A's receiver, signed with A's secret, and never B's.
    let job_a = submit(
        a(&api, Method::POST, "/v1/proteger/contracts"),
        "tenant-a-1",
    )
    .await;
    let id: underwrite::queue::JobId = job_a.parse().expect("job id");
    wait_for_state(&world.store, &id, JobState::Succeeded, WITHIN).await;
    until("A's event at A's receiver", || {
        !receiver_a.received().is_empty()
    })
    .await;
    let event = &receiver_a.received()[0];
    assert!(independently_verified(&secret_a, event));
    assert_eq!(event.json()["data"]["job_id"], job_a.as_str());

    // The job: A and the operator see it; B gets the 404 of a job that does not exist.
    let own = call(a(&api, Method::GET, &format!("/v1/jobs/{job_a}"))).await;
    assert_eq!(own.status, StatusCode::OK);
    assert_eq!(own.body["app"], "default");
    let unknown = uuid::Uuid::now_v7().to_string();
    let theirs = call(b(&api, Method::GET, &format!("/v1/jobs/{job_a}"))).await;
    let none = call(b(&api, Method::GET, &format!("/v1/jobs/{unknown}"))).await;
    assert_same_404(&theirs, &none, &job_a, &unknown, "GET job");
    let seen = call(operator(&api, Method::GET, &format!("/v1/jobs/{job_a}"))).await;
    assert_eq!(seen.status, StatusCode::OK);
    // B's list holds none of A's jobs; the operator's holds the batch too (of no app).
    let listed_b = call(b(&api, Method::GET, "/v1/jobs")).await;
    assert_eq!(ids(&listed_b.body, "jobs"), Vec::<String>::new());
    let listed_a = call(a(
        &api,
        Method::GET,
        "/v1/jobs?kind=proteger.contract.create",
    ))
    .await;
    assert_eq!(ids(&listed_a.body, "jobs"), std::slice::from_ref(&job_a));
    let listed_a_all = call(a(&api, Method::GET, "/v1/jobs")).await;
    assert!(
        listed_a_all.body["jobs"]
            .as_array()
            .expect("jobs")
            .iter()
            .all(|job| job["app"] == "default"),
        "an app lists no internal job: {}",
        listed_a_all.body
    );
    let listed_op = call(operator(&api, Method::GET, "/v1/jobs")).await;
    let op_jobs = listed_op.body["jobs"].as_array().expect("jobs");
    assert!(
        op_jobs.iter().any(|job| job["app"].is_null()),
        "the operator sees the batch: {}",
        listed_op.body
    );

    // The endpoint: B can neither see, change, rotate, recover nor delete it.
    let path_a = format!("/v1/webhook-endpoints/{endpoint_a}");
    let path_none = "/v1/webhook-endpoints/ep_nope";
    for (method, suffix, body) in [
        (Method::GET, "", None),
        (Method::PATCH, "", Some(json!({"enabled": false}))),
        (Method::POST, "/secret/rotate", None),
        (Method::DELETE, "", None),
    ] {
        let with_body = |request: RequestBuilder| match &body {
            Some(body) => request.json(body),
            None => request,
        };
        let theirs = call(with_body(b(
            &api,
            method.clone(),
            &format!("{path_a}{suffix}"),
        )))
        .await;
        let none = call(with_body(b(
            &api,
            method.clone(),
            &format!("{path_none}{suffix}"),
        )))
        .await;
        assert_same_404(
            &theirs,
            &none,
            &endpoint_a,
            "ep_nope",
            &format!("{method} endpoint{suffix}"),
        );
    }
    let still = call(a(&api, Method::GET, &path_a)).await;
    assert_eq!(still.status, StatusCode::OK);
    assert_eq!(still.body["enabled"], true, "B's PATCH changed nothing");
    let recovered = call(
        b(&api, Method::POST, &format!("{path_a}/recover"))
            .json(&json!({"since": "2020-01-01T00:00:00Z"})),
    )
    .await;
    assert_eq!(recovered.status, StatusCode::ACCEPTED);
    assert_eq!(recovered.body["requeued"], 0);
    let endpoints_b = call(b(&api, Method::GET, "/v1/webhook-endpoints")).await;
    assert_eq!(
        ids(&endpoints_b.body, "endpoints"),
        std::slice::from_ref(&endpoint_b)
    );
    let endpoints_a = call(a(&api, Method::GET, "/v1/webhook-endpoints")).await;
    assert_eq!(
        ids(&endpoints_a.body, "endpoints"),
        std::slice::from_ref(&endpoint_a)
    );
    let endpoints_op = call(operator(&api, Method::GET, "/v1/webhook-endpoints")).await;
    assert_eq!(ids(&endpoints_op.body, "endpoints").len(), 2);

    // The delivery belongs to A: B gets 404 for it and cannot resend it.
    let deliveries_a = call(a(&api, Method::GET, "/v1/webhook-deliveries")).await;
    let delivery = ids(&deliveries_a.body, "jobs");
    assert_eq!(delivery.len(), 1, "{}", deliveries_a.body);
    let delivery = &delivery[0];
    let deliveries_b = call(b(&api, Method::GET, "/v1/webhook-deliveries")).await;
    assert_eq!(ids(&deliveries_b.body, "jobs"), Vec::<String>::new());
    for suffix in ["", "/resend"] {
        let method = if suffix.is_empty() {
            Method::GET
        } else {
            Method::POST
        };
        let theirs = call(b(
            &api,
            method.clone(),
            &format!("/v1/webhook-deliveries/{delivery}{suffix}"),
        ))
        .await;
        let none = call(b(
            &api,
            method,
            &format!("/v1/webhook-deliveries/{unknown}{suffix}"),
        ))
        .await;
        assert_same_404(
            &theirs,
            &none,
            delivery,
            &unknown,
            &format!("delivery{suffix}"),
        );
    }
    let shown = call(operator(
        &api,
        Method::GET,
        &format!("/v1/webhook-deliveries/{delivery}"),
    ))
    .await;
    assert_eq!(shown.status, StatusCode::OK);
    assert_eq!(shown.body["delivery"]["app"], "default");

    // B's own job reaches B's receiver only.
    let job_b = submit(
        b(&api, Method::POST, "/v1/proteger/contracts"),
        "tenant-b-1",
    )
    .await;
    until("B's event at B's receiver", || {
        !receiver_b.received().is_empty()
    })
    .await;
    assert_eq!(
        receiver_b.received()[0].json()["data"]["job_id"],
        job_b.as_str()
    );
    // A's resend of its own delivery arrives again, at A's only.
    let resent = call(a(
        &api,
        Method::POST,
        &format!("/v1/webhook-deliveries/{delivery}/resend"),
    ))
    .await;
    assert_eq!(resent.status, StatusCode::ACCEPTED, "{}", resent.body);
    until("the resent event", || receiver_a.received().len() >= 2).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver_a.received().len(), 2, "only A's events at A's");
    assert_eq!(receiver_b.received().len(), 1, "only B's events at B's");
    let resent_id = resent.body["job_id"].as_str().expect("job_id");
    let resent_record = call(a(&api, Method::GET, &format!("/v1/jobs/{resent_id}"))).await;
    assert_eq!(
        resent_record.body["app"], "default",
        "a resend keeps its app"
    );

    receiver_a.stop();
    receiver_b.stop();
    world.stop().await;
}

#[tokio::test]
async fn each_app_lists_its_own_jobs_page_by_page_and_the_operator_lists_all() {
    let api = TestApi::spawn().await;
    let mut own_a = Vec::new();
    let mut own_b = Vec::new();
    // Interleaved, so that pages of A's listing pass over B's jobs.
    for i in 0..7 {
        own_a.push(
            submit(
                a(&api, Method::POST, "/v1/proteger/contracts"),
                &format!("a-{i}"),
            )
            .await,
        );
        if i % 2 == 0 {
            own_b.push(
                submit(
                    b(&api, Method::POST, "/v1/proteger/contracts"),
                    &format!("b-{i}"),
                )
                .await,
            );
        }
    }
    async fn all_pages(api: &TestApi, token: &str) -> Vec<String> {
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..50 {
            let path = match &cursor {
                Some(c) => format!("/v1/jobs?limit=2&cursor={c}"),
                None => "/v1/jobs?limit=2".to_string(),
            };
            let page = call(api.request_as(token, Method::GET, &path)).await;
            assert_eq!(page.status, StatusCode::OK, "{}", page.body);
            let jobs = ids(&page.body, "jobs");
            assert!(jobs.len() <= 2);
            seen.extend(jobs);
            match page.body["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_string()),
                None => return seen,
            }
        }
        panic!("the cursor never ended");
    }
    let mut listed_a = all_pages(&api, TOKEN).await;
    let mut listed_b = all_pages(&api, OTHER_TOKEN).await;
    let listed_op = all_pages(&api, OPERATOR_TOKEN).await;
    assert_eq!(listed_op.len(), own_a.len() + own_b.len());
    for (listed, own) in [(&mut listed_a, &mut own_a), (&mut listed_b, &mut own_b)] {
        // Newest first, each exactly once.
        own.reverse();
        assert_eq!(listed, own);
    }
}

#[tokio::test]
async fn the_dead_set_is_each_app_s_own_and_its_bulk_routes_the_operator_s() {
    let api = TestApi::spawn().await;
    let failing = |label: &str, app: &str| {
        NewJob::new(
            Scripted::KIND,
            serde_json::to_value(Scripted {
                fail_times: 1_000,
                permanent: true,
                label: label.into(),
                ..Scripted::default()
            })
            .expect("payload"),
        )
        .with_app(Some(AppName::parse(app).expect("app")))
    };
    let (job_a, job_b) = (failing("a", "default"), failing("b", OTHER_APP));
    let (id_a, id_b) = (job_a.id, job_b.id);
    api.store
        .enqueue(&[job_a, job_b], None)
        .await
        .expect("enqueue");
    let worker = TestWorker::start(&api.store, &api.redis, WorkerOptions::default());
    wait_for_state(&api.store, &id_a, JobState::Failed, WITHIN).await;
    wait_for_state(&api.store, &id_b, JobState::Failed, WITHIN).await;
    worker.stop().await;

    let dead_a = call(a(&api, Method::GET, "/v1/dead")).await;
    assert_eq!(ids(&dead_a.body, "jobs"), [id_a.to_string()]);
    let dead_b = call(b(&api, Method::GET, "/v1/dead")).await;
    assert_eq!(ids(&dead_b.body, "jobs"), [id_b.to_string()]);
    let dead_op = call(operator(&api, Method::GET, "/v1/dead")).await;
    assert_eq!(ids(&dead_op.body, "jobs").len(), 2);

    // B cannot read, retry or purge A's dead job.
    let unknown = uuid::Uuid::now_v7().to_string();
    let theirs_id = id_a.to_string();
    for (method, suffix) in [
        (Method::GET, ""),
        (Method::POST, "/retry"),
        (Method::DELETE, ""),
    ] {
        let theirs = call(b(&api, method.clone(), &format!("/v1/dead/{id_a}{suffix}"))).await;
        let none = call(b(
            &api,
            method.clone(),
            &format!("/v1/dead/{unknown}{suffix}"),
        ))
        .await;
        assert_same_404(
            &theirs,
            &none,
            &theirs_id,
            &unknown,
            &format!("{method} dead{suffix}"),
        );
    }
    let record = api
        .store
        .job(&id_a)
        .await
        .expect("read")
        .expect("still there");
    assert_eq!(record.state, JobState::Failed, "B's calls changed nothing");

    // The bulk routes: 403 for any app, in the API's error shape; the operator's work.
    for token in [TOKEN, OTHER_TOKEN] {
        for method in [Method::POST, Method::DELETE] {
            let path = if method == Method::POST {
                "/v1/dead/retry"
            } else {
                "/v1/dead"
            };
            let refused = call(api.request_as(token, method.clone(), path)).await;
            assert_eq!(refused.status, StatusCode::FORBIDDEN, "{method} {path}");
            assert_eq!(refused.code(), "forbidden");
            assert!(
                refused.message().contains("operator"),
                "{}",
                refused.message()
            );
        }
    }
    assert_eq!(
        api.store.dead_count().await.expect("count"),
        2,
        "nothing went"
    );
    // A retries its own; the operator purges the rest.
    let retried = call(a(&api, Method::POST, &format!("/v1/dead/{id_a}/retry"))).await;
    assert_eq!(retried.status, StatusCode::ACCEPTED, "{}", retried.body);
    let purged = call(operator(&api, Method::DELETE, "/v1/dead")).await;
    assert_eq!(purged.status, StatusCode::OK);
    assert_eq!(purged.body, json!({"purged": 1}));
}

#[tokio::test]
async fn the_operator_neither_enqueues_nor_owns_endpoints() {
    let api = TestApi::spawn().await;
    let refused =
        call(operator(&api, Method::POST, "/v1/proteger/contracts").json(&contract("op-1"))).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert_eq!(refused.code(), "forbidden");
    let refused = call(
        operator(&api, Method::POST, "/v1/webhook-endpoints")
            .json(&json!({"url": "https://example.com/hook"})),
    )
    .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert!(api.all_jobs().await.is_empty());
}

#[tokio::test]
async fn a_bare_token_setup_is_the_default_app_and_sees_records_written_before_apps() {
    // One bare token, as before apps existed.
    let api = TestApi::spawn_with(|settings| {
        settings.secrets = crate::helpers::api::settings("legacy-token").secrets;
    })
    .await;
    // A job and an endpoint written without `app` (by an older underwrite).
    let job = NewJob::new(Scripted::KIND, json!({"label": "old"}));
    let id = job.id;
    api.store.enqueue(&[job], None).await.expect("enqueue");
    let mut conn = api.store.connection();
    let _: () = redis::AsyncCommands::hdel(&mut conn, api.store.keys().job(&id), "app")
        .await
        .expect("hdel");
    let endpoints = EndpointStore::new(&api.store);
    let (endpoint, _) = endpoints
        .create(NewEndpoint {
            url: "https://example.com/hook".into(),
            ..NewEndpoint::default()
        })
        .await
        .expect("endpoint");
    let _: () = redis::AsyncCommands::hdel(&mut conn, endpoints.endpoint_key(&endpoint.id), "app")
        .await
        .expect("hdel");

    let legacy = |method: Method, path: &str| api.request_as("legacy-token", method, path);
    let shown = call(legacy(Method::GET, &format!("/v1/jobs/{id}"))).await;
    assert_eq!(shown.status, StatusCode::OK, "{}", shown.body);
    assert_eq!(shown.body["app"], "default");
    let listed = call(legacy(Method::GET, "/v1/jobs")).await;
    assert_eq!(ids(&listed.body, "jobs"), [id.to_string()]);
    let endpoint_shown = call(legacy(
        Method::GET,
        &format!("/v1/webhook-endpoints/{}", endpoint.id),
    ))
    .await;
    assert_eq!(endpoint_shown.status, StatusCode::OK);
    assert_eq!(endpoint_shown.body["app"], "default");
    let patched = call(
        legacy(
            Method::PATCH,
            &format!("/v1/webhook-endpoints/{}", endpoint.id),
        )
        .json(&json!({"enabled": false})),
    )
    .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    // Submitting works as before, for the default app.
    let job = submit(legacy(Method::POST, "/v1/proteger/contracts"), "legacy-1").await;
    let record = call(legacy(Method::GET, &format!("/v1/jobs/{job}"))).await;
    assert_eq!(record.body["app"], "default");
    // A job of no app (internal) is not the default app's.
    let internal = NewJob::new(Scripted::KIND, json!({"label": "internal"}));
    let internal_id = internal.id;
    api.store.enqueue(&[internal], None).await.expect("enqueue");
    let hidden = call(legacy(Method::GET, &format!("/v1/jobs/{internal_id}"))).await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_tokens_of_one_app_share_its_idempotency_keys() {
    let api = TestApi::spawn_with(|settings| {
        settings.secrets =
            crate::helpers::api::settings("shop:old-token,shop:new-token,other:x-token").secrets;
    })
    .await;
    let body = contract("order-1");
    let send = |token: &str| {
        api.request_as(token, Method::POST, "/v1/proteger/contracts")
            .header("idempotency-key", "order-1")
            .json(&body)
    };
    let first = call(send("old-token")).await;
    assert_eq!(first.status, StatusCode::ACCEPTED, "{}", first.body);
    // The app's rotated token replays the same job; another app's gets its own.
    let rotated = call(send("new-token")).await;
    assert_eq!(
        rotated.body["job_id"], first.body["job_id"],
        "{}",
        rotated.body
    );
    let other = call(send("x-token")).await;
    assert_eq!(other.status, StatusCode::ACCEPTED);
    assert_ne!(other.body["job_id"], first.body["job_id"]);
    let shown = call(api.request_as(
        "new-token",
        Method::GET,
        &format!("/v1/jobs/{}", first.body["job_id"].as_str().unwrap_or("")),
    ))
    .await;
    assert_eq!(shown.body["app"], "shop");
}

#[test]
fn malformed_token_entries_stop_the_start_and_are_never_echoed() {
    for (var, value) in [
        (
            "UNDERWRITE_API_TOKENS",
            "shop:ok-token,Not An App:s3cr3t-value",
        ),
        ("UNDERWRITE_API_TOKENS", "shop:"),
        ("UNDERWRITE_API_TOKENS", "a:s3cr3t-value,b:s3cr3t-value"),
    ] {
        let error =
            Settings::load_from(None, [(var.to_string(), value.to_string())]).expect_err(value);
        let text = error.to_string();
        assert!(text.contains(var), "{text}");
        assert!(!text.contains("s3cr3t"), "{text}");
        assert!(!text.contains("ok-token"), "{text}");
    }
    let error = Settings::load_from(
        None,
        [
            ("UNDERWRITE_API_TOKENS", "shop:s3cr3t-value"),
            ("UNDERWRITE_API_OPERATOR_TOKENS", "s3cr3t-value"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string())),
    )
    .expect_err("one token, two roles");
    assert!(!error.to_string().contains("s3cr3t"), "{error}");
}
