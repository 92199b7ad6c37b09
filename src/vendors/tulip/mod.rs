//! Tulip, French rental insurance (seed 004, `vendor-specs/tulip/`).

pub mod classify;
pub mod client;
pub mod settings;
pub mod types;
