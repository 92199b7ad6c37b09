//! One webhook HTTP attempt: POST the signed body to a receiver and say what came of it.
//!
//! [`WebhookHttp`] holds one reqwest client, built once: rustls, no redirects followed (a
//! 3xx is a failure: following it would let a receiver point us anywhere, and re-send the
//! signed body there), no proxy, a total timeout (15 s by default, body included) and a
//! connect timeout, and the SSRF guard's resolver (see [`super::ssrf`]), so that it only
//! ever connects to an address the guard admitted.
//!
//! | what happened                              | [`Verdict`]             |
//! |--------------------------------------------|-------------------------|
//! | 2xx                                        | `Delivered`             |
//! | 410                                        | `Gone`                  |
//! | 429 or 503 with a usable `Retry-After`     | `RetryAfter(delay)`     |
//! | any other status, 3xx included             | `Failed("HTTP 302 ...")`|
//! | timeout, refused connection, DNS, TLS      | `Failed("timed out ...", "network error: ...")` |
//! | the SSRF guard refused the URL or address  | `Refused(why)`          |
//!
//! At most [`MAX_EXCERPT`] bytes of the answer are read and kept. Nothing here logs a
//! header value or the body (they carry signatures) nor the URL's path or query (receivers
//! put tokens there): log lines name the host and the status.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};
use reqwest::{Response, StatusCode};

use super::ssrf::{Refusal, SsrfConfigError, SsrfPolicy, SsrfResolver};
use crate::config::WebhookSettings;
use crate::retry_after::parse_retry_after;

/// The most of a receiver's answer kept for the attempt log, in bytes.
pub const MAX_EXCERPT: usize = 4096;

/// The default total timeout of an attempt, the answer's body included.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);

/// The default connect timeout (never longer than the total timeout).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Headers an endpoint's configuration may not set: they frame the request or the
/// connection, and are ours to set.
const RESERVED_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "upgrade",
    "te",
    "trailer",
    "proxy-authorization",
    "proxy-connection",
];

/// What came of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptOutcome {
    /// The receiver's status, when it answered.
    pub status: Option<u16>,
    /// From just before the request to the end of reading the excerpt.
    pub duration_ms: u64,
    /// The start of the answer's body: at most [`MAX_EXCERPT`] bytes of valid UTF-8 (cut at
    /// a character boundary; invalid bytes replaced). Empty when there was no answer.
    pub response_excerpt: String,
    pub verdict: Verdict,
}

/// What the delivery should do next (see the table in the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// 2xx: done.
    Delivered,
    /// 410: the receiver says the endpoint is gone; disable it.
    Gone,
    /// 429 or 503 with a usable `Retry-After` (seconds or an HTTP date, capped at a day):
    /// try again no sooner than this.
    RetryAfter(Duration),
    /// Anything else; worth a retry on the schedule. The message says what happened.
    Failed(String),
    /// The SSRF guard refused the URL (scheme, `https_only`) or every address of its host,
    /// or the URL or a header cannot be sent at all. It will not work until the endpoint
    /// or `webhooks.allow_cidrs` / `webhooks.https_only` change.
    Refused(String),
}

impl Verdict {
    /// A short, stable name for logs and metrics labels.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Delivered => "delivered",
            Self::Gone => "gone",
            Self::RetryAfter(_) => "retry_after",
            Self::Failed(_) => "failed",
            Self::Refused(_) => "refused",
        }
    }
}

/// Timeouts of [`WebhookHttp`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebhookHttpOptions {
    /// The whole attempt, the answer's body included.
    pub timeout: Duration,
    /// Establishing the connection (TCP and TLS); capped at `timeout`.
    pub connect_timeout: Duration,
}

impl Default for WebhookHttpOptions {
    fn default() -> Self {
        Self {
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
        }
    }
}

/// [`WebhookHttp`] could not be built.
#[derive(Debug, thiserror::Error)]
pub enum WebhookHttpError {
    #[error(transparent)]
    Policy(#[from] SsrfConfigError),
    #[error("cannot build the webhook HTTP client: {0}")]
    Client(String),
}

/// Sends webhook attempts. Cheap to clone (the client and policy are shared).
#[derive(Debug, Clone)]
pub struct WebhookHttp {
    client: reqwest::Client,
    policy: Arc<SsrfPolicy>,
    options: WebhookHttpOptions,
}

impl WebhookHttp {
    /// A client that only reaches what `policy` admits.
    pub fn new(policy: SsrfPolicy, options: WebhookHttpOptions) -> Result<Self, WebhookHttpError> {
        let policy = Arc::new(policy);
        let client = reqwest::Client::builder()
            .user_agent(concat!("underwrite-webhooks/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none())
            // Through a proxy, the resolver would vet the proxy's address, not the receiver's.
            .no_proxy()
            .dns_resolver(SsrfResolver::new(Arc::clone(&policy)))
            .timeout(options.timeout)
            .connect_timeout(options.connect_timeout.min(options.timeout))
            .build()
            .map_err(|e| WebhookHttpError::Client(error_chain(&e)))?;
        Ok(Self {
            client,
            policy,
            options,
        })
    }

    /// The client of `webhooks.allow_cidrs`, `webhooks.https_only` and `webhooks.timeout_ms`.
    pub fn from_settings(settings: &WebhookSettings) -> Result<Self, WebhookHttpError> {
        let options = WebhookHttpOptions {
            timeout: Duration::from_millis(settings.timeout_ms),
            ..WebhookHttpOptions::default()
        };
        Self::new(SsrfPolicy::from_settings(settings)?, options)
    }

    /// The policy this client enforces (to validate an endpoint's URL when it is configured).
    pub fn policy(&self) -> &SsrfPolicy {
        &self.policy
    }

    /// POSTs `body` to `url` with `headers` (a `content-type: application/json` is added
    /// when none is given) and says what came of it. Never fails: every failure is a
    /// [`Verdict`].
    pub async fn post(
        &self,
        url: &str,
        headers: &[(String, String)],
        body: Bytes,
    ) -> AttemptOutcome {
        let started = Instant::now();
        let outcome =
            |status: Option<u16>, response_excerpt: String, verdict: Verdict| AttemptOutcome {
                status,
                duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                response_excerpt,
                verdict,
            };

        let url = match self.policy.check_url(url) {
            Ok(url) => url,
            Err(refusal) => {
                tracing::warn!(
                    host = host_of(url).as_deref().unwrap_or("?"),
                    %refusal,
                    "webhook URL refused by the SSRF guard"
                );
                return outcome(None, String::new(), Verdict::Refused(refusal.to_string()));
            }
        };
        let host = url.host_str().unwrap_or_default().to_string();
        let headers = match header_map(headers) {
            Ok(headers) => headers,
            Err(why) => {
                tracing::warn!(host, "webhook not sent: {why}");
                return outcome(None, String::new(), Verdict::Refused(why));
            }
        };

        // The trace of the job the event tells of (`trace_context.rs`), if its producer
        // sent one.
        let mut request = self.client.post(url).headers(headers).body(body);
        if let Some(traceparent) = crate::queue::trace_context::outgoing() {
            request = request.header("traceparent", traceparent);
        }
        let sent = request.send().await;
        let response = match sent {
            Ok(response) => response,
            Err(error) => {
                let verdict = self.transport_verdict(error);
                tracing::info!(host, verdict = verdict.kind(), "webhook attempt: no answer");
                return outcome(None, String::new(), verdict);
            }
        };

        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, chrono::Utc::now()));
        // The status decides; a body that fails to arrive in full only shortens the excerpt.
        let excerpt = read_excerpt(response).await;
        let verdict = status_verdict(status, retry_after);
        tracing::debug!(
            host,
            status = status.as_u16(),
            verdict = verdict.kind(),
            "webhook attempt"
        );
        outcome(Some(status.as_u16()), excerpt, verdict)
    }

    /// A request that got no answer: refused by the guard, timed out, or a network error.
    fn transport_verdict(&self, error: reqwest::Error) -> Verdict {
        if let Some(refusal) = find_refusal(&error) {
            return Verdict::Refused(refusal.to_string());
        }
        if error.is_timeout() {
            return Verdict::Failed(if error.is_connect() {
                format!(
                    "timed out connecting (connect timeout {} ms)",
                    self.options
                        .connect_timeout
                        .min(self.options.timeout)
                        .as_millis()
                )
            } else {
                format!(
                    "timed out without an answer (timeout {} ms)",
                    self.options.timeout.as_millis()
                )
            });
        }
        // Without the URL: receivers put tokens in paths and queries.
        Verdict::Failed(format!(
            "network error: {}",
            error_chain(&error.without_url())
        ))
    }
}

/// The verdict of an answer (see the table in the module docs).
fn status_verdict(status: StatusCode, retry_after: Option<Duration>) -> Verdict {
    let code = status.as_u16();
    match code {
        200..=299 => Verdict::Delivered,
        410 => Verdict::Gone,
        429 | 503 => match retry_after {
            Some(delay) => Verdict::RetryAfter(delay),
            None => Verdict::Failed(format!("HTTP {code} without a usable Retry-After")),
        },
        300..=399 => Verdict::Failed(format!("HTTP {code}: a redirect, which is not followed")),
        _ => Verdict::Failed(format!("HTTP {code}")),
    }
}

/// The endpoint's headers as a map, refusing reserved names and unsendable ones. The
/// message names the header, never its value.
fn header_map(headers: &[(String, String)]) -> Result<HeaderMap, String> {
    let mut map = HeaderMap::with_capacity(headers.len() + 1);
    for (name, value) in headers {
        let header = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("`{}` is not a valid header name", name.escape_debug()))?;
        if RESERVED_HEADERS.contains(&header.as_str()) {
            return Err(format!("header `{header}` may not be set by an endpoint"));
        }
        let value = HeaderValue::from_str(value)
            .map_err(|_| format!("the value of header `{header}` is not a valid header value"))?;
        map.append(header, value);
    }
    if !map.contains_key(CONTENT_TYPE) {
        map.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    Ok(map)
}

/// Reads at most [`MAX_EXCERPT`] bytes of the answer, as text.
async fn read_excerpt(mut response: Response) -> String {
    let mut body = Vec::new();
    let mut cut = false;
    // An error (timeout, reset) ends the excerpt where it is.
    while let Ok(Some(chunk)) = response.chunk().await {
        let room = MAX_EXCERPT - body.len();
        if chunk.len() >= room {
            body.extend_from_slice(&chunk[..room]);
            cut = chunk.len() > room;
            break;
        }
        body.extend_from_slice(&chunk);
    }
    excerpt(&body, cut)
}

/// `bytes` as UTF-8 text of at most [`MAX_EXCERPT`] bytes. A character the cut split in
/// two is dropped rather than shown as a replacement character; other invalid bytes are
/// replaced (which can lengthen the text, hence the final cut on a character boundary).
fn excerpt(bytes: &[u8], cut: bool) -> String {
    let bytes = if cut { drop_split_char(bytes) } else { bytes };
    let mut text = String::from_utf8_lossy(bytes).into_owned();
    if text.len() > MAX_EXCERPT {
        let mut end = MAX_EXCERPT;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

/// `bytes` without a UTF-8 sequence left incomplete at its end.
fn drop_split_char(bytes: &[u8]) -> &[u8] {
    // A sequence is at most 4 bytes: its lead is among the last 3 if it is incomplete.
    for back in 1..=3.min(bytes.len()) {
        let at = bytes.len() - back;
        let byte = bytes[at];
        if byte & 0b1100_0000 == 0b1000_0000 {
            continue; // a continuation byte: the lead is further back
        }
        let needed = match byte {
            0b1100_0000..=0b1101_1111 => 2,
            0b1110_0000..=0b1110_1111 => 3,
            0b1111_0000..=0b1111_0111 => 4,
            _ => 1,
        };
        return if needed > back { &bytes[..at] } else { bytes };
    }
    bytes
}

/// The guard's refusal, when it is what stopped the request (it comes back from the
/// resolver, wrapped by hyper and reqwest).
fn find_refusal(error: &reqwest::Error) -> Option<&Refusal> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(cause) = source {
        if let Some(refusal) = cause.downcast_ref::<Refusal>() {
            return Some(refusal);
        }
        source = cause.source();
    }
    None
}

/// An error with its causes: reqwest's own message ("error sending request") says little,
/// the cause ("Connection refused") is what an operator needs.
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.ends_with(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

/// The host of a URL we could not accept, for the log line, if it has one.
fn host_of(url: &str) -> Option<String> {
    reqwest::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses() {
        let three = Some(Duration::from_secs(3));
        assert_eq!(status_verdict(StatusCode::OK, None), Verdict::Delivered);
        assert_eq!(
            status_verdict(StatusCode::NO_CONTENT, None),
            Verdict::Delivered
        );
        assert_eq!(
            status_verdict(StatusCode::ACCEPTED, three),
            Verdict::Delivered
        );
        assert_eq!(status_verdict(StatusCode::GONE, None), Verdict::Gone);
        assert_eq!(
            status_verdict(StatusCode::TOO_MANY_REQUESTS, three),
            Verdict::RetryAfter(Duration::from_secs(3))
        );
        assert_eq!(
            status_verdict(StatusCode::SERVICE_UNAVAILABLE, three),
            Verdict::RetryAfter(Duration::from_secs(3))
        );
        assert_eq!(
            status_verdict(StatusCode::TOO_MANY_REQUESTS, None),
            Verdict::Failed("HTTP 429 without a usable Retry-After".into())
        );
        assert_eq!(
            status_verdict(StatusCode::FOUND, None),
            Verdict::Failed("HTTP 302: a redirect, which is not followed".into())
        );
        assert_eq!(
            status_verdict(StatusCode::INTERNAL_SERVER_ERROR, three),
            Verdict::Failed("HTTP 500".into())
        );
        assert_eq!(
            status_verdict(StatusCode::NOT_FOUND, None),
            Verdict::Failed("HTTP 404".into())
        );
    }

    #[test]
    fn excerpts_are_cut_on_a_character_boundary() {
        assert_eq!(excerpt(b"ok", false), "ok");
        // 4095 ASCII bytes, then the first byte of "é": the split character goes.
        let mut bytes = vec![b'a'; MAX_EXCERPT - 1];
        bytes.push(0xc3);
        assert_eq!(excerpt(&bytes, true), "a".repeat(MAX_EXCERPT - 1));
        // Two bytes of a three-byte "€" (e2 82 ac).
        let mut bytes = vec![b'a'; MAX_EXCERPT - 2];
        bytes.extend_from_slice(&[0xe2, 0x82]);
        assert_eq!(excerpt(&bytes, true), "a".repeat(MAX_EXCERPT - 2));
        // A whole character at the end stays.
        let mut bytes = vec![b'a'; MAX_EXCERPT - 3];
        bytes.extend_from_slice("€".as_bytes());
        let text = excerpt(&bytes, true);
        assert!(text.ends_with('€'));
        assert_eq!(text.len(), MAX_EXCERPT);
        // Invalid bytes become U+FFFD (3 bytes each): still at most MAX_EXCERPT bytes.
        let text = excerpt(&vec![0xff; MAX_EXCERPT], true);
        assert!(text.len() <= MAX_EXCERPT);
        assert!(text.chars().all(|c| c == char::REPLACEMENT_CHARACTER));
    }

    #[test]
    fn headers_are_checked_without_quoting_values() {
        let headers = |pairs: &[(&str, &str)]| {
            header_map(
                &pairs
                    .iter()
                    .map(|(n, v)| (n.to_string(), v.to_string()))
                    .collect::<Vec<_>>(),
            )
        };
        let map = headers(&[("webhook-id", "msg_1"), ("X-Extra", "a")]).expect("ok");
        assert_eq!(map["content-type"], "application/json");
        assert_eq!(map["x-extra"], "a");
        let map = headers(&[("Content-Type", "application/cloudevents+json")]).expect("ok");
        assert_eq!(map["content-type"], "application/cloudevents+json");

        let error = headers(&[("webhook-signature", "v1,secret\n")]).expect_err("bad value");
        assert!(error.contains("webhook-signature"), "{error}");
        assert!(!error.contains("secret"), "{error}");
        assert!(headers(&[("bad name", "x")]).is_err());
        for reserved in ["Host", "content-length", "Transfer-Encoding", "connection"] {
            assert!(headers(&[(reserved, "x")]).is_err(), "{reserved}");
        }
    }

    #[tokio::test]
    async fn refusals_need_no_network() {
        let http =
            WebhookHttp::new(SsrfPolicy::default(), WebhookHttpOptions::default()).expect("client");
        for url in [
            "ftp://example.com/",
            "http://10.0.0.1/",
            "http://[::ffff:169.254.169.254]/",
            "nonsense",
        ] {
            let outcome = http.post(url, &[], Bytes::new()).await;
            assert!(
                matches!(outcome.verdict, Verdict::Refused(_)),
                "{url}: {outcome:?}"
            );
            assert_eq!(outcome.status, None);
        }
        let https_only = WebhookHttp::new(
            SsrfPolicy::new::<&str>(&[], true).expect("policy"),
            WebhookHttpOptions::default(),
        )
        .expect("client");
        let outcome = https_only
            .post("http://example.com/", &[], Bytes::new())
            .await;
        assert_eq!(
            outcome.verdict,
            Verdict::Refused(Refusal::NotHttps.to_string())
        );
    }

    #[test]
    fn settings_make_a_client_and_bad_cidrs_are_named() {
        let env = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<Vec<_>>()
        };
        let settings = crate::config::Settings::load_from(
            None,
            env(&[
                ("UNDERWRITE_WEBHOOKS_ALLOW_CIDRS", "127.0.0.0/8"),
                ("UNDERWRITE_WEBHOOKS_TIMEOUT_MS", "2500"),
            ]),
        )
        .expect("settings");
        let http = WebhookHttp::from_settings(&settings.webhooks).expect("client");
        assert_eq!(http.options.timeout, Duration::from_millis(2500));
        assert_eq!(
            http.policy().allow,
            vec!["127.0.0.0/8".parse().expect("cidr")]
        );

        let settings = crate::config::Settings::load_from(
            None,
            env(&[("UNDERWRITE_WEBHOOKS_ALLOW_CIDRS", "127.0.0.0/8,10.0.0.1/8")]),
        )
        .expect("settings");
        let error = WebhookHttp::from_settings(&settings.webhooks).expect_err("bad cidr");
        assert_eq!(
            error.to_string(),
            "webhooks.allow_cidrs[1] = \"10.0.0.1/8\": 10.0.0.1/8 has bits set past the \
             prefix: did you mean 10.0.0.0/8?"
        );
    }
}
