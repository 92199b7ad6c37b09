//! What we send Tulip: a contract to create (or quote), and a cancellation.
//!
//! A [`ContractRequest`] only comes out of [`ContractRequest::parse`] (`validate/`), so one
//! that exists was checked against every rule we know of; the job payload is this type, and
//! the sandbox parses its requests with the same function.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `LCD` (short), `LMD` (medium) or `LLD` (long rental).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ContractType {
    #[serde(rename = "LCD")]
    Lcd,
    #[serde(rename = "LMD")]
    Lmd,
    #[serde(rename = "LLD")]
    Lld,
}

impl ContractType {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "LCD" => Some(Self::Lcd),
            "LMD" => Some(Self::Lmd),
            "LLD" => Some(Self::Lld),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Lcd => "LCD",
            Self::Lmd => "LMD",
            Self::Lld => "LLD",
        }
    }
}

/// One line of `products`: a product of the catalogue (`product_id`) or one defined inline
/// (`product_type`, `product_subtype`, `value_excl`, `brand`, `model`), each with its
/// `data` (`user_name`, `product_marked`, `internal_id`, and any string or number of ours).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductLine {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_subtype: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_excl: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub brand: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Map<String, Value>>,
}

impl ProductLine {
    /// `data.internal_id`, when it is a non-empty string.
    pub fn internal_id(&self) -> Option<&str> {
        self.data
            .as_ref()?
            .get("internal_id")?
            .as_str()
            .filter(|id| !id.is_empty())
    }
}

/// The body of `POST /contracts` (and of its `?preview=true` quote).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContractRequest {
    /// The renter's id at Tulip (`uid`): the key the contracts are listed by.
    pub uid: String,
    /// Absent: the contract starts when Tulip receives it.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "iso_opt")]
    pub start_date: Option<DateTime<Utc>>,
    #[serde(with = "iso")]
    pub end_date: DateTime<Utc>,
    pub contract_type: ContractType,
    pub options: Vec<String>,
    pub products: Vec<ProductLine>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub individual: Option<Map<String, Value>>,
    /// `true`: a test contract, not billed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test: Option<bool>,
    /// Renew at the end date (`contract-lifecycle.mdx`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub automatic_renewal: Option<bool>,
}

impl ContractRequest {
    pub fn has_option(&self, option: &str) -> bool {
        self.options.iter().any(|o| o == option)
    }

    /// The same request with `internal_id(i)` put into the `data` of every product line `i`
    /// that has no `internal_id` yet (the "never twice" rule, `jobs/adopt.rs`). A line
    /// without `data` gets one.
    pub fn with_internal_ids(&self, internal_id: impl Fn(usize) -> String) -> Self {
        let mut stamped = self.clone();
        for (index, line) in stamped.products.iter_mut().enumerate() {
            if line.internal_id().is_none() {
                line.data
                    .get_or_insert_with(Map::new)
                    .insert("internal_id".into(), Value::String(internal_id(index)));
            }
        }
        stamped
    }
}

/// The body of `DELETE /contracts/{cid}`: why, and optionally when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Termination {
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "iso_opt")]
    pub end_date: Option<DateTime<Utc>>,
}

/// A date as Tulip writes them: ISO 8601 in UTC with milliseconds, `2024-01-15T14:30:00.000Z`.
pub fn format_date(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// An ISO 8601 date with an offset (`Z` or `+02:00`), as UTC.
pub fn parse_date(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text.trim())
        .ok()
        .map(|at| at.with_timezone(&Utc))
}

mod iso {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(at: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format_date(*at))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let text = String::deserialize(d)?;
        super::parse_date(&text).ok_or_else(|| serde::de::Error::custom("not an ISO 8601 date"))
    }
}

mod iso_opt {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(at: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
        match at {
            Some(at) => s.serialize_str(&super::format_date(*at)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        match Option::<String>::deserialize(d)? {
            None => Ok(None),
            Some(text) => super::parse_date(&text)
                .map(Some)
                .ok_or_else(|| serde::de::Error::custom("not an ISO 8601 date")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn internal_ids_fill_only_the_lines_without_one() {
        let request: ContractRequest = serde_json::from_value(json!({
            "uid": "u1", "end_date": "2030-01-02T00:00:00.000Z", "contract_type": "LCD",
            "options": ["break", "theft"],
            "products": [
                {"product_id": "p1", "data": {"user_name": "A", "internal_id": "mine"}},
                {"product_id": "p2", "data": {"user_name": "B"}},
                {"product_type": "bike", "product_subtype": "standard", "value_excl": 900.0},
            ]
        }))
        .expect("reads");
        let stamped = request.with_internal_ids(|i| format!("job-{i}"));
        let ids: Vec<_> = stamped.products.iter().map(|p| p.internal_id()).collect();
        assert_eq!(ids, [Some("mine"), Some("job-1"), Some("job-2")]);
        let body = serde_json::to_value(&stamped).expect("writes");
        assert_eq!(body["end_date"], "2030-01-02T00:00:00.000Z");
        assert!(body.get("start_date").is_none());
    }
}
