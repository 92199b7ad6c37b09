//! The Billing-Robo sandbox over real HTTP, at the wire level (plain reqwest and JSON):
//! what any client would see. `billing_robo_client.rs` tests our client against it.

use std::time::{Duration, Instant};

use chrono::{Duration as Days, NaiveDateTime};
use reqwest::StatusCode;
use serde_json::{Value, json};
use underwrite::vendors::billing_robo::sandbox::{
    AnswerOrder, BillingRoboSandboxConfig, Customer, DecideError, Fault, Phase, RateLimit,
    SearchErrors, ServedBillingRobo, StallThen, Switches, serve,
};
use underwrite::vendors::billing_robo::types::{
    APPLICATION_SEARCH_PATH, ApiVersion, CREDIT_SEARCH_PATH, REGISTER_PATH, format_date,
    parse_vendor_datetime, today_jst,
};

pub const USER_ID: &str = "it-owner@example.co.jp";
pub const ACCESS_KEY: &str = "itAccessKey0123456789";

/// A sandbox of the seed's API with our credentials, the customers `cust-*`, one without a
/// phone number and one with an unapproved department.
pub fn config() -> BillingRoboSandboxConfig {
    BillingRoboSandboxConfig {
        user_id: Some(USER_ID.into()),
        access_key: Some(ACCESS_KEY.into()),
        customers: vec![
            Customer::new("cust-*"),
            Customer {
                phone_registered: false,
                ..Customer::new("nophone")
            },
            Customer {
                department_approved: false,
                ..Customer::new("unapproved")
            },
        ],
        ..BillingRoboSandboxConfig::default()
    }
}

pub async fn start(config: BillingRoboSandboxConfig) -> ServedBillingRobo {
    serve("127.0.0.1:0".parse().expect("address"), config)
        .await
        .expect("sandbox starts")
}

/// A contract date a month ago, in Japan.
pub fn last_month() -> String {
    format_date(today_jst() - Days::days(30))
}

/// A valid item of the seed's shape.
pub fn item(code: &str) -> Value {
    json!({
        "billing_code": code,
        "representative_name": "代表者名",
        "contract_date": last_month(),
        "transaction_count": 12,
        "company_url": "https://www.example.co.jp"
    })
}

/// A valid item of the current pages' shape.
fn current_item(code: &str) -> Value {
    let mut item = item(code);
    item["business_type"] = json!(1);
    item["corporate_number"] = json!(1234567891234u64);
    item["claim_type"] = json!(1);
    item["estimated_billing_amount"] = json!(10_000);
    item
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client")
}

/// Posts `body` to `path` with our credentials added (unless `body` has its own).
async fn post(server: &ServedBillingRobo, path: &str, body: Value) -> (StatusCode, Value) {
    let (status, _, body) = post_full(server, path, body).await;
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

async fn post_full(
    server: &ServedBillingRobo,
    path: &str,
    mut body: Value,
) -> (StatusCode, reqwest::header::HeaderMap, String) {
    for (key, value) in [("user_id", USER_ID), ("access_key", ACCESS_KEY)] {
        if body.get(key).is_none() {
            body[key] = json!(value);
        }
    }
    let response = http()
        .post(format!("{}{path}", server.url()))
        .json(&body)
        .send()
        .await
        .expect("an answer");
    let status = response.status();
    let headers = response.headers().clone();
    (status, headers, response.text().await.unwrap_or_default())
}

/// Registers `items` in the seed's shape; answers the answered items.
async fn register(server: &ServedBillingRobo, items: Value) -> Vec<Value> {
    let (status, body) = post(server, REGISTER_PATH, json!({ "marunage_credit": items })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["marunage_credit"].as_array().expect("items").clone()
}

async fn credits(server: &ServedBillingRobo, filters: Value) -> Value {
    let (status, body) = post(
        server,
        CREDIT_SEARCH_PATH,
        json!({ "limit_count": 200, "marunage_credit": filters }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn applications(server: &ServedBillingRobo, filters: Value) -> Value {
    let (status, body) = post(
        server,
        APPLICATION_SEARCH_PATH,
        json!({ "limit_count": 200, "request_marunage_credit": filters }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

fn codes(items: &[Value]) -> Vec<Value> {
    items
        .iter()
        .map(|item| item["error_code"].clone())
        .collect()
}

fn at(text: &Value) -> NaiveDateTime {
    parse_vendor_datetime(text.as_str().expect("a datetime")).expect("yyyy/mm/dd hh:mm:ss")
}

#[tokio::test]
async fn a_bulk_register_stores_pending_applications_and_echoes_the_credentials() {
    let server = start(config()).await;
    let (status, body) = post(
        &server,
        REGISTER_PATH,
        json!({ "marunage_credit": [item("cust-1"), item("cust-2")] }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Like the vendor: the credentials come back in the answer.
    assert_eq!(body["user_id"], json!(USER_ID));
    assert_eq!(body["access_key"], json!(ACCESS_KEY));
    let items = body["marunage_credit"].as_array().expect("items");
    assert_eq!(codes(items), [Value::Null, Value::Null]);
    assert_eq!(items[0]["id"], json!(1));
    assert_eq!(items[1]["id"], json!(2));
    assert_eq!(items[0]["billing_code"], json!("cust-1"));
    assert_eq!(items[0]["status"], json!(2));
    assert_eq!(items[0]["error_message"], Value::Null);
    assert_eq!(items[0]["contract_date"], json!(last_month()));
    assert_eq!(items[0]["transaction_count"], json!(12));
    let requested = at(&items[0]["requested_date"]);
    let now = underwrite::vendors::billing_robo::types::now_jst();
    assert!(
        (now - requested).num_seconds().abs() <= 5,
        "{requested} vs {now}"
    );

    // Each customer's credit is pending now, registered and updated at once.
    let found = credits(&server, json!({})).await;
    let records = found["marunage_credit"].as_array().expect("records");
    assert_eq!(records.len(), 2);
    for record in records {
        assert_eq!(record["status"], json!(2), "{record}");
        assert_eq!(record["regist_date"], record["update_date"]);
    }
    let effects = server.billing_robo.effects();
    assert_eq!(effects.applications_registered, 2);
    assert_eq!(effects.register_calls, 1);
    assert_eq!(effects.credit_searches, 1);
    assert_eq!(effects.requests_seen, 2);
}

/// Every item code of the seed that the sandbox produces, each next to a good item, which
/// gets 5412: one failing item fails the request, and nothing is stored.
#[tokio::test]
async fn every_item_code_of_the_seed_and_all_or_nothing() {
    let server = start(config()).await;
    let tomorrow = format_date(today_jst() + Days::days(1));
    let with = |code: &str, field: &str, value: Value| {
        let mut item = item(code);
        item[field] = value;
        item
    };
    let cases = [
        (item("stranger-1"), 5401),
        (
            with("cust-bad code", "billing_code", json!("has space")),
            5403,
        ),
        (with("cust-3", "billing_code", json!("x".repeat(21))), 5403),
        (
            with("cust-4", "representative_name", json!("名".repeat(41))),
            5404,
        ),
        (with("cust-5", "contract_date", json!("2022/02/30")), 5405),
        (with("cust-6", "transaction_count", json!(10_000)), 5406),
        (with("cust-7", "transaction_count", Value::Null), 5406),
        (
            with("cust-8", "company_url", json!("www.example.co.jp")),
            5407,
        ),
        (with("cust-9", "contract_date", json!(tomorrow)), 5408),
        (item("nophone"), 5409),
        (item("unapproved"), 5410),
    ];
    for (bad, code) in cases {
        let shown = bad.to_string();
        let items = register(&server, json!([bad, item("cust-good")])).await;
        assert_eq!(codes(&items), [json!(code), json!(5412)], "{shown}");
        assert!(items[0]["error_message"].is_string(), "{shown}");
        assert_eq!(items[0]["id"], Value::Null);
        assert_eq!(items[1]["billing_code"], json!("cust-good"));
    }
    assert_eq!(server.billing_robo.effects().applications_registered, 0);

    // 5413: two items for one customer; both refused, the others 5412.
    let items = register(
        &server,
        json!([item("cust-dup"), item("cust-good"), item("cust-dup")]),
    )
    .await;
    assert_eq!(codes(&items), [json!(5413), json!(5412), json!(5413)]);

    // 5411: already applying.
    let first = register(&server, json!([item("cust-a")])).await;
    assert_eq!(codes(&first), [Value::Null]);
    let again = register(&server, json!([item("cust-a"), item("cust-b")])).await;
    assert_eq!(codes(&again), [json!(5411), json!(5412)]);

    // 5414: no items, whether the key is missing or the list empty.
    for body in [json!({}), json!({ "marunage_credit": [] })] {
        let (status, answer) = post(&server, REGISTER_PATH, body).await;
        assert_eq!(status, StatusCode::OK);
        let items = answer["marunage_credit"].as_array().expect("one item");
        assert_eq!(codes(items), [json!(5414)]);
        assert_eq!(items[0]["billing_code"], Value::Null);
    }

    // 5402: the account without the まるなげ option.
    server.billing_robo.set_switches(Switches {
        marunage_option: false,
        ..Switches::default()
    });
    let items = register(&server, json!([item("cust-c")])).await;
    assert_eq!(codes(&items), [json!(5402)]);
    assert_eq!(server.billing_robo.effects().applications_registered, 1);
}

#[tokio::test]
async fn the_current_pages_shape_and_numbering() {
    let server = start(BillingRoboSandboxConfig {
        version: ApiVersion::Current,
        ..config()
    })
    .await;
    let send = |items: Value| {
        let server = &server;
        async move {
            let (status, body) = post(
                server,
                REGISTER_PATH,
                json!({ "request_marunage_credit": items }),
            )
            .await;
            assert_eq!(status, StatusCode::OK, "{body}");
            assert!(body.get("marunage_credit").is_none(), "{body}");
            body["request_marunage_credit"]
                .as_array()
                .expect("items")
                .clone()
        }
    };
    let items = send(json!([current_item("cust-1")])).await;
    assert_eq!(codes(&items), [Value::Null]);
    assert_eq!(items[0]["estimated_billing_amount"], json!(10_000));

    let tomorrow = format_date(today_jst() + Days::days(1));
    let with = |field: &str, value: Value| {
        let mut item = current_item("cust-2");
        item[field] = value;
        item
    };
    let mut individual = current_item("cust-2");
    individual["business_type"] = json!(2);
    let cases = [
        (with("billing_code", json!("has space")), 5402),
        (with("contract_date", json!(tomorrow)), 5404),
        (with("estimated_billing_amount", Value::Null), 5414),
        (with("business_type", json!(9)), 5415),
        (with("corporate_number", json!(12)), 5416),
        (individual, 5417),
        (with("claim_type", json!(3)), 5418),
        (item("cust-2"), 5415),
        (current_item("cust-1"), 5410),
    ];
    for (bad, code) in cases {
        let shown = bad.to_string();
        let items = send(json!([bad, current_item("cust-9")])).await;
        assert_eq!(codes(&items), [json!(code), json!(5411)], "{shown}");
    }
    let items = send(json!([current_item("cust-3"), current_item("cust-3")])).await;
    assert_eq!(codes(&items), [json!(5412), json!(5412)]);
    // The transaction count is optional now.
    let mut without_count = current_item("cust-4");
    without_count
        .as_object_mut()
        .expect("object")
        .remove("transaction_count");
    assert_eq!(codes(&send(json!([without_count])).await), [Value::Null]);

    // The seed's key: no items found, 5413 in this numbering.
    let (status, body) = post(
        &server,
        REGISTER_PATH,
        json!({ "marunage_credit": [current_item("cust-5")] }),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        codes(body["request_marunage_credit"].as_array().expect("items")),
        [json!(5413)]
    );
    assert_eq!(server.billing_robo.effects().applications_registered, 2);
}

#[tokio::test]
async fn bad_credentials_are_401_with_the_vendors_codes() {
    let server = start(config()).await;
    let cases = [
        (json!({ "user_id": "someone@example.co.jp" }), 11),
        (json!({ "user_id": "not-an-email" }), 11),
        (json!({ "user_id": "" }), 11),
        (json!({ "access_key": "wrongKey" }), 12),
        (json!({ "access_key": "has-symbols!" }), 12),
        (json!({ "access_key": "" }), 12),
    ];
    for path in [REGISTER_PATH, APPLICATION_SEARCH_PATH, CREDIT_SEARCH_PATH] {
        for (body, code) in &cases {
            let (status, answer) = post(&server, path, body.clone()).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{path} {body}");
            assert_eq!(
                answer["error"]["code"],
                json!(code),
                "{path} {body}: {answer}"
            );
            assert!(answer["error"]["message"].is_string());
        }
    }
    server.billing_robo.set_switches(Switches {
        source_ip_refused: true,
        ..Switches::default()
    });
    let (status, answer) = post(&server, CREDIT_SEARCH_PATH, json!({})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer["error"]["code"], json!(13));
    let effects = server.billing_robo.effects();
    assert_eq!(effects.unauthorized, 19);
    assert_eq!(effects.register_calls, 0);
}

#[tokio::test]
async fn maintenance_is_a_503_with_code_19_set_by_the_admin() {
    let server = start(config()).await;
    let switches = format!("{}/_admin/switches", server.url());
    let put = http()
        .put(&switches)
        .json(&json!({ "maintenance": true, "maintenance_retry_after_secs": 120 }))
        .send()
        .await
        .expect("admin");
    assert_eq!(put.status(), StatusCode::OK);
    let (status, headers, body) = post_full(
        &server,
        REGISTER_PATH,
        json!({ "marunage_credit": [item("cust-1")] }),
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(headers["retry-after"], "120");
    let body: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(body["error"]["code"], json!(19));
    // Even bad credentials get the maintenance page.
    let (status, _) = post(&server, CREDIT_SEARCH_PATH, json!({ "access_key": "x" })).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(server.billing_robo.effects().applications_registered, 0);
    assert_eq!(server.billing_robo.effects().maintenance_refusals, 2);

    let shown: Value = http()
        .get(&switches)
        .send()
        .await
        .expect("admin")
        .json()
        .await
        .expect("json");
    assert_eq!(shown["maintenance"], json!(true));
    http()
        .put(&switches)
        .json(&json!({}))
        .send()
        .await
        .expect("admin");
    assert_eq!(
        codes(&register(&server, json!([item("cust-1")])).await),
        [Value::Null]
    );
}

/// The vendor's limit, shrunk: 3 requests per 2 s, seen 1 s late.
#[tokio::test]
async fn the_rate_limit_starts_and_lifts_late_and_refused_requests_count() {
    let lag = Duration::from_secs(1);
    let window = Duration::from_secs(2);
    let server = start(BillingRoboSandboxConfig {
        rate_limit: RateLimit {
            limit: 3,
            window,
            lag,
            retry_after_secs: None,
        },
        ..config()
    })
    .await;
    let search = || async { post_full(&server, CREDIT_SEARCH_PATH, json!({})).await };
    let started = Instant::now();
    for n in 0..6 {
        let (status, _, body) = search().await;
        assert_eq!(
            status,
            StatusCode::OK,
            "request {n} passes: the limit has not seen the burst yet: {body}"
        );
    }
    assert!(
        started.elapsed() < lag,
        "the burst took longer than the lag: rerun on a quieter machine"
    );

    // A lag later, the burst is seen: 429, as plain text, without Retry-After.
    tokio::time::sleep((lag + Duration::from_millis(300)).saturating_sub(started.elapsed())).await;
    let (status, headers, body) = search().await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(headers.get("retry-after").is_none());
    assert!(serde_json::from_str::<Value>(&body).is_err(), "{body}");

    // Keep calling while limited, past the moment the burst leaves the window: those
    // refused calls count, so the limit holds.
    let hammer_until = started + lag + window + Duration::from_millis(600);
    let mut refused = 1;
    while Instant::now() < hammer_until {
        let (status, _, _) = search().await;
        assert_eq!(
            status,
            StatusCode::TOO_MANY_REQUESTS,
            "at {:?}",
            started.elapsed()
        );
        refused += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(refused > 3, "{refused}");

    // Quiet for a window and a lag: it lifts.
    tokio::time::sleep(window + lag + Duration::from_millis(300)).await;
    let (status, _, body) = search().await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let effects = server.billing_robo.effects();
    assert_eq!(effects.rate_limited, refused);
    assert_eq!(effects.requests_seen, 6 + refused + 1);
    assert_eq!(effects.credit_searches, 7);
}

#[tokio::test]
async fn search_results_come_in_pages() {
    let server = start(config()).await;
    let items: Vec<Value> = (1..=5).map(|n| item(&format!("cust-{n}"))).collect();
    assert_eq!(
        codes(&register(&server, json!(items)).await),
        vec![Value::Null; 5]
    );
    let page = |path: &'static str, key: &'static str, limit: Value, number: Value| {
        let server = &server;
        async move {
            let mut body = json!({ key: {} });
            if !limit.is_null() {
                body["limit_count"] = limit;
            }
            if !number.is_null() {
                body["page_count"] = number;
            }
            let (status, answer) = post(server, path, body).await;
            assert_eq!(status, StatusCode::OK, "{answer}");
            let ids: Vec<u64> = answer[key]
                .as_array()
                .expect("records")
                .iter()
                .filter_map(|r| r["id"].as_u64())
                .collect();
            (answer["total_page_count"].clone(), ids, answer)
        }
    };
    let credits = |limit, number| page(CREDIT_SEARCH_PATH, "marunage_credit", limit, number);
    let (total, ids, answer) = credits(json!(2), json!(0)).await;
    assert_eq!((total, ids), (json!(3), vec![5, 4]));
    assert_eq!(
        (answer["limit_count"].clone(), answer["page_count"].clone()),
        (json!(2), json!(0))
    );
    assert_eq!(credits(json!(2), json!(2)).await.1, [1]);
    let (total, ids, _) = credits(json!(2), json!(3)).await;
    assert_eq!((total, ids), (json!(3), vec![]));
    // Defaults: 20 a page, the first page.
    let (total, ids, answer) = credits(Value::Null, Value::Null).await;
    assert_eq!((total, ids.len()), (json!(1), 5));
    assert_eq!(answer["limit_count"], json!(20));
    let (total, ids, _) = credits(json!(0), json!(0)).await;
    assert_eq!((total, ids), (json!(0), vec![]));

    let requests = |limit, number| {
        page(
            APPLICATION_SEARCH_PATH,
            "request_marunage_credit",
            limit,
            number,
        )
    };
    let (total, ids, _) = requests(json!(2), json!(1)).await;
    assert_eq!((total, ids), (json!(3), vec![3, 2]));

    // Bad paging, refused inside a 200 by default, as a 400 with the switch.
    for (limit, number, code) in [(json!(201), json!(0), 5708), (json!(20), json!(100), 5709)] {
        let (_, _, answer) = credits(limit, number).await;
        let records = answer["marunage_credit"].as_array().expect("one record");
        assert_eq!(codes(records), [json!(code)]);
    }
    let (_, _, answer) = requests(json!(-1), json!(0)).await;
    assert_eq!(
        codes(
            answer["request_marunage_credit"]
                .as_array()
                .expect("records")
        ),
        [json!(5607)]
    );
    server.billing_robo.set_switches(Switches {
        search_errors: SearchErrors::Status400,
        ..Switches::default()
    });
    let (status, answer) = post(
        &server,
        CREDIT_SEARCH_PATH,
        json!({ "limit_count": 201, "marunage_credit": {} }),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(answer["error"]["code"], json!(5708));
}

#[tokio::test]
async fn filters_and_their_codes() {
    let server = start(config()).await;
    register(&server, json!([item("cust-1"), item("cust-2")])).await;
    let ids = |answer: &Value, key: &str| -> Vec<u64> {
        answer[key]
            .as_array()
            .expect("records")
            .iter()
            .filter_map(|r| r["id"].as_u64())
            .collect()
    };
    let found = credits(&server, json!({ "billing_code": "cust-2", "id": null })).await;
    assert_eq!(ids(&found, "marunage_credit"), [2]);
    let found = credits(&server, json!({ "status": 1 })).await;
    assert_eq!(ids(&found, "marunage_credit"), Vec::<u64>::new());
    let found = applications(&server, json!({ "id": 1 })).await;
    assert_eq!(ids(&found, "request_marunage_credit"), [1]);
    assert_eq!(
        found["request_marunage_credit"][0]["responded_date"],
        Value::Null
    );
    let today = format_date(today_jst());
    let found = credits(
        &server,
        json!({ "regist_date_from": today, "update_date_to": today }),
    )
    .await;
    assert_eq!(ids(&found, "marunage_credit"), [2, 1]);

    // The seed's credit search takes dates only: a datetime is a bad filter.
    let bad_credit_filters = [
        (json!({ "id": "one" }), 5701),
        (json!({ "billing_code": "has space" }), 5702),
        (json!({ "status": 3 }), 5703),
        (json!({ "regist_date_from": "2022/13/01" }), 5704),
        (json!({ "regist_date_to": "yesterday" }), 5705),
        (
            json!({ "update_date_from": format!("{today} 00:00:00") }),
            5706,
        ),
        (
            json!({ "update_date_to": format!("{today} 23:59:59") }),
            5707,
        ),
    ];
    for (filters, code) in bad_credit_filters {
        let answer = credits(&server, filters.clone()).await;
        let records = answer["marunage_credit"].as_array().expect("records");
        assert_eq!(codes(records), [json!(code)], "{filters}");
        assert_eq!(answer["total_page_count"], json!(0));
    }
    let bad_application_filters = [
        (json!({ "billing_code": "" }), 5601),
        (json!({ "status": 3 }), 5602),
        (
            json!({ "requested_date_from": "2022/01/01 25:00:00" }),
            5603,
        ),
        (json!({ "requested_date_to": 20220101 }), 5604),
        (
            json!({ "responded_date_from": "2022-01-01T00:00:00" }),
            5605,
        ),
        (json!({ "responded_date_to": "01/01/2022" }), 5606),
        (json!({ "id": -1 }), 5609),
        (json!({ "claim_type": 3 }), 5610),
    ];
    for (filters, code) in bad_application_filters {
        let answer = applications(&server, filters.clone()).await;
        let records = answer["request_marunage_credit"]
            .as_array()
            .expect("records");
        assert_eq!(codes(records), [json!(code)], "{filters}");
    }
}

#[tokio::test]
async fn decisions_by_the_admin_move_status_and_update_date() {
    let server = start(config()).await;
    register(&server, json!([item("cust-a"), item("cust-b")])).await;
    // update_date has whole seconds: let one pass so that a decision moves it visibly.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let admin = |path: String| {
        let url = format!("{}/_admin/applications/{path}", server.url());
        async move {
            let response = http().post(url).send().await.expect("admin");
            let status = response.status();
            (
                status,
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let (status, approved) = admin("1/approve".into()).await;
    assert_eq!(status, StatusCode::OK, "{approved}");
    assert_eq!(approved["status"], json!(1));
    let (status, _) = admin("2/reject".into()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(admin("1/reject".into()).await.0, StatusCode::CONFLICT);
    assert_eq!(admin("99/approve".into()).await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        server.billing_robo.decide(2, true),
        Err(DecideError::AlreadyDecided(
            underwrite::vendors::billing_robo::types::ApplicationStatus::Rejected
        ))
    );

    let found = applications(&server, json!({})).await;
    let records = found["request_marunage_credit"]
        .as_array()
        .expect("records");
    let by_id = |id: u64| {
        records
            .iter()
            .find(|r| r["id"] == json!(id))
            .expect("record")
    };
    assert_eq!(by_id(1)["status"], json!(1));
    assert_eq!(by_id(2)["status"], json!(0));
    assert!(at(&by_id(1)["responded_date"]) > at(&by_id(1)["requested_date"]));

    let found = credits(&server, json!({})).await;
    let records = found["marunage_credit"].as_array().expect("records");
    let by_code = |code: &str| {
        records
            .iter()
            .find(|r| r["billing_code"] == json!(code))
            .expect("record")
    };
    // Approved: 有効 (1). Rejected: 停止 (0), the seed having no other status for it.
    assert_eq!(by_code("cust-a")["status"], json!(1));
    assert_eq!(by_code("cust-b")["status"], json!(0));
    for code in ["cust-a", "cust-b"] {
        let record = by_code(code);
        assert!(
            at(&record["update_date"]) > at(&record["regist_date"]),
            "{record}"
        );
    }
    let filtered = credits(&server, json!({ "status": 1 })).await;
    assert_eq!(
        filtered["marunage_credit"].as_array().map(Vec::len),
        Some(1)
    );

    // An active credit refuses a new application; a rejected customer may apply again.
    let items = register(&server, json!([item("cust-a")])).await;
    assert_eq!(codes(&items), [json!(5411)]);
    let items = register(&server, json!([item("cust-b")])).await;
    assert_eq!(codes(&items), [Value::Null]);
    assert_eq!(items[0]["id"], json!(3));
    assert_eq!(server.billing_robo.effects().decisions, 2);
}

/// The current pages filter by the second: a poller asks "what changed since".
#[tokio::test]
async fn update_date_filters_to_the_second_in_the_current_pages() {
    let server = start(BillingRoboSandboxConfig {
        version: ApiVersion::Current,
        ..config()
    })
    .await;
    let (status, _) = post(
        &server,
        REGISTER_PATH,
        json!({ "request_marunage_credit": [current_item("cust-a")] }),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let registered = credits(&server, json!({})).await["marunage_credit"][0].clone();
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    server.billing_robo.decide(1, false).expect("rejected");
    let after = credits(&server, json!({})).await["marunage_credit"][0].clone();
    // A rejection leaves the credit 未申請 (3) in the current pages.
    assert_eq!(after["status"], json!(3));
    assert!(at(&after["update_date"]) > at(&registered["update_date"]));

    let count = |filters: Value| {
        let server = &server;
        async move {
            credits(server, filters).await["marunage_credit"]
                .as_array()
                .map_or(0, Vec::len)
        }
    };
    assert_eq!(
        count(json!({ "update_date_from": after["update_date"] })).await,
        1
    );
    assert_eq!(
        count(json!({ "update_date_to": registered["update_date"] })).await,
        0
    );
    // A date alone runs to the day's last second.
    let day = &after["update_date"].as_str().expect("date")[..10];
    assert_eq!(count(json!({ "update_date_to": day })).await, 1);
    assert_eq!(count(json!({ "status": 4 })).await, 0);
}

#[tokio::test]
async fn the_demo_rule_decides_after_the_delay() {
    let server = start(BillingRoboSandboxConfig {
        decide_after: Some(Duration::from_secs(1)),
        ..config()
    })
    .await;
    register(&server, json!([item("cust-ok"), item("cust-reject-1")])).await;
    let statuses = || async {
        let found = applications(&server, json!({})).await;
        let mut statuses: Vec<(String, Value)> = found["request_marunage_credit"]
            .as_array()
            .expect("records")
            .iter()
            .map(|r| {
                (
                    r["billing_code"].as_str().unwrap_or("").to_string(),
                    r["status"].clone(),
                )
            })
            .collect();
        statuses.sort_by_key(|(code, _)| code.clone());
        (statuses, found)
    };
    let (now, _) = statuses().await;
    assert_eq!(
        now,
        [
            ("cust-ok".to_string(), json!(2)),
            ("cust-reject-1".to_string(), json!(2))
        ]
    );
    tokio::time::sleep(Duration::from_millis(1_300)).await;
    let (later, found) = statuses().await;
    assert_eq!(
        later,
        [
            ("cust-ok".to_string(), json!(1)),
            ("cust-reject-1".to_string(), json!(0))
        ]
    );
    // Dated when it fell due, not when somebody looked.
    for record in found["request_marunage_credit"]
        .as_array()
        .expect("records")
    {
        let waited = at(&record["responded_date"]) - at(&record["requested_date"]);
        assert!((1..=2).contains(&waited.num_seconds()), "{record}");
    }
}

#[tokio::test]
async fn faults_after_storing_hide_an_application_that_exists() {
    let server = start(config()).await;
    let body = |code: &str| json!({ "marunage_credit": [item(code)], "user_id": USER_ID, "access_key": ACCESS_KEY });
    let send = |body: Value| {
        let url = format!("{}{REGISTER_PATH}", server.url());
        async move { http().post(url).json(&body).send().await }
    };
    server.billing_robo.push_faults([
        Fault::Drop,
        Fault::Stall {
            ms: 0,
            then: StallThen::Drop,
        },
        Fault::Error {
            status: 500,
            phase: Phase::After,
        },
        Fault::Error {
            status: 502,
            phase: Phase::Before,
        },
        Fault::Garble,
    ]);
    // Dropped before executing: nothing stored.
    assert!(send(body("cust-1")).await.is_err());
    assert_eq!(server.billing_robo.effects().applications_registered, 0);
    // Dropped after storing: the client saw nothing, the application exists.
    assert!(send(body("cust-2")).await.is_err());
    assert_eq!(server.billing_robo.effects().applications_registered, 1);
    // A 500 after storing, as an HTML page.
    let response = send(body("cust-3")).await.expect("an answer");
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(response.text().await.expect("text").contains("<html>"));
    assert_eq!(server.billing_robo.effects().applications_registered, 2);
    // A 502 before: nothing.
    let response = send(body("cust-4")).await.expect("an answer");
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    assert_eq!(server.billing_robo.effects().applications_registered, 2);
    // A 200 nobody can read, still echoing the credentials.
    let garbled: Value = send(body("cust-5"))
        .await
        .expect("answer")
        .json()
        .await
        .expect("json");
    assert!(garbled.get("marunage_credit").is_none(), "{garbled}");
    assert_eq!(garbled["access_key"], json!(ACCESS_KEY));
    let effects = server.billing_robo.effects();
    assert_eq!(effects.applications_registered, 3);
    assert_eq!(effects.faults_injected, 5);
    // What landed is found by billing code.
    let found = credits(&server, json!({ "billing_code": "cust-2" })).await;
    assert_eq!(found["marunage_credit"][0]["status"], json!(2));
}

#[tokio::test]
async fn the_answer_order_switch_reverses_a_bulk_answer() {
    let server = start(BillingRoboSandboxConfig {
        switches: Switches {
            answer_order: AnswerOrder::Reversed,
            ..Switches::default()
        },
        ..config()
    })
    .await;
    let items = register(
        &server,
        json!([item("cust-1"), item("cust-2"), item("cust-3")]),
    )
    .await;
    let answered: Vec<&str> = items
        .iter()
        .filter_map(|i| i["billing_code"].as_str())
        .collect();
    assert_eq!(answered, ["cust-3", "cust-2", "cust-1"]);
    assert_eq!(items[2]["id"], json!(1));
}

#[tokio::test]
async fn the_size_and_count_limits() {
    let server = start(config()).await;
    // 3001 items: 400 with code 20; 3000 pass the count (and fail: one billing code).
    let many = |n: usize| json!({ "marunage_credit": vec![item("stranger"); n] });
    let (status, answer) = post(&server, REGISTER_PATH, many(3001)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(answer["error"]["code"], json!(20));
    let (status, _) = post(&server, REGISTER_PATH, many(3000)).await;
    assert_eq!(status, StatusCode::OK);
    // 9 MB and more: 413.
    let (status, _, _) = post_full(
        &server,
        CREDIT_SEARCH_PATH,
        json!({ "padding": "x".repeat(9_000_000) }),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    // Not JSON: 400 in the vendor's shape.
    let response = http()
        .post(format!("{}{CREDIT_SEARCH_PATH}", server.url()))
        .body("user_id=x")
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let answer: Value = response.json().await.expect("json");
    assert_eq!(answer["error"]["code"], json!(1));
}

#[tokio::test]
async fn the_admin_adds_customers_and_scripts_faults_over_http() {
    let server = start(config()).await;
    let url = |path: &str| format!("{}/_admin/{path}", server.url());
    let items = register(&server, json!([item("newcomer")])).await;
    assert_eq!(codes(&items), [json!(5401)]);
    let added = http()
        .post(url("customers"))
        .json(&json!({ "billing_code": "newcomer" }))
        .send()
        .await
        .expect("admin");
    assert_eq!(added.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        codes(&register(&server, json!([item("newcomer")])).await),
        [Value::Null]
    );

    let put = http()
        .put(url("faults"))
        .json(&json!({ "next": [{ "kind": "error", "status": 503 }] }))
        .send()
        .await
        .expect("admin");
    assert_eq!(put.status(), StatusCode::OK);
    let refused = http()
        .put(url("faults"))
        .json(&json!({ "next": [{ "kind": "error", "status": 404 }] }))
        .send()
        .await
        .expect("admin");
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let (status, _) = post(&server, CREDIT_SEARCH_PATH, json!({})).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);

    let listed: Value = http()
        .get(url("applications"))
        .send()
        .await
        .expect("admin")
        .json()
        .await
        .expect("json");
    assert_eq!(listed[0]["billing_code"], json!("newcomer"));
    let effects: Value = http()
        .get(url("effects"))
        .send()
        .await
        .expect("admin")
        .json()
        .await
        .expect("json");
    assert_eq!(effects["applications_registered"], json!(1));
    assert_eq!(effects["faults_injected"], json!(1));
    let reset = http().post(url("reset")).send().await.expect("admin");
    assert_eq!(reset.status(), StatusCode::NO_CONTENT);
    assert_eq!(server.billing_robo.effects().requests_seen, 0);
    assert!(server.billing_robo.applications().is_empty());
}

/// `underwrite sandbox` mounts every vendor of the registry: Billing-Robo under
/// `/billing-robo`, with the settings' customers and any credentials.
#[tokio::test]
async fn the_registry_serves_it_under_billing_robo() {
    let settings = underwrite::config::Settings::load_from(None, Vec::new()).expect("settings");
    let vendors = underwrite::vendors::all();
    vendors.check(&settings).expect("the default settings pass");
    let server = underwrite::sandbox::spawn(
        "127.0.0.1:0".parse().expect("address"),
        vendors.sandboxes(&settings).expect("sandboxes"),
    )
    .await
    .expect("sandbox");
    assert!(
        server.prefixes().iter().any(|p| p == "billing-robo"),
        "{:?}",
        server.prefixes()
    );
    let response = http()
        .post(format!("{}{REGISTER_PATH}", server.url("billing-robo")))
        .json(&json!({
            "user_id": "demo@example.co.jp",
            "access_key": "demoKey1",
            "marunage_credit": [item("demo-001"), item("elsewhere")]
        }))
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.expect("json");
    let items = body["marunage_credit"].as_array().expect("items");
    assert_eq!(codes(items), [json!(5412), json!(5401)]);
}
