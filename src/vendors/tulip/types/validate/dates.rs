//! The contract's dates: 1005 (no end date), 1000 (a start more than 30 minutes in the
//! past: the tolerance of `contract-lifecycle.mdx`), 1001 (an end before the start), 1002
//! (a duration outside the type's range: LCD up to 31 days, LMD 1 to 12 months, LLD 12 to
//! 60 months, months counted on the calendar).
//!
//! The span also says whether an LMD lasts six months or more: the options and the parties
//! it needs change there (`contract-eligibility.mdx`, "Seuil LMD 6 mois").

use chrono::{DateTime, Duration, Months, Utc};
use serde_json::{Map, Value};

use super::{Found, Rules};
use crate::vendors::tulip::types::request::{ContractType, parse_date};

/// How far in the past a start date may be.
pub const START_TOLERANCE: Duration = Duration::minutes(30);
/// The longest LCD.
pub const LCD_MAX: Duration = Duration::days(31);

/// Valid dates, and what they make of the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// The start as sent; `None`: when Tulip receives the contract.
    pub start_given: Option<DateTime<Utc>>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// An LMD of six months or more, or an LLD: the party and usage rules apply.
    pub long: bool,
}

/// Reads and checks the dates; `None` when they are missing or broken (already reported),
/// or when the type is unknown (the duration cannot be judged).
pub(super) fn check(
    body: &Map<String, Value>,
    contract_type: Option<ContractType>,
    rules: &Rules,
    found: &mut Found,
) -> Option<Span> {
    let start_given = match body.get("start_date") {
        None | Some(Value::Null) => None,
        Some(value) => match value.as_str().and_then(parse_date) {
            Some(start) => Some(start),
            None => {
                found.push(
                    "start_date",
                    1000,
                    "must be an ISO 8601 date such as 2024-01-15T14:30:00.000Z",
                );
                return None;
            }
        },
    };
    let end = match body.get("end_date") {
        None | Some(Value::Null) => {
            found.push("end_date", 1005, "is required");
            return None;
        }
        Some(value) => match value.as_str().and_then(parse_date) {
            Some(end) => end,
            None => {
                found.push(
                    "end_date",
                    1005,
                    "must be an ISO 8601 date such as 2024-01-15T14:30:00.000Z",
                );
                return None;
            }
        },
    };
    let start = start_given.unwrap_or(rules.now);
    if start < rules.now - START_TOLERANCE {
        found.push(
            "start_date",
            1000,
            "must not be more than 30 minutes in the past",
        );
        return None;
    }
    if end < start {
        found.push("end_date", 1001, "must not be before start_date");
        return None;
    }
    let contract_type = contract_type?;
    if let Err(reason) = duration(contract_type, start, end, rules.lcd_min_one_day) {
        found.push("end_date", 1002, reason);
        return None;
    }
    let long = match contract_type {
        ContractType::Lcd => false,
        ContractType::Lmd => end >= add_months(start, 6),
        ContractType::Lld => true,
    };
    Some(Span {
        start_given,
        start,
        end,
        long,
    })
}

/// Whether `start..end` is a duration `contract_type` allows; why not, if not.
pub fn duration(
    contract_type: ContractType,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    lcd_min_one_day: bool,
) -> Result<(), String> {
    let months = |lo: u32, hi: u32, what: &str| {
        if end < add_months(start, lo) || end > add_months(start, hi) {
            Err(format!("{what} lasts {lo} to {hi} months"))
        } else {
            Ok(())
        }
    };
    match contract_type {
        ContractType::Lcd if end <= start => Err("an LCD must last more than 0 s".into()),
        ContractType::Lcd if end - start > LCD_MAX => Err("an LCD lasts at most 31 days".into()),
        ContractType::Lcd if lcd_min_one_day && end - start < Duration::days(1) => {
            Err("an LCD lasts 1 to 31 days".into())
        }
        ContractType::Lcd => Ok(()),
        ContractType::Lmd => months(1, 12, "an LMD"),
        ContractType::Lld => months(12, 60, "an LLD"),
    }
}

/// `at` plus `months` calendar months (the 31st of a shorter month lands on its last day);
/// a date beyond chrono's range counts as the end of time.
pub fn add_months(at: DateTime<Utc>, months: u32) -> DateTime<Utc> {
    at.checked_add_months(Months::new(months))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}
