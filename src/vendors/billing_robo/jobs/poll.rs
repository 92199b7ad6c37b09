//! `billing_robo.credit.poll`: the periodic job that learns every decision in a few calls.
//!
//! Robot Payment notifies nothing; its credit search can filter by `update_date_from`, and
//! a credit's `update_date` moves when its status does. So each poll asks "what changed
//! since the last poll?" and reads only that: its cost follows the number of changes, not
//! the number of pending applications.
//!
//! - **Window.** From the start of the last complete poll (`credit:cursor`) less
//!   `poll_margin_secs` (clock skew, and the vendor's own lag before a change shows), to
//!   no end. In Japan time, the vendor's.
//! - **Dates only.** A seed-version vendor takes dates, not times: the window widens to
//!   whole days, which would read every registration of the day again and again. So with
//!   the seed the poll asks for the two final statuses only, 有効 (1) and 停止 (0), one
//!   search each: it reads the day's decisions, not its registrations. (The current pages
//!   filter to the second, and their reading of a refusal is not documented, so there the
//!   poll reads every change.)
//! - **Pages** of 200 (`limit_count`), `page_count` 0, 1, … up to `total_page_count`.
//!   `page_count` stops at 99: a window of more than 100 pages (20,000 changes) is split in
//!   two by time, and each half again if needed.
//! - **Reading.** The billing codes of a page are looked up in the watch list in one
//!   command; a record that decides a watched application (`decision.rs`) resolves it and
//!   wakes its jobs. What nobody waits for (or was resolved already) is skipped.
//! - **Cursor.** Moves to this poll's start once the walk is complete. The order of the
//!   records is unknown, so a record that changed during a walk of several pages may have
//!   pushed an unchanged one across a page boundary unseen. A record moved by a change
//!   shows itself twice (once where it was, once where it went) or changes the page count;
//!   when a walk sees either, the cursor stays, and the next poll reads the window again.
//!
//! Every page is one request from the shared budget at low priority (applications come
//! first); a spent budget defers the poll with no attempt used, and it starts over. With
//! nothing pending, the poll makes no call at all. The result counts the calls, pages,
//! records, decisions and windows, so a poll's cost can be read from its job.

use std::collections::HashSet;

use apalis::prelude::Data;
use chrono::{NaiveDateTime, NaiveTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::decision::AwaitDecision;
use super::watchlist::Decided;
use super::{BillingRoboDeps, queue_error};
use crate::queue::clock::now_ms;
use crate::queue::rate_limit::Priority;
use crate::queue::{JobError, JobKind, JobOutput};
use crate::vendors::billing_robo::decision;
use crate::vendors::billing_robo::types::{
    ApiVersion, CreditRecord, CreditSearch, CreditStatus, DateBound, MAX_LIMIT_COUNT,
    MAX_PAGE_COUNT, Page, now_jst, to_jst,
};

/// A poll (the schedule's payload is empty).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PollCredits {}

impl JobKind for PollCredits {
    const KIND: &'static str = "billing_robo.credit.poll";
}

/// The schedule's name.
pub const SCHEDULE: &str = "billing_robo.poll_credits";

/// What one poll did: its job's result.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PollReport {
    /// Billing codes waiting when it started.
    pub pending: u64,
    /// Vendor calls made (one per page).
    pub calls: u32,
    /// Time windows read (more than one when a window had over 100 pages).
    pub windows: u32,
    /// Records read.
    pub records: u64,
    /// Billing codes decided, and jobs woken.
    pub decided: u32,
    pub woken: u32,
    /// Whether the cursor moved to this poll's start.
    pub cursor_advanced: bool,
    /// False when a window could not be split below 100 pages: the rest is left to the
    /// jobs' own searches.
    pub complete: bool,
}

/// One poll (the module docs).
pub async fn poll_credits(
    _poll: PollCredits,
    deps: Data<BillingRoboDeps>,
) -> Result<JobOutput, JobError> {
    let report = poll(&deps).await?;
    tracing::debug!(?report, "Billing-Robo poll done");
    let oldest = match deps.watchlist.earliest().await {
        Ok(earliest) => earliest.map(|since| (now_jst() - since).num_seconds()),
        Err(_) => None,
    };
    crate::metrics::credit::record_poll(report.calls, report.pending, oldest);
    Ok(JobOutput::new(json!(report)))
}

/// A window of `update_date`, Japan time; `to: None` is open-ended.
type Window = (NaiveDateTime, Option<NaiveDateTime>);

async fn poll(deps: &BillingRoboDeps) -> Result<PollReport, JobError> {
    let started_ms = now_ms();
    let watchlist = &deps.watchlist;
    let mut report = PollReport {
        pending: watchlist.pending().await.map_err(queue_error)?,
        complete: true,
        // Decided by a poll that died before it woke them.
        woken: watchlist
            .wake_leftovers(AwaitDecision::KIND)
            .await
            .map_err(queue_error)?,
        ..PollReport::default()
    };
    if report.pending == 0 {
        // Nothing to learn: the next application is registered after now.
        watchlist
            .advance_cursor(started_ms)
            .await
            .map_err(queue_error)?;
        report.cursor_advanced = true;
        return Ok(report);
    }
    let margin = chrono::Duration::from_std(deps.settings.poll_margin()).unwrap_or_default();
    let from = match watchlist.cursor().await.map_err(queue_error)? {
        Some(cursor_ms) => to_jst(from_ms(cursor_ms)) - margin,
        // No poll has completed yet (or the cursor was lost): from the earliest wait.
        None => match watchlist.earliest().await.map_err(queue_error)? {
            Some(earliest) => earliest - margin,
            None => to_jst(from_ms(started_ms)) - margin,
        },
    };
    let started_jst = to_jst(from_ms(started_ms));
    let statuses: &[Option<CreditStatus>] = match deps.client.version() {
        ApiVersion::Seed => &[Some(CreditStatus::Active), Some(CreditStatus::Stopped)],
        ApiVersion::Current => &[None],
    };
    let mut moved_during_walk = false;
    for status in statuses {
        let mut seen = HashSet::new();
        let mut windows: Vec<Window> = vec![(from, None)];
        while let Some(window) = windows.pop() {
            let first = search(deps, window, *status, 0, &mut report).await?;
            let pages = first.total_page_count;
            if pages > MAX_PAGE_COUNT + 1 {
                if let Some((early, late)) = split(window, started_jst, deps.client.version()) {
                    // Early half last on the stack: read first.
                    windows.push(late);
                    windows.push(early);
                    continue;
                }
                tracing::warn!(
                    pages,
                    "Billing-Robo: more than 100 pages of credit changes in a window that \
                     cannot be split; the rest is left to each application's own search"
                );
                report.complete = false;
            }
            report.windows += 1;
            moved_during_walk |= read_page(deps, &first, &mut seen, &mut report).await?;
            for page_count in 1..pages.min(MAX_PAGE_COUNT + 1) {
                let page = search(deps, window, *status, page_count, &mut report).await?;
                moved_during_walk |= page.total_page_count != pages;
                moved_during_walk |= read_page(deps, &page, &mut seen, &mut report).await?;
            }
        }
    }
    if report.complete && !moved_during_walk {
        watchlist
            .advance_cursor(started_ms)
            .await
            .map_err(queue_error)?;
        report.cursor_advanced = true;
    }
    Ok(report)
}

fn from_ms(ms: i64) -> chrono::DateTime<Utc> {
    chrono::DateTime::from_timestamp_millis(ms).unwrap_or_else(Utc::now)
}

/// One page of the window, under the budget.
async fn search(
    deps: &BillingRoboDeps,
    (from, to): Window,
    status: Option<CreditStatus>,
    page_count: u32,
    report: &mut PollReport,
) -> Result<Page<CreditRecord>, JobError> {
    let search = CreditSearch {
        status,
        update_date_from: Some(DateBound::At(from)),
        update_date_to: to.map(DateBound::At),
        limit_count: Some(MAX_LIMIT_COUNT),
        page_count: Some(page_count),
        ..CreditSearch::default()
    };
    report.calls += 1;
    let page = deps
        .metered(Priority::Low, deps.client.search_credits(&search))
        .await?;
    report.records += page.items.len() as u64;
    Ok(page)
}

/// Two halves of a window, or `None` when it cannot be narrowed: under two seconds, or
/// within one day for a vendor that filters by dates only (its halves then end and start
/// on day boundaries, so that no day is read twice).
fn split((from, to): Window, now: NaiveDateTime, version: ApiVersion) -> Option<(Window, Window)> {
    let end = to.unwrap_or(now);
    let mid = match version {
        ApiVersion::Current => {
            let span = end - from;
            if span < chrono::Duration::seconds(2) {
                return None;
            }
            from + span / 2
        }
        ApiVersion::Seed => {
            let days = (end.date() - from.date()).num_days();
            if days < 1 {
                return None;
            }
            (from.date() + chrono::Duration::days((days + 1) / 2)).and_time(NaiveTime::MIN)
        }
    };
    let early_end = match version {
        ApiVersion::Current => mid,
        ApiVersion::Seed => mid - chrono::Duration::seconds(1),
    };
    Some(((from, Some(early_end)), (mid, to)))
}

/// Resolves what the page decides; answers whether a record read earlier in the walk
/// (`seen`) came again, a sign that records moved during the walk.
async fn read_page(
    deps: &BillingRoboDeps,
    page: &Page<CreditRecord>,
    seen: &mut HashSet<(Option<String>, Option<u64>, Option<u64>)>,
    report: &mut PollReport,
) -> Result<bool, JobError> {
    let mut moved = false;
    for record in &page.items {
        moved |= !seen.insert((record.billing_code.clone(), record.claim_type, record.id));
    }
    let codes: Vec<String> = page
        .items
        .iter()
        .filter_map(|r| r.billing_code.clone())
        .collect();
    let waiting = deps.watchlist.waiting(&codes).await.map_err(queue_error)?;
    let records = page.items.iter().filter(|r| r.billing_code.is_some());
    for (record, waiting) in records.zip(waiting) {
        let (Some(waiting), Some(code)) = (waiting, record.billing_code.as_deref()) else {
            continue;
        };
        let Some(decision) = decision::read(record, &waiting) else {
            continue;
        };
        let decided = Decided {
            decision,
            credit: record.clone(),
        };
        let watchers = deps
            .watchlist
            .resolve(code, &decided)
            .await
            .map_err(queue_error)?;
        report.decided += 1;
        report.woken += deps
            .watchlist
            .wake(AwaitDecision::KIND, &watchers, None)
            .await;
    }
    Ok(moved)
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;

    fn at(day: u32, h: u32, m: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 11, day)
            .and_then(|d| d.and_hms_opt(h, m, 0))
            .expect("a valid time")
    }

    #[test]
    fn an_open_window_splits_at_its_middle_up_to_now_and_keeps_its_open_end() {
        let (early, late) =
            split((at(28, 10, 0), None), at(28, 12, 0), ApiVersion::Current).expect("split");
        assert_eq!(early, (at(28, 10, 0), Some(at(28, 11, 0))));
        assert_eq!(late, (at(28, 11, 0), None));
    }

    #[test]
    fn a_window_too_narrow_for_the_vendor_is_not_split() {
        let one_second = (
            at(28, 10, 0),
            Some(at(28, 10, 0) + chrono::Duration::seconds(1)),
        );
        assert!(split(one_second, at(28, 12, 0), ApiVersion::Current).is_none());
        // Dates only: a window within one day cannot be narrowed; a longer one splits at a
        // midnight, its early half ending the second before.
        assert!(split((at(28, 1, 0), None), at(28, 23, 0), ApiVersion::Seed).is_none());
        let (early, late) =
            split((at(25, 1, 0), None), at(28, 23, 0), ApiVersion::Seed).expect("split");
        assert_eq!(
            early,
            (
                at(25, 1, 0),
                Some(at(26, 23, 59) + chrono::Duration::seconds(59))
            )
        );
        assert_eq!(late, (at(27, 0, 0), None));
    }
}
