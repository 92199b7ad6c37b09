//! The two searches: `request_marunage_credit/search` (the applications themselves, status
//! 0 rejected / 1 approved / 2 pending) and `marunage_credit/search` (each billing
//! customer's credit, with `update_date` for polling).
//!
//! ## Paging
//!
//! `limit_count` (0–200, default 20) records per page, `page_count` (0–99, default 0) the
//! page, `total_page_count` the number of pages, rounded up (the example answers 1 for 2
//! records of 100 a page). A search can reach at most 100 pages: narrow its dates when
//! there are more. Which order the records come in is **unknown** (the examples show both):
//! never rely on it, and expect a record to move between pages when the data changes
//! between two calls.
//!
//! ## Date filters
//!
//! Seed 003 makes `regist_date_*` and `update_date_*` dates (10 characters); the current
//! pages make every date filter a date-time (19 characters, time optional: `_from` then
//! means 00:00:00, `_to` 23:59:59). A [`DateBound`] can be either. For the seed, a
//! date-time is widened to its whole day (`_from` to the day's start, `_to` to its end):
//! the vendor then answers a superset, which a poller must be ready for anyway.

use chrono::{NaiveDate, NaiveDateTime};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use super::answers::{ApplicationStatus, CreditStatus, lenient};
use super::application::ClaimType;
use super::kinds::{
    format_date, format_datetime, is_half_width_alnum_symbol, parse_vendor_datetime,
};
use super::{
    APPLICATION_SEARCH_KEY, ApiVersion, CREDIT_SEARCH_KEY, MAX_LIMIT_COUNT, MAX_PAGE_COUNT,
};

/// One end of a date filter, Japan time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateBound {
    /// A whole day: from its first second, or to its last.
    Day(NaiveDate),
    /// A second.
    At(NaiveDateTime),
}

impl DateBound {
    /// As sent: a date-time where `datetimes` are accepted, else the day (widened).
    fn wire(self, datetimes: bool) -> String {
        match self {
            Self::Day(day) => format_date(day),
            Self::At(at) if datetimes => format_datetime(at),
            Self::At(at) => format_date(at.date()),
        }
    }
}

/// Filters of `marunage_credit/search`. Left out, a filter does not filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreditSearch {
    pub id: Option<u64>,
    pub billing_code: Option<String>,
    /// Only the current pages know it: refused for the seed rather than silently ignored.
    pub claim_type: Option<ClaimType>,
    pub status: Option<CreditStatus>,
    pub regist_date_from: Option<DateBound>,
    pub regist_date_to: Option<DateBound>,
    pub update_date_from: Option<DateBound>,
    pub update_date_to: Option<DateBound>,
    /// 1 to 200 records a page; none: the vendor's 20.
    pub limit_count: Option<u32>,
    /// 0 to 99; none: the first page.
    pub page_count: Option<u32>,
}

/// Filters of `request_marunage_credit/search`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplicationSearch {
    pub id: Option<u64>,
    pub billing_code: Option<String>,
    pub claim_type: Option<ClaimType>,
    pub status: Option<ApplicationStatus>,
    pub requested_date_from: Option<DateBound>,
    pub requested_date_to: Option<DateBound>,
    pub responded_date_from: Option<DateBound>,
    pub responded_date_to: Option<DateBound>,
    pub limit_count: Option<u32>,
    pub page_count: Option<u32>,
}

impl CreditSearch {
    /// Everything but the filters: one billing customer's credit.
    pub fn billing_code(code: impl Into<String>) -> Self {
        Self {
            billing_code: Some(code.into()),
            ..Self::default()
        }
    }

    /// The request body without credentials, as `version` takes it; `Err` says what the
    /// vendor would refuse.
    pub fn to_wire(&self, version: ApiVersion) -> Result<Value, String> {
        check_common(
            self.billing_code.as_deref(),
            self.limit_count,
            self.page_count,
        )?;
        if version == ApiVersion::Seed && self.claim_type.is_some() {
            return Err("the seed's marunage_credit/search has no claim_type filter".into());
        }
        let datetimes = version == ApiVersion::Current;
        let mut filters = Map::new();
        put(&mut filters, "id", self.id.map(Value::from));
        put(
            &mut filters,
            "billing_code",
            self.billing_code.clone().map(Value::from),
        );
        put(
            &mut filters,
            "claim_type",
            self.claim_type.map(|c| json!(u8::from(c))),
        );
        put(
            &mut filters,
            "status",
            self.status.map(|s| json!(i64::from(s))),
        );
        for (key, bound) in [
            ("regist_date_from", self.regist_date_from),
            ("regist_date_to", self.regist_date_to),
            ("update_date_from", self.update_date_from),
            ("update_date_to", self.update_date_to),
        ] {
            put(
                &mut filters,
                key,
                bound.map(|b| Value::from(b.wire(datetimes))),
            );
        }
        Ok(envelope(
            CREDIT_SEARCH_KEY,
            filters,
            self.limit_count,
            self.page_count,
        ))
    }
}

impl ApplicationSearch {
    pub fn billing_code(code: impl Into<String>) -> Self {
        Self {
            billing_code: Some(code.into()),
            ..Self::default()
        }
    }

    /// The request body without credentials (one shape: the call is only documented in
    /// the current pages, whose dates are date-times).
    pub fn to_wire(&self) -> Result<Value, String> {
        check_common(
            self.billing_code.as_deref(),
            self.limit_count,
            self.page_count,
        )?;
        let mut filters = Map::new();
        put(&mut filters, "id", self.id.map(Value::from));
        put(
            &mut filters,
            "billing_code",
            self.billing_code.clone().map(Value::from),
        );
        put(
            &mut filters,
            "claim_type",
            self.claim_type.map(|c| json!(u8::from(c))),
        );
        put(
            &mut filters,
            "status",
            self.status.map(|s| json!(i64::from(s))),
        );
        for (key, bound) in [
            ("requested_date_from", self.requested_date_from),
            ("requested_date_to", self.requested_date_to),
            ("responded_date_from", self.responded_date_from),
            ("responded_date_to", self.responded_date_to),
        ] {
            put(&mut filters, key, bound.map(|b| Value::from(b.wire(true))));
        }
        Ok(envelope(
            APPLICATION_SEARCH_KEY,
            filters,
            self.limit_count,
            self.page_count,
        ))
    }
}

fn check_common(
    billing_code: Option<&str>,
    limit_count: Option<u32>,
    page_count: Option<u32>,
) -> Result<(), String> {
    if let Some(code) = billing_code
        && (code.is_empty() || code.chars().count() > 20 || !is_half_width_alnum_symbol(code))
    {
        return Err(format!("`{}` is not a billing code", code.escape_debug()));
    }
    if let Some(limit) = limit_count
        && !(1..=MAX_LIMIT_COUNT).contains(&limit)
    {
        return Err(format!(
            "limit_count must be 1 to {MAX_LIMIT_COUNT}, not {limit}"
        ));
    }
    if let Some(page) = page_count
        && page > MAX_PAGE_COUNT
    {
        return Err(format!(
            "page_count must be 0 to {MAX_PAGE_COUNT}, not {page}"
        ));
    }
    Ok(())
}

fn put(filters: &mut Map<String, Value>, key: &str, value: Option<Value>) {
    if let Some(value) = value {
        filters.insert(key.to_string(), value);
    }
}

fn envelope(
    key: &str,
    filters: Map<String, Value>,
    limit: Option<u32>,
    page: Option<u32>,
) -> Value {
    let mut body = Map::new();
    put(&mut body, "limit_count", limit.map(Value::from));
    put(&mut body, "page_count", page.map(Value::from));
    body.insert(key.to_string(), Value::Object(filters));
    Value::Object(body)
}

/// One record of `marunage_credit/search`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, Deserialize)]
pub struct CreditRecord {
    #[serde(default, deserialize_with = "lenient::opt_u32")]
    pub error_code: Option<u32>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub error_message: Option<String>,
    /// 与信ID.
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub id: Option<u64>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub billing_code: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub claim_type: Option<u64>,
    #[serde(default)]
    pub status: Option<CreditStatus>,
    /// 登録日時 and 更新日時, `yyyy/mm/dd hh:mm:ss` Japan time, as sent.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub regist_date: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub update_date: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl CreditRecord {
    /// `update_date` read, when it is in the documented format.
    pub fn updated_at(&self) -> Option<NaiveDateTime> {
        parse_vendor_datetime(self.update_date.as_deref()?)
    }
}

/// One record of `request_marunage_credit/search`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, Deserialize)]
pub struct ApplicationRecord {
    #[serde(default, deserialize_with = "lenient::opt_u32")]
    pub error_code: Option<u32>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub error_message: Option<String>,
    /// 与信申請ID: the `id` `bulk_register` answered.
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub id: Option<u64>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub billing_code: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    pub claim_type: Option<u64>,
    #[serde(default)]
    pub status: Option<ApplicationStatus>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub requested_date: Option<String>,
    /// 回答日時: null while pending.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub responded_date: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ApplicationRecord {
    pub fn responded_at(&self) -> Option<NaiveDateTime> {
        parse_vendor_datetime(self.responded_date.as_deref()?)
    }
}

/// One page of a search.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// As the vendor echoes them.
    pub limit_count: Option<u32>,
    pub page_count: Option<u32>,
    /// How many pages the filters match (rounded up). Required: a page count we guessed
    /// would end a walk through the pages early without anyone noticing.
    pub total_page_count: u32,
    pub items: Vec<T>,
}

impl<T: DeserializeOwned> Page<T> {
    /// Reads a search answer (credentials already stripped) whose records are under `key`.
    pub fn from_value(body: &Value, key: &str) -> Result<Self, String> {
        #[derive(Deserialize)]
        struct Counts {
            #[serde(default, deserialize_with = "lenient::opt_u32")]
            limit_count: Option<u32>,
            #[serde(default, deserialize_with = "lenient::opt_u32")]
            page_count: Option<u32>,
            #[serde(default, deserialize_with = "lenient::opt_u32")]
            total_page_count: Option<u32>,
        }
        let counts = Counts::deserialize(body).map_err(|e| e.to_string())?;
        let total_page_count = counts
            .total_page_count
            .ok_or("the answer has no total_page_count")?;
        let items = match body.get(key) {
            None | Some(Value::Null) => Vec::new(),
            Some(items) => Vec::<T>::deserialize(items).map_err(|e| format!("`{key}`: {e}"))?,
        };
        Ok(Self {
            limit_count: counts.limit_count,
            page_count: counts.page_count,
            total_page_count,
            items,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateBound {
        DateBound::At(parse_vendor_datetime(text).expect("datetime"))
    }

    #[test]
    fn the_seed_gets_whole_days_the_current_pages_get_seconds() {
        let search = CreditSearch {
            billing_code: Some("billing_code".into()),
            status: Some(CreditStatus::Active),
            update_date_from: Some(at("2022/05/13 10:00:00")),
            update_date_to: Some(DateBound::Day(
                NaiveDate::from_ymd_opt(2022, 5, 14).expect("date"),
            )),
            limit_count: Some(100),
            page_count: Some(0),
            ..CreditSearch::default()
        };
        assert_eq!(
            search.to_wire(ApiVersion::Seed).expect("valid"),
            json!({"limit_count": 100, "page_count": 0, "marunage_credit": {
                "billing_code": "billing_code", "status": 1,
                "update_date_from": "2022/05/13", "update_date_to": "2022/05/14"}})
        );
        let current = search.to_wire(ApiVersion::Current).expect("valid");
        assert_eq!(
            current["marunage_credit"]["update_date_from"],
            json!("2022/05/13 10:00:00")
        );
    }

    #[test]
    fn what_the_vendor_would_refuse_is_not_sent() {
        for search in [
            CreditSearch {
                limit_count: Some(201),
                ..CreditSearch::default()
            },
            CreditSearch {
                limit_count: Some(0),
                ..CreditSearch::default()
            },
            CreditSearch {
                page_count: Some(100),
                ..CreditSearch::default()
            },
            CreditSearch::billing_code("with space"),
            CreditSearch::billing_code("x".repeat(21)),
            CreditSearch {
                claim_type: Some(ClaimType::Marunage),
                ..CreditSearch::default()
            },
        ] {
            assert!(search.to_wire(ApiVersion::Seed).is_err(), "{search:?}");
        }
        assert_eq!(
            CreditSearch::default()
                .to_wire(ApiVersion::Seed)
                .expect("no filters"),
            json!({"marunage_credit": {}})
        );
    }

    #[test]
    fn application_searches_send_datetimes() {
        let search = ApplicationSearch {
            requested_date_from: Some(at("2022/01/11 00:00:00")),
            status: Some(ApplicationStatus::Pending),
            ..ApplicationSearch::billing_code("billing_code_1")
        };
        assert_eq!(
            search.to_wire().expect("valid"),
            json!({"request_marunage_credit": {"billing_code": "billing_code_1", "status": 2,
                    "requested_date_from": "2022/01/11 00:00:00"}})
        );
    }

    #[test]
    fn pages_need_their_total() {
        let page: Page<CreditRecord> = Page::from_value(
            &json!({"limit_count": 100, "page_count": 0, "total_page_count": 1,
                    "marunage_credit": [{"id": 1, "billing_code": "b", "status": 1,
                    "regist_date": "2022/05/13 00:00:00", "update_date": "2022/05/13 00:00:00"}]}),
            CREDIT_SEARCH_KEY,
        )
        .expect("page");
        assert_eq!(page.total_page_count, 1);
        assert_eq!(page.items[0].status, Some(CreditStatus::Active));
        assert!(page.items[0].updated_at().is_some());
        assert!(
            Page::<CreditRecord>::from_value(&json!({"marunage_credit": []}), CREDIT_SEARCH_KEY)
                .is_err()
        );
    }
}
