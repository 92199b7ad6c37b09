//! # underwrite
//!
//! Upstream apps hand underwrite their vendor work (warranty contracts, insurance
//! contracts, credit checks) over HTTP; underwrite stores it in Redis at once and answers
//! `202`, and workers carry it out against slow, rate-limited vendor APIs, retrying with
//! backoff and idempotency keys so that no vendor effect happens twice.
//!
//! ## The map
//!
//! ```text
//!              vendors::all() ── the registry: one Vendor value per vendor folder
//!                 │ routes, job kinds + workers, events, sandbox, settings, secrets
//!                 ▼
//! api/ ──► producer.rs ──► queue/ (Redis) ──► vendors/<vendor>/jobs/ ──► vendors/<vendor>/client.rs
//!  HTTP      enqueue         streams, leases,     job handlers              the vendor's HTTP API
//!                            retries, dead set
//!                                 │ a job's final state, with its webhook deliveries (one atomic step)
//!                                 ▼
//!                            webhooks/delivery.rs ──► webhooks/http.rs ──► the receivers
//!                            signed (signing.rs)       SSRF-guarded (ssrf/)
//! ```
//!
//! - [`config`]: typed settings (`config/default.toml`, then `UNDERWRITE_*` variables);
//!   each vendor's `[vendors.<vendor>]` is read by the vendor itself. [`config_tokens`]:
//!   the API's tokens, each an app's (a tenant's) or the operator's.
//! - [`telemetry`]: the tracing subscriber. [`metrics`]: Prometheus metrics (the queue
//!   defines its own in `queue/metrics.rs`; `metrics.rs` registers and serves them all).
//! - [`startup`]: builds the API, the workers and the chores from settings and a list of
//!   vendors; tests start these, with vendors of their own if they like.
//! - [`queue`]: our Redis backend under apalis's worker runtime: key layout, Lua scripts,
//!   job records, leases, retries (`queue/retry.rs` is where a retry is decided), dead set,
//!   and what vendors build on: snoozes (`snooze.rs`), periodic jobs (`schedule.rs`) and a
//!   request budget shared by every process (`rate_limit.rs`), and the W3C trace a job
//!   carries to its vendor calls and webhooks (`trace_context.rs`). It imports nothing else
//!   of the crate.
//! - [`worker_deps`]: what every worker is built from; below vendors and webhooks alike.
//! - [`workers`]: the worker role: every vendor's workers and chores, and the deliveries.
//! - [`producer`]: the Rust producer API; the HTTP handlers call it.
//! - [`api`]: the producer HTTP API (axum) and its server (`api/serve/`: timeouts and a
//!   connection bound against slow clients): routes, auth, error shape, validation, and the
//!   OpenAPI document (`api/openapi.rs`) assembled with the vendors' routes.
//! - [`vendors`]: the registry (`vendors/mod.rs`) and one folder per vendor with its
//!   client, job handlers, routes, events, settings, sandbox and types.
//! - [`webhooks`]: events, endpoints, signing (where a webhook is signed: `signing.rs`),
//!   the fan-out written with a job's final state, delivery jobs, the SSRF guard, the sink.
//!   It knows no vendor: the registry hands it the event catalogue.
//! - [`sandbox`]: the server that mounts every vendor's fake (`underwrite sandbox`).
//! - [`mod@bench`]: `underwrite bench`, the figures in the README. [`chaos`]: `underwrite
//!   chaos <scenario>`: killed workers, a restarted Redis, a faulty vendor, a receiver
//!   down, corrupt jobs, and what each cost.
//! - [`demo`]: `underwrite demo`, everything in one process with real work sent through.
//! - The binary (`main.rs`, `cli/`): parses the command line and calls into the above.
//!
//! Data flows one way: API → queue → vendor handler → queue (result, webhook deliveries)
//! → webhooks. `queue` knows nothing above it, `webhooks` no vendor, `api` no vendor.

pub mod api;
pub mod bench;
pub mod chaos;
pub mod config;
pub mod config_hints;
pub mod config_tokens;
pub mod demo;
pub mod local_redis;
pub mod metrics;
pub mod producer;
pub mod queue;
pub mod retry_after;
pub mod sandbox;
pub mod startup;
pub mod telemetry;
pub mod validation;
pub mod vendors;
pub mod webhooks;
pub mod worker_deps;
pub mod workers;
