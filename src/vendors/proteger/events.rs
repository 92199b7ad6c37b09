//! Proteger's webhook events: which finished job becomes which event.
//!
//! | job                               | final state        | event                            |
//! |-----------------------------------|--------------------|----------------------------------|
//! | `proteger.contract.create`        | succeeded          | `proteger.contract.created`      |
//! | `proteger.contract.create`        | failed, dead       | `proteger.contract.failed`       |
//! | `proteger.contract.cancel` commit | succeeded          | `proteger.contract.cancelled`    |
//! | `proteger.contract.cancel` quote  | succeeded          | `proteger.contract.refund_quoted`|
//! | `proteger.contract.cancel`        | failed, dead       | `proteger.contract.cancellation_failed` |
//!
//! Batches (`proteger.contract.batch`) are internal and raise nothing: each contract of a
//! batch raises its own event. The subject is the vendor's contract id (so an `ordered`
//! endpoint gets `created` before `cancelled`), or the job id when no contract exists.

use serde_json::{Map, Value, json};

use super::jobs::{CancelContract, CreateContract};
use crate::queue::{Finished, JobKind, JobState};
use crate::webhooks::event::{Catalogue, EventSpec};

pub fn register(catalogue: &mut Catalogue) {
    catalogue
        .register(CreateContract::KIND, created_or_failed)
        .register(CancelContract::KIND, cancelled_or_quoted);
}

fn created_or_failed(job: &Finished) -> Option<EventSpec> {
    let mut data = Map::new();
    let transaction_id = job
        .payload
        .get("transactionId")
        .cloned()
        .unwrap_or(Value::Null);
    data.insert("transaction_id".into(), transaction_id);
    match job.state {
        JobState::Succeeded => {
            let contract = job.result.clone().unwrap_or(Value::Null);
            let subject = contract_id(&contract).unwrap_or_else(|| job.id.to_string());
            data.insert("contract".into(), contract);
            Some(EventSpec {
                event_type: "proteger.contract.created".into(),
                subject,
                data,
            })
        }
        JobState::Failed | JobState::Dead => Some(EventSpec {
            event_type: "proteger.contract.failed".into(),
            subject: job.id.to_string(),
            data,
        }),
        _ => None,
    }
}

fn cancelled_or_quoted(job: &Finished) -> Option<EventSpec> {
    let request: CancelContract = serde_json::from_value(job.payload.clone()).ok()?;
    let mut data = Map::new();
    data.insert("contract_id".into(), json!(request.contract_id));
    data.insert("preview".into(), json!(request.preview));
    let event_type = match (job.state, request.preview) {
        (JobState::Succeeded, true) => "proteger.contract.refund_quoted",
        (JobState::Succeeded, false) => "proteger.contract.cancelled",
        (JobState::Failed | JobState::Dead, _) => "proteger.contract.cancellation_failed",
        _ => return None,
    };
    if let Some(result) = &job.result {
        data.insert(
            "refund_amount".into(),
            result.get("refundAmount").cloned().unwrap_or(Value::Null),
        );
        data.insert("contract".into(), result.clone());
    }
    Some(EventSpec {
        event_type: event_type.into(),
        subject: request.contract_id,
        data,
    })
}

fn contract_id(contract: &Value) -> Option<String> {
    contract.get("id")?.as_str().map(String::from)
}

/// Every Proteger event type, for the README catalogue and the API's filter validation.
pub const EVENT_TYPES: [&str; 5] = [
    "proteger.contract.created",
    "proteger.contract.failed",
    "proteger.contract.cancelled",
    "proteger.contract.refund_quoted",
    "proteger.contract.cancellation_failed",
];
