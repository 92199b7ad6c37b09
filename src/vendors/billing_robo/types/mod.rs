//! Billing-Robo's wire types for the まるなげ与信 (credit) calls, shared by the client
//! (`client.rs`) and the sandbox (`sandbox/`), spelled as the vendor spells them.
//!
//! - `kinds.rs`: the vendor's field kinds (種別) and date formats, and Japan's clock.
//! - `codes.rs`: what each item error code means, per API version; the common codes.
//! - `application.rs` (its field rules in `fields.rs`): one credit application as we send it, parsed once
//!   ([`CreditApplication::parse`]): the same function checks a producer's item in our API
//!   and an item the sandbox receives, so the two cannot drift apart.
//! - `answers.rs`: what the vendor answers (per-item results, the whole-request error),
//!   read tolerantly.
//! - `search.rs`: the two searches' filters, records and pages.
//!
//! ## Two versions of the same calls
//!
//! Seeds 002 and 003 are the contract we were given; the vendor's own pages
//! (`vendor-specs/billing-robo/`) describe the same paths, `/api/v1.0/...`, as they are
//! published now, and the two differ in ways a client cannot ignore:
//!
//! | | seed (002, 003) | current pages |
//! |---|---|---|
//! | items of `request_marunage_credit/bulk_register` under | `marunage_credit` | `request_marunage_credit` |
//! | item error codes | 5401–5414 (5403 billing code … 5411 already applied, 5413 duplicate) | 5401–5418, renumbered (5402 billing code … 5410 already applied, 5412 duplicate) |
//! | required | the five seed fields | `business_type`, `estimated_billing_amount`, `corporate_number` for a corporation; `transaction_count` optional |
//! | date filters of the searches | dates (`yyyy/mm/dd`) | date-times (`yyyy/mm/dd hh:mm:ss`, time optional) |
//!
//! The same number means different things in each (5413: a duplicate in the seed, "no
//! items" now), so a code is never read without knowing the version that sent it. The
//! client sends the shape of its configured [`ApiVersion`] and reads an answer by the array
//! key it comes under, which names its version; an answer in the other version's shape is
//! refused loudly instead of being misread. The sandbox speaks either.

mod answers;
mod application;
mod codes;
mod fields;
mod kinds;
mod search;

use serde::{Deserialize, Serialize};

pub use answers::{
    AnsweredItem, ApplicationStatus, CreditStatus, RegisterAnswer, VendorError, VendorErrorBody,
};
pub use application::{BusinessType, ClaimType, CreditApplication, ItemFieldError};
pub use codes::{ItemProblem, ItemVerdict, common, credit_search, request_search};
pub use kinds::{
    format_date, format_datetime, is_email, is_half_width_alnum, is_half_width_alnum_symbol, jst,
    now_jst, parse_date, parse_datetime_bound, parse_vendor_datetime, to_jst, today_jst,
};
pub use search::{
    ApplicationRecord, ApplicationSearch, CreditRecord, CreditSearch, DateBound, Page,
};

/// Most applications one `bulk_register` call may carry ("リクエスト上限は3000件").
pub const MAX_REGISTER_ITEMS: usize = 3000;
/// Most records one search page may hold (`limit_count` 0 to 200).
pub const MAX_LIMIT_COUNT: u32 = 200;
/// The page size when `limit_count` is left out.
pub const DEFAULT_LIMIT_COUNT: u32 = 20;
/// The last page a search can reach (`page_count` 0 to 99).
pub const MAX_PAGE_COUNT: u32 = 99;

/// The path of each call, below the base URL.
pub const REGISTER_PATH: &str = "/api/v1.0/request_marunage_credit/bulk_register";
pub const APPLICATION_SEARCH_PATH: &str = "/api/v1.0/request_marunage_credit/search";
pub const CREDIT_SEARCH_PATH: &str = "/api/v1.0/marunage_credit/search";

/// The array key of `request_marunage_credit/search` (its filter object and its answer):
/// that call is only documented in the current pages, so it has one shape.
pub const APPLICATION_SEARCH_KEY: &str = "request_marunage_credit";
/// The key of `marunage_credit/search` (filter object, answer array), the same in both.
pub const CREDIT_SEARCH_KEY: &str = "marunage_credit";

/// Which shape of the credit calls the vendor speaks (see the module docs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApiVersion {
    /// Seeds 002 and 003: the contract we were given.
    #[default]
    Seed,
    /// The vendor's published pages.
    Current,
}

impl ApiVersion {
    /// The key of the items of `bulk_register`, in the request and in the answer.
    pub fn register_key(self) -> &'static str {
        match self {
            Self::Seed => "marunage_credit",
            Self::Current => "request_marunage_credit",
        }
    }

    /// The version whose `bulk_register` items live under `key`.
    pub fn from_register_key(key: &str) -> Option<Self> {
        [Self::Seed, Self::Current]
            .into_iter()
            .find(|version| version.register_key() == key)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Seed => "seed",
            Self::Current => "current",
        }
    }
}

impl std::fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
