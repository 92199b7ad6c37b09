//! What the vendor's error codes mean.
//!
//! ## Item codes of `bulk_register`: a meaning, and a number per version
//!
//! An item of a `bulk_register` answer carries `error_code` (null on success). The seed
//! (002) and the current page number the same meanings differently, so [`ItemProblem`] is
//! the meaning and [`ItemProblem::code`] / [`ItemProblem::from_code`] translate:
//!
//! | meaning | seed | current | verdict |
//! |---|---|---|---|
//! | billing customer does not exist | 5401 | 5401 | refused |
//! | まるなげ option not available | 5402 | — | refused |
//! | billing code invalid | 5403 | 5402 | refused |
//! | representative name invalid | 5404 | 5403 | refused |
//! | contract date invalid | 5405 | 5404 | refused |
//! | transaction count invalid | 5406 | 5405 | refused |
//! | company URL invalid | 5407 | 5406 | refused |
//! | contract date in the future | 5408 | 5404 (no code of its own: "invalid") | refused |
//! | a department without a phone number | 5409 | 5408 | refused |
//! | a department not approved | 5410 | 5409 | refused |
//! | already applying, or credit already active | 5411 | 5410 | already applied |
//! | another item of the request failed | 5412 | 5411 | send again |
//! | two items for the same billing customer in one request | 5413 | 5412 | send again, one per request |
//! | no items in the request | 5414 | 5413 | our defect |
//! | estimated billing amount invalid | — | 5414 | refused |
//! | business type invalid | — | 5415 | refused |
//! | corporate number invalid | — | 5416 | refused |
//! | corporate number given for an individual | — | 5417 | refused |
//! | claim type invalid | — | 5418 | refused |
//!
//! ## The searches' codes
//!
//! Each filter of a search has its own code ([`credit_search`]: 5701–5709 and 5610,
//! [`request_search`]: 5601–5610). How the vendor returns them, as an item inside a 200 or
//! as a 400, is **unknown**; the client takes both (`client.rs`).
//!
//! ## Common codes
//!
//! Whole-request failures: `{"error":{"code":N,"message":"..."}}` ([`common`]).

use serde::{Deserialize, Serialize};

use super::ApiVersion;

/// What an item error of `bulk_register` means (the table in the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemProblem {
    UnknownBillingCustomer,
    MarunageOptionUnavailable,
    InvalidBillingCode,
    InvalidRepresentativeName,
    InvalidContractDate,
    InvalidTransactionCount,
    InvalidCompanyUrl,
    ContractDateInFuture,
    PhoneNumberMissing,
    DepartmentNotApproved,
    AlreadyApplied,
    AnotherItemFailed,
    DuplicateInRequest,
    NoApplications,
    InvalidEstimatedAmount,
    InvalidBusinessType,
    InvalidCorporateNumber,
    CorporateNumberForIndividual,
    InvalidClaimType,
    /// A code neither table knows, or (for our own checks) a field the vendor has no code
    /// for, such as a field it does not know.
    Unknown,
}

/// What to do about an item that came back with an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemVerdict {
    /// The vendor holds a pending application or an active credit for this billing
    /// customer: ours, when an earlier attempt landed unseen, or one made elsewhere.
    /// Search by billing code to learn which, rather than failing or sending again.
    AlreadyApplied,
    /// Nothing was registered for this item because of another one: send it again
    /// (without the items that failed; one per request after a duplicate).
    SendAgain,
    /// The vendor refuses this application; sending it again changes nothing until the
    /// item or the customer's data at the vendor changes.
    Refused,
    /// The request itself was malformed: a bug on our side.
    OurDefect,
}

use ItemProblem as P;

/// `(meaning, seed code, current code)`; a meaning appears once per column.
const TABLE: &[(ItemProblem, Option<u32>, Option<u32>)] = &[
    (P::UnknownBillingCustomer, Some(5401), Some(5401)),
    (P::MarunageOptionUnavailable, Some(5402), None),
    (P::InvalidBillingCode, Some(5403), Some(5402)),
    (P::InvalidRepresentativeName, Some(5404), Some(5403)),
    (P::InvalidContractDate, Some(5405), Some(5404)),
    (P::InvalidTransactionCount, Some(5406), Some(5405)),
    (P::InvalidCompanyUrl, Some(5407), Some(5406)),
    (P::ContractDateInFuture, Some(5408), None),
    (P::PhoneNumberMissing, Some(5409), Some(5408)),
    (P::DepartmentNotApproved, Some(5410), Some(5409)),
    (P::AlreadyApplied, Some(5411), Some(5410)),
    (P::AnotherItemFailed, Some(5412), Some(5411)),
    (P::DuplicateInRequest, Some(5413), Some(5412)),
    (P::NoApplications, Some(5414), Some(5413)),
    (P::InvalidEstimatedAmount, None, Some(5414)),
    (P::InvalidBusinessType, None, Some(5415)),
    (P::InvalidCorporateNumber, None, Some(5416)),
    (P::CorporateNumberForIndividual, None, Some(5417)),
    (P::InvalidClaimType, None, Some(5418)),
];

impl ItemProblem {
    /// The meaning of `code` in an answer of `version`.
    pub fn from_code(version: ApiVersion, code: u32) -> Self {
        TABLE
            .iter()
            .find(|row| column(row, version) == Some(code))
            .map_or(Self::Unknown, |row| row.0)
    }

    /// The code `version` answers for this problem; `None` when it has none. The current
    /// pages have no code for a future contract date: it is an invalid one there (5404).
    pub fn code(self, version: ApiVersion) -> Option<u32> {
        let meaning = match (self, version) {
            (Self::ContractDateInFuture, ApiVersion::Current) => Self::InvalidContractDate,
            _ => self,
        };
        TABLE
            .iter()
            .find(|row| row.0 == meaning)
            .and_then(|row| column(row, version))
    }

    pub fn verdict(self) -> ItemVerdict {
        match self {
            Self::AlreadyApplied => ItemVerdict::AlreadyApplied,
            Self::AnotherItemFailed | Self::DuplicateInRequest => ItemVerdict::SendAgain,
            Self::NoApplications => ItemVerdict::OurDefect,
            _ => ItemVerdict::Refused,
        }
    }

    /// The vendor's wording (the sandbox answers it as `error_message`).
    pub fn message_ja(self) -> &'static str {
        match self {
            Self::UnknownBillingCustomer => "請求先が存在しません",
            Self::MarunageOptionUnavailable => "まるなげオプション利用不可",
            Self::InvalidBillingCode => "請求先コードが不正",
            Self::InvalidRepresentativeName => "代表者名が不正",
            Self::InvalidContractDate => "契約日が不正",
            Self::InvalidTransactionCount => "取引回数が不正",
            Self::InvalidCompanyUrl => "企業URLが不正",
            Self::ContractDateInFuture => "契約日が未来の日付の為与信申請できません",
            Self::PhoneNumberMissing => "電話番号が未登録の請求先部署がある為与信申請できません",
            Self::DepartmentNotApproved => "請求先部署が未承認の為与信申請できません",
            Self::AlreadyApplied => "既に与信申請中又は請求先与信が有効になっています",
            Self::AnotherItemFailed => "他の請求先与信の申請に失敗しました",
            Self::DuplicateInRequest => "同じ請求先に対して、２件以上のリクエストは出来ません",
            Self::NoApplications => "リクエストパラメータにmarunage_creditオブジェクトが存在しない",
            Self::InvalidEstimatedAmount => "請求予定金額が不正",
            Self::InvalidBusinessType => "事業体区分が不正",
            Self::InvalidCorporateNumber => "法人番号が不正",
            Self::CorporateNumberForIndividual => {
                "事業体区分が個人事業主の場合、法人番号は入力できません"
            }
            Self::InvalidClaimType => "債権区分が不正",
            Self::Unknown => "不明なエラー",
        }
    }
}

fn column(row: &(ItemProblem, Option<u32>, Option<u32>), version: ApiVersion) -> Option<u32> {
    match version {
        ApiVersion::Seed => row.1,
        ApiVersion::Current => row.2,
    }
}

/// The common codes of a whole-request error (`index.md`, 共通エラー).
pub mod common {
    pub const INTERNAL: u32 = 1;
    pub const UNKNOWN_URI: u32 = 10;
    pub const INVALID_USER_ID: u32 = 11;
    pub const INVALID_ACCESS_KEY: u32 = 12;
    pub const INVALID_SOURCE_IP: u32 = 13;
    pub const INVALID_SHOP_ID: u32 = 14;
    pub const LOGIN_FAILED: u32 = 16;
    pub const INVALID_PERMISSION: u32 = 17;
    pub const INVALID_COMPANY: u32 = 18;
    pub const MAINTENANCE: u32 = 19;
    pub const INVALID_REQUEST_COUNT: u32 = 20;
    pub const RETIRED_API: u32 = 21;

    /// Codes that say our credentials (or where we call from) are not accepted.
    pub fn is_credentials(code: u32) -> bool {
        matches!(
            code,
            INVALID_USER_ID
                | INVALID_ACCESS_KEY
                | INVALID_SOURCE_IP
                | INVALID_SHOP_ID
                | LOGIN_FAILED
                | INVALID_PERMISSION
                | INVALID_COMPANY
        )
    }
}

/// The filter codes of `marunage_credit/search` (seed 003; 5610 as the current page
/// lists it for `claim_type`).
pub mod credit_search {
    pub const ID: u32 = 5701;
    pub const BILLING_CODE: u32 = 5702;
    pub const STATUS: u32 = 5703;
    pub const REGIST_DATE_FROM: u32 = 5704;
    pub const REGIST_DATE_TO: u32 = 5705;
    pub const UPDATE_DATE_FROM: u32 = 5706;
    pub const UPDATE_DATE_TO: u32 = 5707;
    pub const LIMIT_COUNT: u32 = 5708;
    pub const PAGE_COUNT: u32 = 5709;
    pub const CLAIM_TYPE: u32 = 5610;
}

/// The filter codes of `request_marunage_credit/search` (current page only).
pub mod request_search {
    pub const BILLING_CODE: u32 = 5601;
    pub const STATUS: u32 = 5602;
    pub const REQUESTED_DATE_FROM: u32 = 5603;
    pub const REQUESTED_DATE_TO: u32 = 5604;
    pub const RESPONDED_DATE_FROM: u32 = 5605;
    pub const RESPONDED_DATE_TO: u32 = 5606;
    pub const LIMIT_COUNT: u32 = 5607;
    pub const PAGE_COUNT: u32 = 5608;
    pub const ID: u32 = 5609;
    pub const CLAIM_TYPE: u32 = 5610;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_numbers_are_the_seeds() {
        let seed = |code| ItemProblem::from_code(ApiVersion::Seed, code);
        assert_eq!(seed(5401), P::UnknownBillingCustomer);
        assert_eq!(seed(5403), P::InvalidBillingCode);
        assert_eq!(seed(5408), P::ContractDateInFuture);
        assert_eq!(seed(5411), P::AlreadyApplied);
        assert_eq!(seed(5412), P::AnotherItemFailed);
        assert_eq!(seed(5413), P::DuplicateInRequest);
        assert_eq!(seed(5414), P::NoApplications);
        assert_eq!(seed(5415), P::Unknown);
        assert_eq!(seed(19), P::Unknown);
    }

    #[test]
    fn the_same_number_means_something_else_in_the_current_pages() {
        let current = |code| ItemProblem::from_code(ApiVersion::Current, code);
        assert_eq!(current(5402), P::InvalidBillingCode);
        assert_eq!(current(5410), P::AlreadyApplied);
        assert_eq!(current(5411), P::AnotherItemFailed);
        assert_eq!(current(5412), P::DuplicateInRequest);
        assert_eq!(current(5413), P::NoApplications);
        assert_eq!(current(5414), P::InvalidEstimatedAmount);
        assert_eq!(current(5418), P::InvalidClaimType);
        assert_eq!(current(5407), P::Unknown);
        // The trap: 5413 is a duplicate in one, our defect in the other.
        assert_ne!(
            ItemProblem::from_code(ApiVersion::Seed, 5413).verdict(),
            current(5413).verdict()
        );
    }

    #[test]
    fn codes_round_trip_per_version() {
        for version in [ApiVersion::Seed, ApiVersion::Current] {
            for (problem, _, _) in TABLE {
                if let Some(code) = problem.code(version)
                    && *problem != P::ContractDateInFuture
                {
                    assert_eq!(ItemProblem::from_code(version, code), *problem);
                }
            }
        }
        assert_eq!(P::ContractDateInFuture.code(ApiVersion::Seed), Some(5408));
        assert_eq!(
            P::ContractDateInFuture.code(ApiVersion::Current),
            Some(5404)
        );
        assert_eq!(P::MarunageOptionUnavailable.code(ApiVersion::Current), None);
        assert_eq!(P::InvalidClaimType.code(ApiVersion::Seed), None);
    }

    #[test]
    fn verdicts() {
        assert_eq!(P::AlreadyApplied.verdict(), ItemVerdict::AlreadyApplied);
        assert_eq!(P::AnotherItemFailed.verdict(), ItemVerdict::SendAgain);
        assert_eq!(P::DuplicateInRequest.verdict(), ItemVerdict::SendAgain);
        assert_eq!(P::NoApplications.verdict(), ItemVerdict::OurDefect);
        assert_eq!(P::UnknownBillingCustomer.verdict(), ItemVerdict::Refused);
        assert_eq!(P::Unknown.verdict(), ItemVerdict::Refused);
    }
}
