//! What a credit record says about an application waiting for its decision: the one
//! place that reads it.
//!
//! Nothing at the vendor points from a credit (`marunage_credit/search`) to the
//! application that moved it; what ties them is the billing code, the claim type and the
//! time. The credit of a billing customer goes to 申請中 (2) when an application is
//! registered, and its `update_date` moves whenever its status changes, so a record only
//! speaks for an application made at `since` when it changed at or after `since`:
//!
//! | credit status | changed at or after `since` | earlier |
//! |---|---|---|
//! | 1 有効, 4 有効（停止申請中） | approved | approved if the application was answered 5411 (the customer was already active), else not yet |
//! | 0 停止 | rejected | not yet (an old refusal) |
//! | 3 未申請 | rejected (the current pages' reading of a refusal, see the sandbox's `decisions.rs`) | not yet |
//! | 2 申請中, anything else | not yet | not yet |
//!
//! A record of another claim type than the application's says nothing about it. `since`
//! is the vendor's own `requested_date` when the registration answered one (one clock on
//! both sides), else our clock turned to Japan time less a margin for skew.

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

use super::types::{CreditRecord, CreditStatus};

/// The vendor's decision on an application.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Approved,
    Rejected,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Approved => "approved",
            Self::Rejected => "rejected",
        }
    }
}

/// An application waiting for its decision, as far as reading a credit record goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Waiting {
    /// Since when it has waited, Japan time.
    pub since: NaiveDateTime,
    /// Its claim type, when the producer gave one.
    pub claim_type: Option<u8>,
    /// The registration was answered 5411: pending or already active before we asked.
    pub already_applied: bool,
}

/// The decision `record` shows for `waiting`, if it shows one (the table in the module
/// docs).
pub fn read(record: &CreditRecord, waiting: &Waiting) -> Option<Decision> {
    if let (Some(ours), Some(theirs)) = (waiting.claim_type, record.claim_type)
        && u64::from(ours) != theirs
    {
        return None;
    }
    let changed_since = record.updated_at().is_some_and(|at| at >= waiting.since);
    match record.status? {
        CreditStatus::Active | CreditStatus::ActiveStopRequested
            if changed_since || waiting.already_applied =>
        {
            Some(Decision::Approved)
        }
        CreditStatus::Stopped | CreditStatus::NotApplied if changed_since => {
            Some(Decision::Rejected)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;
    use serde_json::json;

    use super::*;

    fn at(h: u32, m: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 11, 28)
            .and_then(|d| d.and_hms_opt(h, m, 0))
            .expect("a valid time")
    }

    fn record(status: i64, updated: &str, claim_type: u64) -> CreditRecord {
        serde_json::from_value(json!({
            "id": 1, "billing_code": "c1", "claim_type": claim_type,
            "status": status, "update_date": updated,
        }))
        .expect("a credit record")
    }

    fn waiting() -> Waiting {
        Waiting {
            since: at(10, 0),
            claim_type: Some(1),
            already_applied: false,
        }
    }

    #[test]
    fn a_change_after_the_application_decides_it() {
        let after = "2026/11/28 10:05:00";
        assert_eq!(
            read(&record(1, after, 1), &waiting()),
            Some(Decision::Approved)
        );
        assert_eq!(
            read(&record(4, after, 1), &waiting()),
            Some(Decision::Approved)
        );
        assert_eq!(
            read(&record(0, after, 1), &waiting()),
            Some(Decision::Rejected)
        );
        assert_eq!(
            read(&record(3, after, 1), &waiting()),
            Some(Decision::Rejected)
        );
        assert_eq!(read(&record(2, after, 1), &waiting()), None);
        assert_eq!(read(&record(9, after, 1), &waiting()), None);
    }

    #[test]
    fn an_older_record_or_another_claim_type_says_nothing() {
        let before = "2026/11/28 09:59:59";
        for status in [0, 1, 3, 4] {
            assert_eq!(read(&record(status, before, 1), &waiting()), None);
        }
        assert_eq!(
            read(&record(1, "2026/11/28 10:05:00", 2), &waiting()),
            None,
            "another claim type's credit"
        );
        let unknown_claim_type = Waiting {
            claim_type: None,
            ..waiting()
        };
        assert_eq!(
            read(&record(1, "2026/11/28 10:05:00", 2), &unknown_claim_type),
            Some(Decision::Approved)
        );
    }

    #[test]
    fn a_customer_active_before_a_5411_is_approved_but_an_old_refusal_is_not() {
        let already = Waiting {
            already_applied: true,
            ..waiting()
        };
        let before = "2026/11/27 09:00:00";
        assert_eq!(
            read(&record(1, before, 1), &already),
            Some(Decision::Approved)
        );
        assert_eq!(read(&record(0, before, 1), &already), None);
        assert_eq!(read(&record(2, before, 1), &already), None);
    }
}
