//! `POST /api/v1.0/request_marunage_credit/bulk_register`.
//!
//! Items come under the version's key (`marunage_credit` in the seed,
//! `request_marunage_credit` now). Each item is checked, in this order, and answered with
//! the first problem found, in `200`:
//!
//! 1. its billing code appears in another item of the request: 5413 (seed) for every one
//!    of them;
//! 2. its fields ([`CreditApplication::parse`], the function our API uses; fields the
//!    version has no code for, such as fields it does not know, are ignored as the vendor
//!    presumably does): 5403–5408;
//! 3. the account lacks the まるなげ option (switch; seed only): 5402;
//! 4. no such billing customer: 5401; a department without a phone number: 5409; a
//!    department not approved: 5410;
//! 5. a pending application or an active credit for it: 5411.
//!
//! ## All or nothing
//!
//! One failing item fails the request: every other item is answered 5412 (他の請求先与信の
//! 申請に失敗しました) and nothing is stored. The pages do not say so outright; the code's
//! existence says little else, and it is the reading that makes a client resend the most.
//!
//! No items at all (the key missing, not an array, or empty) is one item answered 5414
//! (seed), without a billing code. More than 3000 is `400` with code 20.
//!
//! A stored application is 申請中 (2), with its `id` (from 1, in order) and
//! `requested_date`; its billing customer's credit becomes 申請中 too, its `update_date`
//! moved.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde_json::{Map, Value, json};

use super::auth::{echo, refusal_of};
use super::decisions::settle;
use super::errors::{parse_body, unreadable_body, vendor_error};
use super::state::{AnswerOrder, Inner, Shared, StoredApplication, StoredCredit, stamp};
use crate::vendors::billing_robo::types::{
    ApiVersion, ApplicationStatus, CreditApplication, CreditStatus, ItemProblem,
    MAX_REGISTER_ITEMS, common, to_jst,
};

/// The request fields an answered item echoes (the pages list them in the answer).
const ECHOED: [&str; 9] = [
    "billing_code",
    "business_type",
    "claim_type",
    "corporate_number",
    "representative_name",
    "contract_date",
    "transaction_count",
    "company_url",
    "estimated_billing_amount",
];

pub async fn bulk_register(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let body = match parse_body(&body) {
        Ok(body) => body,
        Err(why) => return unreadable_body(&why),
    };
    if let Some(response) = refusal_of(&shared, &body) {
        return response;
    }
    let version = shared.config.version;
    let key = version.register_key();
    let mut answer = echo(&body);
    let items = match body.get(key) {
        Some(Value::Array(items)) if !items.is_empty() => items,
        _ => {
            let problem = ItemProblem::NoApplications;
            answer.insert(key.into(), json!([refusal(&Map::new(), problem, version)]));
            let mut inner = shared.lock();
            inner.effects.register_calls += 1;
            inner.effects.items_refused += 1;
            return Json(Value::Object(answer)).into_response();
        }
    };
    if items.len() > MAX_REGISTER_ITEMS {
        shared.lock().effects.register_calls += 1;
        return vendor_error(
            StatusCode::BAD_REQUEST,
            common::INVALID_REQUEST_COUNT,
            &format!("The number of requests exceeds {MAX_REGISTER_ITEMS}."),
        );
    }
    let now = Utc::now();
    let today = to_jst(now).date();
    let mut inner = shared.lock();
    inner.effects.register_calls += 1;
    settle(&mut inner, version, now);
    let mut copies: HashMap<&str, usize> = HashMap::new();
    for item in items {
        if let Some(code) = item.get("billing_code").and_then(Value::as_str) {
            *copies.entry(code).or_default() += 1;
        }
    }
    let checked: Vec<Result<CreditApplication, ItemProblem>> = items
        .iter()
        .map(|item| check(&inner, &copies, item, version, today))
        .collect();
    let failed = checked.iter().any(Result::is_err);
    let mut answered = Vec::with_capacity(items.len());
    for (item, result) in items.iter().zip(checked) {
        let fields = item.as_object().cloned().unwrap_or_default();
        let problem = match result {
            Err(problem) => problem,
            Ok(_) if failed => ItemProblem::AnotherItemFailed,
            Ok(application) => {
                let stored = store(&mut inner, &application, now, shared.config.decide_after);
                answered.push(registered(&fields, &stored));
                continue;
            }
        };
        inner.effects.items_refused += 1;
        answered.push(refusal(&fields, problem, version));
    }
    if inner.switches.answer_order == AnswerOrder::Reversed {
        answered.reverse();
    }
    drop(inner);
    answer.insert(key.into(), Value::Array(answered));
    Json(Value::Object(answer)).into_response()
}

/// The first problem of one item (the order in the module docs), or the application.
fn check(
    inner: &Inner,
    copies: &HashMap<&str, usize>,
    item: &Value,
    version: ApiVersion,
    today: chrono::NaiveDate,
) -> Result<CreditApplication, ItemProblem> {
    let code = item.get("billing_code").and_then(Value::as_str);
    if code.is_some_and(|code| copies.get(code).is_some_and(|n| *n > 1)) {
        return Err(ItemProblem::DuplicateInRequest);
    }
    let application = parse_as_vendor(item, version, today)?;
    if version == ApiVersion::Seed && !inner.switches.marunage_option {
        return Err(ItemProblem::MarunageOptionUnavailable);
    }
    let Some(customer) = inner.customer(application.billing_code()) else {
        return Err(ItemProblem::UnknownBillingCustomer);
    };
    if !customer.phone_registered {
        return Err(ItemProblem::PhoneNumberMissing);
    }
    if !customer.department_approved {
        return Err(ItemProblem::DepartmentNotApproved);
    }
    if inner.already_applied(application.billing_code()) {
        return Err(ItemProblem::AlreadyApplied);
    }
    Ok(application)
}

/// Our parser, read as the vendor of `version` would: a problem it has a code for is
/// answered; a field it has none for is dropped and the item parsed again.
fn parse_as_vendor(
    item: &Value,
    version: ApiVersion,
    today: chrono::NaiveDate,
) -> Result<CreditApplication, ItemProblem> {
    let errors = match CreditApplication::parse(item, version, today) {
        Ok(application) => return Ok(application),
        Err(errors) => errors,
    };
    if let Some(coded) = errors.iter().find(|e| e.vendor_code(version).is_some()) {
        return Err(coded.problem);
    }
    let mut stripped = item.clone();
    if let Some(fields) = stripped.as_object_mut() {
        for error in &errors {
            fields.remove(&error.field);
        }
    }
    CreditApplication::parse(&stripped, version, today).map_err(|errors| {
        errors
            .first()
            .map_or(ItemProblem::NoApplications, |e| e.problem)
    })
}

/// Stores a new application and moves its customer's credit to pending.
fn store(
    inner: &mut Inner,
    application: &CreditApplication,
    now: chrono::DateTime<Utc>,
    decide_after: Option<std::time::Duration>,
) -> StoredApplication {
    let claim_type = application.claim_type().map_or(1, u8::from);
    let stored = StoredApplication {
        id: inner.applications.len() as u64 + 1,
        billing_code: application.billing_code().to_string(),
        claim_type,
        status: ApplicationStatus::Pending,
        requested: now,
        responded: None,
        decide_at: decide_after
            .and_then(|after| chrono::Duration::from_std(after).ok())
            .map(|after| now + after),
    };
    inner.applications.push(stored.clone());
    let next_credit_id = inner.credits.len() as u64 + 1;
    let credit = inner
        .credits
        .entry(stored.billing_code.clone())
        .or_insert_with(|| StoredCredit {
            id: next_credit_id,
            billing_code: stored.billing_code.clone(),
            claim_type,
            status: CreditStatus::Pending,
            regist: now,
            update: now,
        });
    credit.status = CreditStatus::Pending;
    credit.update = now;
    inner.effects.applications_registered += 1;
    stored
}

fn echoed(fields: &Map<String, Value>) -> Map<String, Value> {
    ECHOED
        .iter()
        .filter_map(|key| Some((key.to_string(), fields.get(*key)?.clone())))
        .collect()
}

fn registered(fields: &Map<String, Value>, stored: &StoredApplication) -> Value {
    let mut item = Map::new();
    item.insert("error_code".into(), Value::Null);
    item.insert("error_message".into(), Value::Null);
    item.insert("id".into(), json!(stored.id));
    item.extend(echoed(fields));
    item.insert("status".into(), json!(i64::from(stored.status)));
    item.insert("requested_date".into(), json!(stamp(stored.requested)));
    Value::Object(item)
}

fn refusal(fields: &Map<String, Value>, problem: ItemProblem, version: ApiVersion) -> Value {
    let mut item = Map::new();
    // Every problem the handler raises has a code in its version (the option switch is
    // checked for the seed only); 1 would mark a sandbox bug.
    item.insert(
        "error_code".into(),
        json!(problem.code(version).unwrap_or(1)),
    );
    item.insert("error_message".into(), json!(problem.message_ja()));
    item.insert("id".into(), Value::Null);
    item.extend(echoed(fields));
    item.insert("status".into(), Value::Null);
    item.insert("requested_date".into(), Value::Null);
    Value::Object(item)
}
