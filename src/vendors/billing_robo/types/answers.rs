//! What Billing-Robo answers, read tolerantly.
//!
//! A `bulk_register` that registered applications but whose answer we fail to read is the
//! worst failure there is (the effect happened, the job cannot record it), so nothing here
//! trips over a field the vendor adds, a number sent as a string (its server is PHP), or a
//! null where the page promised a value. Unknown fields are kept in `extra`.
//!
//! The envelope's `user_id` and `access_key` (the vendor echoes both) are never part of a
//! type here: the client strips them before decoding (`client.rs`).

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use super::ApiVersion;

/// The whole-request error: `{"error":{"code":11,"message":"Invalid 'user_id'."}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VendorErrorBody {
    pub error: VendorError,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VendorError {
    #[serde(deserialize_with = "lenient::u32")]
    pub code: u32,
    #[serde(default, deserialize_with = "lenient::string")]
    pub message: String,
}

/// One item of a `bulk_register` answer. On success `error_code` is null and `id`,
/// `status` and `requested_date` are set; on failure the vendor's page does not say what
/// else is there, so everything is optional.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnsweredItem {
    #[serde(default, deserialize_with = "lenient::opt_u32")]
    pub error_code: Option<u32>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub error_message: Option<String>,
    /// 申請ID.
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub id: Option<u64>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub billing_code: Option<String>,
    #[serde(default)]
    pub status: Option<ApplicationStatus>,
    /// 申請日時, `yyyy/mm/dd hh:mm:ss` Japan time, as sent.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub requested_date: Option<String>,
    /// The echoed request fields and anything else.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A `bulk_register` answer: its items, and the version whose shape it came in.
#[derive(Debug, Clone, PartialEq)]
pub struct RegisterAnswer {
    pub version: ApiVersion,
    pub items: Vec<AnsweredItem>,
}

impl RegisterAnswer {
    /// Reads the answer's body (credentials already stripped). The array key says the
    /// version: `marunage_credit` (seed) or `request_marunage_credit` (current).
    pub fn from_value(body: &Value) -> Result<Self, String> {
        let object = body.as_object().ok_or("the answer is not a JSON object")?;
        let found: Vec<(ApiVersion, &Value)> = [ApiVersion::Seed, ApiVersion::Current]
            .into_iter()
            .filter_map(|version| Some((version, object.get(version.register_key())?)))
            .collect();
        let (version, items) = match found.as_slice() {
            [one] => *one,
            [] => {
                return Err(
                    "the answer has neither `marunage_credit` nor `request_marunage_credit`".into(),
                );
            }
            _ => {
                return Err(
                    "the answer has both `marunage_credit` and `request_marunage_credit`".into(),
                );
            }
        };
        let items = Vec::<AnsweredItem>::deserialize(items)
            .map_err(|e| format!("`{}`: {e}", version.register_key()))?;
        Ok(Self { version, items })
    }
}

/// 与信申請状態: the state of one application.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "Value", into = "i64")]
pub enum ApplicationStatus {
    /// 0: 却下.
    Rejected,
    /// 1: 承認.
    Approved,
    /// 2: 申請中 (a new application).
    Pending,
    /// A value the pages do not list, kept.
    Other(i64),
}

/// 与信状態: the state of a billing customer's credit (`marunage_credit/search`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "Value", into = "i64")]
pub enum CreditStatus {
    /// 0: 停止.
    Stopped,
    /// 1: 有効.
    Active,
    /// 2: 申請中.
    Pending,
    /// 3: 未申請 (current pages only).
    NotApplied,
    /// 4: 有効（停止申請中）(current pages only).
    ActiveStopRequested,
    Other(i64),
}

impl From<i64> for ApplicationStatus {
    fn from(value: i64) -> Self {
        match value {
            0 => Self::Rejected,
            1 => Self::Approved,
            2 => Self::Pending,
            other => Self::Other(other),
        }
    }
}

impl From<ApplicationStatus> for i64 {
    fn from(value: ApplicationStatus) -> Self {
        match value {
            ApplicationStatus::Rejected => 0,
            ApplicationStatus::Approved => 1,
            ApplicationStatus::Pending => 2,
            ApplicationStatus::Other(other) => other,
        }
    }
}

impl TryFrom<Value> for ApplicationStatus {
    type Error = String;

    fn try_from(value: Value) -> Result<Self, Self::Error> {
        lenient::integer(&value).map(Self::from)
    }
}

impl From<i64> for CreditStatus {
    fn from(value: i64) -> Self {
        match value {
            0 => Self::Stopped,
            1 => Self::Active,
            2 => Self::Pending,
            3 => Self::NotApplied,
            4 => Self::ActiveStopRequested,
            other => Self::Other(other),
        }
    }
}

impl From<CreditStatus> for i64 {
    fn from(value: CreditStatus) -> Self {
        match value {
            CreditStatus::Stopped => 0,
            CreditStatus::Active => 1,
            CreditStatus::Pending => 2,
            CreditStatus::NotApplied => 3,
            CreditStatus::ActiveStopRequested => 4,
            CreditStatus::Other(other) => other,
        }
    }
}

impl TryFrom<Value> for CreditStatus {
    type Error = String;

    fn try_from(value: Value) -> Result<Self, Self::Error> {
        lenient::integer(&value).map(Self::from)
    }
}

/// Deserializers that take a number as a JSON number or a string of digits, and read
/// null (and `""`) as none.
pub(super) mod lenient {
    use super::*;

    pub fn integer(value: &Value) -> Result<i64, String> {
        match value {
            Value::Number(n) => n.as_i64().ok_or_else(|| format!("{n} is not an integer")),
            Value::String(s) => s
                .trim()
                .parse()
                .map_err(|_| format!("`{s}` is not an integer")),
            other => Err(format!("{other} is not an integer")),
        }
    }

    fn unsigned<E: serde::de::Error>(value: &Value) -> Result<Option<u64>, E> {
        match value {
            Value::Null => Ok(None),
            Value::String(s) if s.trim().is_empty() => Ok(None),
            other => {
                let n = integer(other).map_err(E::custom)?;
                u64::try_from(n).map(Some).map_err(E::custom)
            }
        }
    }

    pub fn opt_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        unsigned(&Value::deserialize(d)?)
    }

    pub fn opt_u32<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
        match unsigned::<D::Error>(&Value::deserialize(d)?)? {
            None => Ok(None),
            Some(n) => u32::try_from(n).map(Some).map_err(D::Error::custom),
        }
    }

    pub fn u32<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
        opt_u32(d)?.ok_or_else(|| D::Error::custom("a number is required"))
    }

    pub fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        match Value::deserialize(d)? {
            Value::Null => Ok(None),
            Value::String(s) => Ok(Some(s)),
            Value::Number(n) => Ok(Some(n.to_string())),
            other => Err(D::Error::custom(format!("{other} is not a string"))),
        }
    }

    pub fn string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        Ok(opt_string(d)?.unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn items_are_read_tolerantly() {
        let item: AnsweredItem = serde_json::from_value(json!({
            "error_code": "5411", "error_message": null, "id": "7", "billing_code": 42,
            "status": "2", "requested_date": null, "something_new": [1]
        }))
        .expect("tolerant");
        assert_eq!(item.error_code, Some(5411));
        assert_eq!(item.id, Some(7));
        assert_eq!(item.billing_code.as_deref(), Some("42"));
        assert_eq!(item.status, Some(ApplicationStatus::Pending));
        assert_eq!(item.extra["something_new"], json!([1]));
        let bare: AnsweredItem = serde_json::from_value(json!({})).expect("all optional");
        assert_eq!(bare.error_code, None);
        assert!(serde_json::from_value::<AnsweredItem>(json!({"id": -1})).is_err());
    }

    #[test]
    fn statuses_keep_what_they_do_not_know() {
        let status: CreditStatus = serde_json::from_value(json!(4)).expect("status");
        assert_eq!(status, CreditStatus::ActiveStopRequested);
        let odd: ApplicationStatus = serde_json::from_value(json!(9)).expect("status");
        assert_eq!(odd, ApplicationStatus::Other(9));
        assert_eq!(serde_json::to_value(odd).expect("json"), json!(9));
    }

    #[test]
    fn the_answers_key_names_its_version() {
        let seed = RegisterAnswer::from_value(&json!({"marunage_credit": []})).expect("seed");
        assert_eq!(seed.version, ApiVersion::Seed);
        let current =
            RegisterAnswer::from_value(&json!({"request_marunage_credit": [{}]})).expect("current");
        assert_eq!(current.version, ApiVersion::Current);
        assert_eq!(current.items.len(), 1);
        assert!(RegisterAnswer::from_value(&json!({"items": []})).is_err());
        assert!(
            RegisterAnswer::from_value(
                &json!({"marunage_credit": [], "request_marunage_credit": []})
            )
            .is_err()
        );
        assert!(RegisterAnswer::from_value(&json!({"marunage_credit": {}})).is_err());
    }

    #[test]
    fn the_whole_request_error() {
        let body: VendorErrorBody =
            serde_json::from_str(r#"{"error":{"code":11,"message":"Invalid 'user_id'."}}"#)
                .expect("index.md's example");
        assert_eq!(body.error.code, 11);
        assert_eq!(body.error.message, "Invalid 'user_id'.");
    }
}
