//! A job kind = a payload type + a handler + a retry policy.
//!
//! The payload type implements [`JobKind`], which names the kind. The handler is an apalis
//! service (usually an `async fn(Payload, ...) -> Result<JobOutput, JobError>`), registered
//! by the vendor's `jobs.rs`. The retry policy comes from configuration
//! (`[retry."<kind>"]`, falling back to `[retry.default]`).

use serde::Serialize;
use serde::de::DeserializeOwned;

/// A payload type that can travel through the queue.
pub trait JobKind: Serialize + DeserializeOwned + Send + Sync + Unpin + 'static {
    /// The kind's name: `<vendor>.<subject>.<action>`, for example `proteger.contract.cancel`.
    /// It names the kind's Redis stream, so it must never change once jobs exist.
    const KIND: &'static str;
}
