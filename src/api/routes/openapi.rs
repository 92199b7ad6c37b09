//! `GET /openapi.json`: the OpenAPI 3.1 document of this API (`api/openapi.rs` builds it).
//! Open, like `/healthz`: it says what the API accepts, not what it holds.
//!
//! The document is serialized once, when the router is built, and handed to the handler
//! as a request extension: it is known only once every route is, so it cannot be part of
//! the `ApiState` the routes were built with.

use axum::Extension;
use axum::body::Bytes;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::ApiState;
use crate::api::error::ApiError;

/// The document, as JSON; `None` if it could not be serialized.
#[derive(Debug, Clone)]
pub struct Served(Option<Bytes>);

impl Served {
    pub fn new(document: &utoipa::openapi::OpenApi) -> Self {
        // Cannot fail in practice: the document's maps are keyed by strings and none of its
        // types refuses to serialize. Should it ever, the route answers 500 and says why in
        // the log, rather than the whole API refusing to start over its documentation.
        match serde_json::to_vec(document) {
            Ok(json) => Self(Some(Bytes::from(json))),
            Err(error) => {
                tracing::error!(%error, "cannot serialize the OpenAPI document");
                Self(None)
            }
        }
    }
}

pub fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new().routes(routes!(openapi_json))
}

/// The OpenAPI document of this API.
#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "openapi",
    tag = "operations",
    responses((status = 200, description = "This document.", content_type = "application/json"))
)]
async fn openapi_json(Extension(Served(json)): Extension<Served>) -> Result<Response, ApiError> {
    let json = json.ok_or(ApiError::Internal)?;
    Ok(([(header::CONTENT_TYPE, "application/json")], json).into_response())
}
