//! Contracts: `POST /v1/contracts`, `POST /v1/contracts/bulk`, `GET /v1/contracts/{id}`.
//!
//! ## A bulk is all-or-nothing
//!
//! Every item is checked (body, field validation, then catalogue) before *any* contract is
//! made; one bad item fails the whole call and creates nothing. Whether the real vendor
//! behaves so is **unknown**; it is the safe assumption and underwrite's batching relies on
//! it (`jobs.rs`: a refused batch is split and resent one contract per call, with new
//! idempotency keys, which is only safe because the refused call created nothing).
//!
//! ## Asynchronous persistence
//!
//! As seed 000 warns, a contract is not readable right away: `GET` answers 404 until
//! [`super::ProtegerSandboxConfig::persist_delay`] has passed since its creation. Refunds
//! see the same persisted view.
//!
//! ## Dates
//!
//! Coverage starts at the `transactionDate` and lasts the plan's `termLength` months
//! (`endedAt`). When coverage really starts for an extended warranty (often at the end of
//! the maker's warranty) is **unknown**; this choice only shifts the refund arithmetic.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, FixedOffset, Months, Offset, SecondsFormat, Utc};
use rand::distr::{Alphanumeric, SampleString};
use serde::de::DeserializeOwned;

use super::catalogue::{self, check_pair};
use super::errors::{bad_request, invalid_fields, not_found, refused_before_executing};
use super::state::Shared;
use crate::validation::FieldError;
use crate::vendors::proteger::types::{
    BulkCreateRequest, Contract, ContractCustomer, ContractRequest, ContractStatus,
};

/// A created contract and what the sandbox needs to answer about it later.
pub struct StoredContract {
    /// As answered at creation (status `Active`).
    pub contract: Contract,
    /// When it was created, for the persistence delay.
    pub created: Instant,
    pub started_at: DateTime<Utc>,
    pub ended_at: DateTime<Utc>,
    /// What the customer paid for the plan: the base of the refund.
    pub plan_price: i64,
    pub cancelled_at: Option<DateTime<Utc>>,
}

impl StoredContract {
    /// Readable yet (asynchronous persistence)?
    pub fn persisted(&self, delay: Duration) -> bool {
        self.created.elapsed() >= delay
    }

    pub fn status(&self, now: DateTime<Utc>) -> ContractStatus {
        if self.cancelled_at.is_some() {
            ContractStatus::Cancelled
        } else if now >= self.ended_at {
            ContractStatus::Expired
        } else {
            ContractStatus::Active
        }
    }

    /// The contract as the vendor would show it now.
    pub fn render(&self, now: DateTime<Utc>) -> Contract {
        let mut contract = self.contract.clone();
        contract.status = self.status(now);
        if let Some(cancelled) = self.cancelled_at {
            contract.updated_at = Some(timestamp(cancelled));
        }
        contract
    }
}

/// Japan's offset: the vendor's timestamps are in JST.
fn jst() -> FixedOffset {
    // +9 h is within ±24 h, so this never falls back; UTC would be the harmless fallback.
    FixedOffset::east_opt(9 * 3600).unwrap_or_else(|| Utc.fix())
}

/// Formatted like the seeds: `2021-01-31T13:16:06.239289+09:00`.
pub fn timestamp(at: DateTime<Utc>) -> String {
    at.with_timezone(&jst())
        .to_rfc3339_opts(SecondsFormat::Micros, false)
}

/// Parses a JSON body as `T`, or says why not (a refusal before executing).
fn parse<T: DeserializeOwned>(operation: &str, body: &[u8]) -> Result<T, String> {
    serde_json::from_slice(body).map_err(|e| format!("{operation}: invalid request body: {e}"))
}

/// `POST /v1/contracts`: one contract, answered as one object.
pub async fn create_one(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    const OP: &str = "failed create contract";
    let request: ContractRequest = match parse(OP, &body) {
        Ok(request) => request,
        Err(why) => return refused_before_executing(why),
    };
    let errors = request.validate();
    if !errors.is_empty() {
        return invalid_fields(OP, &errors);
    }
    match create(&shared, &[request]) {
        Ok(mut created) => match created.pop() {
            Some(contract) => Json(contract).into_response(),
            None => bad_request(format!("{OP}: nothing created")),
        },
        Err(why) => bad_request(why),
    }
}

/// `POST /v1/contracts/bulk`: 1 to 10 contracts, all or none, answered as a bare array in
/// the order sent.
pub async fn create_bulk(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    const OP: &str = "failed create contracts";
    let request: BulkCreateRequest = match parse(OP, &body) {
        Ok(request) => request,
        Err(why) => return refused_before_executing(why),
    };
    let errors: Vec<FieldError> = request.validate();
    if !errors.is_empty() {
        return invalid_fields(OP, &errors);
    }
    match create(&shared, &request.contracts) {
        Ok(mut created) => {
            if shared.config.bulk_order == super::BulkOrder::Reversed {
                created.reverse();
            }
            Json(created).into_response()
        }
        Err(why) => bad_request(why),
    }
}

/// Checks every item against the catalogue, then creates them all under one lock: all or
/// nothing, and atomic with respect to every other request. `Err` is the vendor's error
/// text for a 400.
fn create(shared: &Shared, requests: &[ContractRequest]) -> Result<Vec<Contract>, String> {
    let mut checked = Vec::with_capacity(requests.len());
    for request in requests {
        let (product, plan) = check_pair(&request.product.reference_id, &request.plan.plan_id)?;
        let started = DateTime::parse_from_rfc3339(&request.transaction_date)
            .map_err(|e| format!("failed create contract: transactionDate: {e}"))?;
        let ended = started
            .checked_add_months(Months::new(plan.term_months))
            .ok_or("failed create contract: transactionDate out of range")?;
        checked.push((product, plan, started, ended));
    }
    let now = Utc::now();
    let mut inner = shared.lock();
    let mut created = Vec::with_capacity(requests.len());
    for (request, (product, plan, started, ended)) in requests.iter().zip(checked) {
        let contract = build(request, product, plan, started, ended, now);
        inner.record_created(&request.transaction_id);
        inner.contracts.insert(
            contract.id.clone(),
            StoredContract {
                contract: contract.clone(),
                created: Instant::now(),
                started_at: started.with_timezone(&Utc),
                ended_at: ended.with_timezone(&Utc),
                plan_price: request.plan.purchase_price,
                cancelled_at: None,
            },
        );
        created.push(contract);
    }
    Ok(created)
}

fn build(
    request: &ContractRequest,
    product: &catalogue::CatalogueProduct,
    plan: &catalogue::CataloguePlan,
    started: DateTime<FixedOffset>,
    ended: DateTime<FixedOffset>,
    now: DateTime<Utc>,
) -> Contract {
    let customer = &request.customer;
    let customer_id = uuid::Uuid::now_v7().to_string();
    let mut wire_product = product.to_wire();
    wire_product.purchase_price = Some(request.product.purchase_price);
    wire_product.serial_number = request.product.serial_number.clone();
    Contract {
        id: uuid::Uuid::now_v7().to_string(),
        inquiry_code: Some(
            Alphanumeric
                .sample_string(&mut rand::rng(), 8)
                .to_ascii_lowercase(),
        ),
        transaction_id: request.transaction_id.clone(),
        transaction_total: Some(request.transaction_total),
        transaction_date: Some(request.transaction_date.clone()),
        customer: Some(ContractCustomer {
            id: Some(customer_id.clone()),
            reference_id: Some(customer_id),
            name: Some(customer.name.clone()),
            email: Some(customer.email.clone()),
            phone: customer.phone.clone(),
            billing_address: customer
                .billing_address
                .as_ref()
                .and_then(|a| serde_json::to_value(a).ok()),
            shipping_address: customer
                .shipping_address
                .as_ref()
                .and_then(|a| serde_json::to_value(a).ok()),
            extra: Default::default(),
        }),
        product: Some(wire_product),
        plan: Some(plan.to_wire()),
        store: Some(catalogue::store()),
        is_fulfilled: Some(true),
        status: ContractStatus::Active,
        fraud: Some(false),
        started_at: Some(started.to_rfc3339_opts(SecondsFormat::Micros, false)),
        ended_at: Some(ended.to_rfc3339_opts(SecondsFormat::Micros, false)),
        created_at: Some(timestamp(now)),
        updated_at: Some(timestamp(now)),
        extra: Default::default(),
    }
}

/// `GET /v1/contracts/{id}`: 404 until persisted.
pub async fn get_contract(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let inner = shared.lock();
    match inner.contracts.get(&id) {
        Some(stored) if stored.persisted(shared.config.persist_delay) => {
            Json(stored.render(Utc::now())).into_response()
        }
        _ => not_found("failed get contract: not found"),
    }
}
