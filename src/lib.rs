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
//! api/  ──► producer.rs ──► queue/ (Redis) ──► vendors/<vendor>/jobs.rs ──► vendors/<vendor>/client.rs
//!  HTTP       enqueue         streams, leases,      job handlers               the vendor's HTTP API
//!                             retries, dead set
//!                                  │ a job's final state, with its webhook deliveries (one atomic step)
//!                                  ▼
//!                             webhooks/delivery.rs ──► webhooks/http.rs ──► the receivers
//!                             signed (signing.rs)       SSRF-guarded
//! ```
//!
//! - [`config`]: typed settings (`config/default.toml`, then `UNDERWRITE_*` variables).
//! - [`telemetry`]: the tracing subscriber. [`metrics`]: Prometheus metrics (the queue
//!   defines its own in `queue/metrics.rs`; `metrics.rs` registers and serves them all).
//! - [`startup`]: builds the API, the workers and the sandbox from settings; tests start these.
//! - [`queue`]: our Redis backend under apalis's worker runtime: key layout, Lua scripts,
//!   job records, leases, retries (`queue/retry.rs` is where a retry is decided), dead set.
//! - [`producer`]: the Rust producer API; the HTTP handlers call it.
//! - [`api`]: the producer HTTP API (axum): routes, auth, error shape, validation.
//! - [`vendors`]: one folder per vendor with its client, job handlers, sandbox and types.
//! - [`webhooks`]: events, endpoints, signing (where a webhook is signed: `signing.rs`),
//!   the fan-out written with a job's final state, delivery jobs, the SSRF guard, the sink.
//! - [`sandbox`]: the server that mounts every vendor's fake (`underwrite sandbox`).
//! - [`mod@bench`]: `underwrite bench`, the figures in the README. [`chaos`]: `underwrite
//!   chaos <scenario>`: killed workers, a restarted Redis, a faulty vendor, a receiver
//!   down, corrupt jobs, and what each cost.
//! - [`demo`]: `underwrite demo`, everything in one process with real work sent through.
//! - The binary (`main.rs`, `cli/`): parses the command line and calls into the above.
//!
//! Data flows one way: API → queue → vendor handler → queue (result, webhook deliveries)
//! → webhooks.

pub mod api;
pub mod bench;
pub mod chaos;
pub mod config;
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
