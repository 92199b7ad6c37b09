//! One example of every code the local validation answers (issue 11: "a table-driven test
//! covers every code"): valid bodies of each kind of contract, and [`CASES`], the edits
//! that break one rule each. The unit tests, the API's and the sandbox's integration tests
//! all run this one table, so the three agree by construction. Shipped (not `cfg(test)`):
//! it is also the shortest documentation of what each code means here.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use crate::vendors::tulip::types::request::format_date;

/// `now + offset`, as Tulip writes dates.
pub fn at(now: DateTime<Utc>, offset: Duration) -> Value {
    json!(format_date(now + offset))
}

pub fn catalogue_line() -> Value {
    json!({"product_id": "5f9b2b3b", "data": {"user_name": "Pierre Dupont", "product_marked": "123456789"}})
}

pub fn company() -> Value {
    json!({"company_name": "Loc Vélo", "siren": "123456789", "first_name": "Marie", "last_name": "Martin",
           "address": "10 RUE DE LA PAIX", "zipcode": "75002", "city": "PARIS-2E-ARRONDISSEMENT", "country": "FR"})
}

pub fn individual() -> Value {
    json!({"first_name": "Pierre", "last_name": "Dupont", "address": "1 RUE DE RIVOLI", "zipcode": "75001",
           "city": "PARIS-1ER-ARRONDISSEMENT", "country": "FR", "phone_number": "0600000000",
           "email": "pierre@example.com"})
}

/// A one-day LCD from the catalogue.
pub fn lcd(n: DateTime<Utc>) -> Value {
    json!({"uid": "renter-1", "start_date": at(n, Duration::hours(1)), "end_date": at(n, Duration::hours(25)),
           "contract_type": "LCD", "options": ["break", "theft"], "products": [catalogue_line()]})
}

/// A two-month LMD.
pub fn lmd_short(n: DateTime<Utc>) -> Value {
    json!({"uid": "renter-1", "start_date": at(n, Duration::hours(1)), "end_date": at(n, Duration::days(61)),
           "contract_type": "LMD", "options": ["break", "theft"], "products": [catalogue_line()]})
}

/// A seven-month LMD for a company.
pub fn lmd_long(n: DateTime<Utc>) -> Value {
    json!({"uid": "renter-1", "start_date": at(n, Duration::hours(1)), "end_date": at(n, Duration::days(214)),
           "contract_type": "LMD", "options": ["break", "theft", "company"], "company": company(),
           "products": [catalogue_line()]})
}

/// A two-year LLD for an individual commuting by bike, defined inline.
pub fn lld(n: DateTime<Utc>) -> Value {
    json!({"uid": "renter-1", "start_date": at(n, Duration::hours(1)), "end_date": at(n, Duration::days(731)),
           "contract_type": "LLD", "options": ["break", "theft", "individual", "home_to_work"],
           "individual": individual(),
           "products": [{"product_type": "bike", "product_subtype": "electric", "value_excl": 2500,
                         "brand": "Pelago", "model": "Brooklyn",
                         "data": {"user_name": "Pierre Dupont", "product_marked": "FR-123"}}]})
}

pub fn inline(product_type: &str) -> Value {
    json!({"product_type": product_type, "product_subtype": "standard", "value_excl": 900,
           "brand": "B", "model": "M", "data": {"user_name": "U", "product_marked": "P"}})
}

/// Breaks one rule of a body made at `now`.
pub type Edit = fn(&mut Value, DateTime<Utc>);
/// Makes a valid body at `now`.
pub type Base = fn(DateTime<Utc>) -> Value;

/// `(code, field, base body, edit)`: the edited body must be refused with `code` on `field`.
pub const CASES: &[(u32, &str, Base, Edit)] = &[
    (1000, "start_date", lcd, |b, n| {
        b["start_date"] = at(n, Duration::minutes(-31))
    }),
    (1000, "start_date", lcd, |b, _n| {
        b["start_date"] = json!("yesterday")
    }),
    (1001, "end_date", lcd, |b, n| {
        b["end_date"] = at(n, Duration::minutes(30))
    }),
    (1002, "end_date", lcd, |b, n| {
        b["end_date"] = at(n, Duration::days(33))
    }),
    (1002, "end_date", lmd_short, |b, n| {
        b["end_date"] = at(n, Duration::days(20))
    }),
    (1002, "end_date", lmd_short, |b, n| {
        b["end_date"] = at(n, Duration::days(400))
    }),
    (1002, "end_date", lld, |b, n| {
        b["end_date"] = at(n, Duration::days(200))
    }),
    (1002, "end_date", lld, |b, n| {
        b["end_date"] = at(n, Duration::days(1900))
    }),
    (1004, "contract_type", lcd, |b, _n| {
        b["contract_type"] = json!("XXL")
    }),
    (1005, "end_date", lcd, |b, _n| {
        drop(b.as_object_mut().map(|o| o.remove("end_date")))
    }),
    (1006, "contract_type", lcd, |b, _n| {
        drop(b.as_object_mut().map(|o| o.remove("contract_type")))
    }),
    (1007, "products", lcd, |b, _n| b["products"] = json!([])),
    (1008, "options", lcd, |b, _n| {
        drop(b.as_object_mut().map(|o| o.remove("options")))
    }),
    (1009, "options", lmd_long, |b, _n| {
        b["options"] = json!(["break", "theft"])
    }),
    (1010, "options[2]", lcd, |b, _n| {
        b["options"] = json!(["break", "theft", "jetpack"])
    }),
    (1010, "options[2]", lcd, |b, _n| {
        b["options"] = json!(["break", "theft", "company"])
    }),
    (1010, "options[2]", lcd, |b, _n| {
        b["options"] = json!(["break", "theft", "ia"])
    }),
    (1010, "options[2]", lmd_short, |b, _n| {
        b["options"] = json!(["break", "theft", "sharing"])
    }),
    (1010, "options", lld, |b, _n| {
        b["options"] = json!(["break", "theft", "individual", "company", "pro"])
    }),
    (1012, "uid", lcd, |b, _n| b["uid"] = json!("")),
    (1013, "company", lmd_long, |b, _n| {
        drop(b.as_object_mut().map(|o| o.remove("company")))
    }),
    (1013, "company", lcd, |b, _n| b["company"] = company()),
    (1014, "individual", lld, |b, _n| {
        drop(b.as_object_mut().map(|o| o.remove("individual")))
    }),
    (1014, "individual", lmd_short, |b, _n| {
        b["individual"] = individual()
    }),
    (1015, "options", lld, |b, _n| {
        b["options"] = json!(["break", "theft", "individual"])
    }),
    (1015, "options", lld, |b, _n| {
        b["options"] = json!(["break", "individual", "pro"])
    }),
    (1018, "options", lcd, |b, _n| {
        b["options"] = json!(["break"])
    }),
    (1019, "options", lmd_short, |b, _n| {
        b["options"] = json!(["theft"])
    }),
    (1020, "options", lmd_long, |b, _n| {
        b["options"] = json!(["break", "company"])
    }),
    (1100, "company.company_name", lmd_long, |b, _n| {
        b["company"]["company_name"] = json!(" ")
    }),
    (1101, "company.siren", lld, |b, _n| {
        b["options"] = json!(["break", "theft", "company", "pro"]);
        b["company"] = company();
        b["company"].as_object_mut().map(|c| c.remove("siren"));
        b.as_object_mut().map(|o| o.remove("individual"));
    }),
    (1102, "company.siren", lmd_long, |b, _n| {
        b["company"]["siren"] = json!("1234")
    }),
    (1103, "company.first_name", lmd_long, |b, _n| {
        b["company"]["first_name"] = json!(null)
    }),
    (1104, "company.last_name", lmd_long, |b, _n| {
        b["company"]["last_name"] = json!("")
    }),
    (1105, "company.address", lmd_long, |b, _n| {
        b["company"]["address"] = json!(null)
    }),
    (1106, "company.zipcode", lmd_long, |b, _n| {
        b["company"]["zipcode"] = json!(null)
    }),
    (1106, "company.zipcode", lmd_long, |b, _n| {
        b["company"]["zipcode"] = json!("7500")
    }),
    (1107, "company.city", lmd_long, |b, _n| {
        b["company"]["city"] = json!(null)
    }),
    (1107, "company.city", lmd_long, |b, _n| {
        b["company"]["city"] = json!("Paris")
    }),
    (1108, "company.country", lmd_long, |b, _n| {
        b["company"]["country"] = json!(null)
    }),
    (1108, "company.country", lmd_long, |b, _n| {
        b["company"]["country"] = json!("France")
    }),
    (1200, "products[0].product_id", lcd, |b, _n| {
        b["products"][0]["product_id"] = json!("")
    }),
    (1220, "products[0].data", lcd, |b, _n| {
        drop(b["products"][0].as_object_mut().map(|o| o.remove("data")))
    }),
    (1221, "products[0]", lcd, |b, _n| {
        b["products"] = json!(["bike"])
    }),
    (1221, "products[0].value_excl", lcd, |b, _n| {
        b["products"][0]["value_excl"] = json!(10)
    }),
    (1221, "products[0].product_type", lmd_short, |b, _n| {
        b["products"] = json!([inline("wintersports")])
    }),
    (1221, "products[0].data.colour", lcd, |b, _n| {
        b["products"][0]["data"]["colour"] = json!(["red"])
    }),
    (1222, "products[0].product_type", lld, |b, _n| {
        drop(
            b["products"][0]
                .as_object_mut()
                .map(|o| o.remove("product_type")),
        )
    }),
    (1223, "products[0].product_type", lld, |b, _n| {
        b["products"][0]["product_type"] = json!("car")
    }),
    (1224, "products[0].product_subtype", lld, |b, _n| {
        drop(
            b["products"][0]
                .as_object_mut()
                .map(|o| o.remove("product_subtype")),
        )
    }),
    (1225, "products[0].product_subtype", lld, |b, _n| {
        b["products"][0]["product_subtype"] = json!("rocket")
    }),
    (1226, "products[0].value_excl", lld, |b, _n| {
        drop(
            b["products"][0]
                .as_object_mut()
                .map(|o| o.remove("value_excl")),
        )
    }),
    (1227, "products[0].value_excl", lld, |b, _n| {
        b["products"][0]["value_excl"] = json!(0)
    }),
    (1228, "products[0].brand", lld, |b, _n| {
        drop(b["products"][0].as_object_mut().map(|o| o.remove("brand")))
    }),
    (1229, "products[0].model", lld, |b, _n| {
        b["products"][0]["model"] = json!("")
    }),
    (1230, "products[0].value_excl", lld, |b, _n| {
        b["products"][0]["value_excl"] = json!(15000.01)
    }),
    (1300, "products[0].data.user_name", lcd, |b, _n| {
        drop(
            b["products"][0]["data"]
                .as_object_mut()
                .map(|o| o.remove("user_name")),
        )
    }),
    (1301, "products[0].data.product_marked", lld, |b, _n| {
        b["products"][0]["data"]["product_marked"] = json!("")
    }),
    (1310, "products[0].data.user_name", lcd, |b, _n| {
        b["products"] = json!([inline("wintersports")]);
        b["products"][0]["data"]
            .as_object_mut()
            .map(|o| o.remove("user_name"));
    }),
    (1311, "products[0].data.product_marked", lcd, |b, _n| {
        b["products"] = json!([inline("wintersports")]);
        b["products"][0]["data"]
            .as_object_mut()
            .map(|o| o.remove("product_marked"));
    }),
    (1320, "products[0].data.user_name", lcd, |b, _n| {
        b["products"] = json!([inline("watersports")]);
        b["products"][0]["data"]
            .as_object_mut()
            .map(|o| o.remove("user_name"));
    }),
    (1321, "products[0].data.product_marked", lcd, |b, _n| {
        b["products"] = json!([inline("watersports")]);
        b["products"][0]["data"]
            .as_object_mut()
            .map(|o| o.remove("product_marked"));
    }),
    (1400, "individual.first_name", lld, |b, _n| {
        b["individual"]["first_name"] = json!(null)
    }),
    (1401, "individual.last_name", lld, |b, _n| {
        b["individual"]["last_name"] = json!(null)
    }),
    (1402, "individual.address", lld, |b, _n| {
        b["individual"]["address"] = json!(null)
    }),
    (1403, "individual.zipcode", lld, |b, _n| {
        b["individual"]["zipcode"] = json!(null)
    }),
    (1404, "individual.city", lld, |b, _n| {
        b["individual"]["city"] = json!(null)
    }),
    (1405, "individual.phone_number", lld, |b, _n| {
        b["individual"]["phone_number"] = json!(null)
    }),
    (1406, "individual.country", lld, |b, _n| {
        b["individual"]["country"] = json!(null)
    }),
    (1407, "individual.zipcode", lld, |b, _n| {
        b["individual"]["zipcode"] = json!("ABCDE")
    }),
    (1408, "individual.city", lld, |b, _n| {
        b["individual"]["city"] = json!("Saint Denis")
    }),
    (1409, "individual.country", lld, |b, _n| {
        b["individual"]["country"] = json!("DE")
    }),
    (1410, "individual.email", lld, |b, _n| {
        b["individual"]["email"] = json!("no-at-sign")
    }),
];
