//! The watch list: which applications wait for a decision, kept in Redis so that one poll
//! in one process can tell every waiting job in every process.
//!
//! | key (`Keys::vendor("billing_robo", …)`) | type | holds |
//! |---|---|---|
//! | `credit:pending` | hash | billing code → what a credit record is read against: since when it has waited (Japan time, `yyyy/mm/dd hh:mm:ss`, the earliest of its watchers) and its claim type (JSON) |
//! | `credit:watchers:<billing code>` | set | the `billing_robo.credit.decision` jobs waiting for it |
//! | `credit:decided:<job>` | string | the decision found for that job (JSON), kept 35 days |
//! | `credit:cursor` | string | when the last complete poll started (unix ms) |
//! | `credit:waking` | set | decided jobs not yet woken (or marked: see `Store::wake`) |
//!
//! A billing code has one pending application at the vendor (a second one is answered
//! 5411), but may have several jobs waiting for it (an application sent twice by a
//! producer): the decision is for all of them. The poll looks billing codes up in
//! `credit:pending` only for the records that changed, so its cost follows the changes,
//! not the number of pending applications.
//!
//! Each step is one Lua script or one command, so a crash leaves either the step done or
//! not: [`Watchlist::resolve`] writes every watcher's decision, forgets the billing code
//! and lists the watchers in `credit:waking` together; [`Watchlist::wake`] wakes them and
//! takes them off that list. A poll killed in between leaves them listed, and the next poll
//! (any process's) wakes them first ([`Watchlist::wake_leftovers`]): no decided job waits
//! for its daily straggler check. A job still running when it is woken is marked, and its
//! snooze is then due at once (`Store::wake`), so a wake that races a job's own look is
//! not lost either.

use std::sync::LazyLock;
use std::time::Duration;

use chrono::NaiveDateTime;
use redis::Script;
use redis::aio::ConnectionManager;
use serde::{Deserialize, Serialize};

use crate::queue::{JobId, QueueError, Store, Wake};
use crate::vendors::billing_robo::decision::{Decision, Waiting};
use crate::vendors::billing_robo::settings::NAME;
use crate::vendors::billing_robo::types::{CreditRecord, format_datetime, parse_vendor_datetime};

/// How long a decision waits for its job to read it: longer than any snooze.
const DECIDED_TTL: Duration = Duration::from_secs(35 * 86_400);

/// A decision as the poll (or a job's own search) found it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decided {
    pub decision: Decision,
    /// The credit record that showed it (credentials were never in it).
    pub credit: CreditRecord,
}

/// Registers a watcher; keeps the earliest `since` of a billing code (the dates compare as
/// text: `yyyy/mm/dd hh:mm:ss`).
/// KEYS: pending hash, watchers set. ARGV: billing code, watched JSON, its since, job id.
/// Returns 1 when the job was not watching yet.
static WATCH: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local old = redis.call('HGET', KEYS[1], ARGV[1])
local ok, stored = pcall(cjson.decode, old or '')
if (not old) or (not ok) or type(stored) ~= 'table' or ARGV[3] < tostring(stored.since) then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
end
return redis.call('SADD', KEYS[2], ARGV[4])
",
    )
});

/// A watched billing code as `credit:pending` keeps it.
#[derive(Debug, Serialize, Deserialize)]
struct Watched {
    since: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    claim_type: Option<u8>,
}

/// Writes the decision for every watcher of a billing code, forgets the code and lists the
/// watchers to wake. KEYS: pending hash, watchers set, the waking set. ARGV: billing code,
/// decided JSON, TTL seconds, the decided keys' prefix. Returns the watchers (a billing
/// code has one or two: `unpack` stays small).
static RESOLVE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local watchers = redis.call('SMEMBERS', KEYS[2])
for _, job in ipairs(watchers) do
  redis.call('SET', ARGV[4] .. job, ARGV[2], 'EX', ARGV[3])
end
redis.call('DEL', KEYS[2])
redis.call('HDEL', KEYS[1], ARGV[1])
if #watchers > 0 then
  redis.call('SADD', KEYS[3], unpack(watchers))
end
return watchers
",
    )
});

/// Stops a job's watch (it expired); forgets the billing code when nobody else waits.
/// KEYS: pending hash, watchers set. ARGV: billing code, job id.
static UNWATCH: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
redis.call('SREM', KEYS[2], ARGV[2])
if redis.call('SCARD', KEYS[2]) == 0 then
  redis.call('HDEL', KEYS[1], ARGV[1])
end
return 1
",
    )
});

/// Moves the cursor forward only (a slow poll that ends after a faster, later one must
/// not undo it). KEYS: the cursor. ARGV: the poll's start (unix ms).
static ADVANCE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local old = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > old then redis.call('SET', KEYS[1], ARGV[1]) end
return 1
",
    )
});

/// The watch list of one queue.
#[derive(Debug, Clone)]
pub struct Watchlist {
    store: Store,
}

impl Watchlist {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    fn key(&self, name: &str) -> String {
        self.store.keys().vendor(NAME, name)
    }

    fn pending_key(&self) -> String {
        self.key("credit:pending")
    }

    fn watchers_key(&self, billing_code: &str) -> String {
        self.key(&format!("credit:watchers:{billing_code}"))
    }

    fn waking_key(&self) -> String {
        self.key("credit:waking")
    }

    fn decided_prefix(&self) -> String {
        self.key("credit:decided:")
    }

    fn conn(&self) -> ConnectionManager {
        self.store.connection()
    }

    /// `job` waits for the application of `billing_code`. Returns whether it was not
    /// watching yet (its first look).
    pub async fn watch(
        &self,
        billing_code: &str,
        waiting: &Waiting,
        job: &JobId,
    ) -> Result<bool, QueueError> {
        let since = format_datetime(waiting.since);
        let watched = Watched {
            since: since.clone(),
            claim_type: waiting.claim_type,
        };
        let added: i64 = WATCH
            .key(self.pending_key())
            .key(self.watchers_key(billing_code))
            .arg(billing_code)
            .arg(serde_json::to_string(&watched)?)
            .arg(since)
            .arg(job.to_string())
            .invoke_async(&mut self.conn())
            .await?;
        Ok(added == 1)
    }

    /// Records `decided` for every job waiting for `billing_code` and forgets the code.
    /// Returns the jobs to wake.
    pub async fn resolve(
        &self,
        billing_code: &str,
        decided: &Decided,
    ) -> Result<Vec<JobId>, QueueError> {
        let watchers: Vec<String> = RESOLVE
            .key(self.pending_key())
            .key(self.watchers_key(billing_code))
            .key(self.waking_key())
            .arg(billing_code)
            .arg(serde_json::to_string(decided)?)
            .arg(DECIDED_TTL.as_secs())
            .arg(self.decided_prefix())
            .invoke_async(&mut self.conn())
            .await?;
        Ok(watchers.iter().filter_map(|w| w.parse().ok()).collect())
    }

    /// Wakes decided jobs of `kind` and takes them off the waking list; `itself` (a job
    /// that found its own decision and is answering now) is only taken off. A job Redis
    /// could not wake stays listed for the next poll. Returns how many were woken or
    /// marked.
    pub async fn wake(&self, kind: &str, jobs: &[JobId], itself: Option<&JobId>) -> u32 {
        let mut done = Vec::new();
        let mut woken = 0;
        for job in jobs {
            if Some(job) == itself {
                done.push(job.to_string());
                continue;
            }
            match self.store.wake(kind, job).await {
                Ok(wake) => {
                    woken += u32::from(wake != Wake::NotWaiting);
                    done.push(job.to_string());
                }
                Err(e) => {
                    tracing::warn!(%job, error = %e, "cannot wake a decided application's job yet; the next poll tries again");
                }
            }
        }
        if !done.is_empty() {
            let removed: Result<i64, _> = redis::cmd("SREM")
                .arg(self.waking_key())
                .arg(&done)
                .query_async(&mut self.conn())
                .await;
            if let Err(e) = removed {
                // Harmless: the next poll wakes them again, which changes nothing.
                tracing::warn!(error = %e, "cannot take woken jobs off the waking list");
            }
        }
        woken
    }

    /// Wakes what a poll killed between deciding and waking left listed.
    pub async fn wake_leftovers(&self, kind: &str) -> Result<u32, QueueError> {
        let listed: Vec<String> = redis::cmd("SMEMBERS")
            .arg(self.waking_key())
            .query_async(&mut self.conn())
            .await?;
        let jobs: Vec<JobId> = listed.iter().filter_map(|j| j.parse().ok()).collect();
        Ok(self.wake(kind, &jobs, None).await)
    }

    /// `job` stops waiting (it expired).
    pub async fn unwatch(&self, billing_code: &str, job: &JobId) -> Result<(), QueueError> {
        let _: i64 = UNWATCH
            .key(self.pending_key())
            .key(self.watchers_key(billing_code))
            .arg(billing_code)
            .arg(job.to_string())
            .invoke_async(&mut self.conn())
            .await?;
        Ok(())
    }

    /// The decision recorded for `job`, if one was found.
    pub async fn decided(&self, job: &JobId) -> Result<Option<Decided>, QueueError> {
        let stored: Option<String> = redis::cmd("GET")
            .arg(format!("{}{job}", self.decided_prefix()))
            .query_async(&mut self.conn())
            .await?;
        Ok(stored.and_then(|json| serde_json::from_str(&json).ok()))
    }

    /// How many billing codes wait for a decision.
    pub async fn pending(&self) -> Result<u64, QueueError> {
        Ok(redis::cmd("HLEN")
            .arg(self.pending_key())
            .query_async(&mut self.conn())
            .await?)
    }

    /// What each of `billing_codes` waits with; `None` for one nobody waits for.
    pub async fn waiting(
        &self,
        billing_codes: &[String],
    ) -> Result<Vec<Option<Waiting>>, QueueError> {
        if billing_codes.is_empty() {
            return Ok(Vec::new());
        }
        let stored: Vec<Option<String>> = redis::cmd("HMGET")
            .arg(self.pending_key())
            .arg(billing_codes)
            .query_async(&mut self.conn())
            .await?;
        Ok(stored
            .iter()
            .map(|stored| {
                let watched: Watched = serde_json::from_str(stored.as_deref()?).ok()?;
                Some(Waiting {
                    since: parse_vendor_datetime(&watched.since)?,
                    claim_type: watched.claim_type,
                    // A 5411 job reads "already active" on its own first look: the poll
                    // reads every record as a change.
                    already_applied: false,
                })
            })
            .collect())
    }

    /// The earliest time any billing code has waited since: where a poll without a cursor
    /// starts, and the oldest wait each poll reports as a metric. Reads the whole list
    /// (`HVALS`, O(pending): a few milliseconds for ten thousand, once per poll interval);
    /// a sorted set by wait would make it O(log n) if pending lists grow far larger.
    pub async fn earliest(&self) -> Result<Option<NaiveDateTime>, QueueError> {
        let stored: Vec<String> = redis::cmd("HVALS")
            .arg(self.pending_key())
            .query_async(&mut self.conn())
            .await?;
        Ok(stored
            .iter()
            .filter_map(|s| serde_json::from_str::<Watched>(s).ok())
            .filter_map(|w| parse_vendor_datetime(&w.since))
            .min())
    }

    /// When the last complete poll started (unix ms).
    pub async fn cursor(&self) -> Result<Option<i64>, QueueError> {
        Ok(redis::cmd("GET")
            .arg(self.key("credit:cursor"))
            .query_async(&mut self.conn())
            .await?)
    }

    /// Moves the cursor forward to `started_ms` (never back: a slow poll that ends after
    /// a faster, later one must not undo it).
    pub async fn advance_cursor(&self, started_ms: i64) -> Result<(), QueueError> {
        let _: i64 = ADVANCE
            .key(self.key("credit:cursor"))
            .arg(started_ms)
            .invoke_async(&mut self.conn())
            .await?;
        Ok(())
    }
}
