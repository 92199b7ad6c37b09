//! The producer API under hostile clients (issue 13): two `Authorization` headers,
//! receiver credentials kept write-only, bounded and rate-limited secret rotation,
//! idempotency keys stored under a keyed hash, endpoint URLs stored normalised. The slow
//! clients and the connection bound are in `slow_clients.rs`.

use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{Value, json};

use crate::helpers::api::{OTHER_TOKEN, TOKEN, TestApi};

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    text: String,
    body: Value,
}

async fn call(request: RequestBuilder) -> Answer {
    let response = request.send().await.expect("request");
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.expect("body");
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
    };
    Answer {
        status,
        headers,
        text,
        body,
    }
}

impl Answer {
    fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or_default()
    }

    fn fields(&self) -> Vec<&str> {
        self.body["error"]["fields"]
            .as_array()
            .map(|f| f.iter().filter_map(|f| f["field"].as_str()).collect())
            .unwrap_or_default()
    }
}

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
