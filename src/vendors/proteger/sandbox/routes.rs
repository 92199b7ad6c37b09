//! The route table and the order of the layers around it.
//!
//! A vendor API request passes, outermost first:
//!
//! ```text
//! count ─► auth ─► headers ─► faults::gateway ─► [writes only] idempotency ─► faults::after ─► handler
//!  seen     401     415, 406   drop, 429,          replay, 409, mismatch;     5xx after,
//!                              5xx before          detached execution         stalls
//! ```
//!
//! so a 401, a missing `Content-Type` or `Accept`, or a gateway fault is never stored under
//! an idempotency key, and an after-execution fault always is. The admin routes sit outside
//! all of it.

use std::sync::Arc;

use axum::Router;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::{get, post, put};

use super::state::Shared;
use super::{admin, auth, catalogue, contracts, faults, headers, idempotency, refund};

pub fn router(shared: Arc<Shared>) -> Router {
    let writes = Router::new()
        .route("/v1/contracts", post(contracts::create_one))
        .route("/v1/contracts/bulk", post(contracts::create_bulk))
        .route("/v1/contracts/{id}/refund", put(refund::refund))
        .route_layer(from_fn(faults::after))
        .route_layer(from_fn_with_state(shared.clone(), idempotency::layer));
    let reads = Router::new()
        .route("/v1/contracts/{id}", get(contracts::get_contract))
        .route("/v1/plans", get(catalogue::list_plans))
        .route("/v1/plans/{id}", get(catalogue::get_plan))
        .route("/v1/products/{reference_id}", get(catalogue::get_product))
        .route_layer(from_fn(faults::after));
    let api = writes
        .merge(reads)
        .route_layer(from_fn_with_state(shared.clone(), faults::gateway))
        .route_layer(from_fn(headers::require_media_types))
        .route_layer(from_fn_with_state(shared.clone(), auth::require_token))
        .route_layer(from_fn_with_state(shared.clone(), auth::count));
    let admin = Router::new()
        .route("/_admin/effects", get(admin::effects))
        .route(
            "/_admin/faults",
            get(admin::get_faults).put(admin::put_faults),
        )
        .route("/_admin/reset", post(admin::reset));
    api.merge(admin).with_state(shared)
}
