//! `POST /api/v1.0/request_marunage_credit/search` (applications) and
//! `POST /api/v1.0/marunage_credit/search` (credits).
//!
//! Filters sit in an object under the call's key; null or absent filters do not filter.
//! Each bad filter has its code (`types/codes.rs`); the first one found is answered as the
//! `search_errors` switch says: a record holding the code inside `200` (default) or a `400`.
//!
//! Date filters: the seed's `marunage_credit/search` takes dates only (10 characters), so
//! there a date-time is a bad filter (5704–5707); the current pages take date-times with an
//! optional time (`_from` 00:00:00, `_to` 23:59:59 when left out), as does the application
//! search in either version. Both ends are inclusive, to the second.
//!
//! Records come newest first (by id, as the current pages' examples; the seed's shows the
//! other order), `limit_count` (default 20, 0–200) a page, page `page_count` (default 0,
//! 0–99), `total_page_count` the number of pages rounded up (0 for `limit_count` 0).

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{NaiveDateTime, NaiveTime, Utc};
use serde_json::{Map, Value, json};

use super::auth::{echo, refusal_of};
use super::decisions::settle;
use super::errors::{parse_body, unreadable_body, vendor_error};
use super::state::{SearchErrors, Shared};
use crate::vendors::billing_robo::types::{
    APPLICATION_SEARCH_KEY, ApiVersion, CREDIT_SEARCH_KEY, DEFAULT_LIMIT_COUNT, MAX_LIMIT_COUNT,
    MAX_PAGE_COUNT, credit_search, is_half_width_alnum_symbol, parse_date, parse_datetime_bound,
    request_search, to_jst,
};

/// One bad filter: its code and a message.
struct BadFilter(u32, String);

/// The codes of one search's filters.
struct Codes {
    id: u32,
    billing_code: u32,
    claim_type: u32,
    status: u32,
    limit_count: u32,
    page_count: u32,
}

pub async fn search_applications(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let codes = Codes {
        id: request_search::ID,
        billing_code: request_search::BILLING_CODE,
        claim_type: request_search::CLAIM_TYPE,
        status: request_search::STATUS,
        limit_count: request_search::LIMIT_COUNT,
        page_count: request_search::PAGE_COUNT,
    };
    let dates = [
        ("requested_date_from", request_search::REQUESTED_DATE_FROM),
        ("requested_date_to", request_search::REQUESTED_DATE_TO),
        ("responded_date_from", request_search::RESPONDED_DATE_FROM),
        ("responded_date_to", request_search::RESPONDED_DATE_TO),
    ];
    search(
        &shared,
        &body,
        APPLICATION_SEARCH_KEY,
        &codes,
        &dates,
        true,
        2,
        |inner| {
            inner
                .applications
                .iter()
                .map(|a| Record {
                    id: a.id,
                    billing_code: a.billing_code.clone(),
                    claim_type: a.claim_type,
                    status: i64::from(a.status),
                    dates: [Some(to_jst(a.requested)), a.responded.map(to_jst)],
                    rendered: a.render(),
                })
                .collect()
        },
    )
}

pub async fn search_credits(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let version = shared.config.version;
    let codes = Codes {
        id: credit_search::ID,
        billing_code: credit_search::BILLING_CODE,
        claim_type: credit_search::CLAIM_TYPE,
        status: credit_search::STATUS,
        limit_count: credit_search::LIMIT_COUNT,
        page_count: credit_search::PAGE_COUNT,
    };
    let dates = [
        ("regist_date_from", credit_search::REGIST_DATE_FROM),
        ("regist_date_to", credit_search::REGIST_DATE_TO),
        ("update_date_from", credit_search::UPDATE_DATE_FROM),
        ("update_date_to", credit_search::UPDATE_DATE_TO),
    ];
    let (datetimes, max_status) = match version {
        ApiVersion::Seed => (false, 2),
        ApiVersion::Current => (true, 4),
    };
    search(
        &shared,
        &body,
        CREDIT_SEARCH_KEY,
        &codes,
        &dates,
        datetimes,
        max_status,
        |inner| {
            inner
                .credits
                .values()
                .map(|c| Record {
                    id: c.id,
                    billing_code: c.billing_code.clone(),
                    claim_type: c.claim_type,
                    status: i64::from(c.status),
                    dates: [Some(to_jst(c.regist)), Some(to_jst(c.update))],
                    rendered: c.render(),
                })
                .collect()
        },
    )
}

/// What a search filters on, whichever it is: `dates` are the two the date filters test
/// (requested and responded, or registered and updated).
struct Record {
    id: u64,
    billing_code: String,
    claim_type: u8,
    status: i64,
    dates: [Option<NaiveDateTime>; 2],
    rendered: Value,
}

/// The parsed filters.
#[derive(Default)]
struct Filters {
    id: Option<u64>,
    billing_code: Option<String>,
    claim_type: Option<u8>,
    status: Option<i64>,
    /// `[from, to]` for each of the two dates.
    dates: [[Option<NaiveDateTime>; 2]; 2],
}

#[allow(clippy::too_many_arguments)]
fn search(
    shared: &Shared,
    body: &Bytes,
    key: &str,
    codes: &Codes,
    dates: &[(&str, u32); 4],
    datetimes: bool,
    max_status: i64,
    records: impl FnOnce(&super::state::Inner) -> Vec<Record>,
) -> Response {
    let body = match parse_body(body) {
        Ok(body) => body,
        Err(why) => return unreadable_body(&why),
    };
    if let Some(response) = refusal_of(shared, &body) {
        return response;
    }
    let version = shared.config.version;
    let mut inner = shared.lock();
    if key == CREDIT_SEARCH_KEY {
        inner.effects.credit_searches += 1;
    } else {
        inner.effects.application_searches += 1;
    }
    settle(&mut inner, version, Utc::now());
    let parsed = paging(&body, codes).and_then(|paging| {
        let filters = filters(&body, key, codes, dates, datetimes, max_status, version)?;
        Ok((paging, filters))
    });
    let ((limit, page), filters) = match parsed {
        Ok(parsed) => parsed,
        Err(BadFilter(code, message)) => {
            let how = inner.switches.search_errors;
            drop(inner);
            return refused(&body, key, how, code, &message);
        }
    };
    let mut matching: Vec<Record> = records(&inner)
        .into_iter()
        .filter(|record| filters.admit(record))
        .collect();
    drop(inner);
    matching.sort_by_key(|record| std::cmp::Reverse(record.id));
    let total_pages = if limit == 0 {
        0
    } else {
        matching.len().div_ceil(limit as usize)
    };
    let items: Vec<Value> = matching
        .into_iter()
        .skip(page as usize * limit as usize)
        .take(limit as usize)
        .map(|record| record.rendered)
        .collect();
    let mut answer = echo(&body);
    answer.insert("limit_count".into(), json!(limit));
    answer.insert("page_count".into(), json!(page));
    answer.insert("total_page_count".into(), json!(total_pages));
    answer.insert(key.into(), Value::Array(items));
    Json(Value::Object(answer)).into_response()
}

impl Filters {
    fn admit(&self, record: &Record) -> bool {
        let within = |at: Option<NaiveDateTime>, [from, to]: [Option<NaiveDateTime>; 2]| {
            if from.is_none() && to.is_none() {
                return true;
            }
            at.is_some_and(|at| from.is_none_or(|from| at >= from) && to.is_none_or(|to| at <= to))
        };
        self.id.is_none_or(|id| record.id == id)
            && self
                .billing_code
                .as_deref()
                .is_none_or(|code| record.billing_code == code)
            && self.claim_type.is_none_or(|c| record.claim_type == c)
            && self.status.is_none_or(|s| record.status == s)
            && within(record.dates[0], self.dates[0])
            && within(record.dates[1], self.dates[1])
    }
}

/// `limit_count` and `page_count`, defaulted.
fn paging(body: &Map<String, Value>, codes: &Codes) -> Result<(u32, u32), BadFilter> {
    let number = |key: &str, default: u32, max: u32, code: u32| match body.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(value) => value
            .as_u64()
            .filter(|n| *n <= u64::from(max))
            .map(|n| n as u32)
            .ok_or_else(|| BadFilter(code, format!("Invalid '{key}'."))),
    };
    Ok((
        number(
            "limit_count",
            DEFAULT_LIMIT_COUNT,
            MAX_LIMIT_COUNT,
            codes.limit_count,
        )?,
        number("page_count", 0, MAX_PAGE_COUNT, codes.page_count)?,
    ))
}

fn filters(
    body: &Map<String, Value>,
    key: &str,
    codes: &Codes,
    dates: &[(&str, u32); 4],
    datetimes: bool,
    max_status: i64,
    version: ApiVersion,
) -> Result<Filters, BadFilter> {
    let empty = Map::new();
    let given = match body.get(key) {
        Some(Value::Object(given)) => given,
        _ => &empty,
    };
    let get = |name: &str| given.get(name).filter(|v| !v.is_null());
    let bad = |code: u32, name: &str| BadFilter(code, format!("Invalid '{name}'."));
    let mut filters = Filters::default();
    if let Some(id) = get("id") {
        filters.id = Some(
            id.as_u64()
                .filter(|n| *n <= 999_999_999_999_999_999)
                .ok_or_else(|| bad(codes.id, "id"))?,
        );
    }
    if let Some(code) = get("billing_code") {
        let code = code
            .as_str()
            .filter(|c| !c.is_empty() && c.chars().count() <= 20 && is_half_width_alnum_symbol(c))
            .ok_or_else(|| bad(codes.billing_code, "billing_code"))?;
        filters.billing_code = Some(code.to_string());
    }
    // The seed's credit search does not know claim_type: ignored there, as an unknown field.
    let knows_claim_type = key == APPLICATION_SEARCH_KEY || version == ApiVersion::Current;
    if let Some(claim_type) = get("claim_type").filter(|_| knows_claim_type) {
        filters.claim_type = Some(
            claim_type
                .as_u64()
                .filter(|c| matches!(c, 1 | 2))
                .map(|c| c as u8)
                .ok_or_else(|| bad(codes.claim_type, "claim_type"))?,
        );
    }
    if let Some(status) = get("status") {
        filters.status = Some(
            status
                .as_i64()
                .filter(|s| (0..=max_status).contains(s))
                .ok_or_else(|| bad(codes.status, "status"))?,
        );
    }
    for (index, (name, code)) in dates.iter().enumerate() {
        let Some(value) = get(name) else { continue };
        let to = name.ends_with("_to");
        let bound = value
            .as_str()
            .and_then(|text| bound(text, datetimes, to))
            .ok_or_else(|| bad(*code, name))?;
        filters.dates[index / 2][index % 2] = Some(bound);
    }
    Ok(filters)
}

/// A date filter as a second: a date alone is its first second (`_from`) or its last
/// (`_to`); a time is only taken where `datetimes` are.
fn bound(text: &str, datetimes: bool, to: bool) -> Option<NaiveDateTime> {
    let (date, time) = if datetimes {
        parse_datetime_bound(text)?
    } else {
        (parse_date(text)?, None)
    };
    let time = time.unwrap_or(if to {
        NaiveTime::from_hms_opt(23, 59, 59)?
    } else {
        NaiveTime::MIN
    });
    Some(date.and_time(time))
}

/// A bad filter, answered as the switch says.
fn refused(
    body: &Map<String, Value>,
    key: &str,
    how: SearchErrors,
    code: u32,
    message: &str,
) -> Response {
    match how {
        SearchErrors::Status400 => vendor_error(StatusCode::BAD_REQUEST, code, message),
        SearchErrors::InItems => {
            let mut answer = echo(body);
            answer.insert("limit_count".into(), Value::Null);
            answer.insert("page_count".into(), Value::Null);
            answer.insert("total_page_count".into(), json!(0));
            answer.insert(
                key.into(),
                json!([{ "error_code": code, "error_message": message }]),
            );
            Json(Value::Object(answer)).into_response()
        }
    }
}
