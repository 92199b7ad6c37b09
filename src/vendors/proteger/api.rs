//! Proteger work to enqueue: warranty contracts to create, contracts to cancel.
//!
//! - `POST /v1/proteger/contracts`: one contract (the fields of
//!   [`ContractRequest`], as in Proteger's own API) plus optional `reference`/`metadata`
//!   → 202 `{"job_id", "status_url"}` and `Location`.
//! - `POST /v1/proteger/contracts/bulk`: `{"contracts": [...]}`, 1 to [`MAX_BULK`] of the
//!   above → 202 `{"jobs": [...]}`, one per contract, in order. All or nothing: one bad
//!   contract refuses the whole request (every error listed, as `contracts[3].customer.email`)
//!   and enqueues nothing. The workers send them to Proteger in calls of up to 10. Each
//!   contract needs its own `transactionId`: the workers match the vendor's answer by it.
//! - `POST /v1/proteger/contracts/{contractId}/cancellation`: `{"preview": bool}` plus
//!   optional `reference`/`metadata` → 202. `preview: true` asks only for the refund quote
//!   and changes nothing at the vendor. `preview` has no default: guessing wrong either
//!   cancels a contract by accident or silently does nothing.
//!
//! Everything the vendor would refuse for its form is refused here, before enqueueing
//! (`ContractRequest::validate` is the same check the sandbox runs); only what needs the
//! vendor's catalogue (does this product exist?) can fail later, in the job.

use std::borrow::Cow;

use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Map, Value};
use utoipa::openapi::schema::AdditionalProperties;
use utoipa::openapi::{ArrayBuilder, ObjectBuilder, RefOr, Schema};
use utoipa::{OpenApi, PartialSchema, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::jobs::{CancelContract, CreateContract};
use super::types::ContractRequest;
use crate::api::accepted::{self, JobLink, JobLinks};
use crate::api::auth::AppCaller;
use crate::api::error::{ApiError, ErrorBody};
use crate::api::extract::{ApiPath, JsonBody};
use crate::api::idempotency::Idempotency;
use crate::api::submission::{self, Submitted};
use crate::api::{ApiState, bulk};
use crate::producer::Submission;
use crate::validation::FieldError;

/// Most contracts one bulk request may carry. Not the vendor's limit (10 per call): the
/// workers batch for the vendor; this only bounds the size of one atomic enqueue.
pub const MAX_BULK: usize = 100;

/// Longest contract id accepted in the path.
pub const MAX_CONTRACT_ID_LEN: usize = 128;

/// The tag of these routes in the document, and what it says.
#[derive(OpenApi)]
#[openapi(tags((
    name = "proteger",
    description = "Warranty contracts to create at Proteger, and to cancel. Everything Proteger \
        would refuse for its form is refused here, before enqueueing; only what needs its \
        catalogue (does this product exist?) can fail later, in the job."
)))]
struct Tag;

/// The bodies, for the document. Named, because `#[utoipa::path]` composes a generic type
/// through a trait of utoipa's own that only derived schemas implement.
type ContractBody = Submitted<ContractRequest>;
type CancellationBody = Submitted<Cancellation>;

pub fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::with_openapi(Tag::openapi())
        .routes(routes!(create))
        .routes(routes!(create_bulk))
        .routes(routes!(cancel))
}

/// Enqueues one contract to create: Proteger's own fields, plus `reference` and `metadata`.
#[utoipa::path(
    post,
    path = "/contracts",
    operation_id = "create_proteger_contract",
    tag = "proteger",
    params(Idempotency),
    request_body(content = ContractBody, description = "One contract, as in Proteger's own API, plus `reference` and `metadata`."),
    responses(
        (status = 202, description = "Stored; follow `status_url` (or a webhook) for the outcome.",
            body = JobLink, headers(
                ("Location" = String, description = "The job's `status_url`."),
                ("Idempotent-Replayed" = String, description = "`true` when this answers an earlier request with the same `Idempotency-Key`."),
            )),
        (status = 422, description = "Wrong fields, every one listed (`validation_failed`); or the `Idempotency-Key` was used with another body (`idempotency_key_reused`).", body = ErrorBody),
    )
)]
async fn create(
    State(state): State<ApiState>,
    AppCaller(app): AppCaller,
    Idempotency(key): Idempotency,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let submission = contract(body, "").map_err(ApiError::invalid)?;
    let accepted = state.producer().submit(&app, vec![submission], key).await?;
    accepted::one(accepted)
}

/// The body of a bulk request, for the document: 1 to [`MAX_BULK`] contracts.
pub struct BulkContracts;

impl PartialSchema for BulkContracts {
    fn schema() -> RefOr<Schema> {
        let contracts = ArrayBuilder::new()
            .items(ContractBody::schema())
            .min_items(Some(1))
            .max_items(Some(MAX_BULK));
        ObjectBuilder::new()
            .property("contracts", contracts)
            .required("contracts")
            .additional_properties(Some(AdditionalProperties::FreeForm(false)))
            .into()
    }
}

impl ToSchema for BulkContracts {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("ProtegerBulkContracts")
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        ContractBody::schemas(schemas);
    }
}

/// Enqueues up to 100 contracts at once, all or nothing.
///
/// One wrong contract refuses the whole request, with every error listed (as
/// `contracts[3].customer.email`), and nothing is enqueued. The workers send them to
/// Proteger in bulk calls.
#[utoipa::path(
    post,
    path = "/contracts/bulk",
    operation_id = "create_proteger_contracts",
    tag = "proteger",
    params(Idempotency),
    request_body(content = BulkContracts, description = "`contracts`: 1 to 100 contracts, each as the body of `POST /v1/proteger/contracts`."),
    responses(
        (status = 202, description = "Stored: one job per contract, in request order.", body = JobLinks,
            headers(("Idempotent-Replayed" = String, description = "`true` when this answers an earlier request with the same `Idempotency-Key`."))),
        (status = 422, description = "Wrong fields, every one listed; or the `Idempotency-Key` was used with another body.", body = ErrorBody),
    )
)]
async fn create_bulk(
    State(state): State<ApiState>,
    AppCaller(app): AppCaller,
    Idempotency(key): Idempotency,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> Result<Response, ApiError> {
    let items = bulk::items(body, "contracts", MAX_BULK).map_err(ApiError::invalid)?;
    // `transactionId`s are unique within a bulk: the workers match the vendor's answer to
    // the contracts by them (`jobs/matching.rs`).
    let submissions = bulk::each(items, "contracts", "transactionId", contract, |s| {
        s.payload.0.transaction_id.clone()
    })
    .map_err(ApiError::invalid)?;
    let accepted = state.producer().submit(&app, submissions, key).await?;
    Ok(accepted::many(accepted))
}

/// One contract found at `at`, checked as the vendor would check it.
fn contract(value: Value, at: &str) -> Result<Submission<CreateContract>, Vec<FieldError>> {
    let parsed = submission::parse::<ContractRequest>(value, at)?;
    let errors = parsed.payload.validate();
    if !errors.is_empty() {
        return Err(errors
            .into_iter()
            .map(|e| if at.is_empty() { e } else { e.nested(at) })
            .collect());
    }
    Ok(Submission {
        payload: CreateContract(parsed.payload),
        reference: parsed.reference,
        metadata: parsed.metadata,
    })
}

/// The body of a cancellation, besides `reference`/`metadata`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ProtegerCancellation)]
struct Cancellation {
    /// `true`: only ask for the refund quote, and change nothing at Proteger. Required:
    /// guessing wrong would cancel a contract by accident, or silently do nothing.
    preview: bool,
}

/// Enqueues the cancellation of a contract (or, with `preview`, the quote of its refund).
#[utoipa::path(
    post,
    path = "/contracts/{contract_id}/cancellation",
    operation_id = "cancel_proteger_contract",
    tag = "proteger",
    params(
        ("contract_id" = String, Path, max_length = 128, description = "Proteger's contract id (no `/`, `?`, `#`, `%` or whitespace)."),
        Idempotency,
    ),
    request_body(content = CancellationBody, description = "`preview`, plus `reference` and `metadata`."),
    responses(
        (status = 202, description = "Stored; follow `status_url`. A preview's result is the refund quote.",
            body = JobLink, headers(
                ("Location" = String, description = "The job's `status_url`."),
                ("Idempotent-Replayed" = String, description = "`true` when this answers an earlier request with the same `Idempotency-Key`."),
            )),
        (status = 422, description = "A wrong contract id or field, every one listed; or the `Idempotency-Key` was used with another body.", body = ErrorBody),
    )
)]
async fn cancel(
    State(state): State<ApiState>,
    AppCaller(app): AppCaller,
    Idempotency(key): Idempotency,
    ApiPath(contract_id): ApiPath<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let mut errors = Vec::new();
    if let Err(reason) = check_contract_id(&contract_id) {
        errors.push(FieldError::new("contractId", reason));
    }
    let parsed = match submission::parse::<Cancellation>(body, "") {
        Ok(parsed) if errors.is_empty() => parsed,
        Ok(_) => return Err(ApiError::invalid(errors)),
        Err(found) => {
            errors.extend(found);
            return Err(ApiError::invalid(errors));
        }
    };
    let submission = Submission {
        payload: CancelContract {
            contract_id,
            preview: parsed.payload.preview,
        },
        reference: parsed.reference,
        metadata: parsed.metadata,
    };
    let accepted = state.producer().submit(&app, vec![submission], key).await?;
    accepted::one(accepted)
}

/// A contract id goes into the vendor's URL (`/v1/contracts/{id}/refund`): nothing that
/// could change which URL that is.
fn check_contract_id(id: &str) -> Result<(), String> {
    if id.is_empty() {
        Err("must not be empty".into())
    } else if id.chars().count() > MAX_CONTRACT_ID_LEN {
        Err(format!("must be at most {MAX_CONTRACT_ID_LEN} characters"))
    } else if id
        .chars()
        .any(|c| matches!(c, '/' | '\\' | '?' | '#' | '%') || c.is_whitespace() || c.is_control())
    {
        Err("must not contain slashes, whitespace, control characters or any of ?#%".into())
    } else if id == "." || id == ".." {
        Err("must not be a dot segment".into())
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contract_ids_that_could_change_the_vendor_url_are_refused() {
        assert!(check_contract_id("c10a0882-2b11-633d-7de6-0563bbf9dbed").is_ok());
        for bad in [
            "",
            "a/b",
            "a b",
            "a\tb",
            "..",
            "a?commit=true",
            "a#x",
            "a%2F",
            "x\u{0}",
        ] {
            assert!(check_contract_id(bad).is_err(), "{bad:?}");
        }
        assert!(check_contract_id(&"x".repeat(MAX_CONTRACT_ID_LEN)).is_ok());
        assert!(check_contract_id(&"x".repeat(MAX_CONTRACT_ID_LEN + 1)).is_err());
    }
}
