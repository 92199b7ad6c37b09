//! What a handler knows about the job it runs, besides its payload.

use apalis_core::task::Task;
use apalis_core::task::from_request::FromRequest;
use chrono::{DateTime, Utc};

use super::id::JobId;
use super::trace_context::TraceParent;

/// Handed to every handler (take it as an argument: `ctx: JobContext`).
#[derive(Debug, Clone)]
pub struct JobContext {
    pub id: JobId,
    pub kind: String,
    /// 1 for the first attempt. Re-deliveries after a worker died do not count.
    pub attempt: u32,
    /// Member jobs carried by this job (a vendor batch).
    pub children: Vec<JobId>,
    /// When the job was enqueued (a snooze deadline counts from here); `None` for a record
    /// written by something else without it.
    pub enqueued_at: Option<DateTime<Utc>>,
    /// The W3C trace it belongs to: every vendor call and webhook of the attempt carries
    /// it (`trace_context.rs`).
    pub traceparent: Option<TraceParent>,
    /// When it became due (unix ms): its enqueue, or the retry or snooze it waited for.
    pub(crate) due_at_ms: Option<i64>,
    pub(crate) entry: String,
    pub(crate) token: String,
}

#[derive(Debug, thiserror::Error)]
#[error("this task did not come from the underwrite queue")]
pub struct NotAQueueTask;

impl<Args: Sync> FromRequest<Task<Args>> for JobContext {
    type Error = NotAQueueTask;
    async fn from_request(task: &Task<Args>) -> Result<Self, Self::Error> {
        task.ctx()
            .data()
            .get::<JobContext>()
            .cloned()
            .ok_or(NotAQueueTask)
    }
}
