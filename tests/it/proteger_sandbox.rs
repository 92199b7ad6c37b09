//! The Proteger sandbox over real HTTP, at the wire level (plain reqwest): what a client of
//! any kind would see. `proteger_client.rs` tests our client against it.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderValue};
use serde_json::{Value, json};
use underwrite::vendors::proteger::sandbox::{
    ALREADY_CANCELLED, Effects, Fault, Faults, ProtegerSandboxConfig, REPLAYED_HEADER,
    SANDBOX_PHONE_PLAN_ID, SANDBOX_PHONE_PRODUCT_ID, SANDBOX_PLAN_3Y_ID, SANDBOX_PLAN_ID,
    SANDBOX_PRODUCT_ID, sample_contract,
};
use underwrite::vendors::proteger::sandbox::{ServedProteger, serve};
use underwrite::vendors::proteger::types::ContractRequest;

pub const TOKEN: &str = "it-proteger-token";

/// A sandbox with our token, no persistence delay, no faults.
pub fn config() -> ProtegerSandboxConfig {
    ProtegerSandboxConfig {
        token: Some(TOKEN.into()),
        persist_delay: Duration::ZERO,
        ..ProtegerSandboxConfig::default()
    }
}

pub async fn start(config: ProtegerSandboxConfig) -> ServedProteger {
    serve("127.0.0.1:0".parse().expect("address"), config)
        .await
        .expect("sandbox starts")
}

/// A purchase 30 days ago, in Japan's time: coverage (12 months from it) is running.
pub fn purchase_date() -> String {
    let jst = chrono::FixedOffset::east_opt(9 * 3600).expect("offset");
    (chrono::Utc::now() - chrono::Duration::days(30))
        .with_timezone(&jst)
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, false)
}

/// A valid contract for the sandbox's catalogue, bought 30 days ago.
pub fn contract_json(transaction_id: &str) -> Value {
    json!({
        "transactionId": transaction_id,
        "transactionTotal": 102000,
        "transactionDate": purchase_date(),
        "customer": { "name": "山田 太郎", "email": "user@example.com" },
        "product": { "referenceId": SANDBOX_PRODUCT_ID, "purchasePrice": 100000 },
        "plan": { "purchasePrice": 2000, "planId": SANDBOX_PLAN_ID }
    })
}

/// The same, typed, as the sandbox exports it.
pub fn contract(transaction_id: &str) -> ContractRequest {
    sample_contract(transaction_id)
}

/// A plain HTTP client (no pool reuse surprises: one per test) that sends
/// `Accept: application/json`, as the vendor's pages require on every call we know of.
fn http() -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
    reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .default_headers(headers)
        .build()
        .expect("client")
}

/// The same without any default header: each test says what it sends.
fn bare_http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client")
}

fn url(server: &ServedProteger, path: &str) -> String {
    format!("{}{path}", server.proteger_url())
}

async fn bulk(
    server: &ServedProteger,
    key: Option<&str>,
    token: &str,
    contracts: Value,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let mut request = http()
        .post(url(server, "/v1/contracts/bulk"))
        .header("X-Proteger-Auth-Token", token)
        .json(&json!({ "contracts": contracts }));
    if let Some(key) = key {
        request = request.header("X-Idempotency-Key", key);
    }
    let response = request.send().await.expect("an answer");
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, headers, body)
}

async fn get(server: &ServedProteger, path: &str) -> (StatusCode, Value) {
    let response = http()
        .get(url(server, path))
        .header("X-Proteger-Auth-Token", TOKEN)
        .send()
        .await
        .expect("an answer");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn assert_vendor_error(body: &Value, code: &str) {
    assert_eq!(body["code"], json!(code), "{body}");
    let request_id = body["requestId"].as_str().expect("requestId");
    assert_eq!(request_id.len(), 32, "{body}");
    assert!(body["error"].is_string(), "{body}");
}

#[tokio::test]
async fn bulk_create_answers_the_contracts_in_order() {
    let server = start(config()).await;
    let (status, _, body) = bulk(
        &server,
        Some("k1"),
        TOKEN,
        json!([contract_json("order-1"), contract_json("order-2")]),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let contracts = body.as_array().expect("a bare array");
    assert_eq!(contracts.len(), 2);
    assert_eq!(contracts[0]["transactionId"], json!("order-1"));
    assert_eq!(contracts[1]["transactionId"], json!("order-2"));
    assert_eq!(contracts[0]["status"], json!("Active"));
    assert_eq!(contracts[0]["plan"]["termLength"], json!(12));
    // Coverage from the purchase, for the plan's 12 months.
    let started = contracts[0]["startedAt"].as_str().expect("startedAt");
    assert_eq!(json!(started), contracts[0]["transactionDate"]);
    let started = chrono::DateTime::parse_from_rfc3339(started).expect("date");
    let ended =
        chrono::DateTime::parse_from_rfc3339(contracts[0]["endedAt"].as_str().expect("endedAt"))
            .expect("date");
    assert_eq!(
        Some(ended),
        started.checked_add_months(chrono::Months::new(12))
    );
    assert_ne!(contracts[0]["id"], contracts[1]["id"]);
    let effects = server.proteger.effects();
    assert_eq!(effects.contracts_created, 2);
    assert_eq!(effects.unique_transaction_ids, 2);
    assert_eq!(effects.duplicate_transaction_ids, 0);
}

#[tokio::test]
async fn a_single_create_answers_one_object() {
    let server = start(config()).await;
    let response = http()
        .post(url(&server, "/v1/contracts"))
        .header("X-Proteger-Auth-Token", TOKEN)
        .json(&contract_json("single-1"))
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["transactionId"], json!("single-1"));
    assert_eq!(server.proteger.effects().contracts_created, 1);
}

#[tokio::test]
async fn an_unknown_product_fails_the_whole_bulk() {
    let server = start(config()).await;
    let mut bad = contract_json("bad-1");
    bad["product"]["referenceId"] = json!("no-such-product");
    let (status, _, body) = bulk(
        &server,
        Some("k-all-or-nothing"),
        TOKEN,
        json!([contract_json("good-1"), bad]),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_vendor_error(&body, "BadRequestException");
    assert_eq!(
        body["error"],
        json!("failed create contract: failed get product: not found")
    );
    // All or nothing: the good contract was not made either.
    assert_eq!(server.proteger.effects().contracts_created, 0);
}

#[tokio::test]
async fn a_plan_not_offered_for_the_product_is_refused() {
    let server = start(config()).await;
    let mut odd = contract_json("odd-1");
    odd["plan"]["planId"] = json!(SANDBOX_PHONE_PLAN_ID);
    let (status, _, body) = bulk(&server, None, TOKEN, json!([odd])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let mut phone = contract_json("phone-1");
    phone["product"]["referenceId"] = json!(SANDBOX_PHONE_PRODUCT_ID);
    phone["plan"]["planId"] = json!(SANDBOX_PHONE_PLAN_ID);
    let (status, _, body) = bulk(&server, None, TOKEN, json!([phone])).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body[0]["plan"]["termLength"], json!(24));
}

#[tokio::test]
async fn a_bulk_holds_one_to_ten_valid_contracts() {
    let server = start(config()).await;
    let (status, _, body) = bulk(&server, None, TOKEN, json!([])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let eleven: Vec<Value> = (0..11).map(|i| contract_json(&format!("o{i}"))).collect();
    let (status, _, body) = bulk(&server, None, TOKEN, json!(eleven)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let mut bad = contract_json("bad-email");
    bad["customer"]["email"] = json!("not-an-email");
    let (status, _, body) = bulk(&server, None, TOKEN, json!([bad])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_vendor_error(&body, "BadRequestException");
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("contracts[0].customer.email")),
        "{body}"
    );
    assert_eq!(server.proteger.effects().contracts_created, 0);
}

#[tokio::test]
async fn both_token_headers_work_and_a_401_is_not_stored() {
    let server = start(config()).await;
    let (status, _, body) = bulk(
        &server,
        Some("k-auth"),
        "wrong",
        json!([contract_json("a-1")]),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_vendor_error(&body, "UnauthorizedException");
    // The same key with the right token executes: the 401 was not stored.
    let (status, _, _) = bulk(
        &server,
        Some("k-auth"),
        TOKEN,
        json!([contract_json("a-1")]),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // The other spelling of the header.
    let response = http()
        .get(url(&server, &format!("/v1/plans/{SANDBOX_PLAN_ID}")))
        .header("X-Proteger-Access-Token", TOKEN)
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status(), StatusCode::OK);
    // No header at all.
    let response = http()
        .get(url(&server, &format!("/v1/plans/{SANDBOX_PLAN_ID}")))
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let effects = server.proteger.effects();
    assert_eq!(effects.contracts_created, 1);
    // Each name is counted apart, so a test can tell which one a client sends.
    assert_eq!(effects.authenticated_by_auth_token, 1);
    assert_eq!(effects.authenticated_by_access_token, 1);
}

#[tokio::test]
async fn without_a_configured_token_any_token_passes() {
    let server = start(ProtegerSandboxConfig {
        token: None,
        ..config()
    })
    .await;
    let (status, _, _) = bulk(&server, None, "anything", json!([contract_json("t-1")])).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = bulk(&server, None, "", json!([contract_json("t-2")])).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_answer_is_replayed_for_the_same_key() {
    let server = start(config()).await;
    let body = json!([contract_json("r-1")]);
    let (status, headers, first) = bulk(&server, Some("k-replay"), TOKEN, body.clone()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers.get(REPLAYED_HEADER).is_none());
    let (status, headers, second) = bulk(&server, Some("k-replay"), TOKEN, body).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        headers.get(REPLAYED_HEADER).and_then(|v| v.to_str().ok()),
        Some("true")
    );
    assert_eq!(first, second);
    let effects = server.proteger.effects();
    assert_eq!(effects.contracts_created, 1);
    assert_eq!(effects.idempotent_replays, 1);
}

#[tokio::test]
async fn the_same_key_with_another_body_is_refused() {
    let server = start(config()).await;
    let (status, _, _) = bulk(
        &server,
        Some("k-mismatch"),
        TOKEN,
        json!([contract_json("m-1")]),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, body) = bulk(
        &server,
        Some("k-mismatch"),
        TOKEN,
        json!([contract_json("m-2")]),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_vendor_error(&body, "BadRequestException");
    assert_eq!(server.proteger.effects().contracts_created, 1);
}

#[tokio::test]
async fn a_request_refused_by_validation_leaves_its_key_free() {
    let server = start(config()).await;
    let mut bad = contract_json("v-1");
    bad["transactionDate"] = json!("yesterday");
    let (status, _, _) = bulk(&server, Some("k-validation"), TOKEN, json!([bad])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Fixed body, same key: executes (a stored answer would have made this a mismatch).
    let (status, headers, _) = bulk(
        &server,
        Some("k-validation"),
        TOKEN,
        json!([contract_json("v-1")]),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers.get(REPLAYED_HEADER).is_none());
    assert_eq!(server.proteger.effects().contracts_created, 1);
}

#[tokio::test]
async fn keys_expire() {
    let server = start(ProtegerSandboxConfig {
        idempotency_ttl: Duration::from_millis(200),
        ..config()
    })
    .await;
    let body = json!([contract_json("e-1")]);
    let (status, _, _) = bulk(&server, Some("k-expiry"), TOKEN, body.clone()).await;
    assert_eq!(status, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, headers, _) = bulk(&server, Some("k-expiry"), TOKEN, body).await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers.get(REPLAYED_HEADER).is_none());
    let effects = server.proteger.effects();
    assert_eq!(effects.contracts_created, 2);
    assert_eq!(effects.duplicate_transaction_ids, 1);
}

#[tokio::test]
async fn refunds_quote_then_cancel_then_refuse_a_second_cancel() {
    let server = start(config()).await;
    let (_, _, created) = bulk(&server, None, TOKEN, json!([contract_json("c-1")])).await;
    let id = created[0]["id"].as_str().expect("id").to_string();
    let refund = |commit: Option<&str>| {
        let query = commit.map(|c| format!("?commit={c}")).unwrap_or_default();
        http()
            .put(url(&server, &format!("/v1/contracts/{id}/refund{query}")))
            .header("X-Proteger-Auth-Token", TOKEN)
            .header(CONTENT_TYPE, "application/json")
            .send()
    };
    let quote = refund(Some("false")).await.expect("answer");
    assert_eq!(quote.status(), StatusCode::OK);
    let quote: Value = quote.json().await.expect("json");
    assert_eq!(quote["status"], json!("Active"));
    let amount = quote["refundAmount"].as_i64().expect("refundAmount");
    assert!((0..=2000).contains(&amount), "{amount}");
    let bad = refund(Some("maybe")).await.expect("answer");
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    // No `commit`: cancels.
    let done = refund(None).await.expect("answer");
    assert_eq!(done.status(), StatusCode::OK);
    let done: Value = done.json().await.expect("json");
    assert_eq!(done["status"], json!("Cancelled"));
    let again = refund(Some("true")).await.expect("answer");
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
    let again: Value = again.json().await.expect("json");
    assert_eq!(again["error"], json!(ALREADY_CANCELLED));
    let (status, read) = get(&server, &format!("/v1/contracts/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(read["status"], json!("Cancelled"));
    let effects = server.proteger.effects();
    assert_eq!(effects.quotes_served, 1);
    assert_eq!(effects.cancellations_committed, 1);
}

#[tokio::test]
async fn the_catalogue_is_served() {
    let server = start(config()).await;
    let (status, plans) = get(&server, "/v1/plans").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        plans.as_array().map(Vec::len),
        Some(2),
        "only Live by default: {plans}"
    );
    let (_, plans) = get(&server, "/v1/plans?status=Any").await;
    assert_eq!(plans.as_array().map(Vec::len), Some(3));
    let (_, plans) = get(
        &server,
        &format!("/v1/plans?productId={SANDBOX_PHONE_PRODUCT_ID}&status=LiveInStore"),
    )
    .await;
    assert_eq!(plans[0]["id"], json!(SANDBOX_PHONE_PLAN_ID));
    let (_, plans) = get(&server, "/v1/plans?storeId=elsewhere").await;
    assert_eq!(plans, json!([]));
    let (status, _) = get(&server, "/v1/plans?status=Sometimes").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, plan) = get(&server, &format!("/v1/plans/{SANDBOX_PLAN_3Y_ID}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(plan["termLength"], json!(36));
    let (status, body) = get(&server, "/v1/plans/nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_vendor_error(&body, "NotFoundException");
    let (status, product) = get(&server, &format!("/v1/products/{SANDBOX_PRODUCT_ID}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(product["referenceId"], json!(SANDBOX_PRODUCT_ID));
    let (status, body) = get(&server, "/v1/products/nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"], json!("failed get product: not found"));
}

#[tokio::test]
async fn the_admin_endpoints_set_faults_report_effects_and_reset() {
    let server = start(config()).await;
    let admin = |path: &str| format!("{}/_admin/{path}", server.proteger_url());
    let faults = json!({ "next": [{ "kind": "rate_limit", "retry_after_secs": 3 }] });
    let response = http()
        .put(admin("faults"))
        .json(&faults)
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status(), StatusCode::OK);
    let shown: Faults = http()
        .get(admin("faults"))
        .send()
        .await
        .expect("answer")
        .json()
        .await
        .expect("faults");
    assert_eq!(
        shown.next,
        [Fault::RateLimit {
            retry_after_secs: 3
        }]
    );
    let (status, headers, body) =
        bulk(&server, Some("k-429"), TOKEN, json!([contract_json("f-1")])).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        headers.get("retry-after").and_then(|v| v.to_str().ok()),
        Some("3")
    );
    assert_vendor_error(&body, "TooManyRequestsException");
    // Not stored: the same key now executes.
    let (status, _, _) = bulk(&server, Some("k-429"), TOKEN, json!([contract_json("f-1")])).await;
    assert_eq!(status, StatusCode::OK);
    let effects: Effects = http()
        .get(admin("effects"))
        .send()
        .await
        .expect("answer")
        .json()
        .await
        .expect("effects");
    assert_eq!(effects.requests_seen, 2);
    assert_eq!(effects.faults_injected, 1);
    assert_eq!(effects.contracts_created, 1);
    let bad = http()
        .put(admin("faults"))
        .json(&json!({ "error_rate": 2.0 }))
        .send()
        .await
        .expect("answer");
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let reset = http().post(admin("reset")).send().await.expect("answer");
    assert_eq!(reset.status(), StatusCode::NO_CONTENT);
    assert_eq!(server.proteger.effects(), Effects::default());
}

#[tokio::test]
async fn a_dropped_connection_gets_no_answer_at_all() {
    let server = start(config()).await;
    server.proteger.push_faults([Fault::Drop]);
    let error = http()
        .post(url(&server, "/v1/contracts/bulk"))
        .header("X-Proteger-Auth-Token", TOKEN)
        .json(&json!({ "contracts": [contract_json("d-1")] }))
        .send()
        .await
        .expect_err("no answer");
    assert!(error.status().is_none(), "{error:?}");
    assert!(!error.is_timeout(), "{error:?}");
    assert_eq!(server.proteger.effects().contracts_created, 0);
}

/// A request to the sandbox with the headers given and the token (and `Accept: */*`,
/// which reqwest adds when no `Accept` is given: as good as none for the sandbox).
fn raw(
    server: &ServedProteger,
    method: reqwest::Method,
    path: &str,
    headers: &[(reqwest::header::HeaderName, &str)],
    body: Option<&Value>,
) -> reqwest::RequestBuilder {
    let mut request = bare_http()
        .request(method, url(server, path))
        .header("X-Proteger-Auth-Token", TOKEN);
    for (name, value) in headers {
        request = request.header(name, *value);
    }
    match body {
        // Bytes, not `.json()`: that would add a `Content-Type` of its own.
        Some(body) => request.body(body.to_string()),
        None => request,
    }
}

async fn answer(request: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let response = request.send().await.expect("an answer");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_documented_content_type_and_accept_are_required() {
    use reqwest::Method;
    let server = start(config()).await;
    let json = "application/json";
    let body = json!({ "contracts": [contract_json("h-1")] });
    let bulk = |headers: &[(reqwest::header::HeaderName, &'static str)]| {
        raw(
            &server,
            Method::POST,
            "/v1/contracts/bulk",
            headers,
            Some(&body),
        )
        .header("X-Idempotency-Key", "k-headers")
    };

    // Seed 000: the bulk create needs both.
    let (status, error) = answer(bulk(&[(ACCEPT, json)])).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{error}");
    assert_vendor_error(&error, "UnsupportedMediaTypeException");
    let (status, _) = answer(bulk(&[(ACCEPT, json), (CONTENT_TYPE, "text/plain")])).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let (status, error) = answer(bulk(&[(CONTENT_TYPE, json)])).await;
    assert_eq!(status, StatusCode::NOT_ACCEPTABLE, "{error}");
    assert_vendor_error(&error, "NotAcceptableException");
    let (status, _) = answer(bulk(&[(CONTENT_TYPE, json), (ACCEPT, "text/html")])).await;
    assert_eq!(status, StatusCode::NOT_ACCEPTABLE);
    assert_eq!(server.proteger.effects().contracts_created, 0);
    // Nothing was stored under the key: the same key, sent right, executes.
    let (status, created) = answer(bulk(&[
        (CONTENT_TYPE, "application/json; charset=utf-8"),
        (ACCEPT, json),
    ]))
    .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    assert_eq!(server.proteger.effects().contracts_created, 1);
    let id = created[0]["id"].as_str().expect("id").to_string();

    // Seed 001: the refund needs both too, though its `PUT` has no body.
    let refund = format!("/v1/contracts/{id}/refund?commit=false");
    let (status, _) = answer(raw(&server, Method::PUT, &refund, &[(ACCEPT, json)], None)).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let (status, _) = answer(raw(
        &server,
        Method::PUT,
        &refund,
        &[(CONTENT_TYPE, json)],
        None,
    ))
    .await;
    assert_eq!(status, StatusCode::NOT_ACCEPTABLE);
    assert_eq!(server.proteger.effects().quotes_served, 0);
    let (status, quote) = answer(raw(
        &server,
        Method::PUT,
        &refund,
        &[(CONTENT_TYPE, json), (ACCEPT, json)],
        None,
    ))
    .await;
    assert_eq!(status, StatusCode::OK, "{quote}");
    assert_eq!(server.proteger.effects().quotes_served, 1);

    // Calls the seeds do not cover: `Accept` everywhere, no `Content-Type` on a `GET`.
    let plan = format!("/v1/plans/{SANDBOX_PLAN_ID}");
    let (status, _) = answer(raw(&server, Method::GET, &plan, &[], None)).await;
    assert_eq!(status, StatusCode::NOT_ACCEPTABLE);
    let (status, _) = answer(raw(&server, Method::GET, &plan, &[(ACCEPT, json)], None)).await;
    assert_eq!(status, StatusCode::OK);
}
