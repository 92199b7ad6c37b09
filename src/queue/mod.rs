//! The job queue: our own Redis backend under apalis's worker runtime.
//!
//! The queue imports nothing from the rest of the crate, and no import between two of its
//! files goes both ways. What it must reach beyond itself goes through small seams: the
//! webhook fan-out plugs in as a [`FinalHook`], and whoever serves metrics registers the
//! queue's (`metrics.rs`).
//!
//! Redis:
//! - `keys.rs`: the key layout, every key of a deployment in one table (one hash tag per
//!   queue).
//! - `scripts/` (loaded by `scripts.rs`): the Lua scripts; every multi-key step is one of
//!   them, hence atomic.
//! - `store/`: [`Store`], every read and write of those keys, one file per concern (its
//!   `mod.rs` lists them). `commit.rs`: the group commit, answers ready together written by
//!   one call.
//! - `connection.rs`: connections, and the server settings checked at start-up.
//!
//! Values:
//! - `id.rs`: job ids. `job.rs`: states and records. `kind.rs`: what a job kind is.
//! - `app.rs`: [`AppName`], the upstream app (tenant) a job belongs to, and how a record
//!   stores it.
//! - `outcome.rs`: what handlers answer. `settlement.rs`: what settling writes.
//! - `delivery.rs`: a stream entry handed to a consumer. `clock.rs`: the queue's time unit.
//! - `error.rs`: the queue's own errors.
//!
//! Running jobs:
//! - `backend.rs`: [`RedisBackend`], the apalis backend of one kind. `reader.rs`: reading
//!   deliveries through the consumer group. `identity.rs`: a worker process's name.
//! - `ack.rs`: the layer that turns a handler's answer into a settlement. `retry.rs`: where
//!   a retry is decided. `snooze.rs`: where "not yet, look again later" is decided, and
//!   when a job that keeps snoozing expires. `context.rs`: what a handler knows about its
//!   job.
//! - `leases.rs`: the heartbeat that keeps running jobs' leases. `batcher/`: batch jobs
//!   formed from member jobs; `members.rs`: which members a batch still sends.
//!   `hook.rs`: follow-up jobs of finished jobs; `chain.rs`: the next stage a finished job
//!   leads to (a sent credit application, then its wait for a decision).
//! - `maintenance.rs`: the promoter (due retries) and the janitor (retention). A snoozed
//!   job can be woken early (`Store::wake`) by whoever learns the vendor is done.
//! - `schedule.rs`: periodic jobs, [`Schedule`], and why each tick enqueues one job across
//!   every process. `scheduler.rs`: the loop every worker process runs to fire them.
//! - `rate_limit.rs`: [`RateLimiter`], a vendor's request budget shared by every process,
//!   with priorities and a pause for everyone; a spent budget defers the job.
//! - `metrics.rs`: the queue's Prometheus metrics.

pub mod ack;
pub mod app;
pub mod backend;
pub mod batcher;
pub mod chain;
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
pub mod members;
pub mod metrics;
pub mod outcome;
pub mod rate_limit;
pub mod reader;
pub mod retry;
pub mod schedule;
pub mod scheduler;
mod scripts;
pub mod settlement;
pub mod snooze;
pub mod store;
pub mod trace_context;

pub use app::AppName;
pub use backend::{FetchSettings, RedisBackend};
pub use chain::Chains;
pub use connection::Redis;
pub use context::JobContext;
pub use error::QueueError;
pub use hook::{FinalHook, Finished, Hooks};
pub use id::JobId;
pub use identity::WorkerIdentity;
pub use job::{JobRecord, JobState, NewJob};
pub use keys::Keys;
pub use kind::JobKind;
pub use outcome::{ChildOutcome, ErrorDetail, JobError, JobOutput};
pub use rate_limit::{Budget, BudgetError, Grant, Priority, RateLimiter, Wait, WaitReason};
pub use retry::{RetryDecision, RetryPolicy};
pub use schedule::{Schedule, ScheduleError};
pub use store::{
    Enqueued, IdempotencyClaim, ListFilter, Page, Requeue, RequeueAll, Retention, RetryOptions,
    ScheduleStatus, Store, Tick, Wake,
};
