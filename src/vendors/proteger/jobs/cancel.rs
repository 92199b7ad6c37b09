//! `proteger.contract.cancel`: `PUT /v1/contracts/{id}/refund`, a quote when `preview`.

use apalis::prelude::Data;

use super::{CancelContract, ProtegerDeps};
use crate::queue::{JobError, JobOutput};

/// Cancels a contract, or quotes the refund without changing anything.
pub async fn cancel(job: CancelContract, deps: Data<ProtegerDeps>) -> Result<JobOutput, JobError> {
    let quote = deps.client.refund(&job.contract_id, !job.preview).await?;
    Ok(JobOutput::new(
        serde_json::to_value(&quote).unwrap_or_default(),
    ))
}
