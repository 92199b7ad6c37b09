//! `billing_robo.credit.decision`: one application waiting for Robot Payment's decision.
//!
//! Started by the application's own job when it succeeds (a chain, `queue/chain.rs`), with
//! an id derived from it, so the producer can find it from the application's result
//! (`decision_job`). It does not ask the vendor on every look: it snoozes, and the poll
//! (`poll.rs`), which reads every change of every credit in a few calls, writes its
//! decision in the watch list (`watchlist.rs`) and wakes it.
//!
//! Each look:
//! 1. a decision in the watch list ends the job: succeeded, `approved` or `rejected`;
//! 2. otherwise the job puts itself on the watch list (once);
//! 3. at its deadline (`expiry_days` after it started) it leaves the list and ends
//!    `expired`;
//! 4. it searches its own billing code, at low priority in the shared budget: on its first
//!    look when the registration was answered 5411 (the customer may have been active
//!    already), and on every later look that no poll woke (a straggler: a change the
//!    polls missed), which happens once per `straggler_check_secs`;
//! 5. then snoozes until the next such look.
//!
//! No attempt is ever used by waiting, and the vendor is called once a day per waiting
//! application at most, on top of the polls.

use std::time::Duration;

use apalis::prelude::Data;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::watchlist::Decided;
use super::{BillingRoboDeps, queue_error};
use crate::queue::rate_limit::Priority;
use crate::queue::{JobContext, JobError, JobId, JobKind, JobOutput};
use crate::vendors::billing_robo::decision::{self, Waiting};
use crate::vendors::billing_robo::types::{CreditSearch, parse_vendor_datetime, to_jst};

/// An application waiting for its decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AwaitDecision {
    pub billing_code: String,
    /// 与信申請ID, when the registration answered one (not for 5411).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_id: Option<u64>,
    /// 申請日時 as the registration answered it (Japan time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim_type: Option<u8>,
    /// The registration was answered 5411 (pending or active already).
    #[serde(default)]
    pub already_applied: bool,
    /// The `billing_robo.credit.apply` job that sent it.
    pub applied_by: JobId,
}

impl JobKind for AwaitDecision {
    const KIND: &'static str = "billing_robo.credit.decision";
}

/// The chain step's name: the decision job of application job `a` is
/// `JobId::then(a, DECISION_STEP)`.
pub const DECISION_STEP: &str = "decision";

impl AwaitDecision {
    /// How long since the application's job was made (its id carries the time).
    fn waited_secs(&self) -> Option<f64> {
        let made = self.applied_by.created_at_ms()?;
        Some((Utc::now().timestamp_millis() - made) as f64 / 1_000.0)
    }

    /// What a credit record is read against. Without the vendor's own `requested_date`,
    /// since our start less `skew`, on our clock.
    fn waiting(&self, started: Option<DateTime<Utc>>, skew: Duration) -> Waiting {
        let ours =
            started.unwrap_or_else(Utc::now) - chrono::Duration::from_std(skew).unwrap_or_default();
        let since = self
            .requested_date
            .as_deref()
            .and_then(parse_vendor_datetime)
            .unwrap_or_else(|| to_jst(ours));
        Waiting {
            since,
            claim_type: self.claim_type,
            already_applied: self.already_applied,
        }
    }
}

/// One look (the steps in the module docs).
pub async fn await_decision(
    job: AwaitDecision,
    ctx: JobContext,
    deps: Data<BillingRoboDeps>,
) -> Result<JobOutput, JobError> {
    let watchlist = &deps.watchlist;
    if let Some(decided) = watchlist.decided(&ctx.id).await.map_err(queue_error)? {
        return Ok(decided_output(&job, &decided));
    }
    let waiting = job.waiting(ctx.enqueued_at, deps.settings.clock_skew());
    let first_look = watchlist
        .watch(&job.billing_code, &waiting, &ctx.id)
        .await
        .map_err(queue_error)?;
    let expiry = deps.settings.expiry();
    let deadline = ctx
        .enqueued_at
        .map(|at| at + chrono::Duration::from_std(expiry).unwrap_or_default());
    if deadline.is_some_and(|deadline| Utc::now() >= deadline) {
        watchlist
            .unwatch(&job.billing_code, &ctx.id)
            .await
            .map_err(queue_error)?;
        crate::metrics::credit::record_decision("expired", job.waited_secs());
        // Past the kind's deadline, a snooze ends the job `expired`.
        return Err(JobError::snooze(
            Duration::ZERO,
            format!(
                "no decision from Billing-Robo within {} s of the application",
                expiry.as_secs()
            ),
        ));
    }
    if !first_look || job.already_applied {
        let search = CreditSearch::billing_code(&job.billing_code);
        let page = deps
            .metered(Priority::Low, deps.client.search_credits(&search))
            .await?;
        let found = page
            .items
            .iter()
            .find_map(|record| Some((decision::read(record, &waiting)?, record)));
        if let Some((decision, record)) = found {
            let decided = Decided {
                decision,
                credit: record.clone(),
            };
            let watchers = watchlist
                .resolve(&job.billing_code, &decided)
                .await
                .map_err(queue_error)?;
            // Others waiting for the same billing code (an application sent twice).
            watchlist
                .wake(AwaitDecision::KIND, &watchers, Some(&ctx.id))
                .await;
            return Ok(decided_output(&job, &decided));
        }
    }
    Err(JobError::snooze(
        deps.settings.straggler_check(),
        format!(
            "申請中: waiting for Billing-Robo's decision on billing code {}; every poll of \
             changes (each {} s) looks for it, and this job searches on its own at its next \
             attempt",
            job.billing_code, deps.settings.poll_interval_secs
        ),
    ))
}

/// The job's result: the decision and the record that showed it.
fn decided_output(job: &AwaitDecision, decided: &Decided) -> JobOutput {
    crate::metrics::credit::record_decision(decided.decision.as_str(), job.waited_secs());
    JobOutput::new(json!({
        "billing_code": job.billing_code,
        "application_id": job.application_id,
        "decision": decided.decision,
        "decided_at": decided.credit.update_date,
        "credit": decided.credit,
        "applied_by": job.applied_by,
    }))
}
