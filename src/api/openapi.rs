//! The OpenAPI 3.1 document of the API, built from the same list of routes as the router.
//!
//! Each file of `routes/` describes its operations with `#[utoipa::path]` on the handlers and
//! hands back a `utoipa_axum::router::OpenApiRouter`. Its `routes!(handler, ...)` macro
//! registers a handler with axum *and* adds the handler's operation to the document, in one
//! call: a route added this way cannot be served undescribed. `api::router` merges the files,
//! splits the result into the axum router and the document, and [`document`] finishes the
//! document; `routes/openapi.rs` serves it at `GET /openapi.json`.
//!
//! What a handler cannot say about itself is added here, once, to every operation it
//! concerns, because the layers that cause it wrap them all:
//!
//! - under `/v1`, the bearer scheme and the 401 of `auth.rs`, and the 503 of a Redis that
//!   does not answer (every `/v1` route reads or writes Redis); elsewhere, an empty
//!   `security`, which says "open" rather than "not said";
//! - on every operation that takes a body, the 400, 413 and 415 of `JsonBody` (`extract.rs`);
//! - on every operation that enqueues (it reads `Idempotency-Key`), the 403 an operator's
//!   token gets there (`auth.rs`: work is always some app's).
//!
//! `OpenApiRouter::route` (plain axum) stays available and would bypass the document. The
//! `openapi` integration test catches that: it compares what the running API answers with
//! what this document lists, both ways.

use utoipa::OpenApi;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi as Document, PathItem, Ref, RefOr, ResponseBuilder};

use super::error::ErrorBody;

/// The name of the bearer scheme in `components.securitySchemes`.
const BEARER: &str = "bearer";

/// What the document says before any route is added: who it is for, and the tags of the
/// routes that are always there (a vendor's routes bring their own).
#[derive(OpenApi)]
#[openapi(
    info(
        title = "underwrite producer API",
        description = "Hand work over to underwrite and read what became of it. A request that \
            enqueues is answered `202 Accepted` once its jobs are stored; vendors are called \
            later, by the workers. Every refusal has the shape of `ErrorBody`.\n\n\
            Each token is an upstream app's (a tenant's) or the operator's. An app sees and \
            acts on its own jobs, webhook endpoints and deliveries only: another app's answer \
            404, exactly as if they did not exist, and listings leave them out. The operator \
            sees and acts on every app's, and alone may use the dead set's bulk routes; it \
            neither enqueues nor creates endpoints (403). A job's webhook events go only to \
            its app's endpoints."
    ),
    tags(
        (name = "jobs", description = "Job records: what became of the work handed over."),
        (name = "dead set", description = "Jobs that will not run again by themselves: an app's own, one at a time; every app's at once for the operator."),
        (name = "schedules", description = "Periodic jobs, and when each runs next."),
        (name = "webhook endpoints", description = "Where the signed webhooks of finished jobs go."),
        (name = "webhook deliveries", description = "What was sent where, and sending again."),
        (name = "operations", description = "Health, readiness, metrics and this document (no token)."),
    ),
    servers((url = "/", description = "The server this document was read from.")),
    components(schemas(ErrorBody))
)]
struct Base;

/// The shared error answers, by their name in `components.responses`.
const UNAUTHORIZED: (&str, &str) = (
    "Unauthorized",
    "No `Authorization: Bearer <token>` with a token of ours (`WWW-Authenticate: Bearer`).",
);
const UNAVAILABLE: (&str, &str) = (
    "Unavailable",
    "Redis does not answer: nothing was done, try again (`Retry-After: 1`).",
);
const MALFORMED: (&str, &str) = (
    "Malformed",
    "The body is not JSON (`malformed_json`), or a header or the path cannot be read.",
);
const TOO_LARGE: (&str, &str) = (
    "TooLarge",
    "The body is larger than `api.body_limit_bytes`.",
);
const OPERATOR_ENQUEUES: (&str, &str) = (
    "OperatorCannotEnqueue",
    "`forbidden`: the operator's token; work is enqueued with the token of the app it is for.",
);
const NOT_JSON: (&str, &str) = (
    "NotJson",
    "The body is not declared as JSON (`Content-Type: application/json`).",
);

/// The whole document, from the operations of the open routes (`/healthz`, ...) and those
/// of the routes that `api::router` nests under `/v1`.
pub fn document(open: Document, v1: Document) -> Document {
    let mut document = Base::openapi().merge_from(open).nest("/v1", v1);
    // Filled from Cargo.toml, which names no license: an empty one would be invalid.
    document.info.license = None;
    let components = document.components.get_or_insert_default();
    components.add_security_scheme(
        BEARER,
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some(
                    "An app's token (`UNDERWRITE_API_TOKENS`, `app:token`; a bare token is the \
                     app `default`): its own records only. Or the operator's \
                     (`UNDERWRITE_API_OPERATOR_TOKENS`): every app's records.",
                ))
                .build(),
        ),
    );
    for (name, description) in [
        UNAUTHORIZED,
        UNAVAILABLE,
        MALFORMED,
        TOO_LARGE,
        NOT_JSON,
        OPERATOR_ENQUEUES,
    ] {
        components
            .responses
            .insert(name.into(), RefOr::T(error_response(description)));
    }
    for (path, item) in &mut document.paths.paths {
        let authenticated = path.starts_with("/v1/");
        for operation in operations(item) {
            if authenticated {
                let bearer = SecurityRequirement::new(BEARER, Vec::<String>::new());
                operation.security = Some(vec![bearer]);
                answers(operation, "401", UNAUTHORIZED);
                answers(operation, "503", UNAVAILABLE);
            } else {
                operation.security = Some(Vec::new());
            }
            if authenticated && enqueues(operation) {
                answers(operation, "403", OPERATOR_ENQUEUES);
            }
            if operation.request_body.is_some() {
                answers(operation, "400", MALFORMED);
                answers(operation, "413", TOO_LARGE);
                answers(operation, "415", NOT_JSON);
            }
        }
    }
    document
}

/// Whether the operation enqueues: it reads `Idempotency-Key` (`idempotency.rs`), which
/// only the routes that enqueue do, and those take an app's token (`auth::AppCaller`).
fn enqueues(operation: &Operation) -> bool {
    operation
        .parameters
        .iter()
        .flatten()
        .any(|parameter| matches!(parameter, RefOr::T(p) if p.name == "Idempotency-Key"))
}

/// An answer whose body is [`ErrorBody`].
fn error_response(description: &str) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build()
}

/// Adds the shared answer `(name, _)` for `status`, unless the operation describes that
/// status itself (its own words are more precise).
fn answers(operation: &mut Operation, status: &str, (name, _): (&str, &str)) {
    operation
        .responses
        .responses
        .entry(status.into())
        .or_insert_with(|| RefOr::Ref(Ref::from_response_name(name)));
}

/// Every operation of a path, whatever its method.
fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.options,
        &mut item.head,
        &mut item.patch,
        &mut item.trace,
        &mut item.query,
    ]
    .into_iter()
    .filter_map(Option::as_mut)
}
