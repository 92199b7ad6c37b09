//! The HTTP client for Tulip's contract calls.
//!
//! One method per call we make; each answers a [`Contract`] (or a list of them) or a
//! [`TulipError`] saying what went wrong, which `classify.rs` turns into a retry decision.
//! The client never retries: the queue does, and a creation, which Tulip cannot make
//! idempotent (it has no idempotency key), first finds out whether its earlier attempt
//! landed (`jobs/adopt.rs`).
//!
//! ## The key
//!
//! The API key travels in the `key` header and nowhere else (`authentication.mdx`: there is
//! no bearer token). It is marked sensitive, [`TulipClient`]'s `Debug` hides it, redirects
//! are not followed (a custom header would follow them to wherever they point), and it is
//! scrubbed from any body kept in an error, should Tulip ever echo it.

use std::fmt;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};
use reqwest::{Method, RequestBuilder, StatusCode, Url};
use serde_json::Value;

use super::classify::TulipError;
use super::settings::{NAME, TulipSettings};
use super::types::{Contract, ContractRequest, Termination, contract_of, contracts_of, error_of};
use crate::retry_after::parse_retry_after;
use crate::vendors::http::{self, truncate};

/// The operations of Tulip's calls, as the metrics name them.
pub const OP_CREATE: &str = "create_contract";
pub const OP_QUOTE: &str = "quote_contract";
pub const OP_GET: &str = "get_contract";
pub const OP_LIST: &str = "list_contracts";
pub const OP_TERMINATE: &str = "terminate_contract";
/// Every operation, for the metrics' series at 0.
pub const OPERATIONS: [&str; 5] = [OP_CREATE, OP_QUOTE, OP_GET, OP_LIST, OP_TERMINATE];

/// The header that carries the API key.
pub const KEY_HEADER: &str = "key";
/// Longest response body kept in an error.
pub const MAX_ERROR_BODY: usize = 4 * 1024;
/// Longest success body we read (a page of 100 contracts is well under a MiB).
const MAX_SUCCESS_BODY: usize = 8 * 1024 * 1024;

/// A client for one Tulip host. Cheap to clone (the connection pool is shared).
#[derive(Clone)]
pub struct TulipClient {
    http: reqwest::Client,
    /// `https://api.mytulip.io/v2`, without a trailing slash.
    base_url: Url,
    /// The key as a header value marked sensitive, and as text to scrub from bodies.
    key: Option<(HeaderValue, String)>,
}

impl fmt::Debug for TulipClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TulipClient")
            .field("base_url", &self.base_url.as_str())
            .field("key", &self.key.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl TulipClient {
    /// A client for `settings.base_url`. Without a key, calls go out without one and
    /// Tulip's 9001 fails them loudly; the process still starts, so that a deployment
    /// without Tulip work needs no Tulip key.
    pub fn new(settings: &TulipSettings, key: Option<String>) -> Result<Self, TulipError> {
        let base = settings.base_url.trim_end_matches('/');
        let base_url = Url::parse(base).map_err(|e| {
            TulipError::Config(format!("vendors.tulip.base_url `{base}` is not a URL: {e}"))
        })?;
        if base_url.cannot_be_a_base() {
            return Err(TulipError::Config(format!(
                "vendors.tulip.base_url `{base}` cannot take a path"
            )));
        }
        let key = http::credential_header(key, "Tulip API key", "UNDERWRITE_TULIP_API_KEY")
            .map_err(TulipError::Config)?;
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
        .map_err(TulipError::Config)?;
        Ok(Self {
            http,
            base_url,
            key,
        })
    }

    /// `POST /contracts`: creates the contract; with `preview`, `POST
    /// /contracts?preview=true` only prices it (a quote: no `cid`, nothing stored).
    pub async fn create(
        &self,
        request: &ContractRequest,
        preview: bool,
    ) -> Result<Contract, TulipError> {
        let query: &[(&str, &str)] = if preview { &[("preview", "true")] } else { &[] };
        let call = self
            .request(Method::POST, &["contracts"], query)
            .json(request);
        let operation = if preview { OP_QUOTE } else { OP_CREATE };
        let (status, body) = http::observe(NAME, operation, self.send(call)).await?;
        contract_of(&body).ok_or_else(|| decode(status, "no contract in the answer", &body))
    }

    /// `GET /contracts/{cid}`. An unknown contract is a 400 with code 1051, not a 404.
    pub async fn get(&self, cid: &str) -> Result<Contract, TulipError> {
        check_id(cid)?;
        let call = self.request(Method::GET, &["contracts", cid], &[]);
        let (status, body) = http::observe(NAME, OP_GET, self.send(call)).await?;
        contract_of(&body).ok_or_else(|| decode(status, "no contract in the answer", &body))
    }

    /// `GET /contracts?uid=&skip=&limit=` (and `test=true` for test contracts, which a
    /// plain list may leave out: the pages only say they are "filtrables").
    pub async fn list(
        &self,
        uid: &str,
        skip: u32,
        limit: u32,
        test: bool,
    ) -> Result<Vec<Contract>, TulipError> {
        let (skip, limit) = (skip.to_string(), limit.to_string());
        let mut query = vec![
            ("uid", uid),
            ("skip", skip.as_str()),
            ("limit", limit.as_str()),
        ];
        if test {
            query.push(("test", "true"));
        }
        let call = self.request(Method::GET, &["contracts"], &query);
        let (status, body) = http::observe(NAME, OP_LIST, self.send(call)).await?;
        contracts_of(&body).ok_or_else(|| decode(status, "no contract list in the answer", &body))
    }

    /// `DELETE /contracts/{cid}` with `{"reason", "end_date"?}`: Tulip cancels a contract
    /// within 4 h of its start and terminates it after; the answer's status says which.
    pub async fn terminate(
        &self,
        cid: &str,
        termination: &Termination,
    ) -> Result<Contract, TulipError> {
        check_id(cid)?;
        let call = self
            .request(Method::DELETE, &["contracts", cid], &[])
            .json(termination);
        let (status, body) = http::observe(NAME, OP_TERMINATE, self.send(call)).await?;
        contract_of(&body).ok_or_else(|| decode(status, "no contract in the answer", &body))
    }

    /// A request to the base URL plus the path segments (each percent-encoded: an id can
    /// never add a segment or a query) plus the query.
    fn request(&self, method: Method, segments: &[&str], query: &[(&str, &str)]) -> RequestBuilder {
        let mut url = self.base_url.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let builder = self.http.request(method, url);
        match &self.key {
            Some((value, _)) => builder.header(KEY_HEADER, value.clone()),
            None => builder,
        }
    }

    /// Sends; a 2xx answers its JSON body, anything else a [`TulipError::Status`].
    async fn send(&self, call: RequestBuilder) -> Result<(StatusCode, Value), TulipError> {
        let response = http::traced(call)
            .send()
            .await
            .map_err(http::transport_error)?;
        let status = response.status();
        if status.is_success() {
            let (body, cut) = http::read_body(response, MAX_SUCCESS_BODY).await?;
            if cut {
                return Err(self.decode_error(status, "the answer is too large", &body));
            }
            let json = serde_json::from_slice(&body)
                .map_err(|e| self.decode_error(status, &e.to_string(), &body))?;
            return Ok((status, json));
        }
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, chrono::Utc::now()));
        // A body that fails to arrive must not hide the status. Read a key's length more
        // than we keep, so that a key straddling the cut is still whole when scrubbed.
        let slack = self.key.as_ref().map_or(0, |(_, key)| key.len());
        let body = match http::read_limited(response, MAX_ERROR_BODY + slack).await {
            Ok((body, _)) => self.scrub(&body),
            Err(_) => String::new(),
        };
        let (code, message) = match error_of(&body) {
            Some((code, message)) => (Some(code), Some(message)),
            None => (None, None),
        };
        Err(TulipError::Status {
            status: status.as_u16(),
            code,
            message,
            retry_after,
            body,
        })
    }

    fn decode_error(&self, status: StatusCode, message: &str, body: &[u8]) -> TulipError {
        TulipError::Decode {
            status: status.as_u16(),
            message: message.to_string(),
            body: self.scrub(body),
        }
    }

    /// A body fit to keep in an error: the key removed, at most [`MAX_ERROR_BODY`] bytes.
    fn scrub(&self, body: &[u8]) -> String {
        let mut text = String::from_utf8_lossy(body).into_owned();
        if let Some((_, key)) = &self.key {
            text = text.replace(key.as_str(), "<redacted>");
        }
        truncate(text, MAX_ERROR_BODY)
    }
}

/// A 2xx whose JSON lacks what the call answers. The body holds no key (Tulip does not
/// echo it in successes), and is cut to the error size.
fn decode(status: StatusCode, message: &str, body: &Value) -> TulipError {
    TulipError::Decode {
        status: status.as_u16(),
        message: message.to_string(),
        body: truncate(body.to_string(), MAX_ERROR_BODY),
    }
}

fn check_id(id: &str) -> Result<(), TulipError> {
    if id.trim().is_empty() || id.chars().any(char::is_control) {
        return Err(TulipError::InvalidRequest(format!(
            "`{}` is not a contract id",
            id.escape_debug()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> TulipSettings {
        TulipSettings {
            base_url: "http://127.0.0.1:9/tulip/v2/".into(),
            connect_timeout_ms: 100,
            timeout_ms: 100,
            ..TulipSettings::default()
        }
    }

    #[test]
    fn debug_and_errors_never_show_the_key() {
        let client = TulipClient::new(&settings(), Some("tk_live_secret".into())).expect("client");
        let shown = format!("{client:?}");
        assert!(!shown.contains("tk_live_secret"), "{shown}");
        assert_eq!(
            client.scrub(b"{\"key\":\"tk_live_secret\"}"),
            "{\"key\":\"<redacted>\"}"
        );
        let err = TulipClient::new(&settings(), Some("bad\nkey".into())).expect_err("refused");
        assert!(!err.to_string().contains("bad"), "{err}");
    }

    #[test]
    fn ids_cannot_change_the_url() {
        let client = TulipClient::new(&settings(), None).expect("client");
        let request = client
            .request(Method::GET, &["contracts", "../a?b"], &[("uid", "x&y")])
            .build()
            .expect("request");
        assert_eq!(
            request.url().as_str(),
            "http://127.0.0.1:9/tulip/v2/contracts/..%2Fa%3Fb?uid=x%26y"
        );
    }
}
