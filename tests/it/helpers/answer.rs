//! An HTTP answer as the API tests read it: status, headers, raw text and JSON body, with
//! the error shape's `code` and `fields` at hand.

use reqwest::header::HeaderMap;
use reqwest::{RequestBuilder, StatusCode};
use serde_json::Value;

pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
    /// `Null` for an empty body; a body that is not JSON fails the test.
    pub body: Value,
}

/// Sends `request` and reads the whole answer.
pub async fn call(request: RequestBuilder) -> Answer {
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
    /// The error's `code`, `""` for an answer that is not an error.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or_default()
    }

    /// The fields the error names, in order.
    pub fn fields(&self) -> Vec<&str> {
        self.body["error"]["fields"]
            .as_array()
            .map(|f| f.iter().filter_map(|f| f["field"].as_str()).collect())
            .unwrap_or_default()
    }

    /// The `job_id` of a 202.
    pub fn job_id(&self) -> String {
        self.body["job_id"].as_str().expect("job_id").to_string()
    }
}
