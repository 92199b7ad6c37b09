//! Listing jobs, newest first, a page at a time: by state or all of them, and the dead set.
//!
//! Listings walk a sorted set (`idx:<state>`, `idx:all` or `dead`, scored by time) from
//! the cursor down and read the records of what they pass, keeping those the filter
//! admits. The cursor is opaque to callers; it is `<score>:<id>` of the last entry handed
//! out, so a page never repeats or skips an entry, even among the many that share one
//! millisecond (a bulk enqueue).
//!
//! ## One app's jobs
//!
//! An app lists its own jobs only ([`ListFilter::app`]). That is a filter like `kind`, on
//! the same shared indexes, not an index per app: the scan per request stays bounded (ten
//! rounds of `limit + 64` entries), and the cursor moves to the last entry *scanned*, not
//! the last one shown. So a page may hold fewer than `limit` jobs (even none) while
//! `next_cursor` is set, and following it never skips nor repeats one. The price: an app
//! with few jobs among many of others' pages through more empty or short pages. Indexes
//! per app would list faster but need keys named at run time in every state move (Lua
//! scripts declare their keys) and their own upkeep by retention, forget and purge;
//! filtering keeps every existing step untouched, and can be replaced by them later
//! without changing the API (the cursor is opaque).

use super::handle::Store;
use crate::queue::app::AppName;
use crate::queue::error::QueueError;
use crate::queue::id::JobId;
use crate::queue::job::{JobRecord, JobState};

/// A page of jobs, newest first.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Page {
    pub jobs: Vec<JobRecord>,
    /// Pass back to get the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// Filters for listing jobs.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub state: Option<JobState>,
    pub kind: Option<String>,
    /// Only jobs whose payload has this top-level string field with this value.
    pub payload_field: Option<(String, String)>,
    pub cursor: Option<String>,
    pub limit: usize,
    /// Only the jobs of this app (`None`: every job, the operator's view). An app's
    /// listing never shows internal jobs (of no app) nor another app's.
    pub app: Option<AppName>,
}

impl ListFilter {
    fn admits(&self, record: &JobRecord) -> bool {
        self.app
            .as_ref()
            .is_none_or(|app| record.app.as_ref() == Some(app))
            && self.kind.as_ref().is_none_or(|k| *k == record.kind)
            && self.payload_field.as_ref().is_none_or(|(field, value)| {
                record.payload.get(field).and_then(|v| v.as_str()) == Some(value.as_str())
            })
    }
}

impl Store {
    /// Lists jobs newest first, by state (or all) and kind, with an opaque cursor.
    pub async fn list(&self, filter: &ListFilter) -> Result<Page, QueueError> {
        let index = match filter.state {
            Some(state) => self.keys.index(state),
            None => self.keys.index_all(),
        };
        self.page(&index, filter).await
    }

    /// The dead set (failed and dead jobs), most recent death first.
    pub async fn dead(&self, cursor: Option<String>, limit: usize) -> Result<Page, QueueError> {
        let filter = ListFilter {
            cursor,
            limit,
            ..ListFilter::default()
        };
        self.page(&self.keys.dead(), &filter).await
    }

    /// The dead set, filtered (by kind, payload field).
    pub async fn dead_filtered(&self, filter: &ListFilter) -> Result<Page, QueueError> {
        self.page(&self.keys.dead(), filter).await
    }

    /// Walks a sorted set from the cursor down, reading records, until `limit` match.
    /// The cursor is `<score>:<id>` of the last entry handed out. Entries that share a score
    /// (a bulk enqueued in one millisecond) are ordered by id, so paging through them is
    /// exact however many there are.
    async fn page(&self, index: &str, filter: &ListFilter) -> Result<Page, QueueError> {
        let limit = filter.limit.clamp(1, 500);
        let mut cursor = filter.cursor.as_deref().map(parse_cursor).transpose()?;
        let mut jobs = Vec::new();
        // A kind filter may skip many entries; stop after a bounded scan and hand back a
        // cursor, so one request never walks an unbounded index.
        for _round in 0..10 {
            let entries = self
                .entries_after(index, cursor.as_ref(), limit + 64)
                .await?;
            if entries.is_empty() {
                return Ok(Page {
                    jobs,
                    next_cursor: None,
                });
            }
            let taken: Vec<(String, i64)> = entries.into_iter().take(limit - jobs.len()).collect();
            if let Some((member, score)) = taken.last() {
                cursor = Some((*score, member.clone()));
            }
            let ids: Vec<JobId> = taken.iter().filter_map(|(m, _)| m.parse().ok()).collect();
            for record in self.jobs(&ids).await? {
                if filter.admits(&record) {
                    jobs.push(record);
                }
            }
            if jobs.len() >= limit {
                break;
            }
        }
        Ok(Page {
            jobs,
            next_cursor: cursor.map(|(s, m)| format!("{s}:{m}")),
        })
    }

    /// Up to `max` entries strictly after `cursor` in (score desc, id desc) order: first the
    /// rest of the cursor's own score, then lower scores.
    async fn entries_after(
        &self,
        index: &str,
        cursor: Option<&(i64, String)>,
        max: usize,
    ) -> Result<Vec<(String, i64)>, QueueError> {
        let mut conn = self.conn.clone();
        let range = |high: String| {
            let mut cmd = redis::cmd("ZRANGE");
            cmd.arg(index)
                .arg(high)
                .arg("-inf")
                .arg("BYSCORE")
                .arg("REV")
                .arg("LIMIT")
                .arg(0)
                .arg(max)
                .arg("WITHSCORES");
            cmd
        };
        let Some((score, id)) = cursor else {
            return Ok(range("+inf".into()).query_async(&mut conn).await?);
        };
        let ties: Vec<String> = redis::cmd("ZRANGE")
            .arg(index)
            .arg(score)
            .arg(score)
            .arg("BYSCORE")
            .arg("REV")
            .query_async(&mut conn)
            .await?;
        let mut entries: Vec<(String, i64)> = ties
            .into_iter()
            .filter(|member| member < id)
            .take(max)
            .map(|member| (member, *score))
            .collect();
        if entries.len() < max {
            let below: Vec<(String, i64)> =
                range(format!("({score}")).query_async(&mut conn).await?;
            entries.extend(below.into_iter().take(max - entries.len()));
        }
        Ok(entries)
    }
}

fn parse_cursor(cursor: &str) -> Result<(i64, String), QueueError> {
    cursor
        .split_once(':')
        .and_then(|(score, id)| Some((score.parse().ok()?, id.to_string())))
        .ok_or(QueueError::BadCursor)
}
