//! Signed webhooks on job completion (issue 3): when a job reaches a final state, the
//! receivers that asked for it learn it, reliably and verifiably.
//!
//! ## The map
//!
//! ```text
//! a job settles ─► event.rs ─► fanout.rs ─────► delivery.rs ──────► http.rs ─► receiver
//!                  what to     one delivery     a job of its own:   one POST,   (sink.rs in
//!                  say         per endpoint     signs (signing.rs), guarded by  tests and
//!                              that wants it    retries, records    ssrf/       the demo)
//!                              (endpoints.rs)
//! ```
//!
//! - `event.rs`: the event body (`{"type", "timestamp", "data"}`) and the catalogue of
//!   event types the vendors register.
//! - `endpoints.rs`: receivers' URLs, secrets, filters, stored in Redis.
//! - `fanout.rs`: when jobs settle, one delivery per (event, endpoint), written in the
//!   same atomic step as the job's final state.
//! - `delivery.rs`: a delivery is a job of its own kind, with the queue's durability:
//!   schedule, attempt log, dead set, disabling endpoints that keep failing. `replay.rs`:
//!   sending deliveries again by hand (resend, recover).
//! - `ssrf/`: the guard deciding which addresses a webhook may reach; `http.rs`: one
//!   HTTP attempt through it, and what came of it.
//! - [`signing`]: Standard Webhooks v1 signatures (`webhook-id`, `webhook-timestamp`,
//!   `webhook-signature`), the [`signing::Secret`] type and the [`signing::Verifier`] that
//!   receivers (and our own tests) use.
//! - [`sink`]: a receiver for people and tests (`underwrite webhook-sink`): verifies and
//!   records every delivery, and fails on purpose when asked.

// ── The rest of the folder: event, endpoints, fanout, delivery, replay, http, ssrf ──
// (each part adds its own `pub mod` line here)
pub mod delivery;
pub mod endpoints;
pub mod event;
pub mod fanout;
pub mod http;
pub mod replay;
pub mod ssrf;
pub mod worker;

// Signing and the test receiver (issue 3, "Signing" and "A receiver for people and tests").
pub mod signing;
pub mod sink;
