//! Enqueueing: new jobs written atomically, at most once per `Idempotency-Key`.
//!
//! `enqueue.lua` writes every job of a call (record, state indexes, stream entry) in one
//! atomic step. With an [`IdempotencyClaim`] it first looks the key up, in the same step:
//! two concurrent requests with the same key cannot both create jobs, and the later one
//! gets the first one's ids back ([`Enqueued::Replayed`]).
//!
//! `job_args` is the argument layout of `create_job` (`prelude.lua`); settling uses it
//! too, for the follow-up jobs it enqueues (`settle.rs`).

use std::time::Duration;

use sha2::{Digest, Sha256};

use super::handle::Store;
use crate::queue::app::AppName;
use crate::queue::clock::now_ms;
use crate::queue::error::QueueError;
use crate::queue::id::JobId;
use crate::queue::job::NewJob;
use crate::queue::scripts::SCRIPTS;

/// An enqueue under an `Idempotency-Key`.
#[derive(Debug, Clone)]
pub struct IdempotencyClaim {
    /// Whose key it is (a hash of the caller's token): two callers never share keys.
    pub scope: String,
    pub key: String,
    /// A digest of the request; the same key with another request is refused.
    pub request_hash: String,
    pub ttl: Duration,
}

impl IdempotencyClaim {
    /// A digest of a request's parts for [`IdempotencyClaim::request_hash`]. Each part is
    /// prefixed by its length, so moving bytes from one part to the next changes it.
    pub fn digest(parts: &[&[u8]]) -> String {
        let mut hasher = Sha256::new();
        for part in parts {
            hasher.update((part.len() as u64).to_be_bytes());
            hasher.update(part);
        }
        hex::encode(hasher.finalize())
    }
}

/// What an enqueue did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Enqueued {
    /// New jobs were created.
    Created(Vec<JobId>),
    /// The idempotency key was seen before with the same request: its first jobs.
    Replayed(Vec<JobId>),
    /// The idempotency key was seen before with another request.
    KeyReused,
}

impl Store {
    /// Enqueues jobs atomically; with an idempotency claim, concurrent duplicates create
    /// exactly one set of jobs.
    pub async fn enqueue(
        &self,
        jobs: &[NewJob],
        idempotency: Option<&IdempotencyClaim>,
    ) -> Result<Enqueued, QueueError> {
        let ids: Vec<JobId> = jobs.iter().map(|j| j.id).collect();
        let mut invocation = SCRIPTS.enqueue.prepare_invoke();
        invocation.key(self.keys.state_keys());
        match idempotency {
            Some(claim) => invocation
                .key(self.keys.idempotency(&claim.scope, &claim.key))
                .key(self.keys.kinds())
                .arg(now_ms())
                .arg(claim.ttl.as_millis().max(1) as u64)
                .arg(&claim.request_hash),
            // The script's key list has a fixed shape, so a placeholder stands in for the
            // idempotency key; with a TTL of 0 the script never touches it.
            None => invocation
                .key(self.keys.idempotency("-", "-"))
                .key(self.keys.kinds())
                .arg(now_ms())
                .arg(0)
                .arg(""),
        };
        invocation.arg(serde_json::to_string(&ids)?);
        for job in jobs {
            invocation
                .key(self.keys.job(&job.id))
                .key(self.keys.stream(&job.kind));
            job_args(&mut invocation, job)?;
        }
        let mut conn = self.conn.clone();
        let answer: Vec<String> = invocation.invoke_async(&mut conn).await?;
        match answer.first().map(String::as_str) {
            Some("created") => Ok(Enqueued::Created(ids)),
            Some("existing") => {
                let stored = answer.get(1).map(String::as_str).unwrap_or("[]");
                Ok(Enqueued::Replayed(serde_json::from_str(stored)?))
            }
            Some("mismatch") => Ok(Enqueued::KeyReused),
            other => Err(QueueError::Unexpected(format!(
                "enqueue answered {other:?}"
            ))),
        }
    }
}

/// The eight arguments `create_job` (prelude.lua) takes for a job: id, kind, payload,
/// reference, metadata, children, traceparent, app (`""`: none, see `queue/app.rs`).
pub(super) fn job_args(
    invocation: &mut redis::ScriptInvocation<'_>,
    job: &NewJob,
) -> Result<(), serde_json::Error> {
    invocation
        .arg(job.id.to_string())
        .arg(&job.kind)
        .arg(serde_json::to_string(&job.payload)?)
        .arg(job.reference.as_deref().unwrap_or(""))
        .arg(optional_json(job.metadata.as_ref())?)
        .arg(if job.children.is_empty() {
            String::new()
        } else {
            serde_json::to_string(&job.children)?
        })
        .arg(job.traceparent.map(|t| t.to_string()).unwrap_or_default())
        .arg(AppName::to_record(job.app.as_ref()));
    Ok(())
}

fn optional_json(value: Option<&serde_json::Value>) -> Result<String, serde_json::Error> {
    value.map_or(Ok(String::new()), serde_json::to_string)
}
