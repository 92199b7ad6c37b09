//! Which Proteger failures are worth a retry: the one place that decides it.
//!
//! The client (`client.rs`) turns every failed call into a [`ProtegerError`] that says
//! *what happened*; `From<ProtegerError> for JobError` below says *what to do about it*.
//!
//! | what happened                               | job error   | why                                       |
//! |---------------------------------------------|-------------|-------------------------------------------|
//! | network error, connection dropped           | `Retryable` | the call may not have arrived             |
//! | timeout                                     | `Retryable` | it may have landed: retry with the same idempotency key, which replays it |
//! | 5xx                                         | `Retryable` | the vendor's problem, hopefully passing   |
//! | 429                                         | `Retryable` | honouring `Retry-After`                   |
//! | 409                                         | `Retryable` | the same idempotency key is still in flight at the vendor: once it finishes, the retry gets its answer |
//! | 408                                         | `Retryable` | the vendor gave up waiting for our request |
//! | 401, 403                                    | `Permanent` | our credentials are wrong: logged loudly and counted in `underwrite_vendor_credential_failures_total` |
//! | 404 on a contract we created lately         | `Retryable` | the vendor persists asynchronously (seed 000): it may just not know it yet; see [`not_yet_persisted`] |
//! | other 4xx (400, 404, 406, 415, 422, …)      | `Permanent` | the vendor refuses *what* we sent; it will refuse it again |
//! | 2xx whose body is not what we expect        | `Permanent` | a retry replays the same body             |
//! | a call we refused to send (0 or 11 contracts) | `Permanent` | a bug on our side                      |
//!
//! `Retry-After` (delta-seconds or an HTTP date) is passed on as `retry_after` for every
//! retryable status; the retry policy treats it as a minimum delay.
//!
//! Every row but one is decided from the answer alone. The exception, a 404 about a contract
//! we created lately, needs to know what we created, which only the queue's Redis does:
//! `jobs/cancel.rs` finds out (`recent.rs`) and calls [`not_yet_persisted`] instead of the
//! table's default.

use std::time::Duration;

pub use crate::retry_after::{MAX_RETRY_AFTER, parse_retry_after};

use crate::queue::{ErrorDetail, JobError};
use crate::vendors::http::vendor_detail;

/// A failed call to Proteger. Nothing in here ever holds the API token: the client redacts
/// it from bodies before building one.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProtegerError {
    /// The client could not be built (bad base URL, token not a valid header value, TLS).
    #[error("Proteger client misconfigured: {0}")]
    Config(String),
    /// We refused to send the call (for example a bulk of 0 or 11 contracts).
    #[error("invalid Proteger call: {0}")]
    InvalidRequest(String),
    /// No answer: refused, reset or dropped connection, DNS, TLS, body cut short.
    #[error("network error calling Proteger: {0}")]
    Network(String),
    /// No (complete) answer within the configured timeout.
    #[error("Proteger timed out: {0}")]
    Timeout(String),
    /// Proteger answered with a status that is not a success.
    #[error("Proteger answered HTTP {status}")]
    Status {
        status: u16,
        /// The `Retry-After` header, parsed.
        retry_after: Option<Duration>,
        /// The answer's body, truncated to a few KiB, token redacted.
        body: String,
    },
    /// A success whose body is not what the endpoint documents.
    #[error("Proteger answered HTTP {status} with a body we cannot read: {message}")]
    Decode {
        status: u16,
        message: String,
        body: String,
    },
}

impl ProtegerError {
    /// The HTTP status the vendor answered, if it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Status { status, .. } | Self::Decode { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The vendor's error body parsed, when it is the documented
    /// `{"requestId","code","error"}` shape.
    pub fn vendor_error(&self) -> Option<crate::vendors::proteger::types::VendorErrorBody> {
        match self {
            Self::Status { body, .. } => serde_json::from_str(body).ok(),
            _ => None,
        }
    }
}

impl From<ProtegerError> for JobError {
    fn from(error: ProtegerError) -> Self {
        classify(error)
    }
}

/// Turns a failed call into the queue's verdict (see the table in the module docs).
/// Side effect on 401/403: an `error!` line and `underwrite_vendor_credential_failures_total{vendor="proteger"}` goes up, so an
/// operator learns about a revoked key from the first failed job, not the thousandth.
/// The Prometheus counter of Proteger's credential refusals.
pub fn credential_failures() -> prometheus::IntCounter {
    crate::metrics::VENDOR_CREDENTIAL_FAILURES.with_label_values(&["proteger"])
}

pub fn classify(error: ProtegerError) -> JobError {
    let message = error.to_string();
    match error {
        ProtegerError::Network(_) | ProtegerError::Timeout(_) => {
            JobError::retryable(ErrorDetail::message(message))
        }
        ProtegerError::Config(_) | ProtegerError::InvalidRequest(_) => {
            JobError::permanent(ErrorDetail::message(message))
        }
        ProtegerError::Decode { status, body, .. } => {
            tracing::error!(
                status,
                "Proteger answered a success we cannot read; if this was a create, the contracts \
                 may exist at the vendor and need reconciling by hand"
            );
            JobError::permanent(vendor_detail(message, status, body))
        }
        ProtegerError::Status {
            status,
            retry_after,
            body,
        } => {
            let detail = vendor_detail(message, status, body);
            match status {
                408 | 409 | 429 | 500..=599 => JobError::Retryable {
                    detail,
                    retry_after,
                },
                401 | 403 => {
                    credential_failures().inc();
                    tracing::error!(
                        status,
                        "Proteger refused our credentials: the Proteger API token \
                         (UNDERWRITE_PROTEGER_TOKEN) is wrong, expired or lacks permission"
                    );
                    JobError::permanent(detail)
                }
                _ => JobError::permanent(detail),
            }
        }
    }
}

/// The least wait before asking again about a contract the vendor may not have persisted
/// yet. Its real delay is **unknown**; our sandbox's default is 0.5 s. The retry policy's
/// backoff takes over when it grows longer, and each try uses up an attempt.
pub const NOT_PERSISTED_RETRY_AFTER: Duration = Duration::from_millis(500);

/// A 404 about a contract that may exist but not be persisted at the vendor yet: retryable
/// after [`NOT_PERSISTED_RETRY_AFTER`], with `why` added to the message so that the job
/// record says why a 404 is being retried. The vendor's status and body are kept.
pub fn not_yet_persisted(error: ProtegerError, why: &str) -> JobError {
    let mut detail = match error {
        ProtegerError::Status { status, body, .. } => {
            vendor_detail(format!("Proteger answered HTTP {status}"), status, body)
        }
        other => ErrorDetail::message(other.to_string()),
    };
    detail.message = format!("{}: {why}", detail.message);
    JobError::Retryable {
        detail,
        retry_after: Some(NOT_PERSISTED_RETRY_AFTER),
    }
}

/// Whether the vendor says an idempotency key was reused with another body: the first
/// call under that key executed. Its status and wording are **unknown** (Stripe answers
/// 400 with a message about the idempotency key; our sandbox does the same), so any 4xx
/// that mentions the idempotency key counts. The callers also treat a 400 they cannot
/// explain otherwise as a possible reuse (`jobs/batch.rs`): mistaking a reuse for a content
/// refusal would send the contracts again under new keys.
pub fn key_reused(error: &ProtegerError) -> bool {
    match error {
        ProtegerError::Status { status, body, .. } if (400..500).contains(status) => {
            body.to_ascii_lowercase().contains("idempotency")
        }
        _ => false,
    }
}

impl crate::vendors::http::VendorCallError for ProtegerError {
    fn timed_out(message: String) -> Self {
        Self::Timeout(message)
    }

    fn network_failed(message: String) -> Self {
        Self::Network(message)
    }

    fn outcome(&self) -> Option<crate::vendors::http::CallOutcome> {
        match self {
            Self::Config(_) | Self::InvalidRequest(_) => None,
            other => Some(crate::vendors::http::outcome_of(
                matches!(other, Self::Network(_)),
                matches!(other, Self::Timeout(_)),
                other.status(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};
    use serde_json::json;

    fn status(status: u16, retry_after: Option<u64>, body: &str) -> ProtegerError {
        ProtegerError::Status {
            status,
            retry_after: retry_after.map(Duration::from_secs),
            body: body.into(),
        }
    }

    fn is_retryable(error: &JobError) -> bool {
        matches!(error, JobError::Retryable { .. })
    }

    #[test]
    fn the_table() {
        let retryable = [
            ProtegerError::Network("connection reset".into()),
            ProtegerError::Timeout("after 30s".into()),
            status(500, None, ""),
            status(502, None, "<html>Bad Gateway</html>"),
            status(503, Some(5), ""),
            status(504, None, ""),
            status(429, Some(7), ""),
            status(409, None, ""),
            status(408, None, ""),
        ];
        for error in retryable {
            let shown = format!("{error:?}");
            assert!(is_retryable(&JobError::from(error)), "{shown}");
        }
        let permanent = [
            status(400, None, ""),
            status(404, None, ""),
            status(422, None, ""),
            status(401, None, ""),
            status(403, None, ""),
            status(405, None, ""),
            status(302, None, ""),
            ProtegerError::Decode {
                status: 200,
                message: "expected an array".into(),
                body: "{}".into(),
            },
            ProtegerError::InvalidRequest("11 contracts".into()),
            ProtegerError::Config("bad url".into()),
        ];
        for error in permanent {
            let shown = format!("{error:?}");
            assert!(!is_retryable(&JobError::from(error)), "{shown}");
        }
    }

    #[test]
    fn retry_after_is_passed_on() {
        let JobError::Retryable { retry_after, .. } = JobError::from(status(429, Some(7), ""))
        else {
            panic!("429 must be retryable");
        };
        assert_eq!(retry_after, Some(Duration::from_secs(7)));
        let JobError::Retryable { retry_after, .. } = JobError::from(status(503, Some(2), ""))
        else {
            panic!("503 must be retryable");
        };
        assert_eq!(retry_after, Some(Duration::from_secs(2)));
    }

    #[test]
    fn the_vendor_body_is_kept() {
        let body = r#"{"requestId":"kJZQv3lyB2rjHKNbeGBy5HMet4MO0nw9","code":"BadRequestException","error":"failed create contract: failed get product: not found"}"#;
        let error = JobError::from(status(400, None, body));
        let detail = error.detail();
        assert_eq!(detail.vendor_status, Some(400));
        assert_eq!(
            detail.vendor_body.as_ref().and_then(|b| b.get("error")),
            Some(&json!(
                "failed create contract: failed get product: not found"
            ))
        );
        let error = JobError::from(status(502, None, "<html>Bad Gateway</html>"));
        assert_eq!(
            error.detail().vendor_body,
            Some(json!("<html>Bad Gateway</html>"))
        );
        assert_eq!(
            JobError::from(status(500, None, "")).detail().vendor_body,
            None
        );
    }

    #[test]
    fn a_404_that_may_not_be_persisted_yet_is_retried_soon_with_the_vendors_answer() {
        let body = r#"{"requestId":"x","code":"NotFoundException","error":"not found"}"#;
        assert!(!is_retryable(&JobError::from(status(404, None, body))));
        let error = not_yet_persisted(status(404, None, body), "created 0.2 s ago");
        let JobError::Retryable {
            detail,
            retry_after,
        } = &error
        else {
            panic!("must be retryable: {error:?}");
        };
        assert_eq!(*retry_after, Some(NOT_PERSISTED_RETRY_AFTER));
        assert_eq!(detail.vendor_status, Some(404));
        // The vendor's reason, then why it is retried.
        assert_eq!(
            detail.message,
            "Proteger answered HTTP 404: not found: created 0.2 s ago"
        );
        assert_eq!(
            detail.vendor_body.as_ref().and_then(|b| b.get("code")),
            Some(&json!("NotFoundException"))
        );
    }

    #[test]
    fn credential_failures_are_counted() {
        let before = credential_failures().get();
        let _ = JobError::from(status(401, None, ""));
        let _ = JobError::from(status(403, None, ""));
        // Other tests may count too (they run in parallel): at least ours are there.
        assert!(credential_failures().get() >= before + 2);
    }

    #[test]
    fn retry_after_parses_seconds_and_dates() {
        let now = DateTime::parse_from_rfc3339("2015-10-21T07:27:00Z")
            .expect("date")
            .with_timezone(&Utc);
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
        assert_eq!(parse_retry_after("99999999999", now), Some(MAX_RETRY_AFTER));
    }
}
