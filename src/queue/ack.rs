//! The acknowledgement layer: turns a handler's answer into the job's next state.
//!
//! It is the backend's own tower layer, so apalis wraps every handler of our backend in it.
//! Success settles the job (and the member jobs it carries) as `succeeded`; an error goes
//! through the kind's retry policy (`retry.rs`) and becomes a persisted delayed retry, or a
//! burial in the dead set. A snooze becomes a persisted look later, or the job's expiry
//! (`snooze.rs`). Settling is retried while Redis is away: an answer obtained from
//! a vendor is not thrown away because Redis blinked.

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use apalis_core::error::BoxDynError;
use apalis_core::task::Task;
use backon::{ExponentialBuilder, Retryable};
use futures::future::BoxFuture;
use rand::RngExt;
use serde_json::Value;
use tower_layer::Layer;
use tower_service::Service;
use tracing::Instrument;

use super::clock::now_ms;
use super::connection::MAX_BACKOFF;
use super::context::JobContext;
use super::error::QueueError;
use super::hook::{FinalHook, Finished};
use super::id::JobId;
use super::job::JobState;
use super::leases::Leases;
use super::metrics;
use super::outcome::{ChildOutcome, ErrorDetail, JobError, JobOutput};
use super::retry::{RetryDecision, RetryPolicy};
use super::settlement::{ChildSettlement, FollowUp, Settlement};
use super::snooze::{self, SnoozeDecision};
use super::store::Store;
use super::trace_context;

/// What settling needs: the store, the kind's retry policy, the leases to let go of, and
/// the hook that turns finished jobs into follow-up jobs (webhook deliveries).
#[derive(Debug, Clone)]
pub struct Acker {
    pub store: Store,
    pub policy: RetryPolicy,
    pub leases: Leases,
    pub hook: Option<Arc<dyn FinalHook>>,
}

#[derive(Debug, Clone)]
pub struct AckLayer {
    acker: Acker,
}

impl AckLayer {
    pub fn new(acker: Acker) -> Self {
        Self { acker }
    }
}

impl<S> Layer<S> for AckLayer {
    type Service = AckService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AckService {
            inner,
            acker: self.acker.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct AckService<S> {
    inner: S,
    acker: Acker,
}

impl<S, T> Service<Task<T>> for AckService<S>
where
    S: Service<Task<T>, Response = JobOutput>,
    S::Error: Into<BoxDynError>,
    S::Future: Send + 'static,
    T: Send + 'static,
{
    type Response = JobOutput;
    type Error = BoxDynError;
    type Future = BoxFuture<'static, Result<JobOutput, BoxDynError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, task: Task<T>) -> Self::Future {
        let ctx = task.ctx().data().get::<JobContext>().cloned();
        if let Some(ctx) = &ctx {
            self.acker.leases.start(&ctx.entry);
        }
        // Every log line of the attempt carries the job, its kind, its vendor (the kind's
        // first word) and the attempt.
        let trace_id = ctx
            .as_ref()
            .and_then(|ctx| ctx.traceparent)
            .map(|t| t.trace_id());
        let span = match &ctx {
            Some(ctx) => tracing::info_span!(
                "job",
                job_id = %ctx.id,
                kind = %ctx.kind,
                vendor = ctx.kind.split('.').next().unwrap_or_default(),
                attempt = ctx.attempt,
                trace_id = trace_id.as_deref(),
            ),
            None => tracing::Span::none(),
        };
        // Vendor calls and webhooks made by the attempt carry the job's trace.
        let traceparent = ctx.as_ref().and_then(|ctx| ctx.traceparent);
        let future = trace_context::scope(traceparent, self.inner.call(task));
        let acker = self.acker.clone();
        Box::pin(
            async move {
                let started = std::time::Instant::now();
                let running = ctx.as_ref().map(metrics::start_attempt);
                let answer = future.await.map_err(Into::into);
                drop(running);
                let Some(ctx) = ctx else {
                    return answer;
                };
                let settlement = settlement_for(&ctx, &acker.policy, &answer);
                metrics::record_attempt(&ctx, &settlement, started.elapsed());
                acker.settle(&ctx, &settlement).await;
                answer
            }
            .instrument(span),
        )
    }
}

/// The pure part: what the answer means for the job.
fn settlement_for(
    ctx: &JobContext,
    policy: &RetryPolicy,
    answer: &Result<JobOutput, BoxDynError>,
) -> Settlement {
    match answer {
        Ok(output) => Settlement::Succeeded {
            result: output.result.clone(),
            attention: output.attention.clone(),
            children: output
                .children
                .iter()
                .map(|child| match child {
                    ChildOutcome::Succeeded { id, result } => {
                        (*id, ChildSettlement::Succeeded(result.clone()))
                    }
                    ChildOutcome::Failed { id, error } => {
                        (*id, ChildSettlement::Failed(error.clone()))
                    }
                })
                .collect(),
        },
        Err(error) => {
            let error = match error.downcast_ref::<JobError>() {
                Some(job_error) => job_error.clone(),
                // Anything else (a panic caught by a layer, a missing extension) is treated
                // as transient: the retry budget bounds it.
                None => JobError::retryable(ErrorDetail::message(error.to_string())),
            };
            let jitter: f64 = rand::rng().random();
            match policy.decide(ctx.attempt, &error, jitter) {
                RetryDecision::RetryAfter(delay) => Settlement::Retrying {
                    error: error.detail(),
                    due_ms: now_ms() + delay.as_millis() as i64,
                    children: ctx.children.clone(),
                },
                RetryDecision::Defer(delay) => Settlement::Deferred {
                    due_ms: now_ms() + delay.as_millis() as i64,
                },
                RetryDecision::Snooze(after) => snoozed(ctx, policy, &error, after),
                RetryDecision::Exhausted => {
                    let mut detail = error.detail();
                    detail.message =
                        format!("gave up after {} attempts: {}", ctx.attempt, detail.message);
                    Settlement::Buried {
                        state: JobState::Dead,
                        error: detail,
                        children: ctx.children.clone(),
                    }
                }
                RetryDecision::Permanent => Settlement::Buried {
                    state: JobState::Failed,
                    error: error.detail(),
                    children: ctx.children.clone(),
                },
            }
        }
    }
}

/// A snooze: another look later, or the end of the job if its deadline has passed.
fn snoozed(
    ctx: &JobContext,
    policy: &RetryPolicy,
    error: &JobError,
    after: Duration,
) -> Settlement {
    let reason = error.detail().message;
    let enqueued_at_ms = ctx.enqueued_at.map(|at| at.timestamp_millis());
    match snooze::decide(policy.snooze_deadline(), enqueued_at_ms, now_ms(), after) {
        SnoozeDecision::LookAgainAt(due_ms) => Settlement::Snoozed { due_ms, reason },
        SnoozeDecision::Expire { .. } => {
            let deadline = policy.snooze_deadline().unwrap_or_default();
            Settlement::Expired {
                error: ErrorDetail::message(format!(
                    "expired: still not done {} s after it was enqueued (the kind's snooze deadline); last word: {reason}",
                    deadline.as_secs()
                )),
                children: ctx.children.clone(),
            }
        }
    }
}

impl Acker {
    /// Writes the settlement and its follow-ups, retrying while Redis is unreachable (up to
    /// two minutes; after that the lease runs out and another worker runs the job again,
    /// which the vendor's idempotency key makes harmless). Lets go of the lease after.
    pub(crate) async fn settle(&self, ctx: &JobContext, settlement: &Settlement) {
        let attempt = || async {
            let follow_ups = match self.follow_ups(ctx, settlement).await {
                Ok(follow_ups) => follow_ups,
                // Redis answered an error or is away: try again (or let the lease decide),
                // but never write the answer without its events because of it.
                Err(e @ QueueError::Redis(_)) => return Err(e),
                // The events cannot be built from what is stored (a corrupt record): that
                // will not change, and an answer that cannot be recorded is worse than a
                // missing event: the lease would run out and another worker would call the
                // vendor again.
                Err(e) => {
                    tracing::error!(job = %ctx.id, error = %e, "cannot build the events of a finished job; recording it without them");
                    metrics::record_hook_failure(&ctx.kind);
                    Vec::new()
                }
            };
            self.store
                .settle(
                    &ctx.kind,
                    &ctx.id,
                    &ctx.entry,
                    &ctx.token,
                    settlement,
                    &follow_ups,
                )
                .await
        };
        let result = attempt
            .retry(
                ExponentialBuilder::default()
                    .with_min_delay(Duration::from_millis(50))
                    // Jitter adds up to as much again: half the cap keeps the worst
                    // wait after Redis is back at `MAX_BACKOFF`.
                    .with_max_delay(MAX_BACKOFF / 2)
                    .with_total_delay(Some(Duration::from_secs(120)))
                    .without_max_times()
                    .with_jitter(),
            )
            .when(|e| e.is_connection())
            .notify(|e, wait| {
                tracing::warn!(job = %ctx.id, error = %e, ?wait, "cannot record the job's answer yet; retrying")
            })
            .await;
        match result {
            Ok(true) => {}
            Ok(false) => tracing::warn!(
                job = %ctx.id,
                "lease lost before the answer was recorded: another worker holds the job now"
            ),
            Err(e) => {
                tracing::error!(job = %ctx.id, error = %e, "could not record the job's answer")
            }
        }
        self.leases.drop_entry(&ctx.entry);
    }

    /// Asks the hook what the jobs that this settlement finishes cause.
    async fn follow_ups(
        &self,
        ctx: &JobContext,
        settlement: &Settlement,
    ) -> Result<Vec<FollowUp>, QueueError> {
        let Some(hook) = &self.hook else {
            return Ok(Vec::new());
        };
        let carries_members = match settlement {
            Settlement::Succeeded { children, .. } => !children.is_empty(),
            Settlement::Buried { children, .. } | Settlement::Expired { children, .. } => {
                !children.is_empty()
            }
            // Not final: nothing to tell anyone yet.
            Settlement::Retrying { .. }
            | Settlement::Deferred { .. }
            | Settlement::Snoozed { .. } => return Ok(Vec::new()),
        };
        if (!carries_members && !hook.concerns(&ctx.kind)) || !hook.active().await? {
            return Ok(Vec::new());
        }
        // (job, final state, result, error) of every job this settlement finishes.
        let mut ending: Vec<(JobId, JobState, Option<Value>, Option<ErrorDetail>)> = Vec::new();
        match settlement {
            Settlement::Succeeded {
                result, children, ..
            } => {
                ending.push((ctx.id, JobState::Succeeded, Some(result.clone()), None));
                for (child, outcome) in children {
                    ending.push(match outcome {
                        ChildSettlement::Succeeded(result) => {
                            (*child, JobState::Succeeded, Some(result.clone()), None)
                        }
                        ChildSettlement::Failed(error) => {
                            (*child, JobState::Failed, None, Some(error.clone()))
                        }
                    });
                }
            }
            Settlement::Buried {
                state,
                error,
                children,
            } => {
                for id in std::iter::once(&ctx.id).chain(children) {
                    ending.push((*id, *state, None, Some(error.clone())));
                }
            }
            // A final state like the others for the webhooks: the vendor never finished.
            Settlement::Expired { error, children } => {
                for id in std::iter::once(&ctx.id).chain(children) {
                    ending.push((*id, JobState::Expired, None, Some(error.clone())));
                }
            }
            Settlement::Retrying { .. }
            | Settlement::Deferred { .. }
            | Settlement::Snoozed { .. } => return Ok(Vec::new()),
        }
        let ids: Vec<JobId> = ending.iter().map(|(id, ..)| *id).collect();
        let records = self.store.records(&ids).await?;
        let finished: Vec<Finished> = ending
            .into_iter()
            .filter_map(|(id, state, result, error)| {
                let record = records.iter().find(|r| r.id == id)?;
                Some(Finished {
                    id,
                    kind: record.kind.clone(),
                    state,
                    // An expiry is the answer of a snooze, which uses no attempt.
                    attempts: record.attempts + u32::from(state != JobState::Expired),
                    result,
                    error,
                    reference: record.reference.clone(),
                    metadata: record.metadata.clone(),
                    payload: record.payload.clone(),
                    traceparent: record.traceparent.as_deref().and_then(|t| t.parse().ok()),
                    app: record.app.clone(),
                })
            })
            .collect();
        hook.follow_ups(&finished).await
    }
}
