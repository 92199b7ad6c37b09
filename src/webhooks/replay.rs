//! Sending deliveries again, by hand: one (`resend`) or every failed one of an endpoint
//! since a time (`recover`), for example after the receiver was fixed and re-enabled.
//!
//! A delivery that failed is put back in the queue with a fresh schedule. One that was
//! delivered is sent again as a new delivery of the same event: same `webhook-id`, so the
//! receiver can tell it has seen it.

use chrono::{DateTime, Utc};

use super::delivery::Delivery;
use crate::queue::{
    AppName, Enqueued, JobId, JobKind, JobRecord, JobState, ListFilter, NewJob, QueueError,
    Requeue, RetryOptions, Store,
};

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("no delivery {0}")]
    NotFound(JobId),
    #[error("delivery {0} is {1}: it is still on its way")]
    InFlight(JobId, JobState),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

/// Sends one delivery again. Returns the id of the job that carries it now. With an
/// `owner`, another app's delivery is [`ReplayError::NotFound`] (`None`: the operator's,
/// any delivery). The new delivery keeps the app of the one it repeats.
pub async fn resend(
    store: &Store,
    id: &JobId,
    owner: Option<&AppName>,
) -> Result<JobId, ReplayError> {
    let record = delivery_record(store, id).await?;
    if owner.is_some_and(|owner| record.app.as_ref() != Some(owner)) {
        return Err(ReplayError::NotFound(*id));
    }
    match record.state {
        // A delivery is never ambiguous nor a batch member: a plain requeue.
        JobState::Failed | JobState::Dead => {
            match store.requeue(id, RetryOptions::default()).await? {
                Requeue::Requeued | Requeue::Released { .. } => Ok(*id),
                Requeue::Missing | Requeue::Ambiguous | Requeue::InBatch(_) => {
                    Err(ReplayError::NotFound(*id))
                }
                Requeue::NotDead(state) => Err(ReplayError::InFlight(*id, state)),
            }
        }
        // Delivered, or (a delivery is never snoozed, but should one expire) ended without
        // being retried: a new delivery of the same event.
        JobState::Succeeded | JobState::Expired => {
            let again = NewJob::new(Delivery::KIND, record.payload)
                .with_traceparent(record.traceparent.as_deref().and_then(|t| t.parse().ok()))
                .with_app(record.app);
            let new_id = again.id;
            match store.enqueue(&[again], None).await? {
                Enqueued::Created(_) | Enqueued::Replayed(_) | Enqueued::KeyReused => Ok(new_id),
            }
        }
        state => Err(ReplayError::InFlight(*id, state)),
    }
}

/// Requeues every failed delivery of `endpoint` that died at or after `since`. Returns how
/// many went back. With an `owner`, only that app's deliveries (`None`: any).
pub async fn recover(
    store: &Store,
    endpoint: &str,
    owner: Option<&AppName>,
    since: DateTime<Utc>,
) -> Result<u64, QueueError> {
    let mut requeued = 0;
    let mut cursor = None;
    loop {
        let filter = ListFilter {
            kind: Some(Delivery::KIND.into()),
            payload_field: Some(("endpoint_id".into(), endpoint.into())),
            cursor,
            limit: 200,
            app: owner.cloned(),
            ..ListFilter::default()
        };
        let page = store.dead_filtered(&filter).await?;
        // The dead set is newest first: stop at the first one older than `since`.
        let mut older_seen = false;
        for record in &page.jobs {
            if record.finished_at.is_some_and(|at| at < since) {
                older_seen = true;
                break;
            }
            if store.requeue(&record.id, RetryOptions::default()).await? == Requeue::Requeued {
                requeued += 1;
            }
        }
        match page.next_cursor {
            Some(next) if !older_seen => cursor = Some(next),
            _ => return Ok(requeued),
        }
    }
}

async fn delivery_record(store: &Store, id: &JobId) -> Result<JobRecord, ReplayError> {
    match store.job(id).await? {
        Some(record) if record.kind == Delivery::KIND => Ok(record),
        _ => Err(ReplayError::NotFound(*id)),
    }
}
