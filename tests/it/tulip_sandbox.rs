//! The Tulip sandbox over real HTTP, at the wire level (plain reqwest and JSON): what any
//! client would see. Also the helpers the other `tulip_*` tests share.

use std::time::Duration;

use chrono::Utc;
use reqwest::StatusCode;
use serde_json::{Value, json};
use underwrite::vendors::tulip::sandbox::{
    Envelope, ServedTulip, Switches, TulipSandboxConfig, serve,
};
use underwrite::vendors::tulip::types::validate::cases::{self, CASES};

pub const KEY: &str = "tk_test_it_0123456789";

/// A sandbox accepting [`KEY`] only.
pub fn config() -> TulipSandboxConfig {
    TulipSandboxConfig {
        keys: vec![KEY.into()],
        ..TulipSandboxConfig::default()
    }
}

pub async fn start(config: TulipSandboxConfig) -> ServedTulip {
    serve("127.0.0.1:0".parse().expect("address"), config)
        .await
        .expect("sandbox starts")
}

/// A valid one-day LCD bike rental for renter `uid`, starting in an hour.
pub fn lcd(uid: &str) -> Value {
    let mut body = cases::lcd(Utc::now());
    body["uid"] = json!(uid);
    body
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client")
}

async fn post(sandbox: &ServedTulip, path: &str, body: &Value) -> (StatusCode, Value) {
    let answer = http()
        .post(format!("{}{path}", sandbox.url()))
        .header("key", KEY)
        .json(body)
        .send()
        .await
        .expect("answered");
    let status = answer.status();
    (status, answer.json().await.unwrap_or(Value::Null))
}

async fn call(
    sandbox: &ServedTulip,
    method: reqwest::Method,
    path: &str,
    body: Option<&Value>,
) -> (StatusCode, Value) {
    let mut request = http()
        .request(method, format!("{}{path}", sandbox.url()))
        .header("key", KEY);
    if let Some(body) = body {
        request = request.json(body);
    }
    let answer = request.send().await.expect("answered");
    let status = answer.status();
    (status, answer.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn tulip_sandbox_answers_every_validation_code_in_the_openapi_error_shape() {
    let sandbox = start(config()).await;
    for (code, field, base, edit) in CASES {
        let mut body = base(Utc::now());
        edit(&mut body, Utc::now());
        let (status, answer) = post(&sandbox, "/contracts", &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{code} {field}: {answer}");
        assert_eq!(answer["status"], "error", "{answer}");
        assert_eq!(answer["type"], "bad_request");
        assert!(answer["execution_id"].as_str().is_some(), "{answer}");
        let answered = answer["error"]["code"].as_u64().expect("a code") as u32;
        // The sandbox answers the first broken rule; the case's own rule must be among the
        // ones our validation finds for the same body, and is the first when it is alone.
        let rules = underwrite::vendors::tulip::types::Rules::new(
            underwrite::vendors::tulip::types::Mode::Create,
            Utc::now(),
        );
        let found = underwrite::vendors::tulip::types::ContractRequest::parse(&body, &rules)
            .expect_err("refused");
        assert_eq!(answered, found[0].code, "{code} {field}: {answer}");
        assert!(found.iter().any(|v| v.code == *code), "{code}: {found:?}");
    }
    assert_eq!(sandbox.tulip.effects().contracts_created, 0);
    assert_eq!(sandbox.tulip.effects().refused, CASES.len() as u64);
}

#[tokio::test]
async fn tulip_sandbox_wants_the_key_header() {
    let sandbox = start(config()).await;
    let missing = http()
        .get(format!("{}/contracts?uid=u", sandbox.url()))
        .send()
        .await
        .expect("answered");
    assert_eq!(missing.status(), StatusCode::UNAUTHORIZED);
    let body: Value = missing.json().await.expect("json");
    assert_eq!(body["error"]["code"], 9001);
    let wrong = http()
        .get(format!("{}/contracts?uid=u", sandbox.url()))
        .header("key", "nope")
        .send()
        .await
        .expect("answered");
    let body: Value = wrong.json().await.expect("json");
    assert_eq!(body["error"]["code"], 9002);
    // A bearer token is not the key (there is none in Tulip's API).
    let bearer = http()
        .get(format!("{}/contracts?uid=u", sandbox.url()))
        .bearer_auth(KEY)
        .send()
        .await
        .expect("answered");
    assert_eq!(bearer.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn tulip_sandbox_quotes_without_storing_and_creates_with_a_deterministic_price() {
    let sandbox = start(config()).await;
    let body = lcd("renter-q");
    let (status, quote) = post(&sandbox, "/contracts?preview=true", &body).await;
    assert_eq!(status, StatusCode::OK, "{quote}");
    assert!(
        quote["contract"].get("cid").is_none(),
        "a quote has no cid: {quote}"
    );
    // One catalogue product (1000) × 0.4 % a day × 1 day.
    assert_eq!(quote["contract"]["price"], json!(4.0));
    assert_eq!(sandbox.tulip.count(Some("renter-q"), None), 0);

    let (status, created) = post(&sandbox, "/contracts", &body).await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let cid = created["contract"]["cid"]
        .as_str()
        .expect("cid")
        .to_string();
    assert_eq!(created["contract"]["status"], "open");
    assert_eq!(created["contract"]["price"], quote["contract"]["price"]);
    let (_, listed) = call(
        &sandbox,
        reqwest::Method::GET,
        "/contracts?uid=renter-q&limit=100",
        None,
    )
    .await;
    assert_eq!(listed["contracts"][0]["cid"], json!(cid));
    let (status, read) = call(
        &sandbox,
        reqwest::Method::GET,
        &format!("/contracts/{cid}"),
        None,
    )
    .await;
    assert_eq!(
        (status, read["contract"]["cid"].clone()),
        (StatusCode::OK, json!(cid))
    );
    let (status, unknown) = call(&sandbox, reqwest::Method::GET, "/contracts/NOPE", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(unknown["error"]["code"], 1051);
}

#[tokio::test]
async fn tulip_sandbox_cancels_within_four_hours_and_terminates_after() {
    let sandbox = start(config()).await;
    let mut cids = Vec::new();
    for _ in 0..2 {
        let (_, created) = post(&sandbox, "/contracts", &lcd("renter-c")).await;
        cids.push(
            created["contract"]["cid"]
                .as_str()
                .expect("cid")
                .to_string(),
        );
    }
    let reason = json!({"reason": "returned early"});
    let (status, cancelled) = call(
        &sandbox,
        reqwest::Method::DELETE,
        &format!("/contracts/{}", cids[0]),
        Some(&reason),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{cancelled}");
    assert_eq!(cancelled["contract"]["status"], "cancel");
    let (status, again) = call(
        &sandbox,
        reqwest::Method::DELETE,
        &format!("/contracts/{}", cids[0]),
        Some(&reason),
    )
    .await;
    assert_eq!(
        (status, again["error"]["code"].clone()),
        (StatusCode::BAD_REQUEST, json!(1052))
    );

    sandbox.tulip.backdate(&cids[1], 5).expect("backdated");
    let (status, refused) = call(
        &sandbox,
        reqwest::Method::DELETE,
        &format!("/contracts/{}", cids[1]),
        Some(&json!({"reason": " "})),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "a termination needs a reason: {refused}"
    );
    let (status, terminated) = call(
        &sandbox,
        reqwest::Method::DELETE,
        &format!("/contracts/{}", cids[1]),
        Some(&reason),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{terminated}");
    assert_eq!(terminated["contract"]["status"], "terminated");
    let effects = sandbox.tulip.effects();
    assert_eq!((effects.cancelled, effects.terminated), (1, 1));
}

#[tokio::test]
async fn tulip_sandbox_switches_play_the_unkind_readings() {
    let sandbox = start(config()).await;
    sandbox.tulip.set_switches(Switches {
        quota_exceeded: true,
        quota_retry_after_secs: Some(3),
        envelope: Envelope::Guide,
        ..Switches::default()
    });
    let answer = http()
        .post(format!("{}/contracts", sandbox.url()))
        .header("key", KEY)
        .json(&lcd("renter-s"))
        .send()
        .await
        .expect("answered");
    assert_eq!(
        answer.status(),
        StatusCode::BAD_REQUEST,
        "99888 comes as a 400 by default"
    );
    assert_eq!(answer.headers()["retry-after"], "3");
    let body: Value = answer.json().await.expect("json");
    assert_eq!(
        body,
        json!({"success": false, "error": {"code": 99888, "message": "The limit has been reached. You cannot perform this action. Please contact support."}})
    );

    let mut test_contract = lcd("renter-s");
    test_contract["test"] = json!(true);
    sandbox.tulip.set_switches(Switches {
        list_hides_test: true,
        ..Switches::default()
    });
    let (status, _) = post(&sandbox, "/contracts", &test_contract).await;
    assert_eq!(status, StatusCode::OK);
    let (_, plain) = call(
        &sandbox,
        reqwest::Method::GET,
        "/contracts?uid=renter-s",
        None,
    )
    .await;
    assert_eq!(plain["contracts"], json!([]), "hidden without test=true");
    let (_, tests) = call(
        &sandbox,
        reqwest::Method::GET,
        "/contracts?uid=renter-s&test=true",
        None,
    )
    .await;
    assert_eq!(tests["contracts"].as_array().map(Vec::len), Some(1));
}
