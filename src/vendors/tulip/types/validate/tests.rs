//! The validation against its table (`cases.rs`), and the bodies that must pass.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use super::cases::{CASES, at, lcd, lld, lmd_long, lmd_short};
use super::{Mode, Rules, Violation};
use crate::vendors::tulip::types::request::ContractRequest;

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2030-03-10T09:00:00Z")
        .expect("date")
        .with_timezone(&Utc)
}

fn check(body: &Value, mode: Mode) -> Result<ContractRequest, Vec<Violation>> {
    ContractRequest::parse(body, &Rules::new(mode, now()))
}

#[test]
fn every_code_is_answered_for_its_rule() {
    for (code, field, base, edit) in CASES {
        let mut body = base(now());
        check(&body, Mode::Create).unwrap_or_else(|v| panic!("base of {code} refused: {v:?}"));
        edit(&mut body, now());
        let violations = check(&body, Mode::Create).expect_err(&format!("{code} accepted"));
        assert!(
            violations
                .iter()
                .any(|v| v.code == *code && v.field == *field),
            "{code} on {field}: got {violations:?}"
        );
        let shown = violations[0].to_field_error();
        assert!(shown.reason.contains("(Tulip code "), "{shown:?}");
    }
}

#[test]
fn the_table_covers_every_code_the_issue_lists() {
    let listed: Vec<u32> = (1000..=1010)
        .filter(|c| *c != 1003)
        .chain([1012, 1013, 1014, 1015, 1018, 1019, 1020])
        .chain(1100..=1108)
        .chain([1300, 1301, 1230])
        .chain(1400..=1409)
        .collect();
    for code in listed {
        assert!(
            CASES.iter().any(|case| case.0 == code),
            "no case for {code}"
        );
    }
}

#[test]
fn the_documented_bodies_pass() {
    for body in [lcd(now()), lmd_short(now()), lmd_long(now()), lld(now())] {
        let parsed = check(&body, Mode::Create).unwrap_or_else(|v| panic!("{body}: {v:?}"));
        assert_eq!(
            serde_json::to_value(&parsed).expect("json")["uid"],
            "renter-1"
        );
    }
    // A short LCD (four hours) is a documented product, although the seed says "1 day".
    let mut short = lcd(now());
    short["end_date"] = at(now(), Duration::hours(5));
    assert!(check(&short, Mode::Create).is_ok());
    let mut strict = Rules::new(Mode::Create, now());
    strict.lcd_min_one_day = true;
    let refused = ContractRequest::parse(&short, &strict).expect_err("the strict reading");
    assert_eq!(refused[0].code, 1002);
    // No start date: the contract starts on arrival.
    let mut no_start = lcd(now());
    no_start.as_object_mut().map(|o| o.remove("start_date"));
    assert!(check(&no_start, Mode::Create).is_ok());
}

#[test]
fn a_quote_needs_only_the_product_type_and_value() {
    let quote = json!({"uid": "renter-1", "end_date": at(now(), Duration::days(731)), "contract_type": "LLD",
                       "options": ["break", "theft", "individual", "pro"],
                       "products": [{"product_type": "bike", "product_subtype": "standard", "value_excl": 1100}]});
    assert!(check(&quote, Mode::Quote).is_ok());
    let refused = check(&quote, Mode::Create).expect_err("a creation needs more");
    let codes: Vec<u32> = refused.iter().map(|v| v.code).collect();
    for code in [1014, 1228, 1229, 1220] {
        assert!(codes.contains(&code), "{code} in {codes:?}");
    }
}
