//! What an endpoint is, what may be written into one, and how it is stored.
//!
//! [`Endpoint`] is the whole record, secrets included: deliveries need them to sign. Its
//! secrets are a private field, readable only as [`Endpoint::signing_secrets`], and its
//! `Debug` redacts them. What the API shows is a [`View`]: everything but the secrets.
//!
//! [`NewEndpoint`] and [`EndpointPatch`] are what callers write; their `validate` gathers
//! every wrong field at once, named as the API body names it (`headers.host`,
//! `events[2]`). `validate_for` adds whether this deployment's SSRF policy lets webhooks
//! reach the URL: the API and the config file, which take URLs from outside, check that
//! before writing, so that a producer hears of a refused URL at once. The store checks the
//! form again, not the policy (the demo and the tests write loopback receivers directly);
//! every delivery is judged by the policy again when it connects.

use std::collections::BTreeMap;
use std::fmt;

use axum::http::{HeaderName, HeaderValue};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::filter;

mod record;

use super::masked::{MASK, Masked, MaskedOption, masked};
use crate::queue::AppName;
use crate::validation::FieldError;
use crate::webhooks::signing::Secret;
use crate::webhooks::ssrf::SsrfPolicy;
pub(super) use record::{definition_fields, field, flag, ms};

/// The longest URL accepted.
pub const MAX_URL_LEN: usize = 2048;
/// The most extra headers an endpoint may have.
pub const MAX_HEADERS: usize = 20;
/// The longest extra header value.
pub const MAX_HEADER_VALUE_LEN: usize = 4096;
/// The most event-type patterns an endpoint may list.
pub const MAX_EVENT_PATTERNS: usize = 100;
/// The longest id a caller (the config file) may choose.
pub const MAX_ID_LEN: usize = 64;

/// Headers the sender sets itself (besides every `webhook-*`): an endpoint may not add them.
const RESERVED_HEADERS: [&str; 5] = [
    "content-type",
    "content-length",
    "host",
    "transfer-encoding",
    "connection",
];

/// Where an endpoint was declared. Config-file endpoints are rewritten from the file at
/// every start, so the API may only re-enable or disable them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Config,
    Api,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Config => "config",
            Self::Api => "api",
        }
    }
}

/// A webhook endpoint, as stored. Its `Debug` shows neither secrets nor header values.
#[derive(Clone)]
pub struct Endpoint {
    pub id: String,
    /// The upstream app it belongs to: only that app's events reach it, and only that app
    /// (or the operator) sees and changes it. A record written before apps existed belongs
    /// to `default`.
    pub app: AppName,
    pub url: String,
    /// Event-type patterns (`*`, `proteger.*`, `proteger.contract.created`); see `filter.rs`.
    pub events: Vec<String>,
    pub enabled: bool,
    /// Why it was disabled, when the sender disabled it (410, failing too long).
    pub disabled_reason: Option<String>,
    /// Extra headers sent with every delivery (names lowercase).
    pub headers: BTreeMap<String, String>,
    /// Deliveries for the same subject go out one at a time, in event order.
    pub ordered: bool,
    pub source: Source,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Since when every delivery failed (cleared by a success and by re-enabling).
    pub failing_since: Option<DateTime<Utc>>,
    pub last_success_at: Option<DateTime<Utc>>,
    secrets: SigningKeys,
}

/// The current secret and the rotated-out one that still signs until it expires (records
/// written before rotations were bounded may hold several; see `signing_secrets`).
#[derive(Clone)]
struct SigningKeys {
    current: Secret,
    previous: Vec<(Secret, DateTime<Utc>)>,
}

impl fmt::Debug for SigningKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKeys")
            .field("current", &"[redacted]")
            .field(
                "previous",
                &self.previous.iter().map(|(_, at)| at).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint")
            .field("id", &self.id)
            .field("app", &self.app)
            .field("url", &self.url)
            .field("events", &self.events)
            .field("enabled", &self.enabled)
            .field("disabled_reason", &self.disabled_reason)
            .field("headers", &Masked(&self.headers))
            .field("ordered", &self.ordered)
            .field("source", &self.source)
            .field("created_at", &self.created_at)
            .field("updated_at", &self.updated_at)
            .field("failing_since", &self.failing_since)
            .field("last_success_at", &self.last_success_at)
            .field("secrets", &self.secrets)
            .finish()
    }
}

impl Endpoint {
    /// Whether the endpoint wants events of this type (enabled or not).
    pub fn accepts(&self, event_type: &str) -> bool {
        filter::any_matches(&self.events, event_type)
    }

    /// The secrets that sign a delivery made at `now`: the current one first, then the
    /// rotated-out one whose grace has not passed, if any. At most two: `rotate.lua` keeps
    /// one previous secret, and a record written before that rule (with several) signs
    /// with the one that expires last.
    pub fn signing_secrets(&self, now: DateTime<Utc>) -> Vec<Secret> {
        let previous = self
            .secrets
            .previous
            .iter()
            .filter(|(_, expires_at)| *expires_at > now)
            .max_by_key(|(_, expires_at)| *expires_at)
            .map(|(secret, _)| secret.clone());
        std::iter::once(self.secrets.current.clone())
            .chain(previous)
            .collect()
    }

    /// What the API shows: everything but the secrets, and header names without their
    /// values (`masked.rs`).
    pub fn view(&self) -> View {
        View {
            id: self.id.clone(),
            app: self.app.clone(),
            url: self.url.clone(),
            events: self.events.clone(),
            enabled: self.enabled,
            disabled_reason: self.disabled_reason.clone(),
            headers: masked(&self.headers),
            ordered: self.ordered,
            source: self.source,
            created_at: self.created_at,
            updated_at: self.updated_at,
            failing_since: self.failing_since,
            last_success_at: self.last_success_at,
        }
    }

    pub(super) fn current_secret(&self) -> &Secret {
        &self.secrets.current
    }
}

/// An endpoint as the API shows it: no secret, no header value, ever.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(as = WebhookEndpoint)]
pub struct View {
    pub id: String,
    /// The upstream app it belongs to.
    #[schema(value_type = String, example = "shop-a")]
    pub app: AppName,
    pub url: String,
    pub events: Vec<String>,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    /// The names of the headers sent with every delivery; each value shows as `********`:
    /// values are write-only, like the secret.
    pub headers: BTreeMap<String, String>,
    pub ordered: bool,
    pub source: Source,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub failing_since: Option<DateTime<Utc>>,
    pub last_success_at: Option<DateTime<Utc>>,
}

impl From<&Endpoint> for View {
    fn from(endpoint: &Endpoint) -> Self {
        endpoint.view()
    }
}

/// An endpoint to create. Its `Debug` shows header names only.
#[derive(Clone)]
pub struct NewEndpoint {
    /// `None`: `ep_<uuid v7>`. Given ids are `[A-Za-z0-9_-]`, at most `MAX_ID_LEN`.
    pub id: Option<String>,
    /// The app it belongs to. Default: `default`.
    pub app: AppName,
    pub url: String,
    /// Default: `["*"]`.
    pub events: Vec<String>,
    pub headers: BTreeMap<String, String>,
    pub ordered: bool,
    /// Default: `true`.
    pub enabled: bool,
    /// `None`: a new random one.
    pub secret: Option<Secret>,
    /// Default: [`Source::Api`].
    pub source: Source,
}

impl fmt::Debug for NewEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewEndpoint")
            .field("id", &self.id)
            .field("app", &self.app)
            .field("url", &self.url)
            .field("events", &self.events)
            .field("headers", &Masked(&self.headers))
            .field("ordered", &self.ordered)
            .field("enabled", &self.enabled)
            .field("secret", &self.secret)
            .field("source", &self.source)
            .finish()
    }
}

impl Default for NewEndpoint {
    fn default() -> Self {
        Self {
            id: None,
            app: AppName::default_app(),
            url: String::new(),
            events: vec![filter::ALL.into()],
            headers: BTreeMap::new(),
            ordered: false,
            enabled: true,
            secret: None,
            source: Source::Api,
        }
    }
}

impl NewEndpoint {
    /// Every wrong field (the store checks again before writing); the headers come back
    /// with lowercase names.
    pub fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        self.check(None)
    }

    /// [`NewEndpoint::validate`], and a URL `policy` refuses (a blocked IP literal,
    /// `localhost`) is a wrong `url` too: the check of whoever takes the URL from outside.
    pub fn validate_for(&mut self, policy: &SsrfPolicy) -> Result<(), Vec<FieldError>> {
        self.check(Some(policy))
    }

    fn check(&mut self, policy: Option<&SsrfPolicy>) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        if let Some(id) = &self.id {
            check_id(id, &mut errors);
        }
        if let Some(normalized) = check_url(&self.url, policy, &mut errors) {
            self.url = normalized;
        }
        check_events(&self.events, &mut errors);
        self.headers = check_headers(&self.headers, &mut errors);
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

/// A change to an endpoint: `None` leaves a field as it is. Enabling (`enabled: Some(true)`)
/// also clears `disabled_reason` and `failing_since`: the endpoint starts afresh. Its
/// `Debug` shows header names only.
#[derive(Clone, Default)]
pub struct EndpointPatch {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    pub enabled: Option<bool>,
    pub headers: Option<BTreeMap<String, String>>,
    pub ordered: Option<bool>,
}

impl fmt::Debug for EndpointPatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EndpointPatch")
            .field("url", &self.url)
            .field("events", &self.events)
            .field("enabled", &self.enabled)
            .field("headers", &MaskedOption(&self.headers))
            .field("ordered", &self.ordered)
            .finish()
    }
}

impl EndpointPatch {
    /// Whether it changes more than `enabled` (which is all a config-file endpoint allows).
    pub(super) fn touches_definition(&self) -> bool {
        self.url.is_some()
            || self.events.is_some()
            || self.headers.is_some()
            || self.ordered.is_some()
    }

    pub(super) fn is_empty(&self) -> bool {
        !self.touches_definition() && self.enabled.is_none()
    }

    /// Every wrong field (the store checks again before writing); the headers come back
    /// with lowercase names.
    pub fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        self.check(None)
    }

    /// [`EndpointPatch::validate`], and a new URL `policy` refuses is a wrong `url` too
    /// (see [`NewEndpoint::validate_for`]).
    pub fn validate_for(&mut self, policy: &SsrfPolicy) -> Result<(), Vec<FieldError>> {
        self.check(Some(policy))
    }

    fn check(&mut self, policy: Option<&SsrfPolicy>) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        if let Some(url) = &self.url
            && let Some(normalized) = check_url(url, policy, &mut errors)
        {
            self.url = Some(normalized);
        }
        if let Some(events) = &self.events {
            check_events(events, &mut errors);
        }
        if let Some(headers) = &self.headers {
            self.headers = Some(check_headers(headers, &mut errors));
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

fn check_id(id: &str, errors: &mut Vec<FieldError>) {
    let allowed = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    if id.is_empty() || id.len() > MAX_ID_LEN || !id.chars().all(allowed) {
        errors.push(FieldError::new(
            "id",
            format!("must be 1 to {MAX_ID_LEN} letters, digits, `_` or `-`"),
        ));
    }
}

/// The URL's form and, given a policy, whether webhooks may reach it: one error at most.
///
/// A good URL comes back *as parsed*: scheme and host lowercase, an IP literal in its
/// usual form (`http://2130706433/` is `http://127.0.0.1/`, `http://0x7f.1/` too), the
/// default port dropped, an empty path as `/`. That is what is stored and shown, so what
/// an endpoint reads back is the address deliveries go to, not a disguise of it.
fn check_url(
    url: &str,
    policy: Option<&SsrfPolicy>,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    let mut fail = |reason: &str| {
        errors.push(FieldError::new("url", reason));
        None
    };
    if url.len() > MAX_URL_LEN {
        return fail(&format!("must be at most {MAX_URL_LEN} characters"));
    }
    let parsed = match reqwest::Url::parse(url) {
        Ok(parsed) => parsed,
        Err(error) => return fail(&format!("is not a URL ({error})")),
    };
    if !matches!(parsed.scheme(), "http" | "https") {
        return fail("must be an http or https URL");
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return fail("must name a host");
    }
    // Credentials in a URL end up in views and logs; a header carries them instead.
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return fail("must not carry credentials (send them in a header, such as `authorization`)");
    }
    let normalized = parsed.as_str();
    if normalized.len() > MAX_URL_LEN {
        return fail(&format!("must be at most {MAX_URL_LEN} characters"));
    }
    // The refusal names the range and the setting that would admit it.
    if let Some(Err(refusal)) = policy.map(|policy| policy.check_endpoint_url(normalized)) {
        return fail(&refusal.to_string());
    }
    Some(normalized.to_string())
}

fn check_events(events: &[String], errors: &mut Vec<FieldError>) {
    if events.is_empty() {
        errors.push(FieldError::new(
            "events",
            "must list at least one event type pattern (`*` for every event)",
        ));
    }
    if events.len() > MAX_EVENT_PATTERNS {
        errors.push(FieldError::new(
            "events",
            format!("must list at most {MAX_EVENT_PATTERNS} patterns"),
        ));
    }
    for (i, pattern) in events.iter().enumerate() {
        if let Err(reason) = filter::check_pattern(pattern) {
            errors.push(FieldError::new(format!("events[{i}]"), reason));
        }
    }
}

/// Checks the extra headers and hands them back with lowercase names.
fn check_headers(
    headers: &BTreeMap<String, String>,
    errors: &mut Vec<FieldError>,
) -> BTreeMap<String, String> {
    if headers.len() > MAX_HEADERS {
        errors.push(FieldError::new(
            "headers",
            format!("must hold at most {MAX_HEADERS} headers"),
        ));
    }
    let mut normalized = BTreeMap::new();
    for (name, value) in headers {
        let field = format!("headers.{name}");
        let Ok(parsed) = HeaderName::from_bytes(name.as_bytes()) else {
            errors.push(FieldError::new(field, "is not a valid HTTP header name"));
            continue;
        };
        let lower = parsed.as_str();
        if lower.starts_with("webhook-") || RESERVED_HEADERS.contains(&lower) {
            errors.push(FieldError::new(
                field,
                "is set by the sender itself (every `webhook-*`, content-type, content-length, host, transfer-encoding, connection)",
            ));
            continue;
        }
        if value.len() > MAX_HEADER_VALUE_LEN {
            errors.push(FieldError::new(
                field,
                format!("must be at most {MAX_HEADER_VALUE_LEN} characters"),
            ));
            continue;
        }
        if value == MASK {
            errors.push(FieldError::new(
                field,
                format!(
                    "is `{MASK}`, the mask answers show in place of a value: send the real value, or leave `headers` out to keep the current ones"
                ),
            ));
            continue;
        }
        if HeaderValue::from_str(value).is_err() {
            errors.push(FieldError::new(
                field,
                "is not a valid HTTP header value (visible ASCII, spaces and tabs only)",
            ));
            continue;
        }
        if normalized
            .insert(lower.to_string(), value.clone())
            .is_some()
        {
            errors.push(FieldError::new(
                field,
                "is given twice (header names are case-insensitive)",
            ));
        }
    }
    normalized
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use chrono::TimeZone;

    use super::*;

    fn endpoint(previous: &str) -> Endpoint {
        let current = Secret::generate();
        let hash: HashMap<String, String> = [
            ("url", "https://example.com/hook"),
            ("events", r#"["acme.*"]"#),
            ("headers", r#"{"x-team":"a"}"#),
            ("ordered", "0"),
            ("source", "api"),
            ("created_at", "1700000000000"),
            ("updated_at", "1700000000000"),
            ("enabled", "1"),
            ("secret", current.expose().as_str()),
            ("previous_secrets", previous),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        Endpoint::from_hash("ep_1", &hash).expect("record")
    }

    #[test]
    fn debug_and_view_never_show_a_secret() {
        let old = Secret::generate();
        let e = endpoint(&format!("1800000000000:{}", old.expose()));
        let shown = format!("{e:?} {}", serde_json::to_string(&e.view()).expect("json"));
        assert!(!shown.contains("whsec_"), "{shown}");
        assert!(!shown.contains(&old.expose()[6..]), "{shown}");
    }

    #[test]
    fn previous_secrets_sign_until_they_expire() {
        let old = Secret::generate();
        let e = endpoint(&format!("1700000001000:{}", old.expose()));
        let before = Utc.timestamp_millis_opt(1_700_000_000_999).unwrap();
        let at = Utc.timestamp_millis_opt(1_700_000_001_000).unwrap();
        assert_eq!(e.signing_secrets(before).len(), 2);
        assert_eq!(e.signing_secrets(before)[1], old);
        assert_eq!(e.signing_secrets(at), vec![e.current_secret().clone()]);
    }

    #[test]
    fn an_old_record_with_many_previous_secrets_signs_with_two() {
        let older = Secret::generate();
        let newer = Secret::generate();
        let e = endpoint(&format!(
            "1700000005000:{} 1700000009000:{} 1700000001000:{}",
            older.expose(),
            newer.expose(),
            Secret::generate().expose()
        ));
        let now = Utc.timestamp_millis_opt(1_700_000_000_000).unwrap();
        assert_eq!(
            e.signing_secrets(now),
            vec![e.current_secret().clone(), newer]
        );
    }

    #[test]
    fn every_wrong_field_is_named() {
        let mut new = NewEndpoint {
            id: Some("bad id".into()),
            url: "ftp://example.com".into(),
            events: vec!["*".into(), "Acme".into()],
            headers: [
                ("Webhook-Id", "x"),
                ("Host", "x"),
                ("bad name", "x"),
                ("x-ok", "line\nbreak"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
            ..NewEndpoint::default()
        };
        let fields: Vec<String> = new
            .validate()
            .expect_err("invalid")
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(
            fields,
            [
                "id",
                "url",
                "events[1]",
                "headers.Host",
                "headers.Webhook-Id",
                "headers.bad name",
                "headers.x-ok"
            ]
        );
    }

    #[test]
    fn urls_come_back_as_parsed() {
        let normalized = |url: &str| check_url(url, None, &mut Vec::new());
        assert_eq!(
            normalized("http://2130706433/").as_deref(),
            Some("http://127.0.0.1/")
        );
        assert_eq!(
            normalized("HTTPS://Receiver.EXAMPLE:443/Hook?a=1").as_deref(),
            Some("https://receiver.example/Hook?a=1")
        );
        assert_eq!(
            normalized("http://0x7f.1:8080").as_deref(),
            Some("http://127.0.0.1:8080/")
        );
    }

    #[test]
    fn urls() {
        let errors = |url: &str| {
            let mut errors = Vec::new();
            check_url(url, None, &mut errors);
            errors
        };
        assert!(errors("https://example.com/hook?a=1").is_empty());
        assert!(errors("http://127.0.0.1:9000/").is_empty());
        assert!(!errors("example.com/hook").is_empty());
        assert!(!errors("https://user:pw@example.com/").is_empty());
        assert!(!errors("mailto:a@example.com").is_empty());
        assert!(!errors(&format!("https://example.com/{}", "a".repeat(2048))).is_empty());
    }

    #[test]
    fn validate_for_refuses_what_the_policy_refuses_as_one_url_error() {
        let strict = SsrfPolicy::default();
        let mut metadata = NewEndpoint {
            url: "http://169.254.169.254/latest/meta-data".into(),
            ..NewEndpoint::default()
        };
        assert_eq!(metadata.validate(), Ok(()), "the form alone is fine");
        let errors = metadata.validate_for(&strict).expect_err("refused");
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].field, "url");
        assert!(errors[0].reason.contains("cloud metadata"), "{errors:?}");
        assert!(
            errors[0].reason.contains("UNDERWRITE_WEBHOOKS_ALLOW_CIDRS"),
            "{errors:?}"
        );
        let admitted = SsrfPolicy::new(&["169.254.169.254/32"], false).expect("policy");
        assert_eq!(metadata.validate_for(&admitted), Ok(()));

        // A URL wrong in form is one error, not one more for the policy.
        let mut both = NewEndpoint {
            url: "http://user:pw@127.0.0.1/".into(),
            ..NewEndpoint::default()
        };
        let errors = both.validate_for(&strict).expect_err("refused");
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].reason.contains("credentials"), "{errors:?}");

        let mut patch = EndpointPatch {
            url: Some("http://localhost:6379/".into()),
            ..EndpointPatch::default()
        };
        assert_eq!(patch.validate(), Ok(()));
        let errors = patch.validate_for(&strict).expect_err("refused");
        assert_eq!(errors[0].field, "url");
        assert!(errors[0].reason.contains("`localhost`"), "{errors:?}");
        let mut untouched = EndpointPatch {
            enabled: Some(true),
            ..EndpointPatch::default()
        };
        assert_eq!(untouched.validate_for(&strict), Ok(()));
    }

    #[test]
    fn header_names_are_lowercased_and_duplicates_refused() {
        let mut errors = Vec::new();
        let headers: BTreeMap<String, String> = [("X-Team", "a"), ("x-team", "b")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let normalized = check_headers(&headers, &mut errors);
        assert_eq!(normalized.keys().collect::<Vec<_>>(), ["x-team"]);
        assert_eq!(errors.len(), 1, "{errors:?}");
        let many: BTreeMap<String, String> = (0..=MAX_HEADERS)
            .map(|i| (format!("x-h{i}"), "v".to_string()))
            .collect();
        let mut errors = Vec::new();
        check_headers(&many, &mut errors);
        assert_eq!(errors[0].field, "headers");
    }
}
