//! Tulip work to enqueue: contracts to quote, to create, and to end.
//!
//! - `POST /v1/tulip/quotes`: Tulip's create body (below) → 202 and a
//!   `tulip.contract.quote` job whose result is the quote (`price`, the priced contract
//!   without `cid`). Sent with `?preview=true`: nothing is created.
//! - `POST /v1/tulip/contracts`: the same body → 202 and a `tulip.contract.create` job whose
//!   result is the contract (`cid`, `status`, `price`, `adopted`).
//! - `POST /v1/tulip/contracts/{cid}/cancellation`: `{"reason", "end_date"?}` → 202 and a
//!   `tulip.contract.cancel` job; Tulip cancels within 4 h of the start and terminates
//!   after, and the result's `outcome` says which.
//!
//! The body is Tulip's own (`uid`, `start_date`, `end_date`, `contract_type`, `options`,
//! `products`, `company` or `individual`, `test`, `automatic_renewal`) plus our
//! `reference`/`metadata`. It is checked by [`ContractRequest::parse`], the function the
//! sandbox runs: every broken rule comes back at once as a 422 field error whose reason
//! ends with the code Tulip would answer, `(Tulip code 1002)`, and nothing is enqueued. A
//! quote is checked with the lighter rules of a preview. Unknown keys are refused (a typo
//! would otherwise be dropped silently).

use std::borrow::Cow;

use axum::extract::State;
use axum::response::Response;
use chrono::Utc;
use serde::Deserialize;
use serde_json::Value;
use utoipa::openapi::schema::{AdditionalProperties, SchemaType};
use utoipa::openapi::{ArrayBuilder, ObjectBuilder, RefOr, Schema, Type};
use utoipa::{OpenApi, PartialSchema, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::jobs::{CancelContract, CreateContract, QuoteContract};
use super::types::{ContractRequest, Mode, Rules, parse_date};
use crate::api::ApiState;
use crate::api::accepted::{self, JobLink};
use crate::api::auth::AppCaller;
use crate::api::error::{ApiError, ErrorBody};
use crate::api::extract::{ApiPath, JsonBody};
use crate::api::idempotency::Idempotency;
use crate::api::submission::{self, Submitted};
use crate::producer::Submission;
use crate::validation::FieldError;

/// Longest contract id accepted in the path.
pub const MAX_CID_LEN: usize = 128;

/// The keys of Tulip's create body.
const KEYS: [&str; 10] = [
    "uid",
    "start_date",
    "end_date",
    "contract_type",
    "options",
    "products",
    "company",
    "individual",
    "test",
    "automatic_renewal",
];

/// The tag of these routes in the document, and what it says.
#[derive(OpenApi)]
#[openapi(tags((
    name = "tulip",
    description = "Rental-insurance contracts at Tulip: quotes, creations and cancellations. \
        Everything Tulip documents is checked here, before enqueueing, and refused with the \
        code Tulip would answer; a creation is never made twice, even when retried after a \
        timeout."
)))]
struct Tag;

type ContractBody = Submitted<ContractSchema>;
type CancellationBody = Submitted<Cancellation>;

pub fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::with_openapi(Tag::openapi())
        .routes(routes!(create))
        .routes(routes!(quote))
        .routes(routes!(cancel))
}

/// Enqueues a contract to create at Tulip.
#[utoipa::path(
    post,
    path = "/contracts",
    operation_id = "create_tulip_contract",
    tag = "tulip",
    params(Idempotency),
    request_body(content = ContractBody, description = "Tulip's create body, plus `reference` and `metadata`."),
    responses(
        (status = 202, description = "Stored; follow `status_url` (or a webhook) for the contract.",
            body = JobLink, headers(
                ("Location" = String, description = "The job's `status_url`."),
                ("Idempotent-Replayed" = String, description = "`true` when this answers an earlier request with the same `Idempotency-Key`."),
            )),
        (status = 422, description = "Wrong fields, every one listed with the code Tulip would answer (`validation_failed`); or the `Idempotency-Key` was used with another body.", body = ErrorBody),
    )
)]
async fn create(
    State(state): State<ApiState>,
    AppCaller(app): AppCaller,
    Idempotency(key): Idempotency,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let parsed = contract(body, Mode::Create)?;
    let submission = Submission {
        payload: CreateContract(parsed.payload),
        reference: parsed.reference,
        metadata: parsed.metadata,
    };
    accepted::one(state.producer().submit(&app, vec![submission], key).await?)
}

/// Enqueues a quote: the same body, priced by Tulip with `?preview=true`, nothing created.
#[utoipa::path(
    post,
    path = "/quotes",
    operation_id = "quote_tulip_contract",
    tag = "tulip",
    params(Idempotency),
    request_body(content = ContractBody, description = "Tulip's create body (a quote may leave out the parties, `brand`, `model` and `data`), plus `reference` and `metadata`."),
    responses(
        (status = 202, description = "Stored; the job's result is the quote.", body = JobLink,
            headers(
                ("Location" = String, description = "The job's `status_url`."),
                ("Idempotent-Replayed" = String, description = "`true` when this answers an earlier request with the same `Idempotency-Key`."),
            )),
        (status = 422, description = "Wrong fields, every one listed with the code Tulip would answer; or the `Idempotency-Key` was used with another body.", body = ErrorBody),
    )
)]
async fn quote(
    State(state): State<ApiState>,
    AppCaller(app): AppCaller,
    Idempotency(key): Idempotency,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let parsed = contract(body, Mode::Quote)?;
    let submission = Submission {
        payload: QuoteContract(parsed.payload),
        reference: parsed.reference,
        metadata: parsed.metadata,
    };
    accepted::one(state.producer().submit(&app, vec![submission], key).await?)
}

/// A create body read and checked as Tulip would check it.
fn contract(body: Value, mode: Mode) -> Result<Submission<ContractRequest>, ApiError> {
    let parsed = submission::parse::<Value>(body, "").map_err(ApiError::invalid)?;
    let mut errors: Vec<FieldError> = parsed
        .payload
        .as_object()
        .map(|object| {
            object
                .keys()
                .filter(|key| !KEYS.contains(&key.as_str()))
                .map(|key| FieldError::new(key.clone(), "is not a field of a Tulip contract"))
                .collect()
        })
        .unwrap_or_default();
    match ContractRequest::parse(&parsed.payload, &Rules::new(mode, Utc::now())) {
        Ok(request) if errors.is_empty() => Ok(Submission {
            payload: request,
            reference: parsed.reference,
            metadata: parsed.metadata,
        }),
        Ok(_) => Err(ApiError::invalid(errors)),
        Err(violations) => {
            errors.extend(violations.iter().map(|v| v.to_field_error()));
            Err(ApiError::invalid(errors))
        }
    }
}

/// The body of a cancellation, besides `reference`/`metadata`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = TulipCancellation)]
struct Cancellation {
    /// Why the contract ends; Tulip requires it to terminate a contract.
    reason: String,
    /// When a termination takes effect (ISO 8601, not in the past, not after the contract's
    /// end); absent: at once.
    #[serde(default)]
    end_date: Option<String>,
}

/// Enqueues the end of a contract: cancelled within 4 h of its start, terminated after.
#[utoipa::path(
    post,
    path = "/contracts/{cid}/cancellation",
    operation_id = "cancel_tulip_contract",
    tag = "tulip",
    params(
        ("cid" = String, Path, max_length = 128, description = "Tulip's contract id (no `/`, `?`, `#`, `%` or whitespace)."),
        Idempotency,
    ),
    request_body(content = CancellationBody, description = "`reason`, optionally `end_date`, plus `reference` and `metadata`."),
    responses(
        (status = 202, description = "Stored; the job's result says `cancelled` or `terminated`.", body = JobLink,
            headers(
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
    ApiPath(cid): ApiPath<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let mut errors = Vec::new();
    if let Err(reason) = check_cid(&cid) {
        errors.push(FieldError::new("cid", reason));
    }
    let parsed = match submission::parse::<Cancellation>(body, "") {
        Ok(parsed) => Some(parsed),
        Err(found) => {
            errors.extend(found);
            None
        }
    };
    let mut end_date = None;
    if let Some(parsed) = &parsed {
        if parsed.payload.reason.trim().is_empty() {
            errors.push(FieldError::new(
                "reason",
                "must not be empty: Tulip requires a reason to terminate",
            ));
        }
        if let Some(text) = &parsed.payload.end_date {
            match parse_date(text) {
                None => errors.push(FieldError::new(
                    "end_date",
                    "must be an ISO 8601 date such as 2024-09-15T00:00:00.000Z (Tulip code 1351)",
                )),
                Some(at) if at < Utc::now() => errors.push(FieldError::new(
                    "end_date",
                    "must not be in the past (Tulip code 1351)",
                )),
                Some(at) => end_date = Some(at),
            }
        }
    }
    let Some(parsed) = parsed.filter(|_| errors.is_empty()) else {
        return Err(ApiError::invalid(errors));
    };
    let submission = Submission {
        payload: CancelContract {
            cid,
            reason: parsed.payload.reason,
            end_date,
        },
        reference: parsed.reference,
        metadata: parsed.metadata,
    };
    accepted::one(state.producer().submit(&app, vec![submission], key).await?)
}

/// A contract id goes into Tulip's URL: nothing that could change which URL that is.
fn check_cid(cid: &str) -> Result<(), String> {
    if cid.is_empty() {
        Err("must not be empty".into())
    } else if cid.chars().count() > MAX_CID_LEN {
        Err(format!("must be at most {MAX_CID_LEN} characters"))
    } else if cid
        .chars()
        .any(|c| matches!(c, '/' | '\\' | '?' | '#' | '%') || c.is_whitespace() || c.is_control())
        || cid == "."
        || cid == ".."
    {
        Err("must not contain slashes, whitespace, control characters, any of ?#% or be a dot segment".into())
    } else {
        Ok(())
    }
}

/// A contract's fields, for the document (the rules are in `types/validate/`).
pub struct ContractSchema;

impl PartialSchema for ContractSchema {
    fn schema() -> RefOr<Schema> {
        let string = |description: &str| {
            ObjectBuilder::new()
                .schema_type(SchemaType::new(Type::String))
                .description(Some(description))
        };
        let object = |description: &str| {
            ObjectBuilder::new()
                .schema_type(SchemaType::new(Type::Object))
                .description(Some(description))
        };
        let line = ObjectBuilder::new()
            .description(Some(
                "A product from the catalogue (`product_id`) or defined inline (`product_type`, \
                 `product_subtype`, `value_excl` at most 15000, `brand`, `model`), with `data` \
                 (`user_name`, `product_marked`, optional `internal_id`: underwrite puts its \
                 job reference there when absent).",
            ))
            .property("product_id", string("A product of your Tulip catalogue."))
            .property("product_type", string("`bike`, `high-tech`, `watersports`, `wintersports`, `event`, `small-tools` or `sports`."))
            .property("product_subtype", string("`standard`, `electric`, `cargo`, …"))
            .property(
                "value_excl",
                ObjectBuilder::new()
                    .schema_type(SchemaType::new(Type::Number))
                    .description(Some("Value excluding taxes, above 0 and at most 15000.")),
            )
            .property("brand", string("Required to create an inline product."))
            .property("model", string("Required to create an inline product."))
            .property("data", object("`user_name`, `product_marked`, `internal_id`, and strings or numbers of yours."));
        ObjectBuilder::new()
            .description(Some("A Tulip contract, as its `POST /contracts` takes it."))
            .property("uid", string("The renter's id at Tulip."))
            .required("uid")
            .property("start_date", string("ISO 8601, at most 30 minutes in the past; absent: now."))
            .property("end_date", string("ISO 8601: LCD up to 31 days, LMD 1 to 12 months, LLD 12 to 60 months."))
            .required("end_date")
            .property("contract_type", string("`LCD`, `LMD` or `LLD`."))
            .required("contract_type")
            .property(
                "options",
                ArrayBuilder::new()
                    .items(ObjectBuilder::new().schema_type(SchemaType::new(Type::String)))
                    .description(Some("At least `break` and `theft`; `company` or `individual` from six months of LMD; a usage (`home_to_work`, `pro`, `transporter`) for an LLD.")),
            )
            .required("options")
            .property("products", ArrayBuilder::new().items(line).min_items(Some(1)))
            .required("products")
            .property("company", object("The insured company (B2B): `company_name`, `first_name`, `last_name`, `address`, `zipcode`, `city` (normalised, e.g. `PARIS-1ER-ARRONDISSEMENT`), `country` (`FR`); `siren` for an LLD."))
            .property("individual", object("The insured person (B2C, LMD of six months or more and LLD): names, address, `zipcode`, `city`, `country`, `phone_number`, `email`."))
            .property("test", ObjectBuilder::new().schema_type(SchemaType::new(Type::Boolean)).description(Some("A test contract, not billed.")))
            .property("automatic_renewal", ObjectBuilder::new().schema_type(SchemaType::new(Type::Boolean)))
            .additional_properties(Some(AdditionalProperties::FreeForm(false)))
            .into()
    }
}

impl ToSchema for ContractSchema {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("TulipContract")
    }
}
