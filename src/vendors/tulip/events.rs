//! Tulip's webhook events: which finished job becomes which event.
//!
//! | job                     | final state  | event                     | subject |
//! |-------------------------|--------------|---------------------------|---------|
//! | `tulip.contract.quote`  | succeeded    | `tulip.contract.quoted`   | the job id |
//! | `tulip.contract.create` | succeeded    | `tulip.contract.created`  | the `cid` |
//! | `tulip.contract.cancel` | succeeded    | `tulip.contract.cancelled`, with `outcome`: `cancelled` or `terminated` | the `cid` |
//! | any of them             | failed, dead | `tulip.contract.failed`, with `operation`: `quote`, `create` or `cancel` | the `cid` if any, else the job id |
//!
//! The subject is the contract id where there is one, so an `ordered` endpoint gets
//! `created` before `cancelled`. `data` carries the job's result (the contract, the quote,
//! the outcome) besides the common fields; it never carries the API key, which no job
//! record holds.

use serde_json::{Map, Value, json};

use super::jobs::{CancelContract, CreateContract, QuoteContract};
use crate::queue::{Finished, JobKind, JobState};
use crate::webhooks::event::{Catalogue, EventSpec};

/// Every Tulip event type, for the README and the API's filter validation.
pub const EVENT_TYPES: [&str; 4] = [
    "tulip.contract.quoted",
    "tulip.contract.created",
    "tulip.contract.failed",
    "tulip.contract.cancelled",
];

pub fn register(catalogue: &mut Catalogue) {
    catalogue
        .register(QuoteContract::KIND, quoted)
        .register(CreateContract::KIND, created)
        .register(CancelContract::KIND, cancelled);
}

fn quoted(job: &Finished) -> Option<EventSpec> {
    outcome(job, "quote", "tulip.contract.quoted", None)
}

fn created(job: &Finished) -> Option<EventSpec> {
    let cid = job
        .result
        .as_ref()
        .and_then(|r| r.get("cid"))
        .and_then(Value::as_str)
        .map(String::from);
    outcome(job, "create", "tulip.contract.created", cid)
}

fn cancelled(job: &Finished) -> Option<EventSpec> {
    let cid = job
        .payload
        .get("cid")
        .and_then(Value::as_str)
        .map(String::from);
    let mut spec = outcome(job, "cancel", "tulip.contract.cancelled", cid.clone())?;
    spec.data.insert("cid".into(), json!(cid));
    if let Some(result) = &job.result {
        spec.data.insert(
            "outcome".into(),
            result.get("outcome").cloned().unwrap_or(Value::Null),
        );
    }
    Some(spec)
}

/// The success event, or `tulip.contract.failed` naming the operation.
fn outcome(
    job: &Finished,
    operation: &str,
    succeeded: &str,
    subject: Option<String>,
) -> Option<EventSpec> {
    let mut data = Map::new();
    data.insert("operation".into(), json!(operation));
    let event_type = match job.state {
        JobState::Succeeded => {
            data.insert("result".into(), job.result.clone().unwrap_or(Value::Null));
            succeeded
        }
        JobState::Failed | JobState::Dead => "tulip.contract.failed",
        _ => return None,
    };
    Some(EventSpec {
        event_type: event_type.into(),
        subject: subject.unwrap_or_else(|| job.id.to_string()),
        data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::{ErrorDetail, JobId};

    fn finished(kind: &str, state: JobState, result: Option<Value>, payload: Value) -> Finished {
        Finished {
            id: JobId::new(),
            kind: kind.into(),
            state,
            attempts: 1,
            error: (state != JobState::Succeeded).then(|| ErrorDetail::message("refused")),
            result,
            reference: None,
            metadata: None,
            payload,
            traceparent: None,
            app: None,
        }
    }

    #[test]
    fn each_job_raises_its_event() {
        let mut catalogue = Catalogue::default();
        register(&mut catalogue);
        let created = finished(
            CreateContract::KIND,
            JobState::Succeeded,
            Some(json!({"cid": "C1", "status": "open"})),
            json!({}),
        );
        let spec = catalogue.event_for(&created).expect("an event");
        assert_eq!(
            (spec.event_type.as_str(), spec.subject.as_str()),
            ("tulip.contract.created", "C1")
        );

        let ended = finished(
            CancelContract::KIND,
            JobState::Succeeded,
            Some(json!({"cid": "C1", "outcome": "terminated"})),
            json!({"cid": "C1", "reason": "returned early"}),
        );
        let spec = catalogue.event_for(&ended).expect("an event");
        assert_eq!(spec.event_type, "tulip.contract.cancelled");
        assert_eq!(spec.data["outcome"], json!("terminated"));

        let failed = finished(QuoteContract::KIND, JobState::Dead, None, json!({}));
        let spec = catalogue.event_for(&failed).expect("an event");
        assert_eq!(spec.event_type, "tulip.contract.failed");
        assert_eq!(spec.data["operation"], json!("quote"));
        assert!(EVENT_TYPES.contains(&spec.event_type.as_str()));
    }
}
