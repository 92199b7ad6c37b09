//! `Store`: every read and write of the queue's Redis keys goes through here.
//!
//! It holds a `ConnectionManager` (one multiplexed connection that reconnects by itself)
//! and the key layout. Blocking reads (`XREADGROUP BLOCK`) do not go through it: they would
//! hold up every other command on the shared connection, so each worker has its own
//! (see `backend.rs`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redis::aio::ConnectionManager;
use redis::{AsyncCommands, Value};
use sha2::{Digest, Sha256};

use super::commit::Committer;
use super::error::QueueError;
use super::job::{CorruptRecord, JobId, JobRecord, JobState, NewJob};
use super::keys::{GROUP, Keys};
use super::outcome::ErrorDetail;
use super::scripts::SCRIPTS;

/// How long things are kept.
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    pub finished: Duration,
    pub dead_max_entries: u64,
    pub dead_max_age: Duration,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            finished: Duration::from_secs(7 * 24 * 3600),
            dead_max_entries: 10_000,
            dead_max_age: Duration::from_secs(30 * 24 * 3600),
        }
    }
}

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
}

impl ListFilter {
    fn admits(&self, record: &JobRecord) -> bool {
        self.kind.as_ref().is_none_or(|k| *k == record.kind)
            && self.payload_field.as_ref().is_none_or(|(field, value)| {
                record.payload.get(field).and_then(|v| v.as_str()) == Some(value.as_str())
            })
    }
}

/// One delivery to claim.
#[derive(Debug, Clone)]
pub struct Take {
    pub job: JobId,
    pub entry: String,
    pub token: String,
    pub reclaimed: bool,
}

/// What `claim` found.
#[derive(Debug)]
pub enum Claim {
    Skip,
    Run(Claimed),
}

#[derive(Debug, Clone)]
pub struct Claimed {
    pub payload: String,
    pub attempts: u32,
    pub crashes: u32,
    pub children: Vec<JobId>,
}

/// The answer of one attempt, as `settle` writes it.
#[derive(Debug, Clone)]
pub enum Settlement {
    Succeeded {
        result: serde_json::Value,
        children: Vec<(JobId, ChildSettlement)>,
    },
    Retrying {
        error: ErrorDetail,
        due_ms: i64,
        children: Vec<JobId>,
    },
    /// Not its turn yet: run again at `due_ms` without using up an attempt.
    Deferred { due_ms: i64 },
    /// `failed` (permanent error) or `dead` (exhausted, poison).
    Buried {
        state: JobState,
        error: ErrorDetail,
        children: Vec<JobId>,
    },
}

/// The arguments `settle.lua` takes for a settlement.
struct SettleArgs {
    state: &'static str,
    result: String,
    error: String,
    due: i64,
    keep: Duration,
    /// (member, its new state, its result or error JSON)
    children: Vec<(JobId, &'static str, String)>,
}

/// A job to enqueue in the same atomic step as a settlement (a webhook delivery), and
/// optionally a sorted set to index it in, with its score.
#[derive(Debug, Clone)]
pub struct FollowUp {
    pub job: NewJob,
    pub index: Option<(String, f64)>,
}

/// One attempt's answer, as [`Store::settle`] writes it.
#[derive(Debug, Clone)]
pub(crate) struct SettleRequest {
    pub kind: String,
    pub id: JobId,
    pub entry: String,
    pub token: String,
    pub settlement: Settlement,
    pub follow_ups: Vec<FollowUp>,
}

#[derive(Debug, Clone)]
pub enum ChildSettlement {
    Succeeded(serde_json::Value),
    Failed(ErrorDetail),
}

#[derive(Clone)]
pub struct Store {
    conn: ConnectionManager,
    keys: Keys,
    retention: Retention,
    /// When Redis was last found unreachable by a user of this store (shared by clones).
    unreachable_at: Arc<Mutex<Option<Instant>>>,
    /// Gathers the settlements that are ready together into one call (shared by clones).
    committer: Arc<Committer>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("keys", &self.keys).finish()
    }
}

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl Store {
    pub fn new(conn: ConnectionManager, keys: Keys, retention: Retention) -> Self {
        Self {
            conn,
            keys,
            retention,
            unreachable_at: Arc::default(),
            committer: Arc::default(),
        }
    }

    /// A copy that settles on its own (no group commit): what the committer itself uses,
    /// so that it holds no handle on its own channel.
    pub(crate) fn without_committer(&self) -> Self {
        Self {
            committer: Arc::default(),
            ..self.clone()
        }
    }

    /// Notes that Redis could not be reached just now.
    pub fn note_unreachable(&self) {
        *self
            .unreachable_at
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
    }

    /// Whether Redis was found unreachable within the last `window`.
    pub fn unreachable_within(&self, window: Duration) -> bool {
        self.unreachable_at
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some_and(|at| at.elapsed() < window)
    }

    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    pub fn connection(&self) -> ConnectionManager {
        self.conn.clone()
    }

    pub async fn ping(&self) -> Result<(), QueueError> {
        let mut conn = self.conn.clone();
        let _: String = redis::cmd("PING").query_async(&mut conn).await?;
        Ok(())
    }

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

    /// Reads a job record; `None` when it does not exist (never did, or expired).
    pub async fn job(&self, id: &JobId) -> Result<Option<JobRecord>, QueueError> {
        let mut conn = self.conn.clone();
        let fields: HashMap<String, String> = conn.hgetall(self.keys.job(id)).await?;
        if fields.is_empty() {
            return Ok(None);
        }
        Ok(Some(JobRecord::from_hash(&fields)?))
    }

    /// Readable records of `ids`, in one round trip. Missing ones are left out, and so are
    /// unreadable ones (logged): one hand-edited record must not hide every other job of a
    /// listing or of a settlement.
    async fn jobs(&self, ids: &[JobId]) -> Result<Vec<JobRecord>, QueueError> {
        let each = self.records_each(ids).await?;
        Ok(ids
            .iter()
            .zip(each)
            .filter_map(|(id, record)| match record? {
                Ok(record) => Some(record),
                Err(error) => {
                    tracing::error!(job = %id, %error, "skipping an unreadable job record");
                    None
                }
            })
            .collect())
    }

    /// The records of `ids`, in their order and in one round trip: `None` for a job that
    /// does not exist, an error for one that cannot be read.
    pub async fn records_each(
        &self,
        ids: &[JobId],
    ) -> Result<Vec<Option<Result<JobRecord, CorruptRecord>>>, QueueError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for id in ids {
            pipe.hgetall(self.keys.job(id));
        }
        let mut conn = self.conn.clone();
        let hashes: Vec<HashMap<String, String>> = pipe.query_async(&mut conn).await?;
        Ok(hashes
            .iter()
            .map(|fields| (!fields.is_empty()).then(|| JobRecord::from_hash(fields)))
            .collect())
    }

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

    // ---- worker side -------------------------------------------------------------------

    /// Makes sure the kind's stream and consumer group exist. The group starts at `0` so a
    /// job enqueued before any worker ever ran is still delivered.
    pub async fn ensure_group(&self, kind: &str) -> Result<(), QueueError> {
        let mut conn = self.conn.clone();
        let created: Result<String, redis::RedisError> = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(self.keys.stream(kind))
            .arg(GROUP)
            .arg("0")
            .arg("MKSTREAM")
            .query_async(&mut conn)
            .await;
        match created {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("BUSYGROUP") => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Claims deliveries in one atomic step: each runnable job gets its lease token and
    /// becomes `running`; entries whose job is gone or finished are dropped.
    pub async fn claim(
        &self,
        kind: &str,
        worker: &str,
        takes: &[Take],
    ) -> Result<Vec<Claim>, QueueError> {
        if takes.is_empty() {
            return Ok(Vec::new());
        }
        let mut invocation = SCRIPTS.claim.prepare_invoke();
        invocation
            .key(self.keys.state_keys())
            .key(self.keys.stream(kind))
            .arg(now_ms())
            .arg(GROUP)
            .arg(worker);
        for take in takes {
            invocation
                .key(self.keys.job(&take.job))
                .arg(&take.entry)
                .arg(&take.token)
                .arg(if take.reclaimed { "1" } else { "0" });
        }
        let mut conn = self.conn.clone();
        let answers: Vec<Vec<String>> = invocation.invoke_async(&mut conn).await?;
        answers
            .into_iter()
            .map(|answer| {
                if answer.first().map(String::as_str) != Some("run") {
                    return Ok(Claim::Skip);
                }
                let field = |i: usize| answer.get(i).cloned().unwrap_or_default();
                let children = match field(3).as_str() {
                    "" => Vec::new(),
                    list => serde_json::from_str(list)?,
                };
                Ok(Claim::Run(Claimed {
                    payload: field(1),
                    attempts: field(2).parse().unwrap_or(0),
                    crashes: field(4).parse().unwrap_or(0),
                    children,
                }))
            })
            .collect()
    }

    /// Writes the answer of an attempt, with the jobs it causes (`follow_ups`), in one
    /// atomic step. Returns `false` when the lease was lost meanwhile (another worker holds
    /// the job now) and nothing was written.
    ///
    /// Answers that are ready together share one round trip (see `commit.rs`); each is
    /// still its own atomic step.
    pub async fn settle(
        &self,
        kind: &str,
        id: &JobId,
        entry: &str,
        token: &str,
        settlement: &Settlement,
        follow_ups: &[FollowUp],
    ) -> Result<bool, QueueError> {
        let request = SettleRequest {
            kind: kind.to_string(),
            id: *id,
            entry: entry.to_string(),
            token: token.to_string(),
            settlement: settlement.clone(),
            follow_ups: follow_ups.to_vec(),
        };
        self.committer.settle(self, request).await
    }

    /// Writes `requests` in one call of `settle.lua`: one answer each, `false` for a lost
    /// lease.
    pub(crate) async fn settle_now(
        &self,
        requests: &[SettleRequest],
    ) -> Result<Vec<bool>, QueueError> {
        let mut invocation = SCRIPTS.settle.prepare_invoke();
        invocation.key(self.keys.state_keys());
        for request in requests {
            self.push_settle(&mut invocation, request)?;
        }
        let mut conn = self.conn.clone();
        let answers: Vec<String> = invocation.invoke_async(&mut conn).await?;
        Ok(answers.iter().map(|answer| answer == "ok").collect())
    }

    /// Appends one settlement's keys and arguments (the layout is `settle.lua`'s).
    fn push_settle(
        &self,
        invocation: &mut redis::ScriptInvocation<'_>,
        request: &SettleRequest,
    ) -> Result<(), QueueError> {
        let (kind, id) = (request.kind.as_str(), &request.id);
        invocation
            .key(self.keys.job(id))
            .key(self.keys.stream(kind))
            .key(self.keys.scheduled(kind))
            .key(self.keys.kinds());
        let error_json = |error: &ErrorDetail| serde_json::to_string(error);
        let SettleArgs {
            state,
            result,
            error,
            due,
            keep,
            children,
        } = match &request.settlement {
            Settlement::Succeeded { result, children } => SettleArgs {
                state: "succeeded",
                result: serde_json::to_string(result)?,
                error: String::new(),
                due: 0,
                keep: self.retention.finished,
                children: children
                    .iter()
                    .map(|(child, outcome)| {
                        Ok(match outcome {
                            ChildSettlement::Succeeded(result) => {
                                (*child, "succeeded", serde_json::to_string(result)?)
                            }
                            ChildSettlement::Failed(error) => {
                                (*child, "failed", error_json(error)?)
                            }
                        })
                    })
                    .collect::<Result<_, serde_json::Error>>()?,
            },
            Settlement::Retrying {
                error,
                due_ms,
                children,
            } => {
                let error = error_json(error)?;
                SettleArgs {
                    state: "retrying",
                    result: String::new(),
                    children: children
                        .iter()
                        .map(|c| (*c, "retrying", error.clone()))
                        .collect(),
                    error,
                    due: *due_ms,
                    keep: self.retention.finished,
                }
            }
            Settlement::Deferred { due_ms } => SettleArgs {
                state: "deferred",
                result: String::new(),
                error: String::new(),
                due: *due_ms,
                keep: self.retention.finished,
                children: Vec::new(),
            },
            Settlement::Buried {
                state,
                error,
                children,
            } => {
                let error = error_json(error)?;
                SettleArgs {
                    state: state.as_str(),
                    result: String::new(),
                    children: children
                        .iter()
                        .map(|c| (*c, state.as_str(), error.clone()))
                        .collect(),
                    error,
                    due: 0,
                    keep: self.retention.dead_max_age,
                }
            }
        };
        invocation
            .arg(now_ms())
            .arg(&request.token)
            .arg(&request.entry)
            .arg(GROUP)
            .arg(state)
            .arg(result)
            .arg(&error)
            .arg(due)
            .arg(keep.as_millis() as u64)
            .arg(children.len())
            .arg(request.follow_ups.len());
        for (child, state, data) in &children {
            invocation
                .key(self.keys.job(child))
                .arg(child.to_string())
                .arg(*state)
                .arg(data);
        }
        for follow_up in &request.follow_ups {
            let job = &follow_up.job;
            let (index, score) = match &follow_up.index {
                Some((key, score)) => (key.clone(), score.to_string()),
                None => (self.keys.kinds(), String::new()),
            };
            invocation
                .key(self.keys.job(&job.id))
                .key(self.keys.stream(&job.kind))
                .key(index);
            job_args(invocation, job)?;
            invocation.arg(score);
        }
        Ok(())
    }

    /// Reads several job records in one round trip (missing ones are left out).
    pub async fn records(&self, ids: &[JobId]) -> Result<Vec<JobRecord>, QueueError> {
        self.jobs(ids).await
    }

    /// Hands a taken-but-unstarted job back to its stream (graceful shutdown).
    pub async fn release(
        &self,
        kind: &str,
        id: &JobId,
        entry: &str,
        token: &str,
    ) -> Result<(), QueueError> {
        let mut conn = self.conn.clone();
        let _: String = SCRIPTS
            .release
            .key(self.keys.state_keys())
            .key(self.keys.job(id))
            .key(self.keys.stream(kind))
            .arg(now_ms())
            .arg(token)
            .arg(entry)
            .arg(GROUP)
            .invoke_async(&mut conn)
            .await?;
        Ok(())
    }

    /// Moves due delayed jobs of a kind into its stream. Returns how many moved and when
    /// the next one is due (unix ms).
    pub async fn promote(&self, kind: &str, max: usize) -> Result<(u64, Option<i64>), QueueError> {
        let mut conn = self.conn.clone();
        let (moved, next): (u64, String) = SCRIPTS
            .promote
            .key(self.keys.scheduled(kind))
            .key(self.keys.stream(kind))
            .arg(now_ms())
            .arg(max)
            .invoke_async(&mut conn)
            .await?;
        Ok((moved, next.parse::<f64>().ok().map(|ms| ms as i64)))
    }

    /// Forms a batch job of `batch_kind` from member jobs read from `member_kind`'s stream.
    /// Returns the number of members that joined the batch (0: no batch was created).
    pub async fn form_batch(
        &self,
        member_kind: &str,
        batch_kind: &str,
        batch_id: &JobId,
        members: &[(JobId, String)],
    ) -> Result<usize, QueueError> {
        let mut invocation = SCRIPTS.form_batch.prepare_invoke();
        invocation
            .key(self.keys.state_keys())
            .key(self.keys.job(batch_id))
            .key(self.keys.stream(batch_kind))
            .key(self.keys.kinds())
            .key(self.keys.stream(member_kind))
            .arg(now_ms())
            .arg(batch_id.to_string())
            .arg(batch_kind)
            .arg(GROUP);
        for (id, entry) in members {
            invocation
                .key(self.keys.job(id))
                .arg(id.to_string())
                .arg(entry);
        }
        let mut conn = self.conn.clone();
        Ok(invocation.invoke_async(&mut conn).await?)
    }

    /// Renews the leases of entries this consumer still owns. Returns how many it owned.
    pub async fn heartbeat(
        &self,
        kind: &str,
        consumer: &str,
        entries: &[String],
    ) -> Result<u64, QueueError> {
        if entries.is_empty() {
            return Ok(0);
        }
        let mut conn = self.conn.clone();
        Ok(SCRIPTS
            .heartbeat
            .key(self.keys.stream(kind))
            .arg(GROUP)
            .arg(consumer)
            .arg(entries)
            .invoke_async(&mut conn)
            .await?)
    }

    /// The deliveries a consumer holds and has not settled (for release at shutdown).
    pub async fn pending_deliveries(
        &self,
        kind: &str,
        consumer: &str,
    ) -> Result<Vec<super::reader::Delivery>, QueueError> {
        let stream = self.keys.stream(kind);
        let mut conn = self.conn.clone();
        let pending: Vec<(String, String, u64, u64)> = redis::cmd("XPENDING")
            .arg(&stream)
            .arg(GROUP)
            .arg("-")
            .arg("+")
            .arg(10_000)
            .arg(consumer)
            .query_async(&mut conn)
            .await?;
        let mut deliveries = Vec::with_capacity(pending.len());
        for (entry, ..) in pending {
            let entries: Vec<(String, Vec<String>)> = redis::cmd("XRANGE")
                .arg(&stream)
                .arg(&entry)
                .arg(&entry)
                .query_async(&mut conn)
                .await?;
            let fields = entries
                .into_iter()
                .next()
                .map(|(_, f)| f)
                .unwrap_or_default();
            deliveries.push(super::reader::delivery(entry, &fields, false));
        }
        Ok(deliveries)
    }

    /// Drops a stream entry that carries no usable job id.
    pub async fn drop_entry(&self, kind: &str, entry: &str) -> Result<(), QueueError> {
        let mut conn = self.conn.clone();
        let _: i64 = SCRIPTS
            .drop_entry
            .key(self.keys.stream(kind))
            .arg(GROUP)
            .arg(entry)
            .invoke_async(&mut conn)
            .await?;
        Ok(())
    }

    /// Splits batch `parent` of `batch_kind` into one batch per member (see
    /// `split_batch.lua`). Returns the new batch ids, one per member, in member order.
    pub async fn split_batch(
        &self,
        batch_kind: &str,
        parent: &JobId,
        members: &[JobId],
    ) -> Result<Vec<JobId>, QueueError> {
        let batches: Vec<JobId> = (0..members.len())
            .map(|i| JobId::derived(parent, i))
            .collect();
        let mut invocation = SCRIPTS.split_batch.prepare_invoke();
        invocation
            .key(self.keys.state_keys())
            .key(self.keys.kinds())
            .key(self.keys.stream(batch_kind))
            .arg(now_ms())
            .arg(parent.to_string())
            .arg(batch_kind);
        for (batch, member) in batches.iter().zip(members) {
            invocation
                .key(self.keys.job(batch))
                .key(self.keys.job(member))
                .arg(batch.to_string())
                .arg(member.to_string());
        }
        let mut conn = self.conn.clone();
        let _moved: u64 = invocation.invoke_async(&mut conn).await?;
        Ok(batches)
    }

    // ---- operators ---------------------------------------------------------------------

    /// Puts a job of the dead set back in its queue with a full retry budget.
    pub async fn requeue(&self, id: &JobId) -> Result<Requeue, QueueError> {
        let Some(record) = self.job(id).await? else {
            return Ok(Requeue::Missing);
        };
        let children: Vec<JobId> = {
            let mut conn = self.conn.clone();
            let raw: Option<String> = conn.hget(self.keys.job(id), "children").await?;
            match raw.as_deref() {
                None | Some("") => Vec::new(),
                Some(list) => serde_json::from_str(list)?,
            }
        };
        let mut invocation = SCRIPTS.requeue.prepare_invoke();
        invocation
            .key(self.keys.state_keys())
            .key(self.keys.job(id))
            .key(self.keys.stream(&record.kind))
            .arg(now_ms());
        for child in &children {
            invocation.key(self.keys.job(child));
        }
        let mut conn = self.conn.clone();
        let answer: String = invocation.invoke_async(&mut conn).await?;
        Ok(match answer.as_str() {
            "ok" => Requeue::Requeued,
            "not_dead" => Requeue::NotDead(record.state),
            _ => Requeue::Missing,
        })
    }

    /// Requeues every job of the dead set. Returns how many went back.
    pub async fn requeue_all(&self) -> Result<u64, QueueError> {
        let mut count = 0;
        loop {
            let ids = self.dead_ids(500).await?;
            if ids.is_empty() {
                return Ok(count);
            }
            for id in &ids {
                if self.requeue(id).await? == Requeue::Requeued {
                    count += 1;
                } else {
                    // Not requeueable (gone or alive): drop it from the dead set so the
                    // loop ends.
                    let mut conn = self.conn.clone();
                    let _: i64 = conn.zrem(self.keys.dead(), id.to_string()).await?;
                }
            }
        }
    }

    async fn dead_ids(&self, max: usize) -> Result<Vec<JobId>, QueueError> {
        let mut conn = self.conn.clone();
        let members: Vec<String> = conn.zrange(self.keys.dead(), 0, max as isize - 1).await?;
        Ok(members.iter().filter_map(|m| m.parse().ok()).collect())
    }

    /// Deletes one job of the dead set. Returns whether it was there.
    pub async fn purge(&self, id: &JobId) -> Result<bool, QueueError> {
        let mut conn = self.conn.clone();
        let score: Option<f64> = conn.zscore(self.keys.dead(), id.to_string()).await?;
        if score.is_none() {
            return Ok(false);
        }
        Ok(self.forget(&[*id]).await? == 1)
    }

    /// Empties the dead set. Returns how many jobs were deleted.
    pub async fn purge_all(&self) -> Result<u64, QueueError> {
        let mut count = 0;
        loop {
            let ids = self.dead_ids(500).await?;
            if ids.is_empty() {
                return Ok(count);
            }
            count += self.forget(&ids).await?;
            let mut conn = self.conn.clone();
            let members: Vec<String> = ids.iter().map(ToString::to_string).collect();
            let _: i64 = conn.zrem(self.keys.dead(), members).await?;
        }
    }

    /// Deletes finished jobs for good; unfinished ones are left alone.
    pub async fn forget(&self, ids: &[JobId]) -> Result<u64, QueueError> {
        if ids.is_empty() {
            return Ok(0);
        }
        let mut invocation = SCRIPTS.forget.prepare_invoke();
        invocation.key(self.keys.state_keys());
        for id in ids {
            invocation.key(self.keys.job(id)).arg(id.to_string());
        }
        let mut conn = self.conn.clone();
        Ok(invocation.invoke_async(&mut conn).await?)
    }

    /// Enforces retention once: succeeded jobs older than the window, and the dead set's
    /// age and size bounds. Returns how many records were deleted.
    pub async fn enforce_retention(&self) -> Result<u64, QueueError> {
        let now = now_ms();
        let mut deleted = 0;
        let mut conn = self.conn.clone();
        let finished_before = now - self.retention.finished.as_millis() as i64;
        let dead_before = now - self.retention.dead_max_age.as_millis() as i64;
        for (index, before) in [
            (self.keys.index(JobState::Succeeded), finished_before),
            (self.keys.dead(), dead_before),
        ] {
            loop {
                let members: Vec<String> = conn
                    .zrangebyscore_limit(&index, "-inf", before, 0, 500)
                    .await?;
                let ids: Vec<JobId> = members.iter().filter_map(|m| m.parse().ok()).collect();
                if ids.is_empty() {
                    break;
                }
                deleted += self.forget(&ids).await?;
                // Entries that were not deleted (not finished) must still leave this index
                // walk, or the loop would see them forever.
                let _: i64 = conn.zrem(&index, &members).await?;
            }
        }
        loop {
            let size: u64 = conn.zcard(self.keys.dead()).await?;
            if size <= self.retention.dead_max_entries {
                break;
            }
            let excess = (size - self.retention.dead_max_entries).min(500);
            let members: Vec<String> = conn
                .zrange(self.keys.dead(), 0, excess as isize - 1)
                .await?;
            let ids: Vec<JobId> = members.iter().filter_map(|m| m.parse().ok()).collect();
            deleted += self.forget(&ids).await?;
            let _: i64 = conn.zrem(self.keys.dead(), &members).await?;
        }
        Ok(deleted)
    }

    /// Removes consumer names of worker processes that are gone (nothing pending, idle
    /// longer than `idle`), so restarts do not pile up names in every consumer group.
    pub async fn forget_idle_consumers(&self, idle: Duration) -> Result<u64, QueueError> {
        let mut conn = self.conn.clone();
        let kinds: Vec<String> = conn.smembers(self.keys.kinds()).await?;
        let mut removed = 0;
        for kind in kinds {
            let n: u64 = SCRIPTS
                .forget_idle_consumers
                .key(self.keys.stream(&kind))
                .arg(GROUP)
                .arg(idle.as_millis() as u64)
                .invoke_async(&mut conn)
                .await?;
            removed += n;
        }
        Ok(removed)
    }

    /// Counts per state, for metrics and `/readyz`-adjacent views.
    pub async fn counts(&self) -> Result<Vec<(JobState, u64)>, QueueError> {
        let mut pipe = redis::pipe();
        for state in JobState::ALL {
            pipe.zcard(self.keys.index(state));
        }
        let mut conn = self.conn.clone();
        let counts: Vec<u64> = pipe.query_async(&mut conn).await?;
        Ok(JobState::ALL.into_iter().zip(counts).collect())
    }

    /// Length of the dead set.
    pub async fn dead_count(&self) -> Result<u64, QueueError> {
        let mut conn = self.conn.clone();
        Ok(conn.zcard(self.keys.dead()).await?)
    }

    /// Deletes every key of this queue (a demo's or a benchmark's queue, once done).
    /// Never used on a queue that workers still serve.
    pub async fn delete_queue(&self) -> Result<(), QueueError> {
        let mut conn = self.conn.clone();
        let mut cursor: u64 = 0;
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(self.keys.pattern())
                .arg("COUNT")
                .arg(10_000)
                .query_async(&mut conn)
                .await?;
            if !keys.is_empty() {
                let _: i64 = redis::cmd("UNLINK")
                    .arg(&keys)
                    .query_async(&mut conn)
                    .await?;
            }
            if next == 0 {
                return Ok(());
            }
            cursor = next;
        }
    }

    /// Raw access for tests and the chaos suite (for example to write a corrupt payload).
    pub async fn raw(&self, cmd: &redis::Cmd) -> Result<Value, QueueError> {
        let mut conn = self.conn.clone();
        Ok(cmd.query_async(&mut conn).await?)
    }
}

/// What an operator retry did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requeue {
    Requeued,
    Missing,
    NotDead(JobState),
}

/// The six arguments `create_job` (prelude.lua) takes for a job: id, kind, payload,
/// reference, metadata, children.
fn job_args(
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
        });
    Ok(())
}

fn optional_json(value: Option<&serde_json::Value>) -> Result<String, serde_json::Error> {
    value.map_or(Ok(String::new()), serde_json::to_string)
}

fn parse_cursor(cursor: &str) -> Result<(i64, String), QueueError> {
    cursor
        .split_once(':')
        .and_then(|(score, id)| Some((score.parse().ok()?, id.to_string())))
        .ok_or(QueueError::BadCursor)
}
