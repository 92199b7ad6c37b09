//! The producer HTTP API over real HTTP, against a real redis-server: what it accepts, what
//! it refuses (and that a refusal enqueues nothing), auth, idempotency, job listing and the
//! dead set.

use std::time::Duration;

use futures::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use underwrite::queue::{JobKind, JobState, NewJob};

use crate::helpers::answer::call as answer;
use crate::helpers::api::{OPERATOR_TOKEN, OTHER_TOKEN, TestApi};
use crate::helpers::redis::TestRedis;
use crate::helpers::worker::{Scripted, TestWorker, WorkerOptions, wait_for_state};

const WITHIN: Duration = Duration::from_secs(20);

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

/// `contract` with one JSON pointer location replaced (or removed, for `None`).
fn contract_with(pointer: &str, value: Option<Value>) -> Value {
    let mut body = contract("order-1");
    let (parent, key) = pointer.rsplit_once('/').expect("pointer");
    let object = body
        .pointer_mut(parent)
        .and_then(Value::as_object_mut)
        .expect("parent object");
    match value {
        Some(value) => object.insert(key.to_string(), value),
        None => object.remove(key),
    };
    body
}

#[tokio::test]
async fn a_contract_is_accepted_and_its_record_says_queued() {
    let api = TestApi::spawn().await;
    let mut body = contract("order-1");
    body["reference"] = json!("order-1");
    body["metadata"] = json!({"shop": "tokyo-1", "lines": [1, 2]});
    let accepted = answer(api.post("/v1/proteger/contracts").json(&body)).await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.body);
    let id = accepted.job_id();
    let status_url = accepted.body["status_url"].as_str().expect("status_url");
    assert_eq!(status_url, format!("/v1/jobs/{id}"));
    assert_eq!(
        accepted
            .headers
            .get("location")
            .and_then(|v| v.to_str().ok()),
        Some(status_url)
    );
    assert!(accepted.headers.get("idempotent-replayed").is_none());

    let record = answer(api.get(status_url)).await;
    assert_eq!(record.status, StatusCode::OK);
    assert_eq!(record.body["id"], json!(id));
    assert_eq!(record.body["state"], "queued");
    assert_eq!(record.body["kind"], "proteger.contract.create");
    assert_eq!(record.body["attempts"], 0);
    assert_eq!(record.body["reference"], "order-1");
    assert_eq!(
        record.body["metadata"],
        json!({"shop": "tokyo-1", "lines": [1, 2]})
    );
    assert_eq!(record.body["payload"], contract("order-1"));
}

#[tokio::test]
async fn a_bulk_answers_one_job_per_contract_in_order() {
    let api = TestApi::spawn().await;
    let contracts: Vec<Value> = (0..3).map(|i| contract(&format!("order-{i}"))).collect();
    let accepted = answer(
        api.post("/v1/proteger/contracts/bulk")
            .json(&json!({ "contracts": contracts })),
    )
    .await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.body);
    let jobs = accepted.body["jobs"].as_array().expect("jobs");
    assert_eq!(jobs.len(), 3);
    for (i, job) in jobs.iter().enumerate() {
        let url = job["status_url"].as_str().expect("status_url");
        assert_eq!(
            url,
            format!("/v1/jobs/{}", job["job_id"].as_str().expect("id"))
        );
        let record = answer(api.get(url)).await;
        assert_eq!(record.body["state"], "queued");
        assert_eq!(
            record.body["payload"]["transactionId"],
            format!("order-{i}")
        );
    }
    assert_eq!(api.all_jobs().await.len(), 3);
}

#[tokio::test]
async fn a_bulk_past_100_is_refused_whole() {
    let api = TestApi::spawn().await;
    let contracts: Vec<Value> = (0..101).map(|i| contract(&format!("order-{i}"))).collect();
    let refused = answer(
        api.post("/v1/proteger/contracts/bulk")
            .json(&json!({ "contracts": contracts })),
    )
    .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(refused.code(), "validation_failed");
    assert_eq!(refused.fields(), ["contracts"]);
    assert!(api.all_jobs().await.is_empty());

    // 100 is the bound, not past it.
    let contracts: Vec<Value> = (0..100).map(|i| contract(&format!("order-{i}"))).collect();
    let accepted = answer(
        api.post("/v1/proteger/contracts/bulk")
            .json(&json!({ "contracts": contracts })),
    )
    .await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED);
    assert_eq!(api.all_jobs().await.len(), 100);
}

#[tokio::test]
async fn a_bulk_that_repeats_a_transaction_id_is_refused_whole() {
    let api = TestApi::spawn().await;
    let contracts = vec![
        contract("order-1"),
        contract("order-2"),
        contract("order-1"),
    ];
    let refused = answer(
        api.post("/v1/proteger/contracts/bulk")
            .json(&json!({ "contracts": contracts })),
    )
    .await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.body
    );
    assert_eq!(refused.fields(), ["contracts[2].transactionId"]);
    assert!(
        refused.body.to_string().contains("contracts[0]"),
        "names the first: {}",
        refused.body
    );
    assert!(api.all_jobs().await.is_empty());
}

/// One bad request and what it must be answered.
struct Bad {
    what: &'static str,
    path: &'static str,
    body: Vec<u8>,
    content_type: Option<&'static str>,
    idempotency_key: Option<String>,
    status: StatusCode,
    code: &'static str,
    fields: Vec<&'static str>,
}

impl Bad {
    fn json(what: &'static str, path: &'static str, body: Value) -> Self {
        Self {
            what,
            path,
            body: serde_json::to_vec(&body).expect("json"),
            content_type: Some("application/json"),
            idempotency_key: None,
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "validation_failed",
            fields: Vec::new(),
        }
    }

    fn contract(what: &'static str, body: Value, fields: &[&'static str]) -> Self {
        Self {
            fields: fields.to_vec(),
            ..Self::json(what, "/v1/proteger/contracts", body)
        }
    }
}

#[tokio::test]
async fn bad_input_of_each_kind_is_refused_and_enqueues_nothing() {
    let api = TestApi::spawn().await;
    let bulk = "/v1/proteger/contracts/bulk";
    let mut bad_item = contract("order-2");
    bad_item["customer"]["email"] = json!("not-an-email");
    let oversize = {
        let mut body = contract("order-1");
        body["metadata"] = json!({ "blob": "x".repeat(300 * 1024) });
        body
    };
    let cases = vec![
        Bad {
            body: br#"{"transactionId": "order-1", "#.to_vec(),
            status: StatusCode::BAD_REQUEST,
            code: "malformed_json",
            ..Bad::json("malformed JSON", "/v1/proteger/contracts", json!(null))
        },
        Bad {
            body: Vec::new(),
            status: StatusCode::BAD_REQUEST,
            code: "malformed_json",
            ..Bad::json("empty body", "/v1/proteger/contracts", json!(null))
        },
        Bad::contract(
            "wrong type",
            contract_with("/transactionTotal", Some(json!("12000"))),
            &["transactionTotal"],
        ),
        Bad::contract(
            "wrong type, nested",
            contract_with("/customer/name", Some(json!(42))),
            &["customer.name"],
        ),
        Bad::contract(
            "a fraction of a yen",
            contract_with("/plan/purchasePrice", Some(json!(2000.5))),
            &["plan.purchasePrice"],
        ),
        Bad::contract(
            "unknown field",
            contract_with("/transactionID", Some(json!("order-1"))),
            &["transactionID"],
        ),
        Bad::contract(
            "unknown nested field",
            contract_with("/customer/mail", Some(json!("a@b.c"))),
            &["customer.mail"],
        ),
        Bad::contract(
            "every unknown field at once (the newcomer's plan.id and product.title)",
            {
                let mut body = contract("order-1");
                body["plan"]["id"] = json!("P-1");
                body["product"]["title"] = json!("Phone");
                body["colour"] = json!("red");
                body
            },
            &["colour", "plan.id", "product.title"],
        ),
        Bad::contract("missing field", contract_with("/plan", None), &["plan"]),
        Bad::contract(
            "missing nested field",
            contract_with("/product/referenceId", None),
            &["product.referenceId"],
        ),
        Bad::contract(
            "invalid email",
            contract_with("/customer/email", Some(json!("user@"))),
            &["customer.email"],
        ),
        Bad::contract(
            "every invalid value at once",
            {
                let mut body = contract_with("/customer/email", Some(json!("nope")));
                body["transactionTotal"] = json!(-1);
                body["transactionDate"] = json!("yesterday");
                body
            },
            &["transactionTotal", "transactionDate", "customer.email"],
        ),
        Bad::contract(
            "reference too long",
            contract_with("/reference", Some(json!("r".repeat(256)))),
            &["reference"],
        ),
        Bad::contract(
            "metadata not an object",
            contract_with("/metadata", Some(json!(["a"]))),
            &["metadata"],
        ),
        Bad::contract("not an object", json!([contract("order-1")]), &[""]),
        Bad {
            fields: vec!["contracts"],
            ..Bad::json("empty bulk", bulk, json!({"contracts": []}))
        },
        Bad {
            fields: vec!["contracts"],
            ..Bad::json("bulk without contracts", bulk, json!({}))
        },
        Bad {
            fields: vec!["contracts[1].customer.email"],
            ..Bad::json(
                "one bad contract in a bulk",
                bulk,
                json!({"contracts": [contract("order-1"), bad_item, contract("order-3")]}),
            )
        },
        Bad {
            fields: vec!["contracts[0].plan", "contracts[2].transactionTotal"],
            ..Bad::json(
                "errors of several contracts in a bulk",
                bulk,
                json!({"contracts": [
                    contract_with("/plan", None),
                    contract("order-2"),
                    contract_with("/transactionTotal", Some(json!(true))),
                ]}),
            )
        },
        Bad {
            fields: vec!["extra"],
            ..Bad::json(
                "unknown field in a bulk",
                bulk,
                json!({"contracts": [contract("order-1")], "extra": 1}),
            )
        },
        Bad {
            body: serde_json::to_vec(&oversize).expect("json"),
            status: StatusCode::PAYLOAD_TOO_LARGE,
            code: "payload_too_large",
            ..Bad::json("oversize body", "/v1/proteger/contracts", json!(null))
        },
        Bad {
            content_type: Some("text/plain"),
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            code: "unsupported_media_type",
            ..Bad::json(
                "wrong content type",
                "/v1/proteger/contracts",
                contract("order-1"),
            )
        },
        Bad {
            content_type: None,
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            code: "unsupported_media_type",
            ..Bad::json(
                "no content type",
                "/v1/proteger/contracts",
                contract("order-1"),
            )
        },
        Bad {
            idempotency_key: Some("two words".into()),
            status: StatusCode::BAD_REQUEST,
            code: "bad_request",
            fields: vec!["Idempotency-Key"],
            ..Bad::json(
                "Idempotency-Key with a space",
                "/v1/proteger/contracts",
                contract("order-1"),
            )
        },
        Bad {
            idempotency_key: Some("k".repeat(256)),
            status: StatusCode::BAD_REQUEST,
            code: "bad_request",
            fields: vec!["Idempotency-Key"],
            ..Bad::json(
                "Idempotency-Key too long",
                "/v1/proteger/contracts",
                contract("order-1"),
            )
        },
        Bad {
            fields: vec!["preview"],
            ..Bad::json(
                "cancellation without preview",
                "/v1/proteger/contracts/c-1/cancellation",
                json!({}),
            )
        },
        Bad {
            fields: vec!["preview"],
            ..Bad::json(
                "cancellation with a string preview",
                "/v1/proteger/contracts/c-1/cancellation",
                json!({"preview": "false"}),
            )
        },
        Bad {
            fields: vec!["contractId"],
            ..Bad::json(
                "contract id with a space",
                "/v1/proteger/contracts/c%201/cancellation",
                json!({"preview": true}),
            )
        },
        Bad {
            fields: vec!["contractId"],
            ..Bad::json(
                "contract id with an encoded slash",
                "/v1/proteger/contracts/c%2F1/cancellation",
                json!({"preview": true}),
            )
        },
    ];
    for case in cases {
        let mut request = api.post(case.path).body(case.body.clone());
        if let Some(content_type) = case.content_type {
            request = request.header("content-type", content_type);
        }
        if let Some(key) = &case.idempotency_key {
            request = request.header("idempotency-key", key.as_str());
        }
        let refused = answer(request).await;
        assert_eq!(
            refused.status, case.status,
            "{}: {}",
            case.what, refused.body
        );
        assert_eq!(refused.code(), case.code, "{}: {}", case.what, refused.body);
        let message = refused.body["error"]["message"]
            .as_str()
            .unwrap_or_default();
        assert!(!message.is_empty(), "{}: no message", case.what);
        if !case.fields.is_empty() {
            assert_eq!(
                refused.fields(),
                case.fields,
                "{}: {}",
                case.what,
                refused.body
            );
        }
        if case.code == "malformed_json" && !case.body.is_empty() {
            assert!(
                message.contains("line 1 column"),
                "{}: {message}",
                case.what
            );
        }
        if case.what.starts_with("Idempotency-Key") {
            assert!(message.contains("Idempotency-Key"), "{message}");
        }
    }
    assert!(
        api.all_jobs().await.is_empty(),
        "a refused request enqueued something"
    );
}

#[tokio::test]
async fn v1_needs_a_valid_bearer_token_and_health_does_not() {
    let api = TestApi::spawn().await;
    let path = "/v1/proteger/contracts";
    let body = contract("order-1");
    for (what, request) in [
        ("no token", api.anonymous(Method::POST, path)),
        (
            "wrong token",
            api.anonymous(Method::POST, path).bearer_auth("guess"),
        ),
        (
            "prefix of a token",
            api.anonymous(Method::POST, path).bearer_auth("test-toke"),
        ),
        (
            "another scheme",
            api.anonymous(Method::POST, path)
                .basic_auth("test-token", Some("x")),
        ),
        (
            "an unknown /v1 route",
            api.anonymous(Method::GET, "/v1/nowhere"),
        ),
    ] {
        let refused = answer(request.json(&body)).await;
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{what}");
        assert_eq!(refused.code(), "unauthorized", "{what}");
        assert_eq!(
            refused
                .headers
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok()),
            Some("Bearer"),
            "{what}"
        );
        assert!(
            !refused.body.to_string().contains("guess"),
            "the answer repeats the token"
        );
    }
    assert!(api.all_jobs().await.is_empty());

    let accepted = answer(api.post(path).json(&body)).await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED);
    let other = answer(
        api.anonymous(Method::POST, path)
            .bearer_auth(OTHER_TOKEN)
            .json(&body),
    )
    .await;
    assert_eq!(other.status, StatusCode::ACCEPTED, "every configured token");

    for open in ["/healthz", "/readyz", "/metrics"] {
        let response = api
            .anonymous(Method::GET, open)
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), StatusCode::OK, "{open}");
    }
}

#[tokio::test]
async fn without_configured_tokens_every_v1_request_is_refused() {
    let api = TestApi::spawn_with(|settings| {
        settings.secrets.api_tokens.clear();
        settings.secrets.operator_tokens.clear();
    })
    .await;
    let refused = answer(api.get("/v1/jobs")).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    let message = refused.body["error"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(message.contains("UNDERWRITE_API_TOKENS"), "{message}");
    let health = answer(api.anonymous(Method::GET, "/healthz")).await;
    assert_eq!(health.status, StatusCode::OK);
}

#[tokio::test]
async fn the_same_key_and_body_replay_the_first_jobs() {
    let api = TestApi::spawn().await;
    let path = "/v1/proteger/contracts";
    let first = answer(
        api.post(path)
            .header("idempotency-key", "order-1")
            .json(&contract("order-1")),
    )
    .await;
    assert_eq!(first.status, StatusCode::ACCEPTED);
    let again = answer(
        api.post(path)
            .header("idempotency-key", "order-1")
            .json(&contract("order-1")),
    )
    .await;
    assert_eq!(again.status, StatusCode::ACCEPTED);
    assert_eq!(again.job_id(), first.job_id());
    assert_eq!(
        again
            .headers
            .get("idempotent-replayed")
            .and_then(|v| v.to_str().ok()),
        Some("true")
    );
    assert_eq!(api.all_jobs().await.len(), 1);

    let reused = answer(
        api.post(path)
            .header("idempotency-key", "order-1")
            .json(&contract("order-2")),
    )
    .await;
    assert_eq!(reused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reused.code(), "idempotency_key_reused");

    // The key names an effect, not a route: the same contract sent in a bulk of one is
    // the same request, and replays the same job.
    let bulk = answer(
        api.post("/v1/proteger/contracts/bulk")
            .header("idempotency-key", "order-1")
            .json(&json!({"contracts": [contract("order-1")]})),
    )
    .await;
    assert_eq!(bulk.status, StatusCode::ACCEPTED);
    assert_eq!(bulk.body["jobs"][0]["job_id"], json!(first.job_id()));
    // Another operation under the same key is another request.
    let cancel = answer(
        api.post("/v1/proteger/contracts/c-1/cancellation")
            .header("idempotency-key", "order-1")
            .json(&json!({"preview": true})),
    )
    .await;
    assert_eq!(cancel.code(), "idempotency_key_reused");
    assert_eq!(api.all_jobs().await.len(), 1);

    // Keys belong to their caller: another token with the same key gets its own job.
    let other = answer(
        api.anonymous(Method::POST, path)
            .bearer_auth(OTHER_TOKEN)
            .header("idempotency-key", "order-1")
            .json(&contract("order-1")),
    )
    .await;
    assert_eq!(other.status, StatusCode::ACCEPTED);
    assert_ne!(other.job_id(), first.job_id());
    assert!(other.headers.get("idempotent-replayed").is_none());

    // Bulk replays keep their order.
    let contracts = json!({"contracts": [contract("a"), contract("b")]});
    let bulk_first = answer(
        api.post("/v1/proteger/contracts/bulk")
            .header("idempotency-key", "bulk-1")
            .json(&contracts),
    )
    .await;
    let bulk_again = answer(
        api.post("/v1/proteger/contracts/bulk")
            .header("idempotency-key", "bulk-1")
            .json(&contracts),
    )
    .await;
    assert_eq!(bulk_again.status, StatusCode::ACCEPTED);
    assert_eq!(bulk_again.body, bulk_first.body);
}

#[tokio::test]
async fn concurrent_duplicates_create_exactly_one_job() {
    let api = TestApi::spawn().await;
    let body = contract("order-1");
    let requests = (0..20).map(|_| {
        answer(
            api.post("/v1/proteger/contracts")
                .header("idempotency-key", "race-1")
                .json(&body),
        )
    });
    let answers = join_all(requests).await;
    let first = answers[0].job_id();
    for answer in &answers {
        assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.body);
        assert_eq!(answer.job_id(), first);
    }
    let replays = answers
        .iter()
        .filter(|a| a.headers.get("idempotent-replayed").is_some())
        .count();
    assert_eq!(replays, 19, "one request created, the others replayed");
    assert_eq!(api.all_jobs().await.len(), 1);
}

#[tokio::test]
async fn a_cancellation_is_a_job_of_its_own_kind() {
    let api = TestApi::spawn().await;
    let accepted = answer(
        api.post("/v1/proteger/contracts/c10a0882-2b11/cancellation")
            .json(&json!({"preview": true, "reference": "refund-quote-1"})),
    )
    .await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.body);
    let record = answer(api.get(&format!("/v1/jobs/{}", accepted.job_id()))).await;
    assert_eq!(record.body["kind"], "proteger.contract.cancel");
    assert_eq!(
        record.body["payload"],
        json!({"contract_id": "c10a0882-2b11", "preview": true})
    );
    assert_eq!(record.body["reference"], "refund-quote-1");
}

#[tokio::test]
async fn jobs_are_listed_newest_first_by_state_and_kind_with_a_cursor() {
    let api = TestApi::spawn().await;
    let mut created = Vec::new();
    for i in 0..7 {
        let accepted = answer(
            api.post("/v1/proteger/contracts")
                .json(&contract(&format!("order-{i}"))),
        )
        .await;
        created.push(accepted.job_id());
    }
    let cancel = answer(
        api.post("/v1/proteger/contracts/c-1/cancellation")
            .json(&json!({"preview": false})),
    )
    .await;
    assert_eq!(cancel.status, StatusCode::ACCEPTED);

    let mut seen = Vec::new();
    let mut pages = 0;
    let mut cursor: Option<String> = None;
    loop {
        let mut path = "/v1/jobs?state=queued&kind=proteger.contract.create&limit=3".to_string();
        if let Some(cursor) = &cursor {
            path.push_str(&format!("&cursor={cursor}"));
        }
        let page = answer(api.get(&path)).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let jobs = page.body["jobs"].as_array().expect("jobs");
        assert!(jobs.len() <= 3);
        for job in jobs {
            assert_eq!(job["state"], "queued");
            assert_eq!(job["kind"], "proteger.contract.create");
            seen.push(job["id"].as_str().expect("id").to_string());
        }
        pages += 1;
        assert!(pages <= 5, "pagination does not end");
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    created.reverse();
    assert_eq!(seen, created, "every job once, newest first");

    let all = answer(api.get("/v1/jobs")).await;
    assert_eq!(all.body["jobs"].as_array().map(Vec::len), Some(8));
    assert_eq!(all.body["next_cursor"], Value::Null);
    let dead = answer(api.get("/v1/jobs?state=dead")).await;
    assert_eq!(dead.body["jobs"], json!([]));

    let bad_state = answer(api.get("/v1/jobs?state=done")).await;
    assert_eq!(bad_state.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad_state.fields(), ["state"]);
    let reason = bad_state.body["error"]["fields"][0]["reason"]
        .as_str()
        .unwrap_or_default();
    for state in JobState::ALL {
        assert!(reason.contains(state.as_str()), "{reason}");
    }
    // An unknown kind is refused like an unknown state: with the kinds there are.
    let bad_kind = answer(api.get("/v1/jobs?kind=proteger.contract.creat")).await;
    assert_eq!(bad_kind.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad_kind.fields(), ["kind"]);
    let reason = bad_kind.body["error"]["fields"][0]["reason"]
        .as_str()
        .unwrap_or_default();
    assert!(
        reason.contains("did you mean `proteger.contract.create`"),
        "{reason}"
    );
    assert!(reason.contains("tulip.contract.create"), "{reason}");
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("limit=ten", "limit"),
        ("stat=queued", "stat"),
        ("cursor=garbage", "cursor"),
        ("kind=bogus", "kind"),
    ] {
        let refused = answer(api.get(&format!("/v1/jobs?{query}"))).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{query}");
        assert_eq!(refused.fields(), [field], "{query}");
    }
}

#[tokio::test]
async fn unknown_jobs_routes_and_methods_answer_in_our_shape() {
    let api = TestApi::spawn().await;
    let malformed = answer(api.get("/v1/jobs/not-a-uuid")).await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
    assert_eq!(malformed.fields(), ["id"]);
    let unknown = answer(api.get(&format!("/v1/jobs/{}", uuid::Uuid::now_v7()))).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.code(), "not_found");
    for path in ["/v1/nowhere", "/nowhere"] {
        let missing = answer(api.get(path)).await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(missing.code(), "not_found", "{path}");
    }
    let wrong_method = answer(api.delete("/v1/jobs")).await;
    assert_eq!(wrong_method.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(wrong_method.code(), "method_not_allowed");
    assert!(wrong_method.headers.get("allow").is_some());
    let wrong_method = answer(api.anonymous(Method::POST, "/healthz")).await;
    assert_eq!(wrong_method.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(wrong_method.code(), "method_not_allowed");
}

fn failing_job(label: &str) -> NewJob {
    let script = Scripted {
        fail_times: 1_000,
        permanent: true,
        label: label.into(),
        ..Scripted::default()
    };
    // The default app's, as TOKEN is.
    NewJob::new(
        Scripted::KIND,
        serde_json::to_value(script).expect("payload"),
    )
    .with_app(Some(underwrite::queue::AppName::default_app()))
}

#[tokio::test]
async fn the_dead_set_can_be_listed_retried_and_purged() {
    let api = TestApi::spawn().await;
    let jobs = [failing_job("a"), failing_job("b")];
    let (a, b) = (jobs[0].id, jobs[1].id);
    api.store.enqueue(&jobs, None).await.expect("enqueue");
    let alive = answer(
        api.post("/v1/proteger/contracts")
            .json(&contract("order-1")),
    )
    .await
    .job_id();

    // The vendor refuses both for good: they land in the dead set as `failed`.
    let worker = TestWorker::start(&api.store, &api.redis, WorkerOptions::default());
    wait_for_state(&api.store, &a, JobState::Failed, WITHIN).await;
    wait_for_state(&api.store, &b, JobState::Failed, WITHIN).await;
    worker.stop().await;

    let listed = answer(api.get("/v1/dead?limit=10")).await;
    assert_eq!(listed.status, StatusCode::OK);
    let mut ids: Vec<String> = listed.body["jobs"]
        .as_array()
        .expect("jobs")
        .iter()
        .map(|j| j["id"].as_str().expect("id").to_string())
        .collect();
    ids.sort();
    let mut expected = vec![a.to_string(), b.to_string()];
    expected.sort();
    assert_eq!(ids, expected);
    let shown = answer(api.get(&format!("/v1/dead/{a}"))).await;
    assert_eq!(shown.status, StatusCode::OK);
    assert_eq!(shown.body["state"], "failed");
    assert_eq!(shown.body["last_error"]["vendor_status"], 400);
    let not_dead = answer(api.get(&format!("/v1/dead/{alive}"))).await;
    assert_eq!(not_dead.status, StatusCode::NOT_FOUND);

    // Retry one: queued again; retrying it again is a conflict, not a second copy.
    let retried = answer(api.post(&format!("/v1/dead/{a}/retry"))).await;
    assert_eq!(retried.status, StatusCode::ACCEPTED, "{}", retried.body);
    assert_eq!(retried.job_id(), a.to_string());
    let record = answer(api.get(&format!("/v1/jobs/{a}"))).await;
    assert_eq!(record.body["state"], "queued");
    let twice = answer(api.post(&format!("/v1/dead/{a}/retry"))).await;
    assert_eq!(twice.status, StatusCode::CONFLICT);
    assert_eq!(twice.code(), "conflict");
    let alive_retry = answer(api.post(&format!("/v1/dead/{alive}/retry"))).await;
    assert_eq!(alive_retry.status, StatusCode::CONFLICT);
    let missing = answer(api.post(&format!("/v1/dead/{}/retry", uuid::Uuid::now_v7()))).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);

    // Retry all: the operator's (an app acts on its own jobs one at a time); the other one.
    let refused = answer(api.post("/v1/dead/retry")).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(refused.code(), "forbidden");
    let all = answer(api.request_as(OPERATOR_TOKEN, Method::POST, "/v1/dead/retry")).await;
    assert_eq!(all.status, StatusCode::ACCEPTED);
    assert_eq!(
        all.body,
        json!({"requeued": 1, "released": 0, "ambiguous": 0, "in_batch": 0})
    );
    let record = answer(api.get(&format!("/v1/jobs/{b}"))).await;
    assert_eq!(record.body["state"], "queued");

    // They fail again; purge one, then the rest.
    let worker = TestWorker::start(&api.store, &api.redis, WorkerOptions::default());
    wait_for_state(&api.store, &a, JobState::Failed, WITHIN).await;
    wait_for_state(&api.store, &b, JobState::Failed, WITHIN).await;
    worker.stop().await;
    let purged = answer(api.delete(&format!("/v1/dead/{a}"))).await;
    assert_eq!(purged.status, StatusCode::NO_CONTENT);
    let gone = answer(api.get(&format!("/v1/jobs/{a}"))).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    let again = answer(api.delete(&format!("/v1/dead/{a}"))).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    let refused = answer(api.delete("/v1/dead")).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let rest = answer(api.request_as(OPERATOR_TOKEN, Method::DELETE, "/v1/dead")).await;
    assert_eq!(rest.status, StatusCode::OK);
    assert_eq!(rest.body, json!({"purged": 1}));
    let empty = answer(api.get("/v1/dead")).await;
    assert_eq!(empty.body["jobs"], json!([]));
    // The live job was never touched.
    let record = answer(api.get(&format!("/v1/jobs/{alive}"))).await;
    assert_eq!(record.body["state"], "queued");
}

#[tokio::test]
async fn without_redis_the_api_says_unavailable_not_internal() {
    let api = TestApi::spawn_without_redis().await;
    let health = answer(api.anonymous(Method::GET, "/healthz")).await;
    assert_eq!(health.status, StatusCode::OK);
    let ready = answer(api.anonymous(Method::GET, "/readyz")).await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(ready.code(), "unavailable");
    let enqueue = answer(
        api.post("/v1/proteger/contracts")
            .json(&contract("order-1")),
    )
    .await;
    assert_eq!(enqueue.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(enqueue.code(), "unavailable");
    let message = enqueue.body["error"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(
        !message.to_lowercase().contains("refused"),
        "internals leak: {message}"
    );
    let read = answer(api.get(&format!("/v1/jobs/{}", uuid::Uuid::now_v7()))).await;
    assert_eq!(read.status, StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn a_full_redis_answers_503_with_retry_after_and_loses_nothing() {
    let redis = TestRedis::start(&["--maxmemory-policy", "noeviction"]);
    let api = TestApi::spawn_on(&redis).await;
    let first = answer(api.post("/v1/proteger/contracts").json(&contract("full-1"))).await;
    assert_eq!(first.status, StatusCode::ACCEPTED, "{:?}", first.body);
    let mut admin = redis::Client::open(redis.url())
        .expect("client")
        .get_multiplexed_async_connection()
        .await
        .expect("connect");
    let set_maxmemory = |bytes: &'static str| {
        redis::cmd("CONFIG")
            .arg("SET")
            .arg("maxmemory")
            .arg(bytes)
            .to_owned()
    };
    // One byte: every write is refused ("OOM command not allowed"), reads still work.
    let _: () = set_maxmemory("1")
        .query_async(&mut admin)
        .await
        .expect("config set");
    let refusals = || underwrite::metrics::STORE_FULL_REFUSALS.get();
    let before = refusals();
    let full = answer(api.post("/v1/proteger/contracts").json(&contract("full-2"))).await;
    assert_eq!(
        full.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{:?}",
        full.body
    );
    assert_eq!(full.code(), "store_full");
    assert_eq!(
        full.headers
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("30")
    );
    assert!(refusals() > before, "the refusal is counted");
    let job = first.body["job_id"].as_str().expect("job id");
    let read = answer(api.get(&format!("/v1/jobs/{job}"))).await;
    assert_eq!(
        read.status,
        StatusCode::OK,
        "reads go on while Redis is full"
    );
    // Room again: the same request goes through, and nothing of the refused one was kept.
    let _: () = set_maxmemory("0")
        .query_async(&mut admin)
        .await
        .expect("config set");
    let again = answer(api.post("/v1/proteger/contracts").json(&contract("full-2"))).await;
    assert_eq!(again.status, StatusCode::ACCEPTED, "{:?}", again.body);
    assert_eq!(api.all_jobs().await.len(), 2);
}

#[tokio::test]
async fn requests_are_counted_by_route_template_and_status() {
    let api = TestApi::spawn().await;
    let id = uuid::Uuid::now_v7();
    let missing = answer(api.get(&format!("/v1/jobs/{id}"))).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    for path in ["/v1/nowhere", "/nowhere"] {
        let unrouted = answer(api.get(path)).await;
        assert_eq!(unrouted.status, StatusCode::NOT_FOUND);
    }
    let response = api
        .anonymous(Method::GET, "/metrics")
        .send()
        .await
        .expect("metrics");
    assert!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/plain"))
    );
    let text = response.text().await.expect("text");
    assert!(
        text.lines()
            .any(|line| line.starts_with("underwrite_http_requests_total")
                && line.contains(r#"route="/v1/jobs/{id}""#)
                && line.contains(r#"status="404""#)),
        "{text}"
    );
    assert!(
        !text.contains(&id.to_string()),
        "ids must not become labels"
    );
    assert!(
        !text.contains("nowhere"),
        "unrouted paths must not become labels"
    );
    assert!(
        text.lines()
            .any(|line| line.starts_with("underwrite_http_requests_total")
                && line.contains(r#"route="unmatched""#)
                && line.contains(r#"status="404""#)),
        "{text}"
    );
}

#[tokio::test]
async fn a_chunked_body_past_the_limit_is_cut_off_with_413() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    // reqwest always sends a Content-Length for a body it holds, which the API refuses
    // before reading; a chunked body has no length and must be cut off while read.
    let api = TestApi::spawn().await;
    let address = api.url.trim_start_matches("http://").to_string();
    let stream = tokio::net::TcpStream::connect(&address)
        .await
        .expect("connect");
    let (mut reader, mut writer) = stream.into_split();
    let writing = tokio::spawn(async move {
        let head = "POST /v1/proteger/contracts HTTP/1.1\r\nHost: test\r\n\
                    Authorization: Bearer test-token\r\nContent-Type: application/json\r\n\
                    Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
        let padding = vec![b' '; 300 * 1024];
        // Errors are expected once the server has answered and stopped reading.
        let _ = writer.write_all(head.as_bytes()).await;
        let _ = writer
            .write_all(format!("{:x}\r\n", padding.len()).as_bytes())
            .await;
        let _ = writer.write_all(&padding).await;
        let _ = writer.write_all(b"\r\n0\r\n\r\n").await;
    });
    let mut response = Vec::new();
    let _ = reader.read_to_end(&mut response).await;
    writing.await.expect("writer");
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 413"), "{response}");
    assert!(
        response.contains(r#""code":"payload_too_large""#),
        "{response}"
    );
    assert!(api.all_jobs().await.is_empty());
}
