//! What `bench e2e` sends, per vendor (`--vendor`): how a contract is posted, which webhook
//! confirms it, and what the vendor's sandbox counts.
//!
//! | vendor | posted as | confirmed by | named by | twice means |
//! |---|---|---|---|---|
//! | `proteger` | bulk requests of 50 (`/v1/proteger/contracts/bulk`) | `proteger.contract.created` | `transactionId` | the sandbox's `duplicate_transaction_ids` |
//! | `tulip` | one per request (`/v1/tulip/contracts`: Tulip's API has no bulk) | `tulip.contract.created` | the renter `uid`, one per contract | two contracts stored for one renter |

use std::collections::HashMap;

use chrono::Utc;
use serde_json::json;

use super::BenchError;
use super::stack::{Api, Created, PROTEGER_CREATED, TULIP_CREATED};
use crate::vendors::proteger::sandbox::{ServedProteger, sample_contract};
use crate::vendors::proteger::types::ContractRequest;
use crate::vendors::tulip::sandbox::ServedTulip;
use crate::vendors::tulip::types::validate::cases;

/// The vendor whose contracts a run sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Target {
    Proteger,
    Tulip,
}

impl Target {
    pub(super) fn parse(vendor: &str) -> Result<Self, BenchError> {
        match vendor {
            "proteger" => Ok(Self::Proteger),
            "tulip" => Ok(Self::Tulip),
            other => Err(BenchError::Setup(format!(
                "bench e2e: unknown vendor `{other}`: expected proteger or tulip"
            ))),
        }
    }

    pub(super) fn name(self) -> &'static str {
        match self {
            Self::Proteger => "proteger",
            Self::Tulip => "tulip",
        }
    }

    /// Contracts per producer request.
    pub(super) fn per_request(self) -> usize {
        match self {
            Self::Proteger => 50,
            Self::Tulip => 1,
        }
    }

    pub(super) fn created(self) -> Created {
        match self {
            Self::Proteger => PROTEGER_CREATED,
            Self::Tulip => TULIP_CREATED,
        }
    }

    /// How a producer request is described in the report.
    pub(super) fn requests(self) -> String {
        match self {
            Self::Proteger => format!("bulk requests of {}", self.per_request()),
            Self::Tulip => "one contract per request (Tulip's API has no bulk)".into(),
        }
    }

    /// The fewest vendor calls per 1,000 contracts the path can make.
    pub(super) fn calls_floor(self) -> u32 {
        match self {
            // Batches of up to 10.
            Self::Proteger => 100,
            // One `POST /contracts` each.
            Self::Tulip => 1000,
        }
    }

    /// Posts contracts `names` (one request), and returns their keys as the webhooks
    /// will name them.
    pub(super) async fn post(self, api: &Api, names: &[String]) -> Result<Vec<String>, BenchError> {
        match self {
            Self::Proteger => {
                let contracts: Vec<ContractRequest> =
                    names.iter().map(|name| sample_contract(name)).collect();
                if let [one] = contracts.as_slice() {
                    api.create_one(one).await?;
                } else {
                    api.create_bulk(&contracts).await?;
                }
                Ok(contracts.into_iter().map(|c| c.transaction_id).collect())
            }
            Self::Tulip => {
                for name in names {
                    // A one-day bike rental starting in an hour, the renter named after it.
                    let mut body = cases::lcd(Utc::now());
                    body["uid"] = json!(name);
                    api.create_tulip(&body).await?;
                }
                Ok(names.to_vec())
            }
        }
    }

    /// Requests the vendor's sandbox saw.
    pub(super) fn vendor_calls(self, proteger: &ServedProteger, tulip: &ServedTulip) -> u64 {
        match self {
            Self::Proteger => proteger.proteger.effects().requests_seen,
            Self::Tulip => tulip.tulip.effects().requests,
        }
    }

    /// Contracts the vendor's sandbox stored twice (or more, each beyond the first).
    pub(super) fn duplicates(self, proteger: &ServedProteger, tulip: &ServedTulip) -> u64 {
        match self {
            Self::Proteger => proteger.proteger.effects().duplicate_transaction_ids,
            Self::Tulip => {
                let mut per_renter: HashMap<String, u64> = HashMap::new();
                for contract in tulip.tulip.contracts() {
                    *per_renter.entry(contract.uid().to_string()).or_default() += 1;
                }
                per_renter.values().map(|n| n - 1).sum()
            }
        }
    }
}
