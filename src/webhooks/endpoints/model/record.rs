//! How an endpoint is stored: one Redis hash per endpoint, every value a string. The
//! field names, the encodings (flags as `1`/`0`, times as unix ms, previous secrets as
//! `<expiry ms>:<secret>` separated by spaces), and reading a record back.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, TimeZone, Utc};

use super::{Endpoint, SigningKeys, Source};
use crate::queue::AppName;
use crate::webhooks::signing::Secret;

pub(in crate::webhooks::endpoints) mod field {
    pub const APP: &str = "app";
    pub const URL: &str = "url";
    pub const EVENTS: &str = "events";
    pub const HEADERS: &str = "headers";
    pub const ORDERED: &str = "ordered";
    pub const SOURCE: &str = "source";
    pub const CREATED_AT: &str = "created_at";
    pub const UPDATED_AT: &str = "updated_at";
    pub const ENABLED: &str = "enabled";
    pub const ENABLED_AT: &str = "enabled_at";
    pub const DISABLED_REASON: &str = "disabled_reason";
    pub const FAILING_SINCE: &str = "failing_since";
    pub const LAST_SUCCESS_AT: &str = "last_success_at";
    pub const SECRET: &str = "secret";
    pub const PREVIOUS_SECRETS: &str = "previous_secrets";
}

pub(in crate::webhooks::endpoints) fn flag(value: bool) -> &'static str {
    if value { "1" } else { "0" }
}

pub(in crate::webhooks::endpoints) fn ms(at: DateTime<Utc>) -> String {
    at.timestamp_millis().to_string()
}

/// The definition fields of an endpoint (what the API or the config file sets), as
/// field/value pairs of its hash.
pub(in crate::webhooks::endpoints) fn definition_fields(
    url: &str,
    events: &[String],
    headers: &BTreeMap<String, String>,
    ordered: bool,
) -> Vec<(&'static str, String)> {
    vec![
        (field::URL, url.to_string()),
        (
            field::EVENTS,
            serde_json::to_string(events).expect("strings encode"),
        ),
        (
            field::HEADERS,
            serde_json::to_string(headers).expect("strings encode"),
        ),
        (field::ORDERED, flag(ordered).to_string()),
    ]
}

impl Endpoint {
    /// Reads a record from its hash. The reason never quotes a secret.
    pub(in crate::webhooks::endpoints) fn from_hash(
        id: &str,
        hash: &HashMap<String, String>,
    ) -> Result<Self, String> {
        let text = |name: &str| {
            hash.get(name)
                .map(String::as_str)
                .ok_or_else(|| format!("`{name}` is missing"))
        };
        let time = |name: &str| -> Result<Option<DateTime<Utc>>, String> {
            hash.get(name)
                .filter(|v| !v.is_empty())
                .map(|v| {
                    v.parse::<i64>()
                        .ok()
                        .and_then(|ms| Utc.timestamp_millis_opt(ms).single())
                        .ok_or_else(|| format!("`{name}` is not a time in ms"))
                })
                .transpose()
        };
        let required_time = |name: &str| time(name)?.ok_or_else(|| format!("`{name}` is missing"));
        let json = |name: &str| -> Result<serde_json::Value, String> {
            serde_json::from_str(text(name)?).map_err(|e| format!("`{name}`: {e}"))
        };
        let source = match text(field::SOURCE)? {
            "config" => Source::Config,
            "api" => Source::Api,
            other => return Err(format!("unknown source `{other}`")),
        };
        let current = Secret::parse(text(field::SECRET)?).map_err(|e| format!("secret: {e}"))?;
        let previous =
            parse_previous(hash.get(field::PREVIOUS_SECRETS).map_or("", String::as_str))?;
        // No `app`: written before apps existed, the default app's (`queue/app.rs`).
        let app = match hash.get(field::APP) {
            None => AppName::default_app(),
            Some(name) => AppName::parse(name).map_err(|e| format!("app: {e}"))?,
        };
        Ok(Self {
            id: id.to_string(),
            app,
            url: text(field::URL)?.to_string(),
            events: serde_json::from_value(json(field::EVENTS)?)
                .map_err(|e| format!("events: {e}"))?,
            enabled: text(field::ENABLED)? == "1",
            disabled_reason: hash
                .get(field::DISABLED_REASON)
                .filter(|r| !r.is_empty())
                .cloned(),
            headers: serde_json::from_value(json(field::HEADERS)?)
                .map_err(|e| format!("headers: {e}"))?,
            ordered: text(field::ORDERED)? == "1",
            source,
            created_at: required_time(field::CREATED_AT)?,
            updated_at: required_time(field::UPDATED_AT)?,
            failing_since: time(field::FAILING_SINCE)?,
            last_success_at: time(field::LAST_SUCCESS_AT)?,
            secrets: SigningKeys { current, previous },
        })
    }
}

/// `previous_secrets`: `<expires ms>:<whsec_...>` separated by spaces (as `rotate.lua`
/// writes it; base64 has neither spaces nor colons).
fn parse_previous(text: &str) -> Result<Vec<(Secret, DateTime<Utc>)>, String> {
    text.split_whitespace()
        .map(|token| {
            let (expires, secret) = token
                .split_once(':')
                .ok_or("a previous secret has no expiry")?;
            let expires = expires
                .parse::<i64>()
                .ok()
                .and_then(|ms| Utc.timestamp_millis_opt(ms).single())
                .ok_or("a previous secret's expiry is not a time in ms")?;
            let secret = Secret::parse(secret).map_err(|e| format!("previous secret: {e}"))?;
            Ok((secret, expires))
        })
        .collect()
}
