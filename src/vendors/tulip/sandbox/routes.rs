//! The route table and the order of the layers around it.
//!
//! A vendor API request passes, outermost first:
//!
//! ```text
//! faults::layer ─► gate::layer ─► handler (validation, work)
//!  drop, 429, 5xx    counted; 401 (9001, 9002),   400 with a code, 200
//!  before; 5xx or    99888, 403 (98888)
//!  stall after
//! ```
//!
//! The vendor's routes sit under `/v2` like Tulip's (`https://api.mytulip.io/v2`): a
//! client's base URL is `http://<sandbox>/tulip/v2`. The admin routes sit outside all of it.

use std::sync::Arc;

use axum::Router;
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};

use super::state::Shared;
use super::{admin, contracts, faults, gate};

pub fn router(shared: Arc<Shared>) -> Router {
    let api = Router::new()
        .route(
            "/v2/contracts",
            post(contracts::create).get(contracts::list),
        )
        .route(
            "/v2/contracts/{cid}",
            get(contracts::read).delete(contracts::terminate),
        )
        .route_layer(from_fn_with_state(shared.clone(), gate::layer))
        .route_layer(from_fn_with_state(shared.clone(), faults::layer));
    let admin = Router::new()
        .route("/_admin/effects", get(admin::effects))
        .route("/_admin/counts", get(admin::counts))
        .route("/_admin/contracts", get(admin::contracts))
        .route("/_admin/contracts/{cid}/backdate", post(admin::backdate))
        .route(
            "/_admin/switches",
            get(admin::get_switches).put(admin::put_switches),
        )
        .route(
            "/_admin/faults",
            get(admin::get_faults).put(admin::put_faults),
        )
        .route("/_admin/reset", post(admin::reset));
    api.merge(admin).with_state(shared)
}
