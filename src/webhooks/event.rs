//! Events: what a finished job tells the outside world.
//!
//! The body follows the Standard Webhooks shape `{"type", "timestamp", "data"}`. Types are
//! `<vendor>.<subject>.<what>`, for example `proteger.contract.created`. Which job kind
//! becomes which event is each vendor's business: a vendor registers an [`EventMapper`] per
//! job kind in the [`Catalogue`] (Proteger's are in `vendors/proteger/events.rs`); kinds
//! without a mapper (internal batches, deliveries themselves) raise no event.
//!
//! `data` always carries `event_id`, `job_id`, the producer's `reference` and `metadata`,
//! and either the vendor's (redacted) result or the error.

use std::collections::HashMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::queue::{Finished, JobState};

/// What a vendor says about one finished job.
#[derive(Debug, Clone, PartialEq)]
pub struct EventSpec {
    pub event_type: String,
    /// What the event is about (a contract id, an application id): deliveries to an
    /// `ordered` endpoint go out one at a time per subject.
    pub subject: String,
    /// Vendor-specific fields of `data` (the common ones are added by [`Event::new`]).
    pub data: Map<String, Value>,
}

pub type EventMapper = fn(&Finished) -> Option<EventSpec>;

/// The event types every vendor registered, by job kind.
#[derive(Debug, Clone, Default)]
pub struct Catalogue {
    mappers: HashMap<&'static str, EventMapper>,
}

impl Catalogue {
    pub fn register(&mut self, kind: &'static str, mapper: EventMapper) -> &mut Self {
        self.mappers.insert(kind, mapper);
        self
    }

    /// Whether jobs of this kind raise events.
    pub fn has(&self, kind: &str) -> bool {
        self.mappers.contains_key(kind)
    }

    pub fn event_for(&self, finished: &Finished) -> Option<EventSpec> {
        self.mappers.get(finished.kind.as_str())?(finished)
    }
}

/// One event, with its body as it will be sent and signed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// `webhook-id`: the same on every attempt of every delivery of this event.
    pub id: String,
    pub event_type: String,
    pub subject: String,
    pub timestamp: DateTime<Utc>,
    /// The exact bytes sent (and signed) on every attempt.
    pub body: String,
}

impl Event {
    pub fn new(spec: EventSpec, finished: &Finished, at: DateTime<Utc>) -> Self {
        let id = format!("msg_{}", uuid::Uuid::now_v7().simple());
        let mut data = Map::new();
        data.insert("event_id".into(), json!(id));
        data.insert("job_id".into(), json!(finished.id));
        data.insert("reference".into(), json!(finished.reference));
        data.insert(
            "metadata".into(),
            finished.metadata.clone().unwrap_or(Value::Null),
        );
        data.insert("state".into(), json!(finished.state));
        if finished.state != JobState::Succeeded {
            data.insert("error".into(), json!(finished.error));
        }
        data.extend(spec.data);
        let body = json!({
            "type": spec.event_type,
            "timestamp": at.to_rfc3339_opts(SecondsFormat::Millis, true),
            "data": data,
        })
        .to_string();
        Self {
            id,
            event_type: spec.event_type,
            subject: spec.subject,
            timestamp: at,
            body,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::{ErrorDetail, JobId};

    fn finished(state: JobState) -> Finished {
        Finished {
            id: JobId::new(),
            kind: "test.kind".into(),
            state,
            attempts: 1,
            result: None,
            error: (state != JobState::Succeeded).then(|| ErrorDetail::message("no")),
            reference: Some("order-7".into()),
            metadata: Some(json!({"shop": 1})),
            payload: Value::Null,
            traceparent: None,
            app: None,
        }
    }

    #[test]
    fn the_body_carries_the_common_fields_and_the_vendors() {
        let mut data = Map::new();
        data.insert("contract".into(), json!({"id": "c1"}));
        let spec = EventSpec {
            event_type: "v.thing.done".into(),
            subject: "c1".into(),
            data,
        };
        let job = finished(JobState::Succeeded);
        let event = Event::new(spec, &job, Utc::now());
        let body: Value = serde_json::from_str(&event.body).expect("json");
        assert_eq!(body["type"], "v.thing.done");
        assert_eq!(body["data"]["event_id"], json!(event.id));
        assert_eq!(body["data"]["job_id"], json!(job.id));
        assert_eq!(body["data"]["reference"], "order-7");
        assert_eq!(body["data"]["metadata"], json!({"shop": 1}));
        assert_eq!(body["data"]["contract"]["id"], "c1");
        assert!(body["data"].get("error").is_none());
        assert!(event.id.starts_with("msg_"));
    }
}
