//! Which Tulip failures are worth a retry: the one place that decides it.
//!
//! The client (`client.rs`) turns every failed call into a [`TulipError`] that says *what
//! happened*, with Tulip's `error.code` when the body carries one; [`classify`] says *what
//! to do about it*. Tulip's own retry guide (`error-handling.mdx`, Stratégie de retry) is
//! the base; the code decides before the status, because Tulip sends some codes under an
//! unexpected status (the OpenAPI file lists 99888 among a DELETE's 400 answers).
//!
//! | what happened                         | job error   | why |
//! |---------------------------------------|-------------|-----|
//! | code 9001–9003, or HTTP 401           | `Permanent` | the key is missing, wrong or not allowed: logged, and counted in `underwrite_vendor_credential_failures_total{vendor="tulip"}` |
//! | code 98888, or HTTP 403               | `Permanent` | the key lacks a permission: only Tulip can grant it |
//! | code 99888 (quota reached)            | `Retryable` | after `Retry-After`, else `quota_pause_secs`; every process pauses |
//! | HTTP 429                              | `Retryable` | after `Retry-After`, else `pause_on_429_secs`; every process pauses |
//! | HTTP 500, 5xx                         | `Retryable` | 502, 503 and 504 not before 5 s (the guide's advice) |
//! | HTTP 408, network error, timeout      | `Retryable` | a creation first looks for what it may have made (`jobs/adopt.rs`) |
//! | HTTP 400 with a code (1051 included)  | `Permanent` | Tulip refuses what we sent; the job keeps its code and message |
//! | other 4xx                             | `Permanent` | the guide: do not retry 400, 401, 403, 404 |
//! | a 2xx we cannot read                  | `Permanent` | the jobs decide otherwise where the call may have acted (a creation) |
//!
//! Nothing here ever holds the API key: the client scrubs it from every body it keeps.

use std::time::Duration;

use super::types::codes::{
    INVALID_KEY, MISSING_KEY, NO_PERMISSION, QUOTA_REACHED, UNAUTHORIZED_USER,
};
use crate::queue::{ErrorDetail, JobError};
use crate::vendors::http::vendor_detail;

/// The least wait after a 502, 503 or 504 (`error-handling.mdx`: "au moins 5 secondes").
pub const UNAVAILABLE_WAIT: Duration = Duration::from_secs(5);

/// A failed call to Tulip.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TulipError {
    /// The client could not be built (a bad base URL, a key that is not a header value).
    #[error("Tulip client misconfigured: {0}")]
    Config(String),
    /// We refused to send the call (an empty contract id).
    #[error("invalid Tulip call: {0}")]
    InvalidRequest(String),
    /// No answer: refused, reset or dropped connection, DNS, TLS, a body cut short.
    #[error("network error calling Tulip: {0}")]
    Network(String),
    /// No (complete) answer within the configured timeout: the call may have acted.
    #[error("Tulip timed out: {0}")]
    Timeout(String),
    /// Tulip answered with a status that is not a success.
    #[error("Tulip answered HTTP {status}{}", describe(*code, message))]
    Status {
        status: u16,
        /// `error.code` of the body, when it has one.
        code: Option<u32>,
        /// `error.message` of the body.
        message: Option<String>,
        /// The `Retry-After` header, parsed.
        retry_after: Option<Duration>,
        /// The body, truncated to a few KiB, key scrubbed.
        body: String,
    },
    /// A success whose body is not what the endpoint documents.
    #[error("Tulip answered HTTP {status} with a body we cannot read: {message}")]
    Decode {
        status: u16,
        message: String,
        body: String,
    },
}

fn describe(code: Option<u32>, message: &Option<String>) -> String {
    match (code, message) {
        (Some(code), Some(message)) if !message.is_empty() => format!(": code {code}: {message}"),
        (Some(code), _) => format!(": code {code}"),
        _ => String::new(),
    }
}

impl TulipError {
    /// The HTTP status Tulip answered, if it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Status { status, .. } | Self::Decode { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Tulip's `error.code`, if it sent one.
    pub fn code(&self) -> Option<u32> {
        match self {
            Self::Status { code, .. } => *code,
            _ => None,
        }
    }

    /// No answer at all: the call may or may not have reached Tulip.
    pub fn unanswered(&self) -> bool {
        matches!(self, Self::Network(_) | Self::Timeout(_))
    }

    /// How long every process should stop calling Tulip after this answer (a 429 or a
    /// spent quota): its `Retry-After`, else the configured default.
    pub fn pause(&self, on_429: Duration, on_quota: Duration) -> Option<Duration> {
        let Self::Status {
            status,
            code,
            retry_after,
            ..
        } = self
        else {
            return None;
        };
        if *code == Some(QUOTA_REACHED) {
            Some(retry_after.unwrap_or(on_quota))
        } else if *status == 429 {
            Some(retry_after.unwrap_or(on_429))
        } else {
            None
        }
    }
}

/// The Prometheus counter of Tulip's credential refusals.
pub fn credential_failures() -> prometheus::IntCounter {
    crate::metrics::VENDOR_CREDENTIAL_FAILURES.with_label_values(&[super::settings::NAME])
}

/// Turns a failed call into the queue's verdict (the table in the module docs). `pause`
/// is [`TulipError::pause`] of the same error: the least delay before the retry.
/// Side effect on a credential refusal: an `error!` line and the counter goes up, so a
/// revoked key shows from the first failed job.
pub fn classify(error: TulipError, pause: Option<Duration>) -> JobError {
    let message = error.to_string();
    match error {
        TulipError::Network(_) | TulipError::Timeout(_) => {
            JobError::retryable(ErrorDetail::message(message))
        }
        TulipError::Config(_) | TulipError::InvalidRequest(_) => {
            JobError::permanent(ErrorDetail::message(message))
        }
        TulipError::Decode { status, body, .. } => {
            JobError::permanent(vendor_detail(message, status, body))
        }
        TulipError::Status {
            status,
            code,
            retry_after,
            body,
            ..
        } => {
            let detail = vendor_detail(message, status, body);
            let credentials = matches!(code, Some(MISSING_KEY | INVALID_KEY | UNAUTHORIZED_USER))
                || status == 401;
            if credentials {
                credential_failures().inc();
                tracing::error!(
                    status,
                    code,
                    "Tulip refused our API key: UNDERWRITE_TULIP_API_KEY is missing, wrong or \
                     not allowed this resource"
                );
                return JobError::permanent(detail);
            }
            if code == Some(NO_PERMISSION) || status == 403 {
                tracing::error!(status, code, "Tulip says our API key lacks a permission");
                return JobError::permanent(detail);
            }
            let retry_after = match (code, status) {
                (Some(QUOTA_REACHED), _) | (_, 429) => pause.or(retry_after),
                (_, 502..=504) => Some(
                    retry_after
                        .unwrap_or(UNAVAILABLE_WAIT)
                        .max(UNAVAILABLE_WAIT),
                ),
                (_, 408 | 500..=599) => retry_after,
                _ => return JobError::permanent(detail),
            };
            JobError::Retryable {
                detail,
                retry_after,
            }
        }
    }
}

impl crate::vendors::http::VendorCallError for TulipError {
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

    fn answered(status: u16, code: Option<u32>, retry_after: Option<u64>) -> TulipError {
        TulipError::Status {
            status,
            code,
            message: code.map(|c| crate::vendors::tulip::types::codes::message(c).to_string()),
            retry_after: retry_after.map(Duration::from_secs),
            body: String::new(),
        }
    }

    fn verdict(error: TulipError) -> JobError {
        let pause = error.pause(Duration::from_secs(30), Duration::from_secs(300));
        classify(error, pause)
    }

    fn retry_after(error: &JobError) -> Option<Option<Duration>> {
        match error {
            JobError::Retryable { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }

    #[test]
    fn the_table() {
        let secs = |s| Some(Some(Duration::from_secs(s)));
        let rows: Vec<(TulipError, Option<Option<Duration>>)> = vec![
            (TulipError::Network("reset".into()), Some(None)),
            (TulipError::Timeout("30 s".into()), Some(None)),
            (answered(500, None, None), Some(None)),
            (answered(503, None, None), secs(5)),
            (answered(502, None, Some(9)), secs(9)),
            (answered(408, None, None), Some(None)),
            (answered(429, None, Some(7)), secs(7)),
            (answered(429, None, None), secs(30)),
            (answered(400, Some(99888), None), secs(300)),
            (answered(429, Some(99888), Some(2)), secs(2)),
            (answered(400, Some(1051), None), None),
            (answered(400, Some(1002), None), None),
            (answered(401, Some(9001), None), None),
            (answered(401, Some(9002), None), None),
            (answered(400, Some(9003), None), None),
            (answered(403, Some(98888), None), None),
            (answered(404, None, None), None),
            (answered(422, None, None), None),
            (
                TulipError::Decode {
                    status: 200,
                    message: "no contract".into(),
                    body: "{}".into(),
                },
                None,
            ),
        ];
        for (error, expected) in rows {
            let shown = format!("{error:?}");
            assert_eq!(retry_after(&verdict(error)), expected, "{shown}");
        }
    }

    #[test]
    fn the_code_and_message_are_kept() {
        let body = r#"{"execution_id":"e","status":"error","type":"bad_request","message":"bad request","error":{"code":1051,"message":"The contract does not exist."}}"#;
        let error = TulipError::Status {
            status: 400,
            code: Some(1051),
            message: Some("The contract does not exist.".into()),
            retry_after: None,
            body: body.into(),
        };
        let detail = verdict(error).detail();
        assert!(detail.message.contains("code 1051"), "{}", detail.message);
        assert_eq!(detail.vendor_status, Some(400));
        assert_eq!(
            detail
                .vendor_body
                .as_ref()
                .and_then(|b| b["error"]["code"].as_u64()),
            Some(1051)
        );
    }

    #[test]
    fn credential_refusals_are_counted() {
        let before = credential_failures().get();
        let _ = verdict(answered(401, Some(9002), None));
        let _ = verdict(answered(400, Some(9003), None));
        assert!(credential_failures().get() >= before + 2);
    }
}
