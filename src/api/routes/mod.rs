//! One file per resource; each hands back its routes for `api/mod.rs` to mount.
//!
//! - `health.rs`: `/healthz`, `/readyz` (open).
//! - `metrics.rs`: `/metrics` (open).
//! - Vendors' routes (`/v1/<vendor>/...`) live in their folders (`vendors/<vendor>/api.rs`)
//!   and reach `api/mod.rs` through the registry.
//! - `openapi.rs`: `/openapi.json`, the OpenAPI document of all of them (open).
//! - `jobs.rs`: `/v1/jobs...`, job records.
//! - `dead.rs`: `/v1/dead...`, the dead set (an app's own jobs; the bulk routes are the
//!   operator's).
//! - `schedules.rs`: `/v1/schedules`, periodic jobs and when each runs next.
//! - `webhook_endpoints.rs`: `/v1/webhook-endpoints...`, where signed webhooks go.
//! - `webhook_deliveries.rs`: `/v1/webhook-deliveries...`, what was sent, and resending.
//!
//! Paths under `/v1` are written here without the prefix; `api/mod.rs` nests them.
//!
//! Each file hands back an `OpenApiRouter` and adds its handlers with
//! `.routes(routes!(handler, ...))`, each handler described by its `#[utoipa::path]`: that
//! one call serves the route and documents it (see `api/openapi.rs`). Never `.route(...)`,
//! which would serve it undocumented. One `routes!` per path: the macro mounts every
//! handler it is given on every path among them.

pub mod dead;
pub mod health;
pub mod jobs;
pub mod metrics;
pub mod openapi;
pub mod schedules;
pub mod webhook_deliveries;
pub mod webhook_endpoints;
