//! Deciding applications. Nothing in the vendor's API moves an application out of 申請中:
//! Robot Payment reviews by hand, with no published delay and no webhook. The sandbox
//! decides in one of two ways:
//!
//! - the admin endpoints, `POST /_admin/applications/{id}/approve` and `.../reject`;
//! - the demo rule, when `decide_after` is set: an application still pending that long
//!   after it was made is rejected if its billing code contains `reject`, else approved.
//!   The rule is applied lazily, whenever a request or the admin looks, and dated when it
//!   fell due, so what a search shows does not depend on when somebody asked.
//!
//! A decision dates the application's 回答日時 (`responded_date`) and moves its credit:
//! approved makes it 有効 (1); rejected makes it 停止 (0) in the seed, whose statuses are
//! 0, 1 and 2 only, and 未申請 (3) in the current pages. Which of the two the vendor shows
//! after a rejection is **unknown**; a poller reads the application's own status. Either
//! way the credit's `update_date` moves to the decision's time.

use chrono::{DateTime, Utc};

use super::state::{Inner, StoredApplication};
use crate::vendors::billing_robo::types::{ApiVersion, ApplicationStatus, CreditStatus};

/// The word in a billing code that makes the demo rule reject it.
pub const REJECT_MARK: &str = "reject";

/// Why an application cannot be decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecideError {
    NotFound,
    AlreadyDecided(ApplicationStatus),
}

/// Approves or rejects application `id` at `at`.
pub fn decide(
    inner: &mut Inner,
    version: ApiVersion,
    id: u64,
    approve: bool,
    at: DateTime<Utc>,
) -> Result<StoredApplication, DecideError> {
    let application = inner
        .applications
        .iter_mut()
        .find(|a| a.id == id)
        .ok_or(DecideError::NotFound)?;
    if application.status != ApplicationStatus::Pending {
        return Err(DecideError::AlreadyDecided(application.status));
    }
    application.status = if approve {
        ApplicationStatus::Approved
    } else {
        ApplicationStatus::Rejected
    };
    application.responded = Some(at);
    let decided = application.clone();
    if let Some(credit) = inner.credits.get_mut(&decided.billing_code) {
        credit.status = match (approve, version) {
            (true, _) => CreditStatus::Active,
            (false, ApiVersion::Seed) => CreditStatus::Stopped,
            (false, ApiVersion::Current) => CreditStatus::NotApplied,
        };
        credit.update = at;
    }
    inner.effects.decisions += 1;
    Ok(decided)
}

/// Applies the demo rule to every application that fell due by `now`, in the order they
/// fell due, each dated when it did.
pub fn settle(inner: &mut Inner, version: ApiVersion, now: DateTime<Utc>) {
    let mut due: Vec<(DateTime<Utc>, u64, bool)> = inner
        .applications
        .iter()
        .filter(|a| a.status == ApplicationStatus::Pending)
        .filter_map(|a| {
            let at = a.decide_at.filter(|at| *at <= now)?;
            Some((at, a.id, !a.billing_code.contains(REJECT_MARK)))
        })
        .collect();
    due.sort();
    for (at, id, approve) in due {
        // Pending was checked just above, under the same lock.
        let _ = decide(inner, version, id, approve, at);
    }
}
