//! Billing-Robo's webhook events: which finished job becomes which event.
//!
//! | job                         | final state  | event                        |
//! |-----------------------------|--------------|------------------------------|
//! | `billing_robo.credit.apply` | succeeded    | `billing_robo.credit.applied`|
//! | `billing_robo.credit.apply` | failed, dead | `billing_robo.credit.failed` |
//!
//! Batches (`billing_robo.credit.batch`) are internal and raise nothing: each application
//! raises its own event. The subject is the billing code (one application per billing
//! customer at a time, so an `ordered` endpoint gets a customer's events in order).
//! `applied` means registered (pending, status 2) or already applied: the credit decision
//! comes later.

use serde_json::{Map, Value};

use super::jobs::ApplyCredit;
use crate::queue::{Finished, JobKind, JobState};
use crate::webhooks::event::{Catalogue, EventSpec};

pub fn register(catalogue: &mut Catalogue) {
    catalogue.register(ApplyCredit::KIND, applied_or_failed);
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
pub const EVENT_TYPES: [&str; 2] = ["billing_robo.credit.applied", "billing_robo.credit.failed"];
