//! Jobs caused by other jobs finishing, written in the same atomic step.
//!
//! When a job reaches a final state, the queue asks its [`FinalHook`] (if it has one) for
//! follow-up jobs and writes them together with the final state (`settle.lua`), so a crash
//! can never leave a finished job without them. The webhook module implements the hook:
//! its follow-ups are the deliveries of the job's event. The queue itself knows nothing of
//! webhooks or vendors.

use std::fmt::Debug;
use std::sync::Arc;

use futures::future::BoxFuture;
use serde_json::Value;

use super::app::AppName;
use super::error::QueueError;
use super::id::JobId;
use super::job::JobState;
use super::outcome::ErrorDetail;
use super::settlement::FollowUp;
use super::trace_context::TraceParent;

/// A job that has just reached a final state, as the hook sees it.
#[derive(Debug, Clone)]
pub struct Finished {
    pub id: JobId,
    pub kind: String,
    pub state: JobState,
    pub attempts: u32,
    pub result: Option<Value>,
    pub error: Option<ErrorDetail>,
    pub reference: Option<String>,
    pub metadata: Option<Value>,
    pub payload: Value,
    /// The W3C trace it belongs to: what it causes (webhook deliveries, a chained job)
    /// carries it on.
    pub traceparent: Option<TraceParent>,
    /// The app it belongs to (`None`: an internal job): what it causes belongs to the same
    /// app, and its events go only to that app's endpoints.
    pub app: Option<AppName>,
}

pub trait FinalHook: Send + Sync + Debug + 'static {
    /// Whether the hook may have follow-ups at all right now (for example: are there any
    /// webhook endpoints?). When not, the queue skips reading the finished jobs' records.
    fn active(&self) -> BoxFuture<'_, Result<bool, QueueError>> {
        Box::pin(async { Ok(true) })
    }

    /// Whether a job of this kind can have follow-ups at all (webhook deliveries, say, raise
    /// no event of their own). When not, and the job carries no member jobs, nothing is
    /// read when it finishes.
    fn concerns(&self, kind: &str) -> bool {
        let _ = kind;
        true
    }

    /// The jobs to enqueue because these jobs finished. Called again if the settle that
    /// follows has to be retried, so it must not have effects of its own.
    fn follow_ups<'a>(
        &'a self,
        finished: &'a [Finished],
    ) -> BoxFuture<'a, Result<Vec<FollowUp>, QueueError>>;
}

/// Several hooks as one (the webhook fan-out and the vendors' chains): each is asked only
/// about the finished jobs whose kinds it concerns, and only when it is active.
#[derive(Debug, Clone)]
pub struct Hooks(Vec<Arc<dyn FinalHook>>);

impl Hooks {
    pub fn new(hooks: impl IntoIterator<Item = Arc<dyn FinalHook>>) -> Self {
        Self(hooks.into_iter().collect())
    }
}

impl FinalHook for Hooks {
    fn active(&self) -> BoxFuture<'_, Result<bool, QueueError>> {
        Box::pin(async {
            for hook in &self.0 {
                if hook.active().await? {
                    return Ok(true);
                }
            }
            Ok(false)
        })
    }

    fn concerns(&self, kind: &str) -> bool {
        self.0.iter().any(|hook| hook.concerns(kind))
    }

    fn follow_ups<'a>(
        &'a self,
        finished: &'a [Finished],
    ) -> BoxFuture<'a, Result<Vec<FollowUp>, QueueError>> {
        Box::pin(async move {
            let mut follow_ups = Vec::new();
            for hook in &self.0 {
                let concerned: Vec<Finished> = finished
                    .iter()
                    .filter(|job| hook.concerns(&job.kind))
                    .cloned()
                    .collect();
                if concerned.is_empty() || !hook.active().await? {
                    continue;
                }
                follow_ups.extend(hook.follow_ups(&concerned).await?);
            }
            Ok(follow_ups)
        })
    }
}
