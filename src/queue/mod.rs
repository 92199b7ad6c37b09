//! The job queue: our own Redis backend under apalis's worker runtime.

pub mod job;
pub mod kind;
pub mod outcome;
pub mod retry;

pub use job::{JobId, JobRecord, JobState, NewJob};
pub use kind::JobKind;
pub use outcome::{ChildOutcome, ErrorDetail, JobError, JobOutput};
pub use retry::{RetryDecision, RetryPolicy};
