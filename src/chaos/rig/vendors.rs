//! Billing-Robo and Tulip in a chaos run: their sandboxes (each on a port of its own), the
//! settings that point the workers at them, the jobs a scenario sends them, and the
//! sandboxes' own counts of anything done twice.
//!
//! - **Billing-Robo**: credit applications (`billing_robo.credit.apply`), batched by the
//!   workers. The sandbox decides each one [`DECIDE_AFTER`] after it was made and the
//!   workers poll every 5 s, so an application's decision job (`.credit.decision`)
//!   ends within seconds too and the run waits for both. Twice = two applications stored
//!   for one billing code.
//! - **Tulip**: contract creations (`tulip.contract.create`), one renter (`uid`) each. Twice
//!   = two contracts stored for one renter (each job's contract also carries its own
//!   `internal_id`, which `jobs/adopt.rs` looks for after an ambiguous failure).

use std::collections::HashMap;
use std::time::Duration;

use chrono::Utc;
use serde_json::json;

use super::super::{ChaosError, err};
use super::Rig;
use crate::producer::Submission;
use crate::queue::JobId;
use crate::vendors::billing_robo::jobs::{ApplyCredit, DECISION_STEP};
use crate::vendors::billing_robo::sandbox::{BillingRoboSandboxConfig, ServedBillingRobo};
use crate::vendors::billing_robo::types::{ApiVersion, CreditApplication, today_jst};
use crate::vendors::tulip::jobs::CreateContract as CreateTulipContract;
use crate::vendors::tulip::sandbox::{ServedTulip, TulipSandboxConfig};
use crate::vendors::tulip::types::validate::cases;
use crate::vendors::tulip::types::{ContractRequest, Mode, Rules};

/// How long after an application the Billing-Robo sandbox decides it (approves it: no
/// billing code of a run contains `reject`).
pub const DECIDE_AFTER: Duration = Duration::from_secs(1);

/// Billing-Robo in a run: its sandbox, and `[vendors.billing_robo]` keys for the workers
/// (`UNDERWRITE_VENDORS_BILLING_ROBO_<KEY>`) on top of the rig's own.
#[derive(Debug, Clone)]
pub struct BillingRoboRun {
    pub sandbox: BillingRoboSandboxConfig,
    pub settings: Vec<(&'static str, String)>,
}

impl BillingRoboRun {
    /// A sandbox that decides within [`DECIDE_AFTER`] (otherwise `sandbox` as given).
    pub fn new(sandbox: BillingRoboSandboxConfig) -> Self {
        Self {
            sandbox: BillingRoboSandboxConfig {
                decide_after: Some(DECIDE_AFTER),
                ..sandbox
            },
            settings: Vec::new(),
        }
    }

    /// Sets one `[vendors.billing_robo]` key for the workers.
    pub fn set(mut self, key: &'static str, value: impl ToString) -> Self {
        self.settings.push((key, value.to_string()));
        self
    }
}

/// Tulip in a run: its sandbox, and `[vendors.tulip]` keys for the workers.
#[derive(Debug, Clone, Default)]
pub struct TulipRun {
    pub sandbox: TulipSandboxConfig,
    pub settings: Vec<(&'static str, String)>,
}

impl TulipRun {
    pub fn new(sandbox: TulipSandboxConfig) -> Self {
        Self {
            sandbox,
            settings: Vec::new(),
        }
    }

    /// Sets one `[vendors.tulip]` key for the workers.
    pub fn set(mut self, key: &'static str, value: impl ToString) -> Self {
        self.settings.push((key, value.to_string()));
        self
    }
}

/// Starts the sandboxes asked for and adds what the workers need to reach them to `env`.
/// The credentials are made up for the run (the sandboxes accept any well-formed ones).
pub(super) async fn serve(
    billing_robo: Option<BillingRoboRun>,
    tulip: Option<TulipRun>,
    env: &mut Vec<(String, String)>,
) -> Result<(Option<ServedBillingRobo>, Option<ServedTulip>), ChaosError> {
    let loopback = "127.0.0.1:0".parse().map_err(err)?;
    let mut var = |name: &str, value: String| env.push((name.to_string(), value));
    let billing_robo = match billing_robo {
        Some(run) => {
            let served = crate::vendors::billing_robo::sandbox::serve(loopback, run.sandbox)
                .await
                .map_err(err)?;
            var(
                "UNDERWRITE_BILLING_ROBO_USER_ID",
                "chaos@example.com".into(),
            );
            var(
                "UNDERWRITE_BILLING_ROBO_ACCESS_KEY",
                "chaosAccessKey0123".into(),
            );
            // Decisions found within seconds, batches sent without waiting. A poll costs
            // two calls (the seed's two final statuses): every 5 s that is 120 of the 200
            // calls per 5 minutes polls may use, so a long run never starves its polls.
            let ours = [
                ("BASE_URL", served.url()),
                ("POLL_INTERVAL_SECS", "5".into()),
                ("LINGER_MS", "100".into()),
            ];
            for (key, value) in ours.into_iter().chain(run.settings) {
                var(&format!("UNDERWRITE_VENDORS_BILLING_ROBO_{key}"), value);
            }
            Some(served)
        }
        None => None,
    };
    let tulip = match tulip {
        Some(run) => {
            let served = crate::vendors::tulip::sandbox::serve(loopback, run.sandbox)
                .await
                .map_err(err)?;
            var("UNDERWRITE_TULIP_API_KEY", "chaos-tulip-key".into());
            // Tulip publishes no limit; the sandbox enforces none. A budget that never
            // binds keeps the run about faults, not about waiting for budget.
            let ours = [
                ("BASE_URL", served.url()),
                ("RATE_LIMIT", "100000".into()),
                ("PAUSE_ON_429_SECS", "1".into()),
            ];
            for (key, value) in ours.into_iter().chain(run.settings) {
                var(&format!("UNDERWRITE_VENDORS_TULIP_{key}"), value);
            }
            Some(served)
        }
        None => None,
    };
    Ok((billing_robo, tulip))
}

/// The decision job each application of `applications` starts when it succeeds (named
/// after it, `queue/chain.rs`).
pub fn decisions(applications: &[JobId]) -> Vec<JobId> {
    applications
        .iter()
        .map(|id| JobId::then(id, DECISION_STEP))
        .collect()
}

/// What stayed once beyond the first, over groups of one key.
fn beyond_first<'k>(keys: impl Iterator<Item = &'k str>) -> u64 {
    let mut seen: HashMap<&str, u64> = HashMap::new();
    for key in keys {
        *seen.entry(key).or_default() += 1;
    }
    seen.values().map(|n| n - 1).sum()
}

impl Rig {
    /// Enqueues `count` credit applications, each for a billing code of its own.
    pub async fn submit_applications(&self, count: usize) -> Result<Vec<JobId>, ChaosError> {
        self.submit_each(0..count, |i| {
            // `demo-*` is the sandbox's known customers; 17 characters of the 20 allowed.
            let item = json!({
                "billing_code": format!("demo-{}-{i}", self.tag),
                "representative_name": "代表者名",
                "contract_date": (today_jst() - chrono::Days::new(30)).format("%Y/%m/%d").to_string(),
                "transaction_count": 12,
                "company_url": "https://www.example.co.jp",
            });
            let application = CreditApplication::parse(&item, ApiVersion::Seed, today_jst())
                .map_err(|errors| err(format!("a chaos application is invalid: {errors:?}")))?;
            Ok(Submission::new(ApplyCredit(application)))
        })
        .await
    }

    /// Enqueues `count` Tulip contract creations (a one-day bike rental), each for a renter
    /// of its own.
    pub async fn submit_tulip_contracts(&self, count: usize) -> Result<Vec<JobId>, ChaosError> {
        self.submit_each(0..count, |i| {
            let now = Utc::now();
            let mut body = cases::lcd(now);
            body["uid"] = json!(format!("chaos-{}-{i}", self.tag));
            let request = ContractRequest::parse(&body, &Rules::new(Mode::Create, now))
                .map_err(|errors| err(format!("a chaos contract is invalid: {errors:?}")))?;
            Ok(Submission::new(CreateTulipContract(request)))
        })
        .await
    }

    /// Billing-Robo applications stored more than once per billing code, plus Tulip
    /// contracts stored more than once per renter: the sandboxes' own records.
    pub fn duplicated_elsewhere(&self) -> u64 {
        let applications = self.billing_robo.as_ref().map_or(0, |served| {
            let stored = served.billing_robo.applications();
            beyond_first(stored.iter().map(|a| a.billing_code.as_str()))
        });
        let contracts = self.tulip.as_ref().map_or(0, |served| {
            let stored = served.tulip.contracts();
            beyond_first(stored.iter().map(|c| c.uid()))
        });
        applications + contracts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_recurs_counts() {
        assert_eq!(beyond_first(["a", "b", "c"].into_iter()), 0);
        assert_eq!(beyond_first(["a", "b", "a", "a", "b"].into_iter()), 3);
    }
}
