//! What the demo applies for at Billing-Robo, and how it follows each application to its
//! decision.
//!
//! Three applications go out together (one `bulk_register` call): one the sandbox approves,
//! one it rejects (its billing code says `reject`: the sandbox's demo rule), and one for a
//! billing customer the vendor does not know (item error 5401, a failure of that
//! application alone). The sandbox decides two seconds after an application is made, and
//! the demo polls every second: each application's decision job ends within seconds.

use std::collections::HashMap;

use chrono::Days;
use serde_json::{Value, json};

use super::DemoError;
use super::producer::{Accepted, Api};
use crate::queue::{JobId, JobRecord, JobState};
use crate::vendors::billing_robo::types::{format_date, today_jst};

/// The demo's applications: (billing code suffix, what the demo expects).
const APPLICATIONS: [(&str, Expect); 3] = [
    ("demo-ok", Expect::Approved),
    ("demo-reject", Expect::Rejected),
    ("nobody", Expect::Refused),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Approved,
    Rejected,
    /// The vendor refuses the item: its job fails.
    Refused,
}

/// An application sent, and its job.
pub(super) struct SentApplication {
    billing_code: String,
    expect: Expect,
    job: JobId,
}

/// The billing code of an application of this run (at most 20 characters, the vendor's
/// limit). The sandbox knows every `demo-*` customer; `nobody-*` is unknown to it.
fn billing_code(run_tag: &str, prefix: &str) -> String {
    format!("{prefix}-{run_tag}")
}

/// Sends the applications in one bulk request.
pub(super) async fn send(api: &Api, run_tag: &str) -> Result<Vec<SentApplication>, DemoError> {
    let contract_date = format_date(today_jst() - Days::new(30));
    let applications: Vec<Value> = APPLICATIONS
        .iter()
        .map(|(suffix, _)| {
            json!({
                "billing_code": billing_code(run_tag, suffix),
                "representative_name": "山田 太郎",
                "contract_date": contract_date,
                "transaction_count": 12,
                "company_url": "https://www.example.co.jp",
                "reference": format!("credit-{suffix}-{run_tag}"),
            })
        })
        .collect();
    #[derive(serde::Deserialize)]
    struct Bulk {
        jobs: Vec<Accepted>,
    }
    let answer: Bulk = api
        .post(
            "/v1/billing-robo/credit-applications/bulk",
            &json!({ "applications": applications }),
            None,
        )
        .await?;
    if answer.jobs.len() != APPLICATIONS.len() {
        return Err(DemoError::Unexpected(format!(
            "the bulk of {} applications was answered with {} jobs",
            APPLICATIONS.len(),
            answer.jobs.len()
        )));
    }
    say!(
        "POST /v1/billing-robo/credit-applications/bulk  {} applications → 202, {} jobs",
        APPLICATIONS.len(),
        answer.jobs.len()
    );
    Ok(APPLICATIONS
        .iter()
        .zip(answer.jobs)
        .map(|((suffix, expect), link)| SentApplication {
            billing_code: billing_code(run_tag, suffix),
            expect: *expect,
            job: link.job_id,
        })
        .collect())
}

/// What became of the applications.
pub(super) struct CreditReport {
    /// The event each job should raise: applications and decisions.
    pub(super) wanted: HashMap<JobId, &'static str>,
    pub(super) approved: usize,
    pub(super) rejected: usize,
    pub(super) refused: usize,
    /// Every application ended as the demo expects.
    pub(super) as_expected: bool,
}

/// Follows the applications, then the decision jobs of those registered, and prints them.
pub(super) async fn follow(api: &Api, sent: &[SentApplication]) -> Result<CreditReport, DemoError> {
    let ids: Vec<JobId> = sent.iter().map(|s| s.job).collect();
    let applied = api.follow(&ids, "applied").await?;
    let mut wanted = HashMap::new();
    let mut waiting = Vec::new();
    for (sent, record) in sent.iter().zip(&applied) {
        wanted.insert(record.id, applied_event(record.state));
        if let Some(decision) = decision_job(record) {
            waiting.push((sent, decision));
        }
    }
    let decision_ids: Vec<JobId> = waiting.iter().map(|(_, id)| *id).collect();
    let decided = api.follow(&decision_ids, "decided").await?;
    say!("");
    say!("{:<36}  {:<9}  OUTCOME", "JOB", "STATE");
    let mut report = CreditReport {
        wanted,
        approved: 0,
        rejected: 0,
        refused: 0,
        as_expected: true,
    };
    let decisions: HashMap<JobId, &JobRecord> = waiting
        .iter()
        .map(|(sent, _)| sent.job)
        .zip(&decided)
        .collect();
    for (sent, record) in sent.iter().zip(&applied) {
        let Some(decision) = decisions.get(&sent.job) else {
            report.refused += usize::from(record.state == JobState::Failed);
            report.as_expected &= sent.expect == Expect::Refused;
            say!(
                "{:<36}  {:<9}  {}: {}",
                record.id.to_string(),
                record.state.as_str(),
                sent.billing_code,
                record
                    .last_error
                    .as_ref()
                    .map_or("no error recorded", |e| e.message.as_str())
            );
            continue;
        };
        let outcome = decision
            .result
            .as_ref()
            .and_then(|r| r["decision"].as_str())
            .unwrap_or("none");
        report.wanted.insert(decision.id, decided_event(decision));
        match outcome {
            "approved" => report.approved += 1,
            "rejected" => report.rejected += 1,
            _ => {}
        }
        let want = match sent.expect {
            Expect::Approved => "approved",
            Expect::Rejected => "rejected",
            Expect::Refused => "refused",
        };
        report.as_expected &= outcome == want;
        say!(
            "{:<36}  {:<9}  {}: applied, then {} ({} snoozes, decision job {})",
            record.id.to_string(),
            decision.state.as_str(),
            sent.billing_code,
            outcome,
            decision.snoozes,
            decision.id
        );
    }
    Ok(report)
}

/// The decision job an application's result names (`decision_job`).
fn decision_job(record: &JobRecord) -> Option<JobId> {
    if record.state != JobState::Succeeded {
        return None;
    }
    let id = record.result.as_ref()?.get("decision_job")?.as_str()?;
    id.parse().ok()
}

/// The event a finished application job raises (`vendors/billing_robo/events.rs`).
fn applied_event(state: JobState) -> &'static str {
    match state {
        JobState::Succeeded => "billing_robo.credit.applied",
        _ => "billing_robo.credit.failed",
    }
}

/// The event a finished decision job raises.
fn decided_event(record: &JobRecord) -> &'static str {
    let decision = record.result.as_ref().and_then(|r| r["decision"].as_str());
    match (record.state, decision) {
        (JobState::Succeeded, Some("approved")) => "billing_robo.credit.approved",
        (JobState::Succeeded, Some("rejected")) => "billing_robo.credit.rejected",
        (JobState::Expired, _) => "billing_robo.credit.expired",
        _ => "billing_robo.credit.failed",
    }
}
