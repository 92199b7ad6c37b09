//! The rules of each field of a credit application (the table in `application.rs`), one
//! function per field: each answers the value when it is good, or pushes an
//! [`ItemFieldError`] naming the vendor's problem and answers `None`.

use chrono::NaiveDate;
use serde_json::{Map, Value};

use super::application::{
    BusinessType, ItemFieldError, MAX_BILLING_CODE, MAX_COMPANY_URL, MAX_REPRESENTATIVE_NAME,
};
use super::codes::ItemProblem;
use super::kinds::{format_date, is_half_width_alnum_symbol, parse_date};

/// The field's text: `Ok(None)` when absent or null, `Err` when not a string.
fn text<'a>(item: &'a Map<String, Value>, field: &str) -> Result<Option<&'a str>, ()> {
    match item.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(_) => Err(()),
    }
}

/// A required string field, or an error naming `problem`.
fn required_text(
    item: &Map<String, Value>,
    field: &str,
    problem: ItemProblem,
    errors: &mut Vec<ItemFieldError>,
) -> Option<String> {
    match text(item, field) {
        Ok(Some(text)) if !text.trim().is_empty() => Some(text.to_string()),
        Ok(_) => {
            errors.push(ItemFieldError::new(field, problem, "is required"));
            None
        }
        Err(()) => {
            errors.push(ItemFieldError::new(field, problem, "must be a string"));
            None
        }
    }
}

pub(super) fn billing_code(
    item: &Map<String, Value>,
    errors: &mut Vec<ItemFieldError>,
) -> Option<String> {
    const FIELD: &str = "billing_code";
    let code = required_text(item, FIELD, ItemProblem::InvalidBillingCode, errors)?;
    if code.chars().count() > MAX_BILLING_CODE || !is_half_width_alnum_symbol(&code) {
        errors.push(ItemFieldError::new(
            FIELD,
            ItemProblem::InvalidBillingCode,
            format!(
                "must be 1 to {MAX_BILLING_CODE} half-width letters, digits or ASCII symbols \
                 (半角英数 + 記号), without spaces"
            ),
        ));
        return None;
    }
    Some(code)
}

pub(super) fn representative_name(
    item: &Map<String, Value>,
    errors: &mut Vec<ItemFieldError>,
) -> Option<String> {
    const FIELD: &str = "representative_name";
    let name = required_text(item, FIELD, ItemProblem::InvalidRepresentativeName, errors)?;
    if name.chars().count() > MAX_REPRESENTATIVE_NAME || name.chars().any(char::is_control) {
        errors.push(ItemFieldError::new(
            FIELD,
            ItemProblem::InvalidRepresentativeName,
            format!(
                "must be at most {MAX_REPRESENTATIVE_NAME} characters, without control characters"
            ),
        ));
        return None;
    }
    Some(name)
}

pub(super) fn contract_date(
    item: &Map<String, Value>,
    today: NaiveDate,
    errors: &mut Vec<ItemFieldError>,
) -> Option<NaiveDate> {
    const FIELD: &str = "contract_date";
    let text = required_text(item, FIELD, ItemProblem::InvalidContractDate, errors)?;
    let Some(date) = parse_date(&text) else {
        errors.push(ItemFieldError::new(
            FIELD,
            ItemProblem::InvalidContractDate,
            "must be a date that exists, as yyyy/mm/dd or yyyy-mm-dd",
        ));
        return None;
    };
    if date > today {
        errors.push(ItemFieldError::new(
            FIELD,
            ItemProblem::ContractDateInFuture,
            format!(
                "must not be in the future (today in Japan is {})",
                format_date(today)
            ),
        ));
        return None;
    }
    Some(date)
}

pub(super) fn company_url(
    item: &Map<String, Value>,
    errors: &mut Vec<ItemFieldError>,
) -> Option<String> {
    const FIELD: &str = "company_url";
    let url = required_text(item, FIELD, ItemProblem::InvalidCompanyUrl, errors)?;
    let is_web_url = reqwest::Url::parse(&url)
        .is_ok_and(|parsed| matches!(parsed.scheme(), "http" | "https") && parsed.has_host());
    if url.chars().count() > MAX_COMPANY_URL || !is_web_url || url.chars().any(char::is_whitespace)
    {
        errors.push(ItemFieldError::new(
            FIELD,
            ItemProblem::InvalidCompanyUrl,
            format!("must be an http or https URL of at most {MAX_COMPANY_URL} characters"),
        ));
        return None;
    }
    Some(url)
}

/// An optional JSON integer from 0 to `max`; absent, null (and `""`, as the vendor's own
/// example sends for an empty number) are none.
pub(super) fn optional_integer(
    item: &Map<String, Value>,
    field: &str,
    max: u64,
    problem: ItemProblem,
    errors: &mut Vec<ItemFieldError>,
) -> Option<u64> {
    match item.get(field) {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) if text.is_empty() => None,
        Some(value) => match value.as_u64() {
            Some(n) if n <= max => Some(n),
            _ => {
                let reason = if max == u64::MAX {
                    "must be a whole number".to_string()
                } else {
                    format!("must be a whole number from 0 to {max}")
                };
                errors.push(ItemFieldError::new(field, problem, reason));
                None
            }
        },
    }
}

/// 法人番号: 13 digits, as a JSON integer or a string of digits (the first is a check
/// digit, 1 to 9, so the integer loses nothing).
pub(super) fn corporate_number(
    item: &Map<String, Value>,
    business_type: Option<BusinessType>,
    errors: &mut Vec<ItemFieldError>,
) -> Option<u64> {
    const FIELD: &str = "corporate_number";
    let number = match item.get(FIELD) {
        None | Some(Value::Null) => return None,
        Some(Value::String(text)) if text.is_empty() => return None,
        Some(Value::String(text)) if text.bytes().all(|b| b.is_ascii_digit()) => {
            text.parse::<u64>().ok().filter(|_| text.len() == 13)
        }
        Some(value) => value.as_u64(),
    };
    let Some(number) = number.filter(|n| (1_000_000_000_000..=9_999_999_999_999).contains(n))
    else {
        errors.push(ItemFieldError::new(
            FIELD,
            ItemProblem::InvalidCorporateNumber,
            "must be 13 digits",
        ));
        return None;
    };
    if business_type == Some(BusinessType::Individual) {
        errors.push(ItemFieldError::new(
            FIELD,
            ItemProblem::CorporateNumberForIndividual,
            "must be left out for an individual (business_type 2)",
        ));
        return None;
    }
    Some(number)
}
