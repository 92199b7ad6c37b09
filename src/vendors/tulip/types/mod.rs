//! Tulip's wire types, shared by the client, the jobs, our API and the sandbox.
//!
//! - `request.rs`: what we send: a [`ContractRequest`] (create or quote) and a
//!   [`Termination`]; dates as Tulip writes them.
//! - `validate/`: [`ContractRequest::parse`], every rule we know with the code Tulip
//!   answers for it (the API and the sandbox run the same function).
//! - `answers.rs`: what Tulip answers, read in each of its documented envelopes.
//! - `codes.rs`: the error codes and their messages.

pub mod answers;
pub mod codes;
pub mod request;
pub mod validate;

pub use answers::{Contract, Ending, contract_of, contracts_of, error_of};
pub use request::{
    ContractRequest, ContractType, ProductLine, Termination, format_date, parse_date,
};
pub use validate::{Mode, Rules, Span, Violation};
