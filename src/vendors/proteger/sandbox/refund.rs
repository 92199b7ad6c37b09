//! `PUT /v1/contracts/{id}/refund?commit=…` (seed 001): cancel a contract, or only quote.
//!
//! - `commit=false`: a quote. The contract plus `refundAmount`; nothing changes.
//! - `commit=true`, or no `commit` at all (the vendor's default): cancels for real.
//!
//! ## The refund
//!
//! The vendor says the days actually covered are charged and the rest refunded pro rata;
//! its exact formula is **unknown**. The sandbox uses
//! `refund = price * remaining_days / total_days`, rounded down to whole yen, where
//! `price` is what the customer paid for the plan (`plan.purchasePrice`), `total_days` the
//! whole days from `startedAt` to `endedAt` (the plan's `termLength` months) and
//! `remaining_days` the whole days left after now (a day begun counts as covered). Before
//! coverage starts the refund is the whole price; after it ends the contract is `Expired`
//! and cannot be cancelled.
//!
//! ## Cancelling twice
//!
//! How the vendor answers a refund on a contract that is already cancelled is **unknown**.
//! The sandbox answers **400** `BadRequestException` with the error
//! [`ALREADY_CANCELLED`] (for a quote as for a commit), and changes nothing. The client
//! (`client.rs`) turns that into success after reading the contract back.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::errors::{bad_request, not_found, refused_before_executing};
use super::state::Shared;
use crate::vendors::proteger::types::{ContractStatus, RefundQuote};

/// The sandbox's answer to cancelling a cancelled contract (with a 400).
pub const ALREADY_CANCELLED: &str = "failed refund contract: contract already cancelled";
/// The sandbox's answer to cancelling an expired contract (with a 400).
pub const EXPIRED: &str = "failed refund contract: contract expired";

#[derive(Debug, Deserialize)]
pub struct RefundQuery {
    commit: Option<String>,
}

/// The refund for a plan bought at `price`, covering `started..ended`, cancelled at `now`.
pub fn refund_amount(
    price: i64,
    started: DateTime<Utc>,
    ended: DateTime<Utc>,
    now: DateTime<Utc>,
) -> i64 {
    let total_days = (ended - started).num_days();
    if total_days <= 0 || price <= 0 {
        return 0;
    }
    // `num_days` truncates: 10.2 days left is 10 whole days refunded.
    let remaining_days = (ended - now.max(started)).num_days().clamp(0, total_days);
    // In i128 so that no price times no number of days can overflow.
    let refund = i128::from(price) * i128::from(remaining_days) / i128::from(total_days);
    i64::try_from(refund).unwrap_or(price)
}

/// `PUT /v1/contracts/{id}/refund`.
pub async fn refund(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    Query(query): Query<RefundQuery>,
) -> Response {
    let commit = match query.commit.as_deref() {
        None | Some("true") => true,
        Some("false") => false,
        Some(_) => {
            return refused_before_executing(
                "failed refund contract: commit must be true or false",
            );
        }
    };
    let now = Utc::now();
    let mut inner = shared.lock();
    let delay = shared.config.persist_delay;
    let Some(stored) = inner.contracts.get_mut(&id).filter(|c| c.persisted(delay)) else {
        return not_found("failed refund contract: failed get contract: not found");
    };
    match stored.status(now) {
        ContractStatus::Cancelled => return bad_request(ALREADY_CANCELLED),
        ContractStatus::Expired => return bad_request(EXPIRED),
        _ => {}
    }
    let amount = refund_amount(stored.plan_price, stored.started_at, stored.ended_at, now);
    if commit {
        stored.cancelled_at = Some(now);
    }
    let contract = stored.render(now);
    if commit {
        inner.effects.cancellations_committed += 1;
    } else {
        inner.effects.quotes_served += 1;
    }
    Json(RefundQuote {
        contract,
        refund_amount: Some(amount),
    })
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, 0, 0)
            .single()
            .expect("date")
    }

    #[test]
    fn pro_rata_rounded_down() {
        // 2023 has 365 days.
        let (start, end) = (at(2023, 1, 1, 0), at(2024, 1, 1, 0));
        assert_eq!(refund_amount(2000, start, end, start), 2000);
        // 100 days covered: 265 left. 2000 * 265 / 365 = 1452.05 → 1452.
        assert_eq!(refund_amount(2000, start, end, at(2023, 4, 11, 0)), 1452);
        // A day begun counts as covered: one hour later, 264.96 days left → 264.
        assert_eq!(
            refund_amount(2000, start, end, at(2023, 4, 11, 1)),
            2000 * 264 / 365
        );
        assert_eq!(refund_amount(2000, start, end, end), 0);
        assert_eq!(refund_amount(2000, start, end, at(2030, 1, 1, 0)), 0);
    }

    #[test]
    fn before_coverage_starts_everything_is_refunded() {
        let (start, end) = (at(2030, 1, 1, 0), at(2031, 1, 1, 0));
        assert_eq!(refund_amount(5000, start, end, at(2025, 6, 1, 0)), 5000);
    }

    #[test]
    fn degenerate_inputs_refund_nothing() {
        let start = at(2023, 1, 1, 0);
        assert_eq!(refund_amount(2000, start, start, start), 0);
        assert_eq!(refund_amount(0, start, at(2024, 1, 1, 0), start), 0);
        assert_eq!(
            refund_amount(i64::MAX, start, at(2024, 1, 1, 0), start),
            i64::MAX
        );
    }
}
