//! The producer API: how work gets into the queue, from Rust or (through `api/`) HTTP.
//!
//! Enqueueing is one atomic Redis step per request: either every job of a bulk request is
//! stored or none is. With an idempotency key, the same key and the same request answer
//! the first request's job ids for the key's lifetime (default 24 h); the same key with a
//! different request is refused; two identical requests racing create one set of jobs.
//!
//! Every job submitted belongs to an app (`queue/app.rs`), given explicitly with each
//! call: the API passes its caller's (`api/auth.rs`), so nothing enqueued through the API
//! can end up without its app or with another's, and a missing one is a compile error
//! rather than a default. Rust callers that are not a tenant (the chaos and benchmark rigs,
//! tests) pass `AppName::default_app()`.

use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use crate::metrics;
use crate::queue::trace_context;
use crate::queue::{
    AppName, Enqueued, IdempotencyClaim, JobId, JobKind, NewJob, QueueError, Store,
};

/// One piece of work, with the producer's own reference and metadata (echoed in results
/// and webhooks, never interpreted).
#[derive(Debug, Clone, Serialize)]
pub struct Submission<T> {
    pub payload: T,
    pub reference: Option<String>,
    pub metadata: Option<Value>,
}

impl<T> Submission<T> {
    pub fn new(payload: T) -> Self {
        Self {
            payload,
            reference: None,
            metadata: None,
        }
    }
}

/// An `Idempotency-Key` and whose it is.
#[derive(Debug, Clone)]
pub struct IdempotencyKey {
    /// The caller's identity (the API uses a keyed hash of its app, `api/scope_key.rs`).
    pub scope: String,
    pub key: String,
}

/// What the producer accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    pub job_ids: Vec<JobId>,
    /// The answer is the first one given for this idempotency key.
    pub replayed: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ProduceError {
    #[error("the Idempotency-Key was already used with a different request")]
    KeyReused,
    #[error("cannot enqueue: {0}")]
    Queue(#[from] QueueError),
    #[error("cannot encode the payload: {0}")]
    Encode(#[from] serde_json::Error),
}

#[derive(Debug, Clone)]
pub struct Producer {
    store: Store,
    idempotency_ttl: Duration,
}

impl Producer {
    pub fn new(store: Store, idempotency_ttl: Duration) -> Self {
        Self {
            store,
            idempotency_ttl,
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Enqueues submissions of one kind for `app`, all or nothing.
    pub async fn submit<T: JobKind>(
        &self,
        app: &AppName,
        submissions: Vec<Submission<T>>,
        idempotency: Option<IdempotencyKey>,
    ) -> Result<Accepted, ProduceError> {
        // The trace of the request being handled, if its producer sent one.
        let traceparent = trace_context::current();
        let jobs = submissions
            .iter()
            .map(|s| {
                Ok(NewJob::new(T::KIND, serde_json::to_value(&s.payload)?)
                    .with_reference(s.reference.clone(), s.metadata.clone())
                    .with_traceparent(traceparent)
                    .with_app(Some(app.clone())))
            })
            .collect::<Result<Vec<_>, serde_json::Error>>()?;
        let claim = match idempotency {
            Some(key) => Some(IdempotencyClaim {
                scope: key.scope,
                key: key.key,
                // The kind is part of the request: one key cannot serve two operations.
                request_hash: IdempotencyClaim::digest(&[
                    T::KIND.as_bytes(),
                    &serde_json::to_vec(&submissions)?,
                ]),
                ttl: self.idempotency_ttl,
            }),
            None => None,
        };
        match self.store.enqueue(&jobs, claim.as_ref()).await? {
            Enqueued::Created(job_ids) => {
                metrics::JOBS_ENQUEUED
                    .with_label_values(&[T::KIND])
                    .inc_by(job_ids.len() as u64);
                Ok(Accepted {
                    job_ids,
                    replayed: false,
                })
            }
            Enqueued::Replayed(job_ids) => Ok(Accepted {
                job_ids,
                replayed: true,
            }),
            Enqueued::KeyReused => Err(ProduceError::KeyReused),
        }
    }

    /// Enqueues one submission for `app`.
    pub async fn submit_one<T: JobKind>(
        &self,
        app: &AppName,
        submission: Submission<T>,
        idempotency: Option<IdempotencyKey>,
    ) -> Result<Accepted, ProduceError> {
        self.submit(app, vec![submission], idempotency).await
    }
}
