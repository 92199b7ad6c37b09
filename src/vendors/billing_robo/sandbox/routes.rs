//! The route table and the order of the layers around it.
//!
//! A vendor API request passes, outermost first:
//!
//! ```text
//! gate::front ─► faults::layer ─► gate::maintenance ─► handler (body, auth, work)
//!  counted, 429    drop, 5xx before;   503, code 19          401 (11, 12, 13), 400, 200
//!                  5xx after, garble,
//!                  stalls, drop after
//! ```
//!
//! so every request counts toward the rate limit, a fault strikes whatever the vendor
//! would have answered, and an after-execution fault hides a call that did its work. A
//! body of 9 MB or more is `413` (`index.md`: "9Mbyte未満"). The admin routes sit outside
//! all of it.

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};

use super::state::Shared;
use super::{admin, faults, gate, register, search};
use crate::vendors::billing_robo::types::{
    APPLICATION_SEARCH_PATH, CREDIT_SEARCH_PATH, REGISTER_PATH,
};

/// Bodies of this size or more are refused with 413.
pub const MAX_BODY: usize = 9 * 1000 * 1000;

pub fn router(shared: Arc<Shared>) -> Router {
    let api = Router::new()
        .route(REGISTER_PATH, post(register::bulk_register))
        .route(APPLICATION_SEARCH_PATH, post(search::search_applications))
        .route(CREDIT_SEARCH_PATH, post(search::search_credits))
        .layer(DefaultBodyLimit::max(MAX_BODY - 1))
        .route_layer(from_fn_with_state(shared.clone(), gate::maintenance))
        .route_layer(from_fn_with_state(shared.clone(), faults::layer))
        .route_layer(from_fn_with_state(shared.clone(), gate::front));
    let admin = Router::new()
        .route("/_admin/effects", get(admin::effects))
        .route(
            "/_admin/switches",
            get(admin::get_switches).put(admin::put_switches),
        )
        .route(
            "/_admin/faults",
            get(admin::get_faults).put(admin::put_faults),
        )
        .route("/_admin/customers", post(admin::add_customer))
        .route("/_admin/applications", get(admin::applications))
        .route("/_admin/applications/{id}/approve", post(admin::approve))
        .route("/_admin/applications/{id}/reject", post(admin::reject))
        .route("/_admin/reset", post(admin::reset));
    api.merge(admin).with_state(shared)
}
