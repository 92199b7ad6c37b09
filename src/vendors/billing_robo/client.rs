//! The HTTP client for Billing-Robo's まるなげ与信 (credit) calls.
//!
//! One method per vendor call; each answers the vendor's own types (`types/`) or a
//! [`BillingRoboError`] that `classify.rs` turns into a retry decision. The client never
//! retries on its own: the queue does, and for `bulk_register` a resend after an unclear
//! failure is safe because the vendor answers "already applied" (5411 in the seed) for an
//! application that landed. Cheaper still after a timeout: search for what the batch
//! registered before sending it again.
//!
//! ## Every call
//!
//! `POST base_url + /api/v1.0/<call>` with a UTF-8 JSON body carrying `user_id` and
//! `access_key` (the vendor has no auth header). `Accept: application/json`. Redirects
//! are not followed: a redirected `POST` would carry the credentials to wherever it points.
//!
//! ## The credentials
//!
//! The vendor echoes them in its answers. Every body is run through the client's
//! `Redactor` (`redact.rs`) before anything is returned, decoded, logged or put in an
//! error, and [`Credentials`]' and the client's `Debug` show neither.

use std::fmt;

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};
use serde_json::{Map, Value};

use super::classify::{BillingRoboError, Registration, outcomes, parse_retry_after};
use super::redact::Redactor;
use super::settings::{ACCESS_KEY_SECRET, BillingRoboSettings, NAME, USER_ID_SECRET};
use super::types::{
    APPLICATION_SEARCH_KEY, APPLICATION_SEARCH_PATH, ApiVersion, ApplicationRecord,
    ApplicationSearch, CREDIT_SEARCH_KEY, CREDIT_SEARCH_PATH, CreditApplication, CreditRecord,
    CreditSearch, MAX_REGISTER_ITEMS, Page, REGISTER_PATH, RegisterAnswer, VendorErrorBody,
};
use crate::config::Settings;
use crate::vendors::http::{self, truncate};

/// The operations of Billing-Robo's calls, as the metrics name them.
pub const OP_REGISTER: &str = "bulk_register";
pub const OP_SEARCH_APPLICATIONS: &str = "search_applications";
pub const OP_SEARCH_CREDITS: &str = "search_credits";
/// Every operation, for the metrics' series at 0.
pub const OPERATIONS: [&str; 3] = [OP_REGISTER, OP_SEARCH_APPLICATIONS, OP_SEARCH_CREDITS];

/// Longest response body kept in an error.
pub const MAX_ERROR_BODY: usize = 4 * 1024;
/// Longest success body we read (3000 answered applications are about 1.5 MiB).
const MAX_SUCCESS_BODY: usize = 16 * 1024 * 1024;

/// The account's `user_id` (the console's login e-mail) and `access_key`.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    user_id: String,
    access_key: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Credentials(<redacted>)")
    }
}

impl Credentials {
    pub fn new(user_id: impl Into<String>, access_key: impl Into<String>) -> Self {
        Self {
            user_id: user_id.into(),
            access_key: access_key.into(),
        }
    }

    /// `UNDERWRITE_BILLING_ROBO_USER_ID` and `UNDERWRITE_BILLING_ROBO_ACCESS_KEY`, when
    /// both are given.
    pub fn from_settings(settings: &Settings) -> Option<Self> {
        let secret = |name| settings.secrets.vendor(NAME, name);
        Some(Self::new(
            secret(USER_ID_SECRET)?,
            secret(ACCESS_KEY_SECRET)?,
        ))
    }

    pub fn user_id(&self) -> &str {
        &self.user_id
    }

    pub fn access_key(&self) -> &str {
        &self.access_key
    }
}

/// A client for one Billing-Robo host. Cheap to clone (the connection pool is shared).
#[derive(Clone)]
pub struct BillingRoboClient {
    http: reqwest::Client,
    /// Without a trailing slash, e.g. `https://billing-robo.jp`.
    base_url: String,
    version: ApiVersion,
    credentials: Option<Credentials>,
    redactor: Redactor,
}

impl fmt::Debug for BillingRoboClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BillingRoboClient")
            .field("base_url", &self.base_url)
            .field("version", &self.version)
            .field(
                "credentials",
                &self.credentials.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

impl BillingRoboClient {
    /// A client for `settings.base_url`. Without credentials, calls go out with empty ones
    /// and the vendor's 401 fails them loudly; the process still starts, so that a
    /// deployment without Billing-Robo work needs no Billing-Robo account.
    pub fn new(
        settings: &BillingRoboSettings,
        credentials: Option<Credentials>,
    ) -> Result<Self, BillingRoboError> {
        let base_url = settings.base_url.trim_end_matches('/').to_string();
        reqwest::Url::parse(&base_url).map_err(|e| {
            BillingRoboError::Config(format!(
                "billing_robo.base_url `{base_url}` is not a URL: {e}"
            ))
        })?;
        if credentials.is_none() {
            tracing::warn!(
                "no Billing-Robo credentials configured (UNDERWRITE_BILLING_ROBO_USER_ID, \
                 UNDERWRITE_BILLING_ROBO_ACCESS_KEY)"
            );
        }
        let redactor = Redactor::new(
            credentials
                .iter()
                .flat_map(|c| [c.user_id.as_str(), c.access_key.as_str()]),
        );
        let mut headers = HeaderMap::new();
        headers.insert(
            reqwest::header::ACCEPT,
            HeaderValue::from_static("application/json"),
        );
        let http = http::client(headers, settings.connect_timeout(), settings.timeout())
            .map_err(BillingRoboError::Config)?;
        Ok(Self {
            http,
            base_url,
            version: settings.api_version,
            credentials,
            redactor,
        })
    }

    /// The API version this client speaks.
    pub fn version(&self) -> ApiVersion {
        self.version
    }

    /// `request_marunage_credit/bulk_register`: applies for credit for 1 to 3000 billing
    /// customers, one application each (no billing code twice). The outcome of each comes
    /// back in the order sent, matched by billing code; an item refused is an `Ok` with a
    /// refusal in it, not an `Err`: only a call that failed as a whole is one.
    pub async fn register_credit_applications(
        &self,
        applications: &[CreditApplication],
    ) -> Result<Registration, BillingRoboError> {
        if !(1..=MAX_REGISTER_ITEMS).contains(&applications.len()) {
            return Err(BillingRoboError::InvalidRequest(format!(
                "a bulk_register takes 1 to {MAX_REGISTER_ITEMS} applications, not {}",
                applications.len()
            )));
        }
        let codes: Vec<&str> = applications.iter().map(|a| a.billing_code()).collect();
        if let Some(twice) = codes
            .iter()
            .enumerate()
            .find_map(|(i, code)| codes[..i].contains(code).then_some(*code))
        {
            return Err(BillingRoboError::InvalidRequest(format!(
                "billing code {twice} appears twice: the vendor refuses both (one application \
                 per billing customer and request)"
            )));
        }
        for application in applications {
            let missing = application.missing_for(self.version);
            if !missing.is_empty() {
                let fields: Vec<String> = missing
                    .iter()
                    .map(|e| format!("{} {}", e.field, e.reason))
                    .collect();
                return Err(BillingRoboError::InvalidRequest(format!(
                    "billing code {}: the {} API needs {}",
                    application.billing_code(),
                    self.version,
                    fields.join(", ")
                )));
            }
        }
        let items = serde_json::to_value(applications)
            .map_err(|e| BillingRoboError::InvalidRequest(e.to_string()))?;
        let mut body = Map::new();
        body.insert(self.version.register_key().to_string(), items);
        crate::metrics::vendors::record_batch(NAME, OP_REGISTER, applications.len());
        let (status, answer) = self.call(OP_REGISTER, REGISTER_PATH, body).await?;
        let answer =
            RegisterAnswer::from_value(&answer).map_err(|message| BillingRoboError::Decode {
                status: status.as_u16(),
                message,
                body: truncate(answer.to_string(), MAX_ERROR_BODY),
            })?;
        if answer.version != self.version {
            return Err(BillingRoboError::VersionMismatch {
                configured: self.version,
                answered: answer.version,
            });
        }
        outcomes(&codes, answer)
    }

    /// `request_marunage_credit/search`: applications, with their status (0 rejected, 1
    /// approved, 2 pending) and when they were answered. One page.
    pub async fn search_applications(
        &self,
        search: &ApplicationSearch,
    ) -> Result<Page<ApplicationRecord>, BillingRoboError> {
        let body = search.to_wire().map_err(BillingRoboError::InvalidRequest)?;
        let page = self
            .search(
                OP_SEARCH_APPLICATIONS,
                APPLICATION_SEARCH_PATH,
                body,
                APPLICATION_SEARCH_KEY,
            )
            .await?;
        refuse_error_items(&page.items, |r: &ApplicationRecord| {
            (r.error_code, r.error_message.clone())
        })?;
        Ok(page)
    }

    /// `marunage_credit/search`: each billing customer's credit, with `update_date` (the
    /// poller's filter). One page.
    pub async fn search_credits(
        &self,
        search: &CreditSearch,
    ) -> Result<Page<CreditRecord>, BillingRoboError> {
        let body = search
            .to_wire(self.version)
            .map_err(BillingRoboError::InvalidRequest)?;
        let page = self
            .search(
                OP_SEARCH_CREDITS,
                CREDIT_SEARCH_PATH,
                body,
                CREDIT_SEARCH_KEY,
            )
            .await?;
        refuse_error_items(&page.items, |r: &CreditRecord| {
            (r.error_code, r.error_message.clone())
        })?;
        Ok(page)
    }

    async fn search<T: serde::de::DeserializeOwned>(
        &self,
        operation: &'static str,
        path: &str,
        body: Value,
        key: &str,
    ) -> Result<Page<T>, BillingRoboError> {
        let Value::Object(body) = body else {
            return Err(BillingRoboError::InvalidRequest(
                "a search body is an object".into(),
            ));
        };
        let (status, answer) = self.call(operation, path, body).await?;
        Page::from_value(&answer, key).map_err(|message| BillingRoboError::Decode {
            status: status.as_u16(),
            message,
            body: truncate(answer.to_string(), MAX_ERROR_BODY),
        })
    }

    /// Adds the credentials, posts, and answers the success body as JSON with the
    /// credentials removed, or the failure as an error.
    async fn call(
        &self,
        operation: &'static str,
        path: &str,
        mut body: Map<String, Value>,
    ) -> Result<(StatusCode, Value), BillingRoboError> {
        let (user_id, access_key) = self
            .credentials
            .as_ref()
            .map_or(("", ""), |c| (c.user_id.as_str(), c.access_key.as_str()));
        body.insert("user_id".into(), Value::from(user_id));
        body.insert("access_key".into(), Value::from(access_key));
        let url = format!("{}{path}", self.base_url);
        crate::vendors::http::observe(NAME, operation, self.send(url, &Value::Object(body))).await
    }

    async fn send(
        &self,
        url: String,
        body: &Value,
    ) -> Result<(StatusCode, Value), BillingRoboError> {
        let request = self.http.post(url).json(body);
        let response = http::traced(request)
            .send()
            .await
            .map_err(http::transport_error)?;
        let status = response.status();
        if status.is_success() {
            let (bytes, cut) = http::read_body(response, MAX_SUCCESS_BODY).await?;
            if cut {
                return Err(self.decode_error(status, "the answer is too large", &bytes));
            }
            let mut value: Value = serde_json::from_slice(&bytes)
                .map_err(|e| self.decode_error(status, &e.to_string(), &bytes))?;
            self.redactor.value(&mut value);
            Ok((status, value))
        } else {
            let retry_after = response
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| parse_retry_after(v, chrono::Utc::now()));
            // A body that fails to arrive must not hide the status. Read a credential's
            // length past the limit so one straddling the cut is scrubbed whole, then cut.
            let limit = MAX_ERROR_BODY + self.redactor.longest();
            let bytes = http::read_limited(response, limit)
                .await
                .map_or_else(|_| Vec::new(), |(bytes, _)| bytes);
            let vendor = serde_json::from_slice::<Value>(&bytes)
                .ok()
                .map(|mut value| {
                    self.redactor.value(&mut value);
                    value
                })
                .and_then(|value| serde_json::from_value::<VendorErrorBody>(value).ok())
                .map(|body| body.error);
            Err(BillingRoboError::Status {
                status: status.as_u16(),
                retry_after,
                vendor,
                body: self.scrub(&bytes),
            })
        }
    }

    fn decode_error(&self, status: StatusCode, message: &str, body: &[u8]) -> BillingRoboError {
        BillingRoboError::Decode {
            status: status.as_u16(),
            message: self.redactor.text(message),
            body: self.scrub(body),
        }
    }

    /// A body fit to keep in an error: credentials removed, at most [`MAX_ERROR_BODY`].
    fn scrub(&self, body: &[u8]) -> String {
        truncate(
            self.redactor.text(&String::from_utf8_lossy(body)),
            MAX_ERROR_BODY,
        )
    }
}

/// A search answers its refusal of a filter as an item with an `error_code` (one reading
/// of the pages; the other is a 400, which `send` already made an error).
fn refuse_error_items<T>(
    items: &[T],
    error: impl Fn(&T) -> (Option<u32>, Option<String>),
) -> Result<(), BillingRoboError> {
    for item in items {
        if let (Some(code), message) = error(item) {
            return Err(BillingRoboError::SearchRefused {
                code,
                message: message.unwrap_or_default(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn settings() -> BillingRoboSettings {
        BillingRoboSettings {
            base_url: "http://127.0.0.1:9/billing-robo/".into(),
            connect_timeout_ms: 100,
            timeout_ms: 100,
            ..BillingRoboSettings::default()
        }
    }

    fn application(code: &str) -> CreditApplication {
        CreditApplication::parse(
            &json!({"billing_code": code, "representative_name": "代表者名",
                    "contract_date": "2022/01/01", "transaction_count": 1,
                    "company_url": "https://example.jp"}),
            ApiVersion::Seed,
            super::super::types::today_jst(),
        )
        .expect("valid")
    }

    #[test]
    fn debug_hides_the_credentials() {
        let credentials = Credentials::new("owner@example.jp", "SecretKey123");
        let client =
            BillingRoboClient::new(&settings(), Some(credentials.clone())).expect("client");
        for shown in [format!("{client:?}"), format!("{credentials:?}")] {
            assert!(!shown.contains("SecretKey123"), "{shown}");
            assert!(!shown.contains("owner@example.jp"), "{shown}");
        }
    }

    #[tokio::test]
    async fn calls_the_vendor_would_refuse_are_not_sent() {
        // The port is closed: had anything been sent, the error would be a network error.
        let client = BillingRoboClient::new(&settings(), None).expect("client");
        let none = client.register_credit_applications(&[]).await;
        assert!(
            matches!(none, Err(BillingRoboError::InvalidRequest(_))),
            "{none:?}"
        );
        let twice = client
            .register_credit_applications(&[application("a"), application("a")])
            .await;
        assert!(
            matches!(twice, Err(BillingRoboError::InvalidRequest(_))),
            "{twice:?}"
        );
        let search = client
            .search_credits(&CreditSearch {
                limit_count: Some(500),
                ..CreditSearch::default()
            })
            .await;
        assert!(
            matches!(search, Err(BillingRoboError::InvalidRequest(_))),
            "{search:?}"
        );
    }

    #[tokio::test]
    async fn the_current_api_needs_its_fields() {
        let client = BillingRoboClient::new(
            &BillingRoboSettings {
                api_version: ApiVersion::Current,
                ..settings()
            },
            None,
        )
        .expect("client");
        let error = client
            .register_credit_applications(&[application("a")])
            .await
            .expect_err("refused");
        let BillingRoboError::InvalidRequest(message) = error else {
            panic!("{error:?}");
        };
        assert!(message.contains("business_type"), "{message}");
    }

    #[test]
    fn truncation_marks_the_cut() {
        let cut = truncate("é".repeat(3000), 100);
        assert!(cut.len() <= 100);
        assert!(cut.ends_with("…[truncated]"));
    }
}
