//! The job queue: our own Redis backend under apalis's worker runtime.
//!
//! - `keys.rs`: the Redis key layout (one hash tag per queue).
//! - `scripts/`: the Lua scripts; every multi-key step is one of them, hence atomic.
//! - `store.rs`: enqueue, read, list, settle, dead-set operations.
//! - `job.rs`: ids, states and records. `outcome.rs`: what handlers answer.
//! - `retry.rs`: where a retry is decided. `kind.rs`: what a job kind is.

pub mod ack;
pub mod backend;
pub mod batcher;
pub mod clock;
mod commit;
pub mod connection;
pub mod context;
pub mod delivery;
pub mod error;
pub mod hook;
pub mod id;
pub mod identity;
pub mod job;
pub mod keys;
pub mod kind;
pub mod leases;
pub mod maintenance;
pub mod metrics;
pub mod outcome;
pub mod reader;
pub mod retry;
mod scripts;
pub mod settlement;
pub mod store;

pub use backend::{FetchSettings, RedisBackend};
pub use connection::Redis;
pub use context::JobContext;
pub use error::QueueError;
pub use hook::{FinalHook, Finished};
pub use id::JobId;
pub use identity::WorkerIdentity;
pub use job::{JobRecord, JobState, NewJob};
pub use keys::Keys;
pub use kind::JobKind;
pub use outcome::{ChildOutcome, ErrorDetail, JobError, JobOutput};
pub use retry::{RetryDecision, RetryPolicy};
pub use store::{Enqueued, IdempotencyClaim, ListFilter, Page, Requeue, Retention, Store};
