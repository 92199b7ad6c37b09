//! Billing-Robo work to enqueue: credit applications.
//!
//! - `POST /v1/billing-robo/credit-applications`: one application (the vendor's item
//!   fields, as in `bulk_register`) plus optional `reference`/`metadata` → 202
//!   `{"job_id", "status_url"}` and `Location`.
//! - `POST /v1/billing-robo/credit-applications/bulk`: `{"applications": [...]}`, 1 to
//!   [`MAX_BULK`] of the above → 202 `{"jobs": [...]}`, one per application, in order. All
//!   or nothing: one wrong application (or a billing code twice) refuses the whole request,
//!   every error listed, and nothing is enqueued.
//!
//! Each application is checked by [`CreditApplication::parse`], with the required fields
//! of the configured API version: the same function the sandbox runs, so what passes here
//! is refused at the vendor only for what needs its data (an unknown billing customer).
//! A field error names the item code the vendor would answer for it.

use std::borrow::Cow;

use axum::Extension;
use axum::extract::State;
use axum::response::Response;
use serde_json::{Map, Value};
use utoipa::openapi::schema::{AdditionalProperties, SchemaType};
use utoipa::openapi::{ArrayBuilder, ObjectBuilder, RefOr, Schema, Type};
use utoipa::{OpenApi, PartialSchema, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::jobs::ApplyCredit;
use super::types::{ApiVersion, CreditApplication, today_jst};
use crate::api::accepted::{self, JobLink, JobLinks};
use crate::api::auth::AppCaller;
use crate::api::error::{ApiError, ErrorBody};
use crate::api::extract::JsonBody;
use crate::api::idempotency::Idempotency;
use crate::api::submission::{self, Submitted};
use crate::api::{ApiState, bulk};
use crate::producer::Submission;
use crate::validation::FieldError;

/// Most applications one bulk request may carry: it bounds one atomic enqueue; the workers
/// batch for the vendor.
pub const MAX_BULK: usize = 100;

/// The tag of these routes in the document, and what it says.
#[derive(OpenApi)]
#[openapi(tags((
    name = "billing_robo",
    description = "Credit applications (まるなげ与信) to register at Billing-Robo. Everything \
        Billing-Robo would refuse for its form is refused here, with the vendor's item code; \
        only what needs its data (an unknown billing customer) can fail later, in the job."
)))]
struct Tag;

type ApplicationBody = Submitted<CreditApplicationSchema>;

/// The routes, for the API `version` the workers speak (`vendors.billing_robo.api_version`:
/// which fields an application needs), read once from the settings at startup.
pub fn routes(version: ApiVersion) -> OpenApiRouter<ApiState> {
    OpenApiRouter::with_openapi(Tag::openapi())
        .routes(routes!(apply))
        .routes(routes!(apply_bulk))
        .layer(Extension(version))
}

/// Enqueues one credit application: the vendor's item fields, plus `reference` and
/// `metadata`.
#[utoipa::path(
    post,
    path = "/credit-applications",
    operation_id = "create_billing_robo_credit_application",
    tag = "billing_robo",
    params(Idempotency),
    request_body(content = ApplicationBody, description = "One application, as an item of Billing-Robo's `bulk_register`, plus `reference` and `metadata`."),
    responses(
        (status = 202, description = "Stored; follow `status_url` (or a webhook) for the outcome.",
            body = JobLink, headers(
                ("Location" = String, description = "The job's `status_url`."),
                ("Idempotent-Replayed" = String, description = "`true` when this answers an earlier request with the same `Idempotency-Key`."),
            )),
        (status = 422, description = "Wrong fields, every one listed with the vendor's item code (`validation_failed`); or the `Idempotency-Key` was used with another body (`idempotency_key_reused`).", body = ErrorBody),
    )
)]
async fn apply(
    State(state): State<ApiState>,
    Extension(version): Extension<ApiVersion>,
    AppCaller(app): AppCaller,
    Idempotency(key): Idempotency,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let submission = application(body, "", version).map_err(ApiError::invalid)?;
    let accepted = state.producer().submit(&app, vec![submission], key).await?;
    accepted::one(accepted)
}

/// Enqueues up to 100 credit applications at once, all or nothing.
///
/// One wrong application, or a billing code twice, refuses the whole request with every
/// error listed (as `applications[3].billing_code`), and nothing is enqueued.
#[utoipa::path(
    post,
    path = "/credit-applications/bulk",
    operation_id = "create_billing_robo_credit_applications",
    tag = "billing_robo",
    params(Idempotency),
    request_body(content = BulkApplications, description = "`applications`: 1 to 100 applications, each as the body of `POST /v1/billing-robo/credit-applications`, no billing code twice."),
    responses(
        (status = 202, description = "Stored: one job per application, in request order.", body = JobLinks,
            headers(("Idempotent-Replayed" = String, description = "`true` when this answers an earlier request with the same `Idempotency-Key`."))),
        (status = 422, description = "Wrong fields, every one listed; or the `Idempotency-Key` was used with another body.", body = ErrorBody),
    )
)]
async fn apply_bulk(
    State(state): State<ApiState>,
    Extension(version): Extension<ApiVersion>,
    AppCaller(app): AppCaller,
    Idempotency(key): Idempotency,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> Result<Response, ApiError> {
    let items = bulk::items(body, "applications", MAX_BULK).map_err(ApiError::invalid)?;
    // One application per billing customer and request: the vendor refuses both of a pair.
    let submissions = bulk::each(
        items,
        "applications",
        "billing_code",
        |item, at| application(item, at, version),
        |s| s.payload.0.billing_code().to_string(),
    )
    .map_err(ApiError::invalid)?;
    let accepted = state.producer().submit(&app, submissions, key).await?;
    Ok(accepted::many(accepted))
}

/// One application found at `at`, checked as the vendor of `version` would check it.
fn application(
    value: Value,
    at: &str,
    version: ApiVersion,
) -> Result<Submission<ApplyCredit>, Vec<FieldError>> {
    let parsed = submission::parse::<Value>(value, at)?;
    let nest = |e: FieldError| if at.is_empty() { e } else { e.nested(at) };
    let application =
        CreditApplication::parse(&parsed.payload, version, today_jst()).map_err(|errors| {
            errors
                .iter()
                .map(|e| nest(e.to_field_error(version)))
                .collect::<Vec<_>>()
        })?;
    Ok(Submission {
        payload: ApplyCredit(application),
        reference: parsed.reference,
        metadata: parsed.metadata,
    })
}

/// An application's fields, for the document (the rules are in `types/application.rs`).
pub struct CreditApplicationSchema;

impl PartialSchema for CreditApplicationSchema {
    fn schema() -> RefOr<Schema> {
        let string = |description: &str, max: usize| {
            ObjectBuilder::new()
                .schema_type(SchemaType::new(Type::String))
                .min_length(Some(1))
                .max_length(Some(max))
                .description(Some(description))
        };
        let integer = |description: &str| {
            ObjectBuilder::new()
                .schema_type(SchemaType::new(Type::Integer))
                .minimum(Some(0))
                .description(Some(description))
        };
        ObjectBuilder::new()
            .description(Some("One credit application (まるなげ与信申請)."))
            .property(
                "billing_code",
                string("請求先コード: 半角英数 and symbols.", 20),
            )
            .required("billing_code")
            .property("representative_name", string("代表者名.", 40))
            .required("representative_name")
            .property(
                "contract_date",
                string(
                    "契約日, `yyyy/mm/dd` or `yyyy-mm-dd`, not after today in Japan.",
                    10,
                ),
            )
            .required("contract_date")
            .property(
                "transaction_count",
                integer("取引回数, 0 to 9999; required by the seed API version."),
            )
            .property("company_url", string("企業URL: an http(s) URL.", 200))
            .required("company_url")
            .property(
                "business_type",
                integer(
                    "事業体区分: 1 corporation, 2 individual; required by the current API version.",
                ),
            )
            .property(
                "corporate_number",
                ObjectBuilder::new()
                    .schema_type(SchemaType::from_iter([Type::Integer, Type::String]))
                    .description(Some(
                        "法人番号, 13 digits; for a corporation (current API version).",
                    )),
            )
            .property(
                "claim_type",
                integer("債権区分: 1 まるなげ, 2 factoring; optional."),
            )
            .property(
                "estimated_billing_amount",
                integer("想定請求金額, at most 15 digits; required by the current API version."),
            )
            .additional_properties(Some(AdditionalProperties::FreeForm(false)))
            .into()
    }
}

impl ToSchema for CreditApplicationSchema {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("BillingRoboCreditApplication")
    }
}

/// The body of a bulk request, for the document: 1 to [`MAX_BULK`] applications.
pub struct BulkApplications;

impl PartialSchema for BulkApplications {
    fn schema() -> RefOr<Schema> {
        let applications = ArrayBuilder::new()
            .items(ApplicationBody::schema())
            .min_items(Some(1))
            .max_items(Some(MAX_BULK));
        ObjectBuilder::new()
            .property("applications", applications)
            .required("applications")
            .additional_properties(Some(AdditionalProperties::FreeForm(false)))
            .into()
    }
}

impl ToSchema for BulkApplications {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("BillingRoboBulkApplications")
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        ApplicationBody::schemas(schemas);
    }
}
