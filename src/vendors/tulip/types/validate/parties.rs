//! The insured: `company` (B2B) or `individual` (B2C), and their fields.
//!
//! | contract       | `company` object                        | `individual` object          |
//! |----------------|-----------------------------------------|------------------------------|
//! | LCD            | forbidden (1013)                        | forbidden (1014)             |
//! | LMD < 6 months | optional                                | forbidden (1014)             |
//! | LMD ≥ 6, LLD   | required with option `company` (1013)    | required with option `individual` (1014) |
//!
//! An object that contradicts the party option (a company with option `individual`) is
//! refused with its own code. A quote may leave the party out (the vendor prices without
//! it); a party that is sent is checked the same either way.
//!
//! Fields (strict readings, see `mod.rs`): a company needs `company_name` (1100),
//! `first_name` (1103), `last_name` (1104), `address` (1105), `zipcode` (1106), `city`
//! (1107), `country` (1108) always, and a 9-digit `siren` (1101, 1102) for an LLD; an
//! individual needs `first_name` (1400), `last_name` (1401), `address` (1402), `zipcode`
//! (1403, 1407), `city` (1404, 1408), `phone_number` (1405), `country` (1406, 1409) and
//! `email` (required by the OpenAPI schema; 1410, "the individual details are invalid").
//! A zipcode is five digits, a city is in Tulip's normalised form (upper case, `-` for
//! spaces), the country is `FR`.

use serde_json::{Map, Value};

use super::dates::Span;
use super::{Found, Mode, Rules};
use crate::vendors::tulip::types::request::ContractType;

/// The parties as sent, when they passed.
#[derive(Debug, Default)]
pub(super) struct Parties {
    pub company: Option<Map<String, Value>>,
    pub individual: Option<Map<String, Value>>,
}

/// The codes of one kind of party.
struct Codes {
    object: u32,
    first_name: u32,
    last_name: u32,
    address: u32,
    zipcode: (u32, u32),
    city: (u32, u32),
    country: (u32, u32),
}

const COMPANY: Codes = Codes {
    object: 1013,
    first_name: 1103,
    last_name: 1104,
    address: 1105,
    zipcode: (1106, 1106),
    city: (1107, 1107),
    country: (1108, 1108),
};

const INDIVIDUAL: Codes = Codes {
    object: 1014,
    first_name: 1400,
    last_name: 1401,
    address: 1402,
    zipcode: (1403, 1407),
    city: (1404, 1408),
    country: (1406, 1409),
};

pub(super) fn check(
    body: &Map<String, Value>,
    contract_type: Option<ContractType>,
    span: Option<Span>,
    options: &Option<Vec<String>>,
    rules: &Rules,
    found: &mut Found,
) -> Parties {
    let Some(contract_type) = contract_type else {
        return Parties::default();
    };
    let has = |o: &str| {
        options
            .as_ref()
            .is_some_and(|all| all.iter().any(|x| x == o))
    };
    let required = rules.mode == Mode::Create;
    let long = match contract_type {
        ContractType::Lcd => Some(false),
        ContractType::Lmd => span.map(|s| s.long),
        ContractType::Lld => Some(true),
    };
    let company = party(body, "company", &COMPANY, found, |company, found| {
        if contract_type == ContractType::Lcd {
            Some("must not be sent for an LCD")
        } else if has("individual") {
            Some("must not be sent with the \"individual\" option")
        } else {
            company_fields(company, contract_type, required, found);
            None
        }
    });
    let individual = party(
        body,
        "individual",
        &INDIVIDUAL,
        found,
        |individual, found| {
            if contract_type == ContractType::Lcd || long == Some(false) {
                Some("must not be sent for an LCD or an LMD under six months")
            } else if has("company") {
                Some("must not be sent with the \"company\" option")
            } else {
                individual_fields(individual, required, found);
                None
            }
        },
    );
    if required && has("company") && company.is_none() && body.get("company").is_none() {
        found.push("company", 1013, "is required with the \"company\" option");
    }
    if required && has("individual") && individual.is_none() && body.get("individual").is_none() {
        found.push(
            "individual",
            1014,
            "is required with the \"individual\" option",
        );
    }
    Parties {
        company,
        individual,
    }
}

/// Reads the party `name`; `refuse` checks it and says why it may not be sent at all.
fn party(
    body: &Map<String, Value>,
    name: &str,
    codes: &Codes,
    found: &mut Found,
    refuse: impl FnOnce(&Map<String, Value>, &mut Found) -> Option<&'static str>,
) -> Option<Map<String, Value>> {
    match body.get(name) {
        None | Some(Value::Null) => None,
        Some(Value::Object(party)) => {
            let before = found.0.len();
            if let Some(why) = refuse(party, found) {
                found.push(name, codes.object, why);
            }
            (found.0.len() == before).then(|| party.clone())
        }
        Some(_) => {
            found.push(name, codes.object, "must be an object");
            None
        }
    }
}

fn company_fields(
    company: &Map<String, Value>,
    contract_type: ContractType,
    required: bool,
    found: &mut Found,
) {
    let at = |field: &str| format!("company.{field}");
    if required && text(company, "company_name").is_none() {
        found.push(at("company_name"), 1100, "is required");
    }
    common_fields(company, "company", &COMPANY, required, found);
    match text(company, "siren") {
        Some(siren) if !(siren.len() == 9 && siren.bytes().all(|b| b.is_ascii_digit())) => {
            found.push(at("siren"), 1102, "must be 9 digits (a French SIREN)");
        }
        None if required && contract_type == ContractType::Lld => {
            found.push(at("siren"), 1101, "is required for an LLD");
        }
        _ => {}
    }
}

fn individual_fields(individual: &Map<String, Value>, required: bool, found: &mut Found) {
    common_fields(individual, "individual", &INDIVIDUAL, required, found);
    if required && text(individual, "phone_number").is_none() {
        found.push("individual.phone_number", 1405, "is required");
    }
    match text(individual, "email") {
        Some(email) if !email.contains('@') => {
            found.push("individual.email", 1410, "must be an e-mail address");
        }
        None if required => found.push("individual.email", 1410, "is required"),
        _ => {}
    }
}

/// The fields both parties have: names, address, zipcode, city, country.
fn common_fields(
    party: &Map<String, Value>,
    name: &str,
    codes: &Codes,
    required: bool,
    found: &mut Found,
) {
    let at = |field: &str| format!("{name}.{field}");
    for (field, code) in [
        ("first_name", codes.first_name),
        ("last_name", codes.last_name),
        ("address", codes.address),
    ] {
        if required && text(party, field).is_none() {
            found.push(at(field), code, "is required");
        }
    }
    let checks: [Check; 3] = [
        (
            "zipcode",
            codes.zipcode,
            is_zipcode,
            "must be a French zipcode of 5 digits",
        ),
        (
            "city",
            codes.city,
            is_normalised_city,
            "must be Tulip's normalised city name, such as PARIS-1ER-ARRONDISSEMENT",
        ),
        ("country", codes.country, |c| c == "FR", "must be \"FR\""),
    ];
    for (field, (missing, invalid), valid, why) in checks {
        match text(party, field) {
            Some(value) if !valid(value) => found.push(at(field), invalid, why),
            None if required => found.push(at(field), missing, "is required"),
            _ => {}
        }
    }
}

/// A field's name, its codes (missing, invalid), its test and why it failed.
type Check = (&'static str, (u32, u32), fn(&str) -> bool, &'static str);

/// A non-blank string field.
fn text<'a>(object: &'a Map<String, Value>, field: &str) -> Option<&'a str> {
    object
        .get(field)?
        .as_str()
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

fn is_zipcode(zipcode: &str) -> bool {
    zipcode.len() == 5 && zipcode.bytes().all(|b| b.is_ascii_digit())
}

/// Upper-case letters, digits, `-` and `'`, at least one letter: the form Tulip's Géo API
/// returns (`SAINT-DENIS`), not `Saint Denis`.
fn is_normalised_city(city: &str) -> bool {
    city.bytes().any(|b| b.is_ascii_uppercase())
        && city
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-' || b == b'\'')
}
