//! Webhook endpoints: where deliveries go, which events they want, and the secrets that
//! sign them.
//!
//! Endpoints come from the config file (`[[webhooks.endpoints]]`, their secret from the
//! environment variable each names, written to Redis at every start by
//! [`EndpointStore::sync_configured`]) and from the API (`/v1/webhook-endpoints`).
//!
//! - `model.rs`: [`Endpoint`] (the stored record, secrets private), [`View`] (what the API
//!   shows: everything but the secrets, header names with masked values), [`NewEndpoint`] and [`EndpointPatch`] with their
//!   field-level validation, the SSRF policy's verdict on the URL included
//!   (`validate_for`, which the API and [`EndpointStore::sync_configured`] use).
//! - `masked.rs`: header values are write-only: answers and `Debug` show names and
//!   [`MASK`]; a write that sends the mask back is refused.
//! - `filter.rs`: event-type patterns (`*`, `proteger.*`, `proteger.contract.created`).
//! - `store.rs`: [`EndpointStore`], their storage in Redis; `write.lua`, `health.lua` and
//!   `rotate.lua` are its atomic steps.
//!
//! ## Keys
//!
//! `webhook:endpoints` (the set of every endpoint's id) and `webhook:endpoint:<id>` (one
//! endpoint's hash), in the queue's hash tag; they are built, with every other key, by
//! `queue/keys.rs`, whose table lists them all. The hash's fields: `url`, `events` and
//! `headers` (JSON), `ordered`, `source`, `created_at`, `updated_at`, `enabled`,
//! `enabled_at`, `disabled_reason`, `failing_since`, `last_success_at` (times in ms),
//! `secret`, `previous_secrets`.
//!
//! Listing every endpoint (the fan-out does it for each settlement) is two round trips:
//! the set, then one pipelined `HGETALL` per id.
//!
//! ## Secrets
//!
//! Stored in Redis, because every delivery signs with them; handed out once, when created
//! or rotated ([`EndpointStore::create`], [`EndpointStore::rotate`]); otherwise readable only
//! as [`Endpoint::signing_secrets`]. Never in a `View`, a `Debug` or an error message.
//! After a rotation the previous secret keeps signing for a grace period
//! (`webhooks.rotation_grace_secs`, 24 h by default). At most one previous secret is kept:
//! a rotation during a grace period replaces the older previous secret, so a delivery
//! carries at most two signatures (`rotate.lua`). The API rotates an endpoint at most
//! `webhooks.rotation_limit` times per `webhooks.rotation_limit_window_secs` (429 past it),
//! counted in `webhook:rotations:<id>`.
//!
//! ## Disabling
//!
//! The delivery worker disables an endpoint whose receiver answers 410
//! ([`EndpointStore::disable`]), and one that has failed without a single success for
//! `webhooks.disable_after_secs` (5 days by default; [`EndpointStore::record_failure`]
//! answers `true` to the one failure that disabled it). Enabling it again through the API
//! (`PATCH {"enabled": true}`) clears the reason and the failing streak.
//!
//! Config-file endpoints are rewritten from the file at every start, so the API may enable
//! or disable them, but not change, rotate or delete them (409): that is done in the file
//! and the environment.

pub mod filter;
mod masked;
mod model;
mod store;

pub use masked::MASK;
pub use model::{
    Endpoint, EndpointPatch, MAX_EVENT_PATTERNS, MAX_HEADERS, MAX_URL_LEN, NewEndpoint, Source,
    View,
};
pub use store::{EndpointError, EndpointStore, Rotation, RotationLimit, Synced};
