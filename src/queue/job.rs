//! Job states and the record every job keeps in Redis (ids have their own file, `id.rs`).
//!
//! The record is a Redis hash (`<prefix>:{queue}:job:<id>`, see `keys.rs`). Timestamps are
//! stored as unix milliseconds so that Lua scripts can compare them; they become RFC 3339
//! strings at the edge (`JobRecord`).

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::app::AppName;
pub use super::id::JobId;
use super::outcome::ErrorDetail;
use super::trace_context::TraceParent;

/// The life of a job:
///
/// ```text
/// queued ──► running ──► succeeded
///   ▲           │  └───► failed   (permanent error: the vendor said no)   ─┐
///   │           │  └───► dead     (retries exhausted, or a poison job)     ├─ dead set
///   │           │  └───► expired  (snoozed past its kind's deadline)       │
///   │           ▼                                                          │
///   ├──── retrying (a persisted delayed job)          operator retry ◄─────┘
///   └──── snoozed  (the vendor is not done yet: look again later, no attempt used)
/// ```
///
/// The order of [`JobState::ALL`] is the order of the state indexes the Lua scripts
/// receive (`STATE_INDEX` in `scripts/prelude.lua`); a unit test of `scripts.rs` holds the
/// two together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Queued,
    Running,
    Retrying,
    /// The handler said "not yet" (`JobError::Snooze`): the job waits in the delayed set
    /// until `next_attempt_at`, with no attempt used and no error recorded.
    Snoozed,
    Succeeded,
    Failed,
    Dead,
    /// Snoozed until its kind's deadline passed (`RetryPolicy::snooze_deadline_secs`): a
    /// final state of its own, not a failure, so not in the dead set.
    Expired,
}

impl JobState {
    pub const ALL: [JobState; 8] = [
        JobState::Queued,
        JobState::Running,
        JobState::Retrying,
        JobState::Snoozed,
        JobState::Succeeded,
        JobState::Failed,
        JobState::Dead,
        JobState::Expired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Retrying => "retrying",
            Self::Snoozed => "snoozed",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Dead => "dead",
            Self::Expired => "expired",
        }
    }

    /// Whether nothing will happen to the job any more (but an operator's retry of a job
    /// in the dead set).
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::Succeeded | Self::Failed | Self::Dead | Self::Expired
        )
    }

    /// Whether the job is in the dead set: it failed, and an operator may retry it.
    pub fn is_dead(self) -> bool {
        matches!(self, Self::Failed | Self::Dead)
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JobState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| {
                let known: Vec<&str> = Self::ALL.iter().map(|state| state.as_str()).collect();
                format!("unknown state `{s}`: expected one of {}", known.join(", "))
            })
    }
}

/// A job about to be enqueued.
#[derive(Debug, Clone, Serialize)]
pub struct NewJob {
    pub id: JobId,
    pub kind: String,
    pub payload: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
    /// Member jobs this job carries (a vendor batch); empty for ordinary jobs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<JobId>,
    /// The W3C trace it belongs to (`trace_context.rs`): its producer's, or the job's that
    /// caused it.
    #[serde(skip)]
    pub traceparent: Option<TraceParent>,
    /// The app it belongs to (`app.rs`): its producer's, or the job's that caused it.
    /// `None`: an internal job (a batch, a scheduled one), the operator's only.
    #[serde(skip)]
    pub app: Option<AppName>,
}

impl NewJob {
    pub fn new(kind: impl Into<String>, payload: Value) -> Self {
        Self {
            id: JobId::new(),
            kind: kind.into(),
            payload,
            reference: None,
            metadata: None,
            children: Vec::new(),
            traceparent: None,
            app: None,
        }
    }

    /// Stamps the app the job belongs to (`None`: an internal job).
    pub fn with_app(mut self, app: Option<AppName>) -> Self {
        self.app = app;
        self
    }

    pub fn with_traceparent(mut self, traceparent: Option<TraceParent>) -> Self {
        self.traceparent = traceparent;
        self
    }

    pub fn with_reference(mut self, reference: Option<String>, metadata: Option<Value>) -> Self {
        self.reference = reference;
        self.metadata = metadata;
        self
    }
}

/// A job as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct JobRecord {
    pub id: JobId,
    pub kind: String,
    pub state: JobState,
    /// Attempts that ran to an answer (success or error). A worker that died mid-job does
    /// not count here; it counts in `crashes`.
    pub attempts: u32,
    pub crashes: u32,
    /// Times the handler answered "not done yet, look again later" (no attempt used).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub snoozes: u32,
    /// What the handler said the last time it snoozed the job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snooze_reason: Option<String>,
    pub enqueued_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<ErrorDetail>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
    /// The batch job that carries this job to the vendor, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch: Option<JobId>,
    /// The W3C `traceparent` its producer sent with the enqueue (or the job that caused it
    /// carried): its vendor calls and webhooks carry the same trace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
    /// The upstream app the job belongs to; absent for an internal job (a vendor batch, a
    /// scheduled poll), which only the operator sees. A record written before apps existed
    /// belongs to `default`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, example = "shop-a")]
    pub app: Option<AppName>,
    /// The vendor acted but its answer could not be read (`result` holds it raw): an
    /// operator should look. Why, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attention: Option<String>,
    /// What the producer sent. A stored payload that is not JSON (written by something
    /// other than underwrite) shows as a string of its raw text.
    pub payload: Value,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// Why a Redis hash could not be read as a job record.
#[derive(Debug, thiserror::Error)]
#[error("job record is corrupt: field `{field}`: {reason}")]
pub struct CorruptRecord {
    pub field: &'static str,
    pub reason: String,
}

impl JobRecord {
    /// Reads a record from the fields of its Redis hash.
    pub fn from_hash(fields: &HashMap<String, String>) -> Result<Self, CorruptRecord> {
        let get = |field: &'static str| fields.get(field).filter(|v| !v.is_empty());
        let required = |field: &'static str| {
            get(field).ok_or(CorruptRecord {
                field,
                reason: "missing".into(),
            })
        };
        let corrupt = |field: &'static str| {
            move |e: &dyn fmt::Display| CorruptRecord {
                field,
                reason: e.to_string(),
            }
        };
        let time = |field: &'static str| -> Result<Option<DateTime<Utc>>, CorruptRecord> {
            get(field)
                .map(|v| {
                    v.parse::<i64>()
                        .map_err(|e| corrupt(field)(&e))
                        .and_then(|ms| {
                            Utc.timestamp_millis_opt(ms)
                                .single()
                                .ok_or_else(|| corrupt(field)(&"out of range"))
                        })
                })
                .transpose()
        };
        let json = |field: &'static str| -> Result<Option<Value>, CorruptRecord> {
            get(field)
                .map(|v| serde_json::from_str(v).map_err(|e| corrupt(field)(&e)))
                .transpose()
        };
        // What a producer wrote is kept even when it is not JSON (something other than
        // underwrite wrote it): as a string of its raw text, so that the job can still be
        // shown, buried and reported instead of making every reader of it fail.
        let producer_json = |field: &'static str| -> Option<Value> {
            get(field)
                .map(|v| serde_json::from_str(v).unwrap_or_else(|_| Value::String(v.to_string())))
        };
        let count = |field: &'static str| -> Result<u32, CorruptRecord> {
            get(field).map_or(Ok(0), |v| v.parse().map_err(|e| corrupt(field)(&e)))
        };
        Ok(Self {
            id: required("id")?.parse().map_err(|e| corrupt("id")(&e))?,
            kind: required("kind")?.clone(),
            state: required("state")?
                .parse()
                .map_err(|e: String| corrupt("state")(&e))?,
            attempts: count("attempts")?,
            crashes: count("crashes")?,
            snoozes: count("snoozes")?,
            snooze_reason: get("snooze_reason").cloned(),
            enqueued_at: time("enqueued_at")?.ok_or(CorruptRecord {
                field: "enqueued_at",
                reason: "missing".into(),
            })?,
            started_at: time("started_at")?,
            finished_at: time("finished_at")?,
            next_attempt_at: time("next_attempt_at")?,
            last_error: json("last_error")?
                .map(serde_json::from_value)
                .transpose()
                .map_err(|e| corrupt("last_error")(&e))?,
            result: json("result")?,
            reference: get("reference").cloned(),
            metadata: producer_json("metadata"),
            batch: get("batch")
                .map(|v| v.parse().map_err(|e| corrupt("batch")(&e)))
                .transpose()?,
            attention: get("attention").filter(|v| !v.is_empty()).cloned(),
            traceparent: get("traceparent").cloned(),
            app: AppName::of_record(fields.get("app").map(String::as_str)),
            payload: producer_json("payload").unwrap_or(Value::Null),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip_and_unknown_is_refused() {
        for state in JobState::ALL {
            assert_eq!(state.as_str().parse::<JobState>(), Ok(state));
        }
        assert!("done".parse::<JobState>().is_err());
    }

    fn hash(payload: &str) -> HashMap<String, String> {
        [
            ("id", JobId::new().to_string()),
            ("kind", "k".to_string()),
            ("state", "queued".to_string()),
            ("enqueued_at", "1700000000000".to_string()),
            ("payload", payload.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    #[test]
    fn a_payload_that_is_not_json_is_kept_as_its_raw_text() {
        let record = JobRecord::from_hash(&hash(r#"{"a": "#)).expect("readable");
        assert_eq!(record.payload, Value::String(r#"{"a": "#.into()));
        let record = JobRecord::from_hash(&hash(r#"{"a": 1}"#)).expect("readable");
        assert_eq!(record.payload, serde_json::json!({"a": 1}));
    }

    #[test]
    fn a_record_without_app_is_the_default_apps_and_an_empty_one_is_internal() {
        let mut fields = hash("{}");
        let record = JobRecord::from_hash(&fields).expect("readable");
        assert_eq!(record.app, Some(AppName::default_app()));
        fields.insert("app".into(), String::new());
        assert_eq!(JobRecord::from_hash(&fields).expect("readable").app, None);
        fields.insert("app".into(), "shop".into());
        assert_eq!(
            JobRecord::from_hash(&fields).expect("readable").app,
            Some(AppName::parse("shop").expect("name"))
        );
    }

    #[test]
    fn a_record_without_its_bookkeeping_is_corrupt() {
        let mut fields = hash("{}");
        fields.insert("attempts".into(), "many".into());
        let error = JobRecord::from_hash(&fields).expect_err("corrupt");
        assert_eq!(error.field, "attempts");
    }
}
