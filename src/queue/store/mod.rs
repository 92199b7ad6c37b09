//! `Store`: every read and write of the queue's Redis keys goes through here.
//!
//! A [`Store`] holds one shared connection and the key layout (`keys.rs`). Blocking reads
//! (`XREADGROUP BLOCK`) do not go through it: they would hold up every other command on
//! the shared connection, so each worker has its own (see `backend.rs`). Every step that
//! changes more than one key is one Lua script (`scripts/`), hence atomic.
//!
//! The type is defined once, in `handle.rs`; each other file adds one `impl Store` block
//! for one concern:
//!
//! - `handle.rs`: the [`Store`] value and [`Retention`]; `ping`, `raw`, and the note of when
//!   Redis was last unreachable.
//! - `enqueue.rs`: new jobs, under an [`IdempotencyClaim`] or not ([`Enqueued`]).
//! - `read.rs`: job records by id, and counts per state.
//! - `list.rs`: pages of jobs newest first ([`ListFilter`], [`Page`]), the dead set's too.
//! - `claim.rs`: a worker's side of a delivery: the consumer group, [`Claim`], heartbeats,
//!   release.
//! - `promote.rs`: delayed retries moved into their stream when due.
//! - `settle.rs`: an attempt's answer, written with its member jobs and follow-up jobs.
//! - `dead.rs`: the operators' requeue and purge of the dead set ([`Requeue`]).
//! - `retention.rs`: what is deleted and when: finished jobs, the dead set's bounds, idle
//!   consumer names, a whole queue.
//! - `batches.rs`: batch jobs formed from member jobs, and split again.
//! - `schedules.rs`: periodic jobs: declared, their ticks fired, listed ([`ScheduleStatus`]).
//! - `rate_limit.rs`: a vendor's shared request budget: a request taken ([`Acquired`]), a
//!   pause set.
//!
//! The files depend on `handle.rs` (and `settle.rs` and `schedules.rs` on `enqueue.rs`),
//! never on this one or on each other otherwise.

mod batches;
mod claim;
mod dead;
mod enqueue;
mod handle;
mod list;
mod promote;
mod rate_limit;
mod read;
mod retention;
mod sample;
mod schedules;
mod settle;

pub use claim::{Claim, Claimed, Take};
pub use dead::{Requeue, RequeueAll, RetryOptions};
pub use enqueue::{Enqueued, IdempotencyClaim};
pub use handle::{Retention, Store};
pub use list::{ListFilter, Page};
pub use promote::Wake;
pub use rate_limit::Acquired;
pub use sample::KindDepth;
pub use schedules::{ScheduleStatus, Tick};

// Paths callers used when all of this was one file: the clock and the settlement types
// now live beside the store, in the queue, because the store is not their only user.
pub use super::clock::now_ms;
pub use super::settlement::{ChildSettlement, FollowUp, Settlement};
