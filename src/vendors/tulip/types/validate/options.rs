//! `options`: 1008 (missing), 1010 (a value outside the documented list, or one the
//! contract's type or length does not allow), and the "break and theft" family.
//!
//! ## Which code for what is missing
//!
//! The tables give five codes with nearly the same message (1009, 1015, 1018, 1019, 1020)
//! and never say which answers when. Our reading, by the length rules of
//! `contract-options.mdx`:
//!
//! | contract          | no `break`+`theft` | no `company`/`individual` | no usage |
//! |-------------------|--------------------|---------------------------|----------|
//! | LCD               | 1018               | (forbidden: 1010)         | (forbidden: 1010) |
//! | LMD < 6 months    | 1019               | (forbidden: 1010)         | (forbidden: 1010) |
//! | LMD ≥ 6 months    | 1020               | 1009                      | optional |
//! | LLD               | 1015               | 1015                      | 1015     |
//!
//! Whatever the code, the field is `options` and the reason says what to add.

use serde_json::Value;

use super::Found;
use super::dates::Span;
use crate::vendors::tulip::types::request::ContractType;

/// Every option value Tulip documents: the OpenAPI enum, plus the seed's `transportation`
/// (its list's spelling of `transporter`) so that neither spelling is refused here.
pub const KNOWN_OPTIONS: [&str; 17] = [
    "assistance",
    "assistance_standard",
    "assistance_premium",
    "break",
    "company",
    "home_to_work",
    "individual",
    "ia",
    "loa",
    "pro",
    "rc",
    "sharing",
    "theft",
    "transporter",
    "transportation",
    "no_deductible",
    "client_theft",
];

/// The usage options (`home_to_work`, `pro`, `transporter`): from six months of LMD.
pub const USAGES: [&str; 4] = ["home_to_work", "pro", "transporter", "transportation"];
/// Options not allowed in an LCD (`contract-eligibility.mdx`, options by contract type).
const NOT_IN_LCD: [&str; 4] = ["ia", "rc", "assistance_standard", "assistance"];
/// Options of an LLD only.
const LLD_ONLY: [&str; 4] = ["assistance_premium", "sharing", "loa", "no_deductible"];

/// Reads and checks `options`; the list as sent when it is a list of strings.
pub(super) fn check(
    value: Option<&Value>,
    contract_type: Option<ContractType>,
    span: Option<Span>,
    found: &mut Found,
) -> Option<Vec<String>> {
    let items = match value {
        None | Some(Value::Null) => {
            found.push(
                "options",
                1008,
                "is required: at least \"break\" and \"theft\"",
            );
            return None;
        }
        Some(Value::Array(items)) => items,
        Some(_) => {
            found.push("options", 1008, "must be a list of option names");
            return None;
        }
    };
    let mut options = Vec::new();
    for (index, item) in items.iter().enumerate() {
        match item.as_str() {
            Some(option) if KNOWN_OPTIONS.contains(&option) => options.push(option.to_string()),
            _ => found.push(
                format!("options[{index}]"),
                1010,
                format!("must be one of {}", KNOWN_OPTIONS.join(", ")),
            ),
        }
    }
    if let Some(contract_type) = contract_type {
        // An LMD's length is unknown when its dates are broken (already reported): the
        // rules that depend on it are then left alone rather than guessed.
        let long = match contract_type {
            ContractType::Lcd => Some(false),
            ContractType::Lmd => span.map(|s| s.long),
            ContractType::Lld => Some(true),
        };
        required(&options, contract_type, long, found);
        allowed(&options, contract_type, long, found);
    }
    Some(options)
}

/// The "break and theft" family (the table in the module docs).
fn required(
    options: &[String],
    contract_type: ContractType,
    long: Option<bool>,
    found: &mut Found,
) {
    let has = |o: &str| options.iter().any(|x| x == o);
    let parties = ["company", "individual"].iter().filter(|p| has(p)).count();
    let usage = USAGES.iter().any(|u| has(u));
    let both = has("break") && has("theft");
    let (code, need) = match (contract_type, long) {
        (ContractType::Lld, _) if !(both && parties > 0 && usage) => (
            1015,
            "an LLD needs \"break\", \"theft\", \"company\" or \"individual\", and a usage: \"home_to_work\", \"pro\" or \"transporter\"",
        ),
        (ContractType::Lld, _) => return,
        (_, _) if !both => (
            match (contract_type, long) {
                (ContractType::Lcd, _) => 1018,
                (_, Some(true)) => 1020,
                _ => 1019,
            },
            "must contain \"break\" and \"theft\"",
        ),
        (ContractType::Lmd, Some(true)) if parties == 0 => (
            1009,
            "an LMD of six months or more needs \"company\" or \"individual\"",
        ),
        _ => return,
    };
    found.push("options", code, need);
}

/// 1010 for an option the type or length forbids, and for both parties at once.
fn allowed(options: &[String], contract_type: ContractType, long: Option<bool>, found: &mut Found) {
    for (index, option) in options.iter().enumerate() {
        let option = option.as_str();
        let why = if matches!(option, "company" | "individual") && long == Some(false) {
            Some(
                "must not be sent before six months of LMD: send the company or individual object alone",
            )
        } else if USAGES.contains(&option) && long == Some(false) {
            Some("a usage option needs an LMD of six months or more, or an LLD")
        } else if contract_type == ContractType::Lcd && NOT_IN_LCD.contains(&option) {
            Some("is not available for an LCD")
        } else if contract_type != ContractType::Lld && LLD_ONLY.contains(&option) {
            Some("is available for an LLD only")
        } else {
            None
        };
        if let Some(why) = why {
            found.push(format!("options[{index}]"), 1010, why);
        }
    }
    if options.iter().any(|o| o == "company") && options.iter().any(|o| o == "individual") {
        found.push(
            "options",
            1010,
            "must not contain both \"company\" and \"individual\"",
        );
    }
}
