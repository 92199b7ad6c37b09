//! The sandbox's price: deterministic, so tests and demos can assert it. Tulip's real
//! tariff is not public; this one only has its shape (value, type, length, options).
//!
//! Per product line: its value excluding taxes (inline `value_excl`; 1000 for a catalogue
//! product, whose value the sandbox does not know) × a daily rate by type (LCD 0.4 %, LMD
//! 0.25 %, LLD 0.15 %) × the days covered (whole days, at least one). A short LCD (four
//! hours or less) pays half (`contract-lifecycle.mdx`: "tarif réduit"). Each option beyond
//! `break`, `theft` and the party adds 10 %. Rounded to the cent.

use chrono::{DateTime, Duration, Utc};

use crate::vendors::tulip::types::{ContractRequest, ContractType, ProductLine};

/// The value of a catalogue product.
pub const CATALOGUE_VALUE: f64 = 1000.0;

pub fn line_price(line: &ProductLine, request: &ContractRequest, start: DateTime<Utc>) -> f64 {
    let value = line.value_excl.unwrap_or(CATALOGUE_VALUE);
    let rate = match request.contract_type {
        ContractType::Lcd => 0.004,
        ContractType::Lmd => 0.0025,
        ContractType::Lld => 0.0015,
    };
    let length = request.end_date - start;
    let days = ((length.num_seconds() as f64) / 86_400.0).ceil().max(1.0);
    let short = request.contract_type == ContractType::Lcd && length <= Duration::hours(4);
    let extras = request
        .options
        .iter()
        .filter(|o| !matches!(o.as_str(), "break" | "theft" | "company" | "individual"))
        .count() as f64;
    let price = value * rate * days * (1.0 + 0.1 * extras) * if short { 0.5 } else { 1.0 };
    cents(price)
}

pub fn cents(amount: f64) -> f64 {
    (amount * 100.0).round() / 100.0
}
