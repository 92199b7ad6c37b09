//! What every vendor client does the same way with HTTP: read a body without trusting its
//! size, keep an answer short enough for an error, and tell a timeout from a network
//! failure with the cause an operator needs.
//!
//! The verdicts (retry or not) stay each vendor's (`vendors/<vendor>/classify.rs`): only the
//! mechanics live here, and the counting: every call of every client goes through
//! [`observe`], which counts it by outcome and times it (`metrics/vendors.rs`).

use std::time::Instant;

use reqwest::Response;
use serde_json::Value;

pub use crate::metrics::CallOutcome;
use crate::metrics::vendors::record_call;
use crate::queue::ErrorDetail;

/// What every vendor client's error says about a call, so that the mechanics here (and
/// the counting) serve every client alike. Each client's `thiserror` enum implements it.
pub trait VendorCallError: Sized {
    /// No (complete) answer in time.
    fn timed_out(message: String) -> Self;
    /// No answer: refused, reset or dropped connection, DNS, TLS, a body cut short.
    fn network_failed(message: String) -> Self;
    /// How the call ended, as the metrics count it; `None` when it was never sent
    /// (refused by our own checks, or the client could not be built).
    fn outcome(&self) -> Option<CallOutcome>;
}

/// The usual reading of a client error: a network failure, a timeout, or an answer whose
/// status (`None`: a 2xx the client could not use) gives the class.
pub fn outcome_of(network: bool, timeout: bool, status: Option<u16>) -> CallOutcome {
    match (network, timeout, status) {
        (true, _, _) => CallOutcome::ConnectError,
        (_, true, _) => CallOutcome::Timeout,
        (_, _, Some(status)) => CallOutcome::of_status(status),
        (_, _, None) => CallOutcome::Ok,
    }
}

/// A reqwest failure as the client's own error (see [`transport`]).
pub fn transport_error<E: VendorCallError>(error: reqwest::Error) -> E {
    match transport(&error) {
        Transport::Timeout(message) => E::timed_out(message),
        Transport::Network(message) => E::network_failed(message),
    }
}

/// [`read_limited`], a body that fails to arrive being the client's own error.
pub async fn read_body<E: VendorCallError>(
    response: Response,
    limit: usize,
) -> Result<(Vec<u8>, bool), E> {
    read_limited(response, limit).await.map_err(transport_error)
}

/// The HTTP client every vendor client is built on: `headers` on every call, our user
/// agent, the two timeouts, and no redirects (a vendor that redirects is misconfigured, and
/// following one would carry our credentials elsewhere). `Err` says why it cannot be built.
pub fn client(
    headers: reqwest::header::HeaderMap,
    connect_timeout: std::time::Duration,
    timeout: std::time::Duration,
) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .default_headers(headers)
        .user_agent(concat!("underwrite/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(connect_timeout)
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))
}

/// A vendor credential sent as a header: `None` (with a warning naming `variable`) when
/// it is not configured, so that a deployment without that vendor's work needs none; the
/// value is marked sensitive (never shown by reqwest's `Debug`). `Err` never quotes it.
pub fn credential_header(
    secret: Option<String>,
    what: &str,
    variable: &str,
) -> Result<Option<(reqwest::header::HeaderValue, String)>, String> {
    let Some(text) = secret.filter(|s| !s.is_empty()) else {
        tracing::warn!("no {what} configured ({variable})");
        return Ok(None);
    };
    let mut value = reqwest::header::HeaderValue::from_str(&text)
        .map_err(|_| format!("the {what} is not a valid header value"))?;
    value.set_sensitive(true);
    Ok(Some((value, text)))
}

/// Runs one call of `vendor`'s `operation`, counting its outcome and duration.
pub async fn observe<T, E: VendorCallError>(
    vendor: &str,
    operation: &str,
    call: impl Future<Output = Result<T, E>>,
) -> Result<T, E> {
    let started = Instant::now();
    let result = call.await;
    let outcome = match &result {
        Ok(_) => Some(CallOutcome::Ok),
        Err(error) => error.outcome(),
    };
    if let Some(outcome) = outcome {
        record_call(vendor, operation, outcome, started.elapsed().as_secs_f64());
    }
    result
}

/// Adds the W3C `traceparent` of the job being run (`queue/trace_context.rs`) to a vendor
/// request, when its producer sent one.
pub fn traced(request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    match crate::queue::trace_context::outgoing() {
        Some(value) => request.header("traceparent", value),
        None => request,
    }
}

/// A failed exchange that never produced an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    /// No (complete) answer within the client's timeout: the call may have landed.
    Timeout(String),
    /// Refused, reset or dropped connection, DNS, TLS, a body cut short.
    Network(String),
}

/// A reqwest failure with its whole cause chain: reqwest's own message ("error sending
/// request") says little; the cause ("connection closed before message completed") is what
/// an operator needs. Request bodies are never part of reqwest's errors.
pub fn transport(error: &reqwest::Error) -> Transport {
    let mut message = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    if error.is_timeout() {
        Transport::Timeout(message)
    } else {
        Transport::Network(message)
    }
}

/// Reads at most `limit` bytes of the body; `true` when there was more.
pub async fn read_limited(
    mut response: Response,
    limit: usize,
) -> Result<(Vec<u8>, bool), reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        let room = limit - body.len();
        if chunk.len() > room {
            body.extend_from_slice(&chunk[..room]);
            return Ok((body, true));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((body, false))
}

/// Cuts `text` to at most `max` bytes, on a character boundary, saying so.
pub fn truncate(mut text: String, max: usize) -> String {
    const MARK: &str = "…[truncated]";
    if text.len() <= max {
        return text;
    }
    let mut end = max.saturating_sub(MARK.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text.push_str(MARK);
    text
}

/// What a vendor's refusal becomes in a job record: the message, the vendor's status, and
/// its body as JSON when it is JSON (their error shape), else as text (a gateway's HTML
/// page). When the body names a reason that the message does not say yet (`error`,
/// `message`, `error.message`, `errors[0]...`), the message ends with it, so that a list
/// of failed jobs says why the vendor refused, not only "answered HTTP 400".
pub fn vendor_detail(message: String, status: u16, body: String) -> ErrorDetail {
    let vendor_body = if body.is_empty() {
        None
    } else {
        Some(serde_json::from_str(&body).unwrap_or(Value::String(body)))
    };
    let message = match vendor_body.as_ref().and_then(vendor_reason) {
        Some(reason) if !message.contains(&reason) => format!("{message}: {reason}"),
        _ => message,
    };
    ErrorDetail {
        message,
        vendor_status: Some(status),
        vendor_body,
        ambiguous: false,
    }
}

/// The reason a vendor's JSON error body gives, on one line and at most 300 characters.
fn vendor_reason(body: &Value) -> Option<String> {
    fn find(value: &Value, depth: usize) -> Option<String> {
        if depth > 3 {
            return None;
        }
        match value {
            Value::String(text) if !text.trim().is_empty() => Some(text.trim().to_string()),
            Value::Object(fields) => ["error", "message", "errors", "detail"]
                .iter()
                .filter_map(|key| fields.get(*key))
                .find_map(|inner| find(inner, depth + 1)),
            Value::Array(items) => items.first().and_then(|first| find(first, depth + 1)),
            _ => None,
        }
    }
    // A body that is only text is a gateway's page, not a reason.
    if !(body.is_object() || body.is_array()) {
        return None;
    }
    let reason = find(body, 0)?;
    let line = reason.lines().next().unwrap_or_default();
    Some(line.chars().take(300).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_keeps_whole_characters_and_says_so() {
        assert_eq!(truncate("short".into(), 100), "short");
        let cut = truncate("契約".repeat(100), 40);
        assert!(cut.len() <= 40, "{}", cut.len());
        assert!(cut.ends_with("…[truncated]"));
    }

    #[test]
    fn the_vendors_own_reason_ends_the_message() {
        // Proteger's shape, Tulip's and Billing-Robo's, an array, a gateway's page.
        for (body, expected) in [
            (
                r#"{"requestId":"r","code":"BadRequestException","error":"plan P-3 does not cover this product"}"#,
                "Proteger answered HTTP 400: plan P-3 does not cover this product",
            ),
            (
                r#"{"status":"error","error":{"code":1002,"message":"Duration does not match"}}"#,
                "Proteger answered HTTP 400: Duration does not match",
            ),
            (
                r#"{"errors":[{"message":"email is invalid"}]}"#,
                "Proteger answered HTTP 400: email is invalid",
            ),
            ("<html>502 Bad Gateway</html>", "Proteger answered HTTP 400"),
            ("", "Proteger answered HTTP 400"),
        ] {
            let detail = vendor_detail("Proteger answered HTTP 400".into(), 400, body.into());
            assert_eq!(detail.message, expected, "{body}");
            assert_eq!(detail.vendor_status, Some(400));
        }
    }

    #[test]
    fn a_reason_already_said_is_not_repeated() {
        let body = r#"{"error":{"code":1051,"message":"Contract not found"}}"#;
        let detail = vendor_detail(
            "Tulip answered HTTP 400: 1051 Contract not found".into(),
            400,
            body.into(),
        );
        assert_eq!(
            detail.message,
            "Tulip answered HTTP 400: 1051 Contract not found"
        );
    }
}
