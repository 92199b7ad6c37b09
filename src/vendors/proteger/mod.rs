//! Proteger, the Japanese extended-warranty vendor (seeds 000 and 001).
//!
//! - `types.rs`: the wire types, shared by the client and the sandbox, with validation.
//! - `client.rs`: the HTTP client; `classify.rs`: which vendor answers are worth a retry.
//! - `jobs.rs`: the job kinds and their handlers (bulk creation in batches, cancellation).
//! - `sandbox/`: a faithful local fake of the vendor API, with fault injection.

pub mod classify;
pub mod client;
pub mod events;
pub mod jobs;
pub mod sandbox;
pub mod types;
