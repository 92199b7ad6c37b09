//! `products`: at least one (1007), each from the catalogue (`product_id`, 1200) or
//! defined inline (`product_type` 1222/1223, `product_subtype` 1224/1225, `value_excl`
//! 1226/1227/1230, `brand` 1228, `model` 1229), with its `data` (1220; `user_name` and
//! `product_marked`: 1300/1301 for a bike, 1310/1311 winter sports, 1320/1321 water
//! sports, the bike's codes for the rest and for catalogue products, whose type we cannot
//! see).
//!
//! A quote needs only the product's type and value (`contract-lifecycle.mdx`): `brand`,
//! `model` and `data` may be left out. For a creation we require `data` with `user_name`
//! and `product_marked` on every line (the OpenAPI schema requires `data`; the seed's
//! examples always carry both): a body that has them passes under every reading. With the
//! `sharing` option Tulip fills `user_name` itself.
//!
//! Also 1221, "the products are invalid": a line mixing a catalogue id and an inline
//! definition, a type the contract's type does not cover (`contract-eligibility.mdx`:
//! winter sports are LCD only; events, small tools and sports not LLD), and `data` values
//! other than strings and numbers (the schema's rule).

use serde_json::{Map, Value};

use super::{Found, Mode, Rules};
use crate::vendors::tulip::types::request::{ContractType, ProductLine};

/// The highest `value_excl` of an inline product.
pub const MAX_VALUE_EXCL: f64 = 15_000.0;

pub const PRODUCT_TYPES: [&str; 7] = [
    "bike",
    "wintersports",
    "watersports",
    "event",
    "high-tech",
    "small-tools",
    "sports",
];

pub const PRODUCT_SUBTYPES: [&str; 50] = [
    "standard",
    "electric",
    "cargo",
    "remorque",
    "furniture",
    "tent",
    "decorations",
    "tableware",
    "entertainment",
    "action-cam",
    "drone",
    "camera",
    "video-camera",
    "stabilizer",
    "phone",
    "computer",
    "tablet",
    "small-appliance",
    "large-appliance",
    "other-electronic-equipment",
    "construction-equipment",
    "diy-tools",
    "electric-diy-tools",
    "gardening-tools",
    "electric-gardening-tools",
    "running-hiking",
    "fishing",
    "golf",
    "racket-sports",
    "horseriding",
    "ball-sports",
    "fitness",
    "water-sports",
    "other",
    "kitesurf",
    "foil",
    "windsurf",
    "sailboat",
    "kayak",
    "canoe",
    "water-ski",
    "wakeboard",
    "mono-ski",
    "buoy",
    "paddle",
    "surf",
    "pedalo",
    "ski",
    "snowboard",
    "snowshoe",
];

pub(super) fn check(
    value: Option<&Value>,
    contract_type: Option<ContractType>,
    options: &Option<Vec<String>>,
    rules: &Rules,
    found: &mut Found,
) -> Option<Vec<ProductLine>> {
    let items = match value {
        Some(Value::Array(items)) if !items.is_empty() => items,
        _ => {
            found.push("products", 1007, "must contain at least one product");
            return None;
        }
    };
    let sharing = options
        .as_ref()
        .is_some_and(|o| o.iter().any(|x| x == "sharing"));
    let mut lines = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let at = format!("products[{index}]");
        let Value::Object(line) = item else {
            found.push(at, 1221, "must be an object");
            continue;
        };
        let before = found.0.len();
        let data_codes = if line.contains_key("product_id") {
            catalogue(line, &at, found)
        } else {
            inline(line, &at, contract_type, rules.mode, found)
        };
        let data = data(line, &at, data_codes, rules.mode, sharing, found);
        if found.0.len() == before {
            lines.push(ProductLine {
                product_id: text(line, "product_id").map(String::from),
                product_type: text(line, "product_type").map(String::from),
                product_subtype: text(line, "product_subtype").map(String::from),
                value_excl: line.get("value_excl").and_then(Value::as_f64),
                brand: text(line, "brand").map(String::from),
                model: text(line, "model").map(String::from),
                data,
            });
        }
    }
    Some(lines)
}

/// The codes of a missing `user_name` and `product_marked`, by product type.
type DataCodes = (u32, u32);

fn catalogue(line: &Map<String, Value>, at: &str, found: &mut Found) -> DataCodes {
    if text(line, "product_id").is_none() {
        found.push(
            format!("{at}.product_id"),
            1200,
            "must be a non-empty string",
        );
    }
    for field in [
        "product_type",
        "product_subtype",
        "value_excl",
        "brand",
        "model",
    ] {
        if line.contains_key(field) {
            found.push(
                format!("{at}.{field}"),
                1221,
                "must not be sent with product_id: a line is either from the catalogue or defined inline",
            );
        }
    }
    (1300, 1301)
}

fn inline(
    line: &Map<String, Value>,
    at: &str,
    contract_type: Option<ContractType>,
    mode: Mode,
    found: &mut Found,
) -> DataCodes {
    let field = |name: &str| format!("{at}.{name}");
    let product_type = text(line, "product_type");
    match product_type {
        None => found.push(field("product_type"), 1222, "is required (or a product_id)"),
        Some(t) if !PRODUCT_TYPES.contains(&t) => found.push(
            field("product_type"),
            1223,
            format!("must be one of {}", PRODUCT_TYPES.join(", ")),
        ),
        Some(t) => {
            if let Some(why) = contract_type.and_then(|c| not_covered(t, c)) {
                found.push(field("product_type"), 1221, why);
            }
        }
    }
    match text(line, "product_subtype") {
        None => found.push(field("product_subtype"), 1224, "is required"),
        Some(s) if !PRODUCT_SUBTYPES.contains(&s) => found.push(
            field("product_subtype"),
            1225,
            "is not a subtype Tulip knows",
        ),
        Some(_) => {}
    }
    match line.get("value_excl") {
        None | Some(Value::Null) => found.push(field("value_excl"), 1226, "is required"),
        Some(value) => match value.as_f64() {
            Some(v) if v > MAX_VALUE_EXCL => found.push(
                field("value_excl"),
                1230,
                "must be at most 15000 (excluding taxes)",
            ),
            Some(v) if v > 0.0 => {}
            _ => found.push(field("value_excl"), 1227, "must be a positive number"),
        },
    }
    if mode == Mode::Create {
        for (name, code) in [("brand", 1228), ("model", 1229)] {
            if text(line, name).is_none() {
                found.push(field(name), code, "is required");
            }
        }
    }
    match product_type {
        Some("wintersports") => (1310, 1311),
        Some("watersports") => (1320, 1321),
        _ => (1300, 1301),
    }
}

/// Why a product type cannot be insured under `contract_type`, if it cannot.
fn not_covered(product_type: &str, contract_type: ContractType) -> Option<&'static str> {
    match (product_type, contract_type) {
        ("wintersports", ContractType::Lmd | ContractType::Lld) => {
            Some("winter sports products are insured in an LCD only")
        }
        ("event" | "small-tools" | "sports", ContractType::Lld) => {
            Some("this product type is not insured in an LLD")
        }
        _ => None,
    }
}

/// Reads and checks a line's `data`.
fn data(
    line: &Map<String, Value>,
    at: &str,
    (user_name_code, marked_code): DataCodes,
    mode: Mode,
    sharing: bool,
    found: &mut Found,
) -> Option<Map<String, Value>> {
    let field = |name: &str| format!("{at}.data.{name}");
    let data = match line.get("data") {
        None | Some(Value::Null) => {
            if mode == Mode::Create {
                found.push(
                    format!("{at}.data"),
                    1220,
                    "is required: user_name and product_marked",
                );
            }
            return None;
        }
        Some(Value::Object(data)) => data,
        Some(_) => {
            found.push(format!("{at}.data"), 1220, "must be an object");
            return None;
        }
    };
    for (key, value) in data {
        if !(value.is_string() || value.is_number()) {
            found.push(field(key), 1221, "must be a string or a number");
        }
    }
    if let Some(id) = data.get("internal_id")
        && id.as_str().is_none_or(|s| s.trim().is_empty())
    {
        found.push(field("internal_id"), 1221, "must be a non-empty string");
    }
    if mode == Mode::Create {
        if !sharing && text(data, "user_name").is_none() {
            found.push(field("user_name"), user_name_code, "is required");
        }
        if text(data, "product_marked").is_none() {
            found.push(field("product_marked"), marked_code, "is required");
        }
    }
    Some(data.clone())
}

fn text<'a>(object: &'a Map<String, Value>, field: &str) -> Option<&'a str> {
    object
        .get(field)?
        .as_str()
        .map(str::trim)
        .filter(|t| !t.is_empty())
}
