//! The "never twice" rule: a creation retried after an ambiguous failure adopts the
//! contract its earlier attempt made, and sends again only when there is none.
//!
//! Tulip has no idempotency key: a `POST /contracts` that timed out, or whose connection
//! dropped after it went out, may have made a contract, and sending it again would make a
//! second one (a second premium billed). So:
//!
//! 1. **Stamp.** Before its first call, the job puts its reference into each product's
//!    `data.internal_id`: `uw:<job id>:<line>` ([`reference`]), unless the producer set
//!    one. The stamped body is the same on every attempt, and Tulip keeps `data` with the
//!    contract.
//! 2. **Mark.** It notes in Redis that it is about to send (`sent.rs`), so that even a
//!    worker killed mid-call leaves a trace.
//! 3. **Look first.** A run that finds the mark (or any attempt after the first) lists the
//!    renter's contracts, `GET /contracts?uid=` page by page ([`find`]), and adopts the one
//!    that carries its references: the job then succeeds with that contract, `adopted:
//!    true`, and nothing is sent.
//! 4. **Send again only when none does.** If the list answers and no contract carries the
//!    references, the earlier attempt made nothing: the creation is sent (and marked) again.
//!    If the list cannot be read, the job retries later rather than send blind; if the
//!    renter has more contracts than `adopt_max_pages` pages, the job fails *ambiguous*
//!    and waits in the dead set for an operator to check at Tulip
//!    (`dead retry --vendor-checked`).
//!
//! ## What "carries its references" means
//!
//! Every reference the job stamped (or the producer set) is among the contract's
//! `data.internal_id`s. A stamped reference names the job, so it is conclusive by itself.
//! When the producer set every line's `internal_id` (a bike's own id, which may recur in
//! the renter's contracts), the contract must also have the request's type and end date,
//! and have been created at most `adopt_clock_skew_secs` before the job was enqueued.

use chrono::{DateTime, Utc};

use super::TulipDeps;
use crate::queue::rate_limit::Priority;
use crate::queue::{ErrorDetail, JobError, JobId};
use crate::vendors::tulip::settings::MAX_PAGE;
use crate::vendors::tulip::types::{Contract, ContractRequest};

/// The reference stamped into product line `line` of job `job`.
pub fn reference(job: &JobId, line: usize) -> String {
    format!("uw:{job}:{line}")
}

/// The contract an earlier attempt of `job` made for `request` (already stamped), if any.
/// `Err` when that cannot be told: a list that failed (retry later) or a renter with more
/// contracts than we read (an operator must look).
pub async fn find(
    deps: &TulipDeps,
    job: &JobId,
    request: &ContractRequest,
    enqueued_at: Option<DateTime<Utc>>,
) -> Result<Option<Contract>, JobError> {
    let wanted = Wanted::new(job, request, enqueued_at, deps);
    let test = request.test == Some(true);
    for page in 0..deps.settings.adopt_max_pages {
        deps.limiter.acquire(Priority::High).await?;
        let listed = deps
            .client
            .list(&request.uid, page * MAX_PAGE, MAX_PAGE, test)
            .await;
        let contracts = match listed {
            Ok(contracts) => contracts,
            Err(error) => return Err(unknowable(super::failed(deps, error).await)),
        };
        let listed = contracts.len();
        if let Some(found) = contracts.into_iter().find(|c| wanted.carried_by(c)) {
            return Ok(Some(found));
        }
        if listed < MAX_PAGE as usize {
            return Ok(None);
        }
    }
    Err(JobError::permanent(
        ErrorDetail::message(format!(
            "an earlier attempt may have created this contract, and renter {} has more than \
             {} contracts to look through: check at Tulip for a contract whose products carry \
             internal_id {}, then retry with --vendor-checked",
            request.uid,
            deps.settings.adopt_max_pages * MAX_PAGE,
            wanted.ids.join(", ")
        ))
        .ambiguous(),
    ))
}

/// A list that failed: retried, even when the failure itself is permanent, because not
/// knowing must never turn into sending. Marked ambiguous, for the dead set.
fn unknowable(verdict: JobError) -> JobError {
    let (detail, retry_after) = match verdict {
        JobError::Permanent { detail } => (detail, None),
        JobError::Retryable {
            detail,
            retry_after,
        } => (detail, retry_after),
        other => return other,
    };
    JobError::Retryable {
        detail: ErrorDetail {
            message: format!(
                "cannot tell whether an earlier attempt created the contract: {}",
                detail.message
            ),
            ambiguous: true,
            ..detail
        },
        retry_after,
    }
}

/// What a contract must carry to be this job's.
struct Wanted {
    ids: Vec<String>,
    /// A reference names the job (some line was stamped by us): conclusive alone.
    stamped: bool,
    contract_type: &'static str,
    end_date: DateTime<Utc>,
    created_since: Option<DateTime<Utc>>,
}

impl Wanted {
    fn new(
        job: &JobId,
        request: &ContractRequest,
        enqueued_at: Option<DateTime<Utc>>,
        deps: &TulipDeps,
    ) -> Self {
        let ids: Vec<String> = request
            .products
            .iter()
            .filter_map(|line| line.internal_id().map(String::from))
            .collect();
        let prefix = format!("uw:{job}:");
        let skew = chrono::Duration::from_std(deps.settings.adopt_clock_skew())
            .unwrap_or(chrono::Duration::zero());
        Self {
            stamped: ids.iter().any(|id| id.starts_with(&prefix)),
            ids,
            contract_type: request.contract_type.as_str(),
            end_date: request.end_date,
            created_since: enqueued_at.map(|at| at - skew),
        }
    }

    fn carried_by(&self, contract: &Contract) -> bool {
        let theirs = contract.internal_ids();
        if contract.cid().is_none() || !self.ids.iter().all(|id| theirs.contains(&id.as_str())) {
            return false;
        }
        if self.stamped {
            return true;
        }
        contract.contract_type() == Some(self.contract_type)
            && contract.end_date() == Some(self.end_date)
            && match (self.created_since, contract.created_date()) {
                (Some(since), Some(created)) => created >= since,
                _ => true,
            }
    }
}
