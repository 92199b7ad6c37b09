//! What Billing-Robo's answers mean: the one place that decides it.
//!
//! ## A call that failed as a whole: [`BillingRoboError`] → [`JobError`]
//!
//! | what happened | job error | why |
//! |---|---|---|
//! | network error, connection dropped | `Retryable` | the call may not have arrived |
//! | timeout | `Retryable` | it may have landed: for a `bulk_register`, search before sending again (a resend is still safe: the vendor answers 5411, "already applied", for what landed) |
//! | 429 (rate limited) | `Retryable`, after the vendor's `Retry-After` but at least `pause_on_429_secs` | the limit lifts about two minutes after the count drops, and calls made meanwhile count |
//! | 503, code 19 (maintenance), other 5xx | `Retryable` with `Retry-After` | the vendor's problem, passing |
//! | 401, codes 11/12/13 (user id, access key, source IP), and 14/16/17/18 | `Permanent` | our credentials or our IP: logged loudly, counted in `underwrite_vendor_credential_failures_total{vendor="billing_robo"}` |
//! | 400, code 1 (internal error) | `Retryable` | the vendor's own fault; a resend is safe (5411 for what landed) |
//! | other 400 (10 unknown URI, 20 item count, 21 retired API, search filters) and 413 | `Permanent` | the vendor refuses what we sent |
//! | a 2xx we cannot read | `Permanent`, `ambiguous` for a `bulk_register` | applications may exist; a retry cannot tell |
//! | an answer in the other API version's shape | `Permanent` | `vendors.billing_robo.api_version` is wrong; nothing was registered |
//! | a search refused inside a 200 (an item with `error_code`) | `Permanent` | our filter |
//! | a call we refused to send | `Permanent` | a bug on our side |
//!
//! ## Items of a `bulk_register`, inside a 200: [`ItemOutcome`]
//!
//! Each application gets its own outcome, matched to what we sent by billing code, never
//! by position (the order of the answer is not documented). The meaning of each code is in
//! `types/codes.rs` (`ItemProblem`, `ItemVerdict`).

use std::time::Duration;

use serde::Serialize;

pub use crate::retry_after::{MAX_RETRY_AFTER, parse_retry_after};

use super::types::{
    AnsweredItem, ApiVersion, ApplicationStatus, ItemProblem, ItemVerdict, RegisterAnswer,
    VendorError, common,
};
use crate::queue::{ErrorDetail, JobError};
use crate::vendors::http::vendor_detail;

/// The vendor's name in metrics and logs.
const VENDOR: &str = "billing_robo";

/// The least pause after a 429 when the settings are not at hand (`pause_on_429_secs`'s
/// default).
pub const DEFAULT_PAUSE_ON_429: Duration = Duration::from_secs(300);

/// A failed call to Billing-Robo. Nothing in here ever holds the credentials: the client
/// redacts every body before building one.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BillingRoboError {
    /// The client could not be built (bad base URL, TLS).
    #[error("Billing-Robo client misconfigured: {0}")]
    Config(String),
    /// We refused to send the call (no items, 3001 items, a duplicate billing code, a
    /// field the configured version requires, a filter the vendor would refuse).
    #[error("invalid Billing-Robo call: {0}")]
    InvalidRequest(String),
    /// No answer: refused, reset or dropped connection, DNS, TLS, body cut short.
    #[error("network error calling Billing-Robo: {0}")]
    Network(String),
    /// No (complete) answer within the configured timeout.
    #[error("Billing-Robo timed out: {0}")]
    Timeout(String),
    /// A status that is not a success.
    #[error("Billing-Robo answered HTTP {status}{}", vendor_suffix(.vendor))]
    Status {
        status: u16,
        /// The `Retry-After` header, parsed.
        retry_after: Option<Duration>,
        /// The body, when it is the vendor's `{"error":{"code","message"}}`.
        vendor: Option<VendorError>,
        /// The body, truncated to a few KiB, credentials redacted.
        body: String,
    },
    /// A success whose body is not what the call documents.
    #[error("Billing-Robo answered HTTP {status} with a body we cannot read: {message}")]
    Decode {
        status: u16,
        message: String,
        body: String,
    },
    /// A `bulk_register` answer whose items cannot be matched one to one with what we
    /// sent. `registered_any`: some item came back without an error, so applications may
    /// exist at the vendor.
    #[error("Billing-Robo's answer does not match the applications sent: {reason}")]
    Unmatched {
        reason: String,
        registered_any: bool,
        items: Vec<AnsweredItem>,
    },
    /// The vendor answered in the other version's shape: it did not read our items.
    #[error(
        "Billing-Robo answered in the {answered} API's shape, but vendors.billing_robo.api_version \
         is {configured}: set it to \"{answered}\""
    )]
    VersionMismatch {
        configured: ApiVersion,
        answered: ApiVersion,
    },
    /// A search answered 200 with an error item instead of records.
    #[error("Billing-Robo refused the search: code {code}: {message}")]
    SearchRefused { code: u32, message: String },
}

fn vendor_suffix(vendor: &Option<VendorError>) -> String {
    match vendor {
        Some(error) => format!(", code {}: {}", error.code, error.message),
        None => String::new(),
    }
}

impl BillingRoboError {
    /// The HTTP status the vendor answered, if it answered one that failed the call.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Status { status, .. } | Self::Decode { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The vendor's error code of a whole-request failure.
    pub fn vendor_code(&self) -> Option<u32> {
        match self {
            Self::Status {
                vendor: Some(error),
                ..
            } => Some(error.code),
            Self::SearchRefused { code, .. } => Some(*code),
            _ => None,
        }
    }
}

/// The Prometheus counter of Billing-Robo's credential refusals.
pub fn credential_failures() -> prometheus::IntCounter {
    crate::metrics::VENDOR_CREDENTIAL_FAILURES.with_label_values(&[VENDOR])
}

impl From<BillingRoboError> for JobError {
    fn from(error: BillingRoboError) -> Self {
        classify(error, DEFAULT_PAUSE_ON_429)
    }
}

/// Turns a failed call into the queue's verdict (the table in the module docs). A 429 is
/// retried no sooner than `pause_on_429`, or the vendor's `Retry-After` if longer. Side
/// effect of a credential refusal: an `error!` line and the credentials counter, so an
/// operator learns of a revoked key from the first failed job.
pub fn classify(error: BillingRoboError, pause_on_429: Duration) -> JobError {
    let message = error.to_string();
    match error {
        BillingRoboError::Network(_) | BillingRoboError::Timeout(_) => {
            JobError::retryable(ErrorDetail::message(message))
        }
        BillingRoboError::Config(_)
        | BillingRoboError::InvalidRequest(_)
        | BillingRoboError::SearchRefused { .. } => {
            JobError::permanent(ErrorDetail::message(message))
        }
        BillingRoboError::VersionMismatch { .. } => {
            tracing::error!(vendor = VENDOR, "{message}");
            JobError::permanent(ErrorDetail::message(message))
        }
        BillingRoboError::Decode { status, body, .. } => {
            tracing::error!(
                status,
                "Billing-Robo answered a success we cannot read; if this was a bulk_register, \
                 applications may exist at the vendor: search by billing code before sending again"
            );
            JobError::permanent(vendor_detail(message, status, body).ambiguous())
        }
        BillingRoboError::Unmatched {
            registered_any,
            items,
            ..
        } => {
            tracing::error!(
                registered_any,
                "Billing-Robo's bulk_register answer cannot be matched to what was sent"
            );
            let detail = ErrorDetail {
                message,
                vendor_status: Some(200),
                vendor_body: serde_json::to_value(&items).ok(),
                ambiguous: registered_any,
            };
            JobError::permanent(detail)
        }
        BillingRoboError::Status {
            status,
            retry_after,
            vendor,
            body,
        } => {
            let code = vendor.as_ref().map(|e| e.code);
            let detail = vendor_detail(message, status, body);
            match (status, code) {
                (429, _) => JobError::Retryable {
                    detail,
                    retry_after: Some(retry_after.unwrap_or_default().max(pause_on_429)),
                },
                (408 | 500..=599, _) | (400, Some(common::INTERNAL)) => JobError::Retryable {
                    detail,
                    retry_after,
                },
                (401 | 403, _) => credentials_refused(status, code, detail),
                (_, Some(code)) if common::is_credentials(code) => {
                    credentials_refused(status, Some(code), detail)
                }
                (_, Some(common::RETIRED_API)) => {
                    tracing::error!(
                        "Billing-Robo says this API is retired (code 21): the client needs updating"
                    );
                    JobError::permanent(detail)
                }
                _ => JobError::permanent(detail),
            }
        }
    }
}

fn credentials_refused(status: u16, code: Option<u32>, detail: ErrorDetail) -> JobError {
    credential_failures().inc();
    let what = match code {
        Some(common::INVALID_USER_ID) => "the user id (UNDERWRITE_BILLING_ROBO_USER_ID) is wrong",
        Some(common::INVALID_ACCESS_KEY) => {
            "the access key (UNDERWRITE_BILLING_ROBO_ACCESS_KEY) is wrong or revoked"
        }
        Some(common::INVALID_SOURCE_IP) => {
            "this host's IP address is not on the account's allowed list"
        }
        _ => "the account is not allowed this call",
    };
    tracing::error!(status, code, "Billing-Robo refused our credentials: {what}");
    JobError::permanent(detail)
}

// ---------------------------------------------------------------------------------------
// Items
// ---------------------------------------------------------------------------------------

/// The answer to a `bulk_register`: one outcome per application, in the order sent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Registration {
    pub outcomes: Vec<ItemOutcome>,
}

impl Registration {
    /// The applications the vendor took.
    pub fn registered(&self) -> impl Iterator<Item = (&str, &Registered)> {
        self.outcomes
            .iter()
            .filter_map(|o| Some((o.billing_code.as_str(), o.result.as_ref().ok()?)))
    }

    /// The applications it did not, and why.
    pub fn refused(&self) -> impl Iterator<Item = (&str, &ItemRefusal)> {
        self.outcomes
            .iter()
            .filter_map(|o| Some((o.billing_code.as_str(), o.result.as_ref().err()?)))
    }
}

/// What became of one application.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ItemOutcome {
    pub billing_code: String,
    pub result: Result<Registered, ItemRefusal>,
    /// The item as answered (credentials redacted), for the record.
    pub answered: AnsweredItem,
}

/// An application the vendor registered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Registered {
    /// 申請ID: what `request_marunage_credit/search` finds it by.
    pub id: u64,
    /// 2 (pending) for a new application; the vendor may answer otherwise.
    pub status: ApplicationStatus,
    pub requested_date: Option<String>,
}

/// An application the vendor did not register.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ItemRefusal {
    /// As answered: its meaning depends on the version (`problem` is that meaning).
    pub code: u32,
    pub problem: ItemProblem,
    pub verdict: ItemVerdict,
    pub message: Option<String>,
}

/// Matches an answer to the billing codes sent, in their order. Every code sent must be
/// answered exactly once and every answered item must be one we sent; anything else is
/// [`BillingRoboError::Unmatched`]: nothing is guessed.
pub fn outcomes(sent: &[&str], answer: RegisterAnswer) -> Result<Registration, BillingRoboError> {
    let registered_any = answer.items.iter().any(|item| item.error_code.is_none());
    let unmatched = |reason: String, items: Vec<AnsweredItem>| BillingRoboError::Unmatched {
        reason,
        registered_any,
        items,
    };
    if answer.items.len() != sent.len() {
        return Err(unmatched(
            format!(
                "{} applications sent, {} answered",
                sent.len(),
                answer.items.len()
            ),
            answer.items,
        ));
    }
    let mut slots: Vec<Option<AnsweredItem>> = vec![None; sent.len()];
    for item in &answer.items {
        let found = item
            .billing_code
            .as_deref()
            .and_then(|code| sent.iter().position(|sent| *sent == code));
        let Some(index) = found else {
            return Err(unmatched(
                format!(
                    "an answered item has billing code {:?}, which was not sent",
                    item.billing_code
                ),
                answer.items.clone(),
            ));
        };
        if slots[index].replace(item.clone()).is_some() {
            return Err(unmatched(
                format!("billing code {} is answered twice", sent[index]),
                answer.items.clone(),
            ));
        }
    }
    let mut outcomes = Vec::with_capacity(sent.len());
    for (code, item) in sent.iter().zip(slots) {
        let Some(item) = item else {
            return Err(unmatched(
                format!("billing code {code} is not answered"),
                answer.items,
            ));
        };
        let result = match (item.error_code, item.id) {
            (None, Some(id)) => Ok(Registered {
                id,
                status: item.status.unwrap_or(ApplicationStatus::Pending),
                requested_date: item.requested_date.clone(),
            }),
            (None, None) => {
                return Err(unmatched(
                    format!("billing code {code} is answered without an error and without an id"),
                    answer.items,
                ));
            }
            (Some(code), _) => {
                let problem = ItemProblem::from_code(answer.version, code);
                Err(ItemRefusal {
                    code,
                    problem,
                    verdict: problem.verdict(),
                    message: item.error_message.clone(),
                })
            }
        };
        outcomes.push(ItemOutcome {
            billing_code: code.to_string(),
            result,
            answered: item,
        });
    }
    Ok(Registration { outcomes })
}

impl crate::vendors::http::VendorCallError for BillingRoboError {
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
    use serde_json::{Value, json};

    fn status(status: u16, retry_after: Option<u64>, code: Option<u32>) -> BillingRoboError {
        BillingRoboError::Status {
            status,
            retry_after: retry_after.map(Duration::from_secs),
            vendor: code.map(|code| VendorError {
                code,
                message: "m".into(),
            }),
            body: String::new(),
        }
    }

    fn retry_after(error: BillingRoboError) -> Option<Option<Duration>> {
        match classify(error, Duration::from_secs(300)) {
            JobError::Retryable { retry_after, .. } => Some(retry_after),
            _ => None,
        }
    }

    #[test]
    fn the_table() {
        let retryable = [
            BillingRoboError::Network("reset".into()),
            BillingRoboError::Timeout("60 s".into()),
            status(429, None, None),
            status(503, None, Some(common::MAINTENANCE)),
            status(502, None, None),
            status(500, None, Some(1)),
            status(400, None, Some(common::INTERNAL)),
        ];
        for error in retryable {
            let shown = format!("{error:?}");
            assert!(retry_after(error).is_some(), "{shown}");
        }
        let permanent = [
            status(401, None, Some(common::INVALID_USER_ID)),
            status(401, None, Some(common::INVALID_ACCESS_KEY)),
            status(401, None, Some(common::INVALID_SOURCE_IP)),
            status(400, None, Some(common::INVALID_PERMISSION)),
            status(400, None, Some(common::INVALID_REQUEST_COUNT)),
            status(400, None, Some(common::RETIRED_API)),
            status(400, None, Some(5702)),
            status(400, None, None),
            status(413, None, None),
            status(404, None, None),
            BillingRoboError::Decode {
                status: 200,
                message: "x".into(),
                body: "{}".into(),
            },
            BillingRoboError::InvalidRequest("0 items".into()),
            BillingRoboError::SearchRefused {
                code: 5706,
                message: "x".into(),
            },
            BillingRoboError::VersionMismatch {
                configured: ApiVersion::Seed,
                answered: ApiVersion::Current,
            },
        ];
        for error in permanent {
            let shown = format!("{error:?}");
            assert!(retry_after(error).is_none(), "{shown}");
        }
    }

    #[test]
    fn a_429_waits_at_least_the_pause_and_503_its_retry_after() {
        assert_eq!(
            retry_after(status(429, None, None)),
            Some(Some(Duration::from_secs(300)))
        );
        assert_eq!(
            retry_after(status(429, Some(30), None)),
            Some(Some(Duration::from_secs(300)))
        );
        assert_eq!(
            retry_after(status(429, Some(900), None)),
            Some(Some(Duration::from_secs(900)))
        );
        assert_eq!(
            retry_after(status(503, Some(60), Some(19))),
            Some(Some(Duration::from_secs(60)))
        );
        assert_eq!(retry_after(status(503, None, Some(19))), Some(None));
    }

    #[test]
    fn credential_refusals_are_counted() {
        let before = credential_failures().get();
        let _ = JobError::from(status(401, None, Some(11)));
        let _ = JobError::from(status(401, None, Some(12)));
        let _ = JobError::from(status(400, None, Some(17)));
        assert!(credential_failures().get() >= before + 3);
    }

    #[test]
    fn an_unreadable_success_is_ambiguous() {
        let job = JobError::from(BillingRoboError::Decode {
            status: 200,
            message: "x".into(),
            body: "<html>".into(),
        });
        assert!(job.detail().ambiguous);
        assert_eq!(job.detail().vendor_body, Some(json!("<html>")));
    }

    fn answer(version: ApiVersion, items: Value) -> RegisterAnswer {
        RegisterAnswer::from_value(&json!({ version.register_key(): items })).expect("answer")
    }

    #[test]
    fn items_are_matched_by_billing_code() {
        let registration = outcomes(
            &["a", "b"],
            answer(
                ApiVersion::Seed,
                json!([
                    {"error_code": 5412, "error_message": "他の…", "billing_code": "b"},
                    {"error_code": 5401, "error_message": "請求先が存在しません", "billing_code": "a"},
                ]),
            ),
        )
        .expect("matched");
        let refused: Vec<(&str, ItemProblem, ItemVerdict)> = registration
            .refused()
            .map(|(code, r)| (code, r.problem, r.verdict))
            .collect();
        assert_eq!(
            refused,
            [
                (
                    "a",
                    ItemProblem::UnknownBillingCustomer,
                    ItemVerdict::Refused
                ),
                ("b", ItemProblem::AnotherItemFailed, ItemVerdict::SendAgain),
            ]
        );
    }

    #[test]
    fn codes_are_read_in_the_answers_version() {
        let seed = outcomes(
            &["a"],
            answer(
                ApiVersion::Seed,
                json!([{"error_code": 5411, "billing_code": "a"}]),
            ),
        )
        .expect("matched");
        let current = outcomes(
            &["a"],
            answer(
                ApiVersion::Current,
                json!([{"error_code": 5411, "billing_code": "a"}]),
            ),
        )
        .expect("matched");
        let verdict = |r: &Registration| r.refused().next().map(|(_, r)| r.verdict);
        assert_eq!(verdict(&seed), Some(ItemVerdict::AlreadyApplied));
        assert_eq!(verdict(&current), Some(ItemVerdict::SendAgain));
    }

    #[test]
    fn nothing_is_guessed() {
        let cases = [
            (
                json!([{"error_code": null, "id": 1, "billing_code": "a"}]),
                true,
            ),
            (
                json!([{"id": 1, "billing_code": "a"}, {"id": 2, "billing_code": "a"}]),
                true,
            ),
            (json!([{"error_code": 5414}, {"error_code": 5414}]), false),
            (
                json!([{"id": 1, "billing_code": "a"}, {"id": 2, "billing_code": "c"}]),
                true,
            ),
            (
                json!([{"billing_code": "a"}, {"id": 2, "billing_code": "b"}]),
                true,
            ),
        ];
        for (items, registered) in cases {
            let shown = items.to_string();
            match outcomes(&["a", "b"], answer(ApiVersion::Seed, items)) {
                Err(BillingRoboError::Unmatched { registered_any, .. }) => {
                    assert_eq!(registered_any, registered, "{shown}");
                }
                other => panic!("{shown}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_registered_item_keeps_its_id_and_status() {
        let registration = outcomes(
            &["a"],
            answer(
                ApiVersion::Seed,
                json!([{"error_code": null, "error_message": null, "id": 9, "billing_code": "a",
                        "status": 2, "requested_date": "2022/01/02 00:00:00"}]),
            ),
        )
        .expect("matched");
        let (code, registered) = registration.registered().next().expect("registered");
        assert_eq!(code, "a");
        assert_eq!(registered.id, 9);
        assert_eq!(registered.status, ApplicationStatus::Pending);
    }
}
