//! Billing-Robo's webhook events: which finished job becomes which event.
//!
//! | job                         | final state  | event                        |
//! |-----------------------------|--------------|------------------------------|
//! | `billing_robo.credit.apply` | succeeded    | `billing_robo.credit.applied`|
//! | `billing_robo.credit.apply` | failed, dead | `billing_robo.credit.failed` |
//! | `billing_robo.credit.decision` | succeeded, approved | `billing_robo.credit.approved` |
//! | `billing_robo.credit.decision` | succeeded, rejected | `billing_robo.credit.rejected` |
//! | `billing_robo.credit.decision` | expired | `billing_robo.credit.expired` |
//! | `billing_robo.credit.decision` | failed, dead | `billing_robo.credit.failed` |
//!
//! Batches (`billing_robo.credit.batch`) and polls are internal and raise nothing: each
//! application raises its own events. The subject is the billing code (one application
//! per billing customer at a time, so an `ordered` endpoint gets a customer's events in
//! order). `applied` means registered (pending, status 2) or already applied; the decision
//! comes later, in the same subject, and never before `applied`: the decision job is
//! written in the same step as the `applied` deliveries (`queue/chain.rs`). Every event's
//! data has `billing_code`; a decision's also has `application_job` (the job the producer
//! got when it applied; `job_id` is the decision job's) and `application_id`.

use serde_json::{Map, Value};

use super::jobs::{ApplyCredit, AwaitDecision};
use crate::queue::{Finished, JobKind, JobState};
use crate::webhooks::event::{Catalogue, EventSpec};

pub fn register(catalogue: &mut Catalogue) {
    catalogue.register(ApplyCredit::KIND, applied_or_failed);
    catalogue.register(AwaitDecision::KIND, decided);
}

/// A decision job's event: the decision, or why there is none.
fn decided(job: &Finished) -> Option<EventSpec> {
    let billing_code = job.payload.get("billing_code").cloned()?;
    let subject = billing_code.as_str()?.to_string();
    let result = job.result.clone().unwrap_or(Value::Null);
    let mut data = Map::new();
    data.insert("billing_code".into(), billing_code);
    data.insert(
        "application_job".into(),
        job.payload
            .get("applied_by")
            .cloned()
            .unwrap_or(Value::Null),
    );
    data.insert(
        "application_id".into(),
        job.payload
            .get("application_id")
            .cloned()
            .unwrap_or(Value::Null),
    );
    let event_type = match job.state {
        JobState::Succeeded => {
            let event_type = match result["decision"].as_str()? {
                "approved" => "billing_robo.credit.approved",
                "rejected" => "billing_robo.credit.rejected",
                _ => return None,
            };
            data.insert("decided_at".into(), result["decided_at"].clone());
            data.insert("credit".into(), result["credit"].clone());
            event_type
        }
        JobState::Expired => "billing_robo.credit.expired",
        JobState::Failed | JobState::Dead => "billing_robo.credit.failed",
        _ => return None,
    };
    if let Some(error) = &job.error {
        data.insert("error".into(), Value::String(error.message.clone()));
    }
    Some(EventSpec {
        event_type: event_type.into(),
        subject,
        data,
    })
}

fn applied_or_failed(job: &Finished) -> Option<EventSpec> {
    let billing_code = job
        .payload
        .get("billing_code")
        .cloned()
        .unwrap_or(Value::Null);
    let subject = billing_code
        .as_str()
        .map_or_else(|| job.id.to_string(), String::from);
    let mut data = Map::new();
    data.insert("billing_code".into(), billing_code);
    let event_type = match job.state {
        JobState::Succeeded => {
            data.insert(
                "application".into(),
                job.result.clone().unwrap_or(Value::Null),
            );
            "billing_robo.credit.applied"
        }
        JobState::Failed | JobState::Dead => "billing_robo.credit.failed",
        _ => return None,
    };
    Some(EventSpec {
        event_type: event_type.into(),
        subject,
        data,
    })
}

/// Every Billing-Robo event type.
pub const EVENT_TYPES: [&str; 5] = [
    "billing_robo.credit.applied",
    "billing_robo.credit.approved",
    "billing_robo.credit.rejected",
    "billing_robo.credit.expired",
    "billing_robo.credit.failed",
];

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::queue::JobId;

    fn finished(state: JobState, result: Option<Value>) -> Finished {
        Finished {
            id: JobId::new(),
            kind: ApplyCredit::KIND.into(),
            state,
            attempts: 1,
            result,
            error: None,
            reference: None,
            metadata: None,
            payload: json!({"billing_code": "cust-1"}),
            traceparent: None,
            app: None,
        }
    }

    #[test]
    fn an_application_is_applied_or_failed_under_its_billing_code() {
        let applied = applied_or_failed(&finished(
            JobState::Succeeded,
            Some(json!({"billing_code": "cust-1", "id": 9, "status": 2})),
        ))
        .expect("event");
        assert_eq!(applied.event_type, "billing_robo.credit.applied");
        assert_eq!(applied.subject, "cust-1");
        assert_eq!(applied.data["application"]["id"], json!(9));
        for state in [JobState::Failed, JobState::Dead] {
            let failed = applied_or_failed(&finished(state, None)).expect("event");
            assert_eq!(failed.event_type, "billing_robo.credit.failed");
            assert_eq!(failed.subject, "cust-1");
        }
        assert!(applied_or_failed(&finished(JobState::Queued, None)).is_none());
    }

    #[test]
    fn a_decision_is_approved_rejected_expired_or_failed_under_the_same_billing_code() {
        let applied_by = JobId::new();
        let decision = |state, result: Option<Value>| Finished {
            id: JobId::new(),
            kind: AwaitDecision::KIND.into(),
            state,
            attempts: 1,
            result,
            error: None,
            reference: None,
            metadata: None,
            payload: json!({"billing_code": "cust-1", "applied_by": applied_by, "application_id": 9}),
            traceparent: None,
            app: None,
        };
        let approved = decided(&decision(
            JobState::Succeeded,
            Some(json!({"decision": "approved", "decided_at": "2026/11/28 10:00:00"})),
        ))
        .expect("event");
        assert_eq!(approved.event_type, "billing_robo.credit.approved");
        assert_eq!(approved.subject, "cust-1");
        assert_eq!(approved.data["application_job"], json!(applied_by));
        assert_eq!(approved.data["application_id"], json!(9));
        let rejected = decided(&decision(
            JobState::Succeeded,
            Some(json!({"decision": "rejected"})),
        ))
        .expect("event");
        assert_eq!(rejected.event_type, "billing_robo.credit.rejected");
        let expired = decided(&decision(JobState::Expired, None)).expect("event");
        assert_eq!(expired.event_type, "billing_robo.credit.expired");
        let failed = decided(&decision(JobState::Dead, None)).expect("event");
        assert_eq!(failed.event_type, "billing_robo.credit.failed");
        assert!(decided(&decision(JobState::Snoozed, None)).is_none());
        for event in [approved, rejected, expired, failed] {
            assert!(EVENT_TYPES.contains(&event.event_type.as_str()));
        }
    }
}
