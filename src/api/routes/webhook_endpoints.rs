//! Webhook endpoints: where the signed webhooks of finished jobs go.
//!
//! - `POST /v1/webhook-endpoints` with `{url, events?, headers?, ordered?, enabled?,
//!   secret?}`: 201, the endpoint and its `secret` (`whsec_...`, generated unless given).
//!   **The only answer that shows the secret.** `events` defaults to `["*"]`.
//! - `GET /v1/webhook-endpoints`: `{"endpoints": [...]}`, oldest first.
//! - `GET /v1/webhook-endpoints/{id}`: the endpoint.
//! - `PATCH /v1/webhook-endpoints/{id}` with any of `{url, events, headers, ordered,
//!   enabled}`: the endpoint afterwards. `{"enabled": true}` re-enables one the sender
//!   disabled (410, or failing too long) and clears its failing streak.
//! - `DELETE /v1/webhook-endpoints/{id}`: 204.
//! - `POST /v1/webhook-endpoints/{id}/secret/rotate`: `{"secret", "previous_secret_expires_at"}`;
//!   the previous secret keeps signing until then (`webhooks.rotation_grace_secs`), and
//!   replaces any older one still in its grace (at most two secrets sign). At most
//!   `webhooks.rotation_limit` rotations per `webhooks.rotation_limit_window_secs`: past
//!   it, 429 with `Retry-After`, and nothing changes.
//!
//! A `url` the SSRF guard refuses (a private or metadata IP literal, `localhost`) is a 422
//! naming the range and `webhooks.allow_cidrs`, which can admit it; other names are judged
//! when each delivery connects (`webhooks/ssrf/`).
//!
//! Endpoints belong to an app: the one whose token created it, or the `app` of a
//! config-file endpoint (`default` when left out). Only that app's events reach it
//! (`webhooks/fanout.rs`), and only that app sees, changes, rotates or deletes it: another
//! app's endpoint answers 404 as if it did not exist (checked in the same atomic step as
//! the write). The operator sees and acts on every endpoint, but creates none (403): an
//! endpoint receives some app's events, so an app creates it.
//!
//! 404 for an unknown id, 422 with every wrong field, 409 for changing, rotating or
//! deleting an endpoint declared in the config file (only `enabled` may change: the file
//! is the truth for the rest). Endpoints as shown never carry a secret, nor a header value:
//! `headers` shows each name with `********` (values are write-only, like the secret; a
//! write that sends `********` back as a value is a 422, see `webhooks/endpoints/masked.rs`).

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::ApiState;
use crate::api::auth::{AppCaller, Caller};
use crate::api::error::{ApiError, ErrorBody};
use crate::api::extract::{ApiPath, JsonBody};
use crate::validation::FieldError;
use crate::webhooks::endpoints::{EndpointError, EndpointPatch, EndpointStore, NewEndpoint, View};
use crate::webhooks::signing::Secret;

/// One `routes!` per path: the macro registers all its handlers on every path it is given.
pub fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(show, update, remove))
        .routes(routes!(rotate))
}

fn store(state: &ApiState) -> EndpointStore {
    EndpointStore::new(state.producer().store())
}

/// An endpoint to create. (No `Debug`: it may hold a secret.)
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewWebhookEndpoint)]
struct CreateBody {
    /// Where to POST the webhooks: `http` or `https`, without credentials (send those in
    /// `headers`).
    url: String,
    /// Event types to send (`*` for all, `proteger.*` for a vendor's); `["*"]` by default.
    events: Option<Vec<String>>,
    /// Headers added to every delivery (the receiver's credentials, say). Write-only:
    /// answers show the names, each value as `********`.
    headers: Option<BTreeMap<String, String>>,
    /// Deliver the events of one subject (a contract) one at a time, in order (default
    /// `false`).
    ordered: Option<bool>,
    /// Default `true`.
    enabled: Option<bool>,
    /// `whsec_` and base64 of 24 to 64 bytes; 32 random bytes are generated when left out.
    secret: Option<String>,
}

/// The endpoint created, and its signing secret.
#[derive(Serialize, ToSchema)]
#[schema(as = CreatedWebhookEndpoint)]
struct Created {
    #[serde(flatten)]
    endpoint: View,
    /// `whsec_...`: shown here only, never again.
    secret: String,
    /// What will go wrong with deliveries though the endpoint was created: its host name
    /// resolves only to addresses the SSRF guard refuses, or does not resolve.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<String>,
}

/// Creates an endpoint. The answer is the only one that ever shows its secret.
#[utoipa::path(
    post,
    path = "/webhook-endpoints",
    operation_id = "create_webhook_endpoint",
    tag = "webhook endpoints",
    request_body = CreateBody,
    responses(
        (status = 201, description = "Created, for the caller's app: only its events reach it.", body = Created,
            headers(("Location" = String, description = "`/v1/webhook-endpoints/{id}`"))),
        (status = 403, description = "`forbidden`: the operator's token; an endpoint is created with the token of the app whose events it receives.", body = ErrorBody),
        (status = 422, description = "Wrong fields, every one listed.", body = ErrorBody),
    )
)]
async fn create(
    State(state): State<ApiState>,
    AppCaller(app): AppCaller,
    JsonBody(body): JsonBody<CreateBody>,
) -> Result<Response, ApiError> {
    let mut errors = Vec::new();
    let secret = match body.secret.as_deref().map(Secret::parse) {
        None => None,
        Some(Ok(secret)) => Some(secret),
        // The reason never quotes the text.
        Some(Err(reason)) => {
            errors.push(FieldError::new("secret", reason.to_string()));
            None
        }
    };
    let mut new = NewEndpoint {
        app,
        url: body.url,
        events: body.events.unwrap_or_else(|| NewEndpoint::default().events),
        headers: body.headers.unwrap_or_default(),
        ordered: body.ordered.unwrap_or(false),
        enabled: body.enabled.unwrap_or(true),
        secret,
        ..NewEndpoint::default()
    };
    // Every wrong field in one answer, the secret's included.
    if let Err(fields) = new.validate_for(state.ssrf_policy()) {
        errors.extend(fields);
    }
    if !errors.is_empty() {
        return Err(ApiError::invalid(errors));
    }
    let (endpoint, secret) = store(&state).create(new).await?;
    tracing::info!(endpoint = %endpoint.id, app = %endpoint.app, url = %endpoint.url, "webhook endpoint created");
    let warnings: Vec<String> = state
        .ssrf_policy()
        .reachability_warning(&endpoint.url)
        .await
        .into_iter()
        .collect();
    for warning in &warnings {
        tracing::warn!(endpoint = %endpoint.id, "{warning}");
    }
    let location = format!("/v1/webhook-endpoints/{}", endpoint.id);
    let body = Created {
        endpoint: endpoint.view(),
        secret: secret.expose(),
        warnings,
    };
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(body),
    )
        .into_response())
}

/// Every endpoint, oldest first.
#[derive(Serialize, ToSchema)]
#[schema(as = WebhookEndpointList)]
struct Listed {
    endpoints: Vec<View>,
}

/// The caller's app's endpoints (every app's for the operator), oldest first (never their
/// secrets).
#[utoipa::path(
    get,
    path = "/webhook-endpoints",
    operation_id = "list_webhook_endpoints",
    tag = "webhook endpoints",
    responses((status = 200, description = "The endpoints.", body = Listed))
)]
async fn list(State(state): State<ApiState>, caller: Caller) -> Result<Json<Listed>, ApiError> {
    let endpoints = store(&state).list().await?;
    Ok(Json(Listed {
        endpoints: endpoints
            .iter()
            .filter(|endpoint| caller.sees(Some(&endpoint.app)))
            .map(View::from)
            .collect(),
    }))
}

/// One endpoint (never its secret).
#[utoipa::path(
    get,
    path = "/webhook-endpoints/{id}",
    operation_id = "get_webhook_endpoint",
    tag = "webhook endpoints",
    params(("id" = String, Path, description = "The endpoint's id.")),
    responses(
        (status = 200, description = "The endpoint.", body = View),
        (status = 404, description = "No such endpoint (or another app's).", body = ErrorBody),
    )
)]
async fn show(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<View>, ApiError> {
    store(&state)
        .get(&id)
        .await?
        .filter(|endpoint| caller.sees(Some(&endpoint.app)))
        .map(|endpoint| Json(endpoint.view()))
        .ok_or_else(|| EndpointError::NotFound(id).into())
}

/// What to change; what is left out stays as it is. (No `Debug`: it may hold receiver
/// credentials in `headers`.)
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = WebhookEndpointPatch)]
struct PatchBody {
    url: Option<String>,
    events: Option<Vec<String>>,
    /// Replaces every header. A value of `********` (the mask answers show) is refused:
    /// leave `headers` out to keep the current ones.
    headers: Option<BTreeMap<String, String>>,
    ordered: Option<bool>,
    /// `true` re-enables an endpoint the sender disabled, and clears its failing streak.
    enabled: Option<bool>,
}

/// Changes an endpoint.
///
/// What is left out stays as it is. Of an endpoint declared in the config file only
/// `enabled` may change: the file is the truth for the rest.
#[utoipa::path(
    patch,
    path = "/webhook-endpoints/{id}",
    operation_id = "update_webhook_endpoint",
    tag = "webhook endpoints",
    params(("id" = String, Path, description = "The endpoint's id.")),
    request_body = PatchBody,
    responses(
        (status = 200, description = "The endpoint afterwards.", body = View),
        (status = 404, description = "No such endpoint (or another app's).", body = ErrorBody),
        (status = 409, description = "The endpoint is declared in the config file.", body = ErrorBody),
        (status = 422, description = "Wrong fields, every one listed.", body = ErrorBody),
    )
)]
async fn update(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    JsonBody(body): JsonBody<PatchBody>,
) -> Result<Json<View>, ApiError> {
    let mut patch = EndpointPatch {
        url: body.url,
        events: body.events,
        enabled: body.enabled,
        headers: body.headers,
        ordered: body.ordered,
    };
    // The store checks the form again, but only the API knows the policy.
    patch
        .validate_for(state.ssrf_policy())
        .map_err(ApiError::invalid)?;
    let endpoint = store(&state).update(&id, caller.only_app(), patch).await?;
    tracing::info!(endpoint = %endpoint.id, enabled = endpoint.enabled, "webhook endpoint updated");
    Ok(Json(endpoint.view()))
}

/// Deletes an endpoint.
#[utoipa::path(
    delete,
    path = "/webhook-endpoints/{id}",
    operation_id = "delete_webhook_endpoint",
    tag = "webhook endpoints",
    params(("id" = String, Path, description = "The endpoint's id.")),
    responses(
        (status = 204, description = "Deleted."),
        (status = 404, description = "No such endpoint (or another app's).", body = ErrorBody),
        (status = 409, description = "The endpoint is declared in the config file.", body = ErrorBody),
    )
)]
async fn remove(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    store(&state).delete(&id, caller.only_app()).await?;
    tracing::info!(endpoint = %id, "webhook endpoint deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// The new secret, and until when the previous one keeps signing.
#[derive(Serialize, ToSchema)]
#[schema(as = RotatedSecret)]
struct Rotated {
    /// `whsec_...`: shown here only, never again.
    secret: String,
    /// Until then, deliveries carry a signature with each secret.
    previous_secret_expires_at: DateTime<Utc>,
}

/// Replaces an endpoint's secret.
///
/// The previous one keeps signing for `webhooks.rotation_grace_secs` (24 h by default), so
/// receivers can switch without losing a delivery. Only one previous secret is kept: a
/// rotation during a grace period replaces the older one (it stops signing at once), so a
/// delivery carries at most two signatures. At most `webhooks.rotation_limit` rotations
/// per `webhooks.rotation_limit_window_secs` (10 per hour by default); past it, 429.
#[utoipa::path(
    post,
    path = "/webhook-endpoints/{id}/secret/rotate",
    operation_id = "rotate_webhook_endpoint_secret",
    tag = "webhook endpoints",
    params(("id" = String, Path, description = "The endpoint's id.")),
    responses(
        (status = 200, description = "The new secret.", body = Rotated),
        (status = 404, description = "No such endpoint (or another app's).", body = ErrorBody),
        (status = 409, description = "The endpoint is declared in the config file.", body = ErrorBody),
        (status = 429, description = "Rotated `webhooks.rotation_limit` times within the window already; nothing changed.", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds until a rotation is allowed again."))),
    )
)]
async fn rotate(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Rotated>, ApiError> {
    let rotation = store(&state)
        .rotate_limited(
            &id,
            caller.only_app(),
            state.rotation_grace(),
            state.rotation_limit(),
            Utc::now(),
        )
        .await?;
    tracing::info!(
        endpoint = %id,
        previous_expires_at = %rotation.previous_expires_at,
        "webhook endpoint secret rotated"
    );
    Ok(Json(Rotated {
        secret: rotation.secret.expose(),
        previous_secret_expires_at: rotation.previous_expires_at,
    }))
}

impl From<EndpointError> for ApiError {
    fn from(error: EndpointError) -> Self {
        match error {
            EndpointError::Invalid(fields) => Self::invalid(fields),
            EndpointError::NotFound(id) => Self::NotFound(format!("no webhook endpoint {id}")),
            error @ (EndpointError::Exists(_) | EndpointError::Configured(_)) => {
                Self::Conflict(error.to_string())
            }
            error @ EndpointError::RotatedTooOften { retry_after, .. } => Self::TooManyRequests {
                retry_after_secs: retry_after.as_secs_f64().ceil().max(1.0) as u64,
                message: error.to_string(),
            },
            EndpointError::Store(error) => error.into(),
            error => {
                tracing::error!(%error, "webhook endpoint error; answering 500");
                Self::Internal
            }
        }
    }
}
