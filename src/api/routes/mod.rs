//! One file per resource; each hands back its routes for `api/mod.rs` to mount.
//!
//! - `health.rs`: `/healthz`, `/readyz` (open).
//! - `metrics.rs`: `/metrics` (open).
//! - Vendors' routes (`/v1/<vendor>/...`) live in their folders (`vendors/<vendor>/api.rs`)
//!   and reach `api/mod.rs` through the registry.
//! - `jobs.rs`: `/v1/jobs...`, job records.
//! - `dead.rs`: `/v1/dead...`, the dead set, for operators.
//! - `webhook_endpoints.rs`: `/v1/webhook-endpoints...`, where signed webhooks go.
//! - `webhook_deliveries.rs`: `/v1/webhook-deliveries...`, what was sent, and resending.
//!
//! Paths under `/v1` are written here without the prefix; `api/mod.rs` nests them.

pub mod dead;
pub mod health;
pub mod jobs;
pub mod metrics;
pub mod webhook_deliveries;
pub mod webhook_endpoints;
