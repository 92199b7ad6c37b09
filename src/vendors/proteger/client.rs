//! The HTTP client for Proteger's API.
//!
//! One method per vendor call we make; each answers the vendor's own types (`types.rs`) or a
//! [`ProtegerError`] saying what went wrong, which `classify.rs` turns into a retry decision.
//! The client itself never retries: the queue does, with backoff and with the *same*
//! idempotency key, so a call that landed before its answer got lost is replayed, not
//! repeated.
//!
//! ## Headers
//!
//! Seeds 000 and 001 mark `Content-Type: application/json` and `Accept: application/json`
//! as required on the bulk create and on the refund. `Accept` goes on every call (a default
//! header of the HTTP client); `Content-Type` on every call with a JSON body (reqwest's
//! `.json()` sets it) and on the refund, whose `PUT` has no body at all (seed 001's own
//! example sends none) but still declares it.
//!
//! ## The token
//!
//! The API key travels in `X-Proteger-Auth-Token` and nowhere else: it is marked sensitive,
//! [`ProtegerClient`]'s `Debug` hides it, redirects are not followed (reqwest would forward
//! a custom header to wherever a redirect points), and it is scrubbed from any response body
//! kept in an error, should the vendor ever echo it.

use std::fmt;
use std::time::Duration;

use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue, RETRY_AFTER};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::classify::{ProtegerError, parse_retry_after};
use super::idempotency_key::IdempotencyKey;
use super::settings::{NAME, ProtegerSettings};
use super::types::{Contract, ContractRequest, ContractStatus, MAX_BULK_CONTRACTS, RefundQuote};
use crate::vendors::http::{self, truncate};

/// The operations of Proteger's calls, as the metrics name them.
pub const OP_CREATE: &str = "create_contracts_bulk";
pub const OP_QUOTE: &str = "refund_quote";
pub const OP_CANCEL: &str = "refund_commit";
pub const OP_GET: &str = "get_contract";
/// Every operation, for the metrics' series at 0.
pub const OPERATIONS: [&str; 4] = [OP_CREATE, OP_QUOTE, OP_CANCEL, OP_GET];

/// The header that carries the API key.
pub const AUTH_HEADER: &str = "X-Proteger-Auth-Token";
/// The header that carries the idempotency key.
pub const IDEMPOTENCY_HEADER: &str = "X-Idempotency-Key";

/// Longest response body kept in an error.
pub const MAX_ERROR_BODY: usize = 4 * 1024;
/// Longest success body we read (a bulk answer of 10 contracts is about 20 KiB).
const MAX_SUCCESS_BODY: usize = 4 * 1024 * 1024;

/// A client for one Proteger host. Cheap to clone (the connection pool is shared).
#[derive(Clone)]
pub struct ProtegerClient {
    http: reqwest::Client,
    /// Without a trailing slash, e.g. `https://api.helloproteger.com`.
    base_url: String,
    /// The token as a header value marked sensitive, and as text to scrub from bodies.
    token: Option<(HeaderValue, String)>,
}

impl fmt::Debug for ProtegerClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProtegerClient")
            .field("base_url", &self.base_url)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl ProtegerClient {
    /// A client for `settings.base_url`. Without a token, calls go out unauthenticated and
    /// the vendor's 401 fails them loudly (see `classify.rs`); the process still starts, so
    /// that a deployment without Proteger work does not need a Proteger key.
    pub fn new(settings: &ProtegerSettings, token: Option<String>) -> Result<Self, ProtegerError> {
        let base_url = settings.base_url.trim_end_matches('/').to_string();
        reqwest::Url::parse(&base_url).map_err(|e| {
            ProtegerError::Config(format!("proteger.base_url `{base_url}` is not a URL: {e}"))
        })?;
        let token =
            http::credential_header(token, "Proteger API token", "UNDERWRITE_PROTEGER_TOKEN")
                .map_err(ProtegerError::Config)?;
        let mut headers = HeaderMap::new();
        headers.insert(
            reqwest::header::ACCEPT,
            HeaderValue::from_static("application/json"),
        );
        let http = http::client(
            headers,
            Duration::from_millis(settings.connect_timeout_ms),
            Duration::from_millis(settings.timeout_ms),
        )
        .map_err(ProtegerError::Config)?;
        Ok(Self {
            http,
            base_url,
            token,
        })
    }

    /// `POST /v1/contracts/bulk`: creates 1 to 10 contracts in one call, all or none.
    /// The answer lists the contracts in the order they were sent.
    ///
    /// `idempotency_key` must be the same on every retry of the same batch: the vendor then
    /// replays its first answer instead of creating the contracts again.
    pub async fn create_contracts_bulk(
        &self,
        idempotency_key: &IdempotencyKey,
        contracts: &[ContractRequest],
    ) -> Result<Vec<Contract>, ProtegerError> {
        if !(1..=MAX_BULK_CONTRACTS).contains(&contracts.len()) {
            return Err(ProtegerError::InvalidRequest(format!(
                "a bulk create takes 1 to {MAX_BULK_CONTRACTS} contracts, not {}",
                contracts.len()
            )));
        }
        #[derive(Serialize)]
        struct Body<'a> {
            contracts: &'a [ContractRequest],
        }
        let request = self
            .request(Method::POST, &["v1", "contracts", "bulk"], None)
            .header(IDEMPOTENCY_HEADER, idempotency_key.header_value())
            .json(&Body { contracts });
        crate::metrics::vendors::record_batch(NAME, OP_CREATE, contracts.len());
        http::observe(NAME, OP_CREATE, self.send(request)).await
    }

    /// `PUT /v1/contracts/{id}/refund?commit=…`: `commit = false` quotes the refund and
    /// changes nothing; `commit = true` cancels the contract.
    ///
    /// ## A contract that is already cancelled counts as success
    ///
    /// A retried cancel whose first attempt landed must not fail the job. How the vendor
    /// answers a second cancel is **unknown**, so both plausible signals are accepted:
    ///
    /// - a 2xx refund answer whose status is `Cancelled`: passed through as is;
    /// - a refusal (400, 409 or 422, whatever its wording; our sandbox answers
    ///   400 `failed refund contract: contract already cancelled`): the client reads the
    ///   contract, and if it *is* `Cancelled`, answers `Ok` with that contract and
    ///   `refund_amount: None` (the vendor does not repeat the earlier refund). We check the
    ///   contract rather than the error text, which is not documented. Any other status, or
    ///   a contract we cannot read, leaves the original refusal standing.
    pub async fn refund(
        &self,
        contract_id: &str,
        commit: bool,
    ) -> Result<RefundQuote, ProtegerError> {
        check_id(contract_id)?;
        let query = if commit {
            "commit=true"
        } else {
            "commit=false"
        };
        let request = self
            .request(
                Method::PUT,
                &["v1", "contracts", contract_id, "refund"],
                Some(query),
            )
            // Required by seed 001 although the `PUT` has no body.
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let operation = if commit { OP_CANCEL } else { OP_QUOTE };
        match http::observe(NAME, operation, self.send::<RefundQuote>(request)).await {
            Err(
                refusal @ ProtegerError::Status {
                    status: 400 | 409 | 422,
                    ..
                },
            ) => {
                match self.get_contract(contract_id).await {
                    Ok(contract) if contract.status == ContractStatus::Cancelled => {
                        tracing::info!(
                            contract = contract_id,
                            "Proteger contract was already cancelled; counting the cancel as done"
                        );
                        Ok(RefundQuote {
                            contract,
                            refund_amount: None,
                        })
                    }
                    // Network trouble on the check: retrying the whole cancel is safe.
                    Err(e @ (ProtegerError::Network(_) | ProtegerError::Timeout(_))) => Err(e),
                    _ => Err(refusal),
                }
            }
            other => other,
        }
    }

    /// `GET /v1/contracts/{id}`. Persistence is asynchronous at the vendor: right after
    /// creation this can be a 404 for a contract that does exist.
    pub async fn get_contract(&self, contract_id: &str) -> Result<Contract, ProtegerError> {
        check_id(contract_id)?;
        let request = self.request(Method::GET, &["v1", "contracts", contract_id], None);
        http::observe(NAME, OP_GET, self.send(request)).await
    }

    /// A request to `base_url` + the path segments (each percent-encoded) + `query`.
    fn request(&self, method: Method, segments: &[&str], query: Option<&str>) -> RequestBuilder {
        let mut url = format!("{}/", self.base_url);
        let path: Vec<String> = segments.iter().map(|s| encode_segment(s)).collect();
        url.push_str(&path.join("/"));
        if let Some(query) = query {
            url.push('?');
            url.push_str(query);
        }
        let builder = self.http.request(method, url);
        match &self.token {
            Some((value, _)) => builder.header(AUTH_HEADER, value.clone()),
            None => builder,
        }
    }

    /// Sends, then reads a 2xx as `T` or anything else as [`ProtegerError::Status`].
    async fn send<T: DeserializeOwned>(&self, request: RequestBuilder) -> Result<T, ProtegerError> {
        let response = http::traced(request)
            .send()
            .await
            .map_err(http::transport_error)?;
        let status = response.status();
        if status.is_success() {
            let (body, cut) = http::read_body(response, MAX_SUCCESS_BODY).await?;
            if cut {
                return Err(self.decode_error(status, "the answer is too large", &body));
            }
            serde_json::from_slice(&body)
                .map_err(|e| self.decode_error(status, &e.to_string(), &body))
        } else {
            let retry_after = response
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| parse_retry_after(v, chrono::Utc::now()));
            // A body that fails to arrive must not hide the status: keep what we got.
            // Read a token's length more than we keep, so that a token straddling the
            // cut is still whole when scrubbed, then cut.
            let slack = self.token.as_ref().map_or(0, |(_, token)| token.len());
            let body = match http::read_limited(response, MAX_ERROR_BODY + slack).await {
                Ok((body, _)) => body,
                Err(_) => Vec::new(),
            };
            Err(ProtegerError::Status {
                status: status.as_u16(),
                retry_after,
                body: self.scrub(&body),
            })
        }
    }

    fn decode_error(&self, status: StatusCode, message: &str, body: &[u8]) -> ProtegerError {
        ProtegerError::Decode {
            status: status.as_u16(),
            message: message.to_string(),
            body: self.scrub(body),
        }
    }

    /// A body fit to keep in an error: the token removed, at most [`MAX_ERROR_BODY`] bytes.
    fn scrub(&self, body: &[u8]) -> String {
        let mut text = String::from_utf8_lossy(body).into_owned();
        if let Some((_, token)) = &self.token {
            text = text.replace(token.as_str(), "<redacted>");
        }
        truncate(text, MAX_ERROR_BODY)
    }
}

fn check_id(id: &str) -> Result<(), ProtegerError> {
    if id.is_empty() || id.chars().any(char::is_control) {
        return Err(ProtegerError::InvalidRequest(format!(
            "`{}` is not a contract id",
            id.escape_debug()
        )));
    }
    Ok(())
}

/// Percent-encodes one path segment: anything but RFC 3986 "unreserved" characters, so an
/// id can never add a path segment (`../`) or a query.
fn encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    // `.` and `..` alone are still path navigation.
    match out.as_str() {
        "." => "%2E".into(),
        ".." => "%2E%2E".into(),
        _ => out,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> ProtegerSettings {
        ProtegerSettings {
            base_url: "http://127.0.0.1:9/proteger/".into(),
            connect_timeout_ms: 100,
            timeout_ms: 100,
            ..ProtegerSettings::default()
        }
    }

    #[test]
    fn debug_hides_the_token() {
        let client =
            ProtegerClient::new(&settings(), Some("sk_live_secret".into())).expect("client");
        let shown = format!("{client:?}");
        assert!(!shown.contains("sk_live_secret"), "{shown}");
        assert!(shown.contains("<redacted>"));
    }

    #[test]
    fn a_bad_token_is_refused_without_quoting_it() {
        let err = ProtegerClient::new(&settings(), Some("bad\ntoken".into())).expect_err("refused");
        assert!(!err.to_string().contains("bad"), "{err}");
    }

    #[test]
    fn bodies_are_scrubbed_and_truncated() {
        let client =
            ProtegerClient::new(&settings(), Some("sk_live_secret".into())).expect("client");
        let scrubbed = client.scrub(b"{\"echo\":\"sk_live_secret\"}");
        assert_eq!(scrubbed, "{\"echo\":\"<redacted>\"}");
        let long = "あ".repeat(3000);
        let cut = client.scrub(long.as_bytes());
        assert!(cut.len() <= MAX_ERROR_BODY, "{}", cut.len());
        assert!(cut.ends_with("…[truncated]"));
    }

    #[test]
    fn path_segments_are_encoded() {
        assert_eq!(encode_segment("c10a0882-2b11"), "c10a0882-2b11");
        assert_eq!(encode_segment("a/b?c"), "a%2Fb%3Fc");
        assert_eq!(encode_segment(".."), "%2E%2E");
        assert_eq!(encode_segment("契"), "%E5%A5%91");
    }

    #[tokio::test]
    async fn a_bulk_outside_one_to_ten_is_not_sent() {
        let client = ProtegerClient::new(&settings(), None).expect("client");
        let err = client
            .create_contracts_bulk(&IdempotencyKey::for_batch(&crate::queue::JobId::new()), &[])
            .await
            .expect_err("refused");
        assert!(matches!(err, ProtegerError::InvalidRequest(_)), "{err:?}");
    }
}
