//! Before a batch is sent again: which of its applications did the vendor register
//! already?
//!
//! An attempt that timed out, lost its connection or got a 5xx may have registered some
//! or all of its applications. Sending them again would not register them twice (the
//! vendor answers 5411, "already pending or active", for a billing code it holds), but the
//! member would then never learn its application's id and date. So a batch's every retry
//! first searches what was registered since the batch began, and adopts what it finds:
//! the member succeeds with that application (`adopted: true`), and only the rest is sent.
//!
//! - With the current pages, `request_marunage_credit/search` by `requested_date_from`
//!   answers the applications themselves, with their ids.
//! - The seed knows only `marunage_credit/search`: a credit of one of our billing codes
//!   that changed since then (to 申請中, or already decided) is adopted without an id, as
//!   a 5411 would be; its decision job reads the credit from then on.
//!
//! Pages of 200 are read until every member is found or the pages end, at most
//! `⌈members / 200⌉ + 1` of them: what is not found is sent again (and answered 5411 if it
//! was registered after all). Each page is one request from the budget, at high priority:
//! it stands in for the application it saves.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::BillingRoboDeps;
use crate::queue::JobError;
use crate::queue::rate_limit::Priority;
use crate::vendors::billing_robo::types::{
    ApiVersion, ApplicationSearch, CreditSearch, DateBound, MAX_LIMIT_COUNT, to_jst,
};

/// The members' results found at the vendor, by billing code.
pub async fn registered_since(
    deps: &BillingRoboDeps,
    began: DateTime<Utc>,
    billing_codes: &HashSet<String>,
) -> Result<HashMap<String, Value>, JobError> {
    let skew = chrono::Duration::from_std(deps.settings.clock_skew()).unwrap_or_default();
    let since = to_jst(began - skew);
    let most_pages = billing_codes.len().div_ceil(MAX_LIMIT_COUNT as usize) as u32 + 1;
    let mut found = HashMap::new();
    let mut page_count = 0;
    while page_count < most_pages && found.len() < billing_codes.len() {
        let pages = match deps.client.version() {
            ApiVersion::Current => {
                let search = ApplicationSearch {
                    requested_date_from: Some(DateBound::At(since)),
                    limit_count: Some(MAX_LIMIT_COUNT),
                    page_count: Some(page_count),
                    ..ApplicationSearch::default()
                };
                let page = deps
                    .metered(Priority::High, deps.client.search_applications(&search))
                    .await?;
                for record in page.items {
                    let Some(code) = record.billing_code.clone() else {
                        continue;
                    };
                    if billing_codes.contains(&code) && record.id.is_some() {
                        found.insert(
                            code.clone(),
                            json!({
                                "billing_code": code,
                                "id": record.id,
                                "status": record.status,
                                "requested_date": record.requested_date,
                                "adopted": true,
                            }),
                        );
                    }
                }
                page.total_page_count
            }
            ApiVersion::Seed => {
                let search = CreditSearch {
                    update_date_from: Some(DateBound::At(since)),
                    limit_count: Some(MAX_LIMIT_COUNT),
                    page_count: Some(page_count),
                    ..CreditSearch::default()
                };
                let page = deps
                    .metered(Priority::High, deps.client.search_credits(&search))
                    .await?;
                for record in page.items {
                    let Some(code) = record.billing_code.clone() else {
                        continue;
                    };
                    let changed_since = record.updated_at().is_some_and(|at| at >= since);
                    if billing_codes.contains(&code) && changed_since {
                        found.insert(
                            code.clone(),
                            json!({
                                "billing_code": code,
                                "already_applied": true,
                                "adopted": true,
                            }),
                        );
                    }
                }
                page.total_page_count
            }
        };
        page_count += 1;
        if page_count >= pages {
            break;
        }
    }
    Ok(found)
}
