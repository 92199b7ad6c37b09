//! What the demo does at Tulip: a quote, two contracts, one refused before anything is sent,
//! and a cancellation.
//!
//! - a quote of a one-day bike rental (LCD, `?preview=true`: nothing is created);
//! - the same rental created, and a two-month one (LMD);
//! - a rental that ends before it starts: refused by our API with 422 and Tulip's own code
//!   (1001), nothing enqueued;
//! - the one-day rental cancelled (within 4 h of its start Tulip *cancels*; after, it
//!   *terminates*: the job's result says which).

use std::collections::HashMap;

use chrono::{Duration, Utc};
use serde_json::{Value, json};

use super::DemoError;
use super::producer::{Accepted, Api};
use crate::queue::{JobId, JobRecord, JobState};
use crate::vendors::tulip::types::validate::cases::{at, lcd, lmd_short};

/// What the demo sent to Tulip, and the jobs.
pub(super) struct SentRentals {
    quote: JobId,
    /// (what, job)
    creations: Vec<(&'static str, JobId)>,
    /// The code of the rental our API refused.
    refused_code: Option<u32>,
}

/// A body of this run: the renter's `uid` tells the runs apart.
fn rental(body: Value, run_tag: &str) -> Value {
    let mut body = body;
    body["uid"] = json!(format!("demo-renter-{run_tag}"));
    body
}

/// Sends the quote, the two creations and the refused one.
pub(super) async fn send(api: &Api, run_tag: &str) -> Result<SentRentals, DemoError> {
    let now = Utc::now();
    let quote: Accepted = api
        .post("/v1/tulip/quotes", &rental(lcd(now), run_tag), None)
        .await?;
    say!(
        "POST /v1/tulip/quotes                 1-day bike rental (LCD) → 202, job {}",
        quote.job_id
    );
    let mut creations = Vec::new();
    for (what, body) in [
        ("1-day bike rental (LCD)", lcd(now)),
        ("2-month rental (LMD)", lmd_short(now)),
    ] {
        let created: Accepted = api
            .post("/v1/tulip/contracts", &rental(body, run_tag), None)
            .await?;
        say!(
            "POST /v1/tulip/contracts              {what} → 202, job {}",
            created.job_id
        );
        creations.push((what, created.job_id));
    }
    // Ends before it starts: Tulip would answer 1001; our API says so first.
    let mut backwards = rental(lcd(now), run_tag);
    backwards["end_date"] = at(now, Duration::minutes(30));
    let refusal = api
        .refuse(
            "/v1/tulip/contracts",
            &backwards,
            reqwest::StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await?;
    let reason = refusal["error"]["fields"][0]["reason"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let refused_code = reason
        .rsplit("Tulip code ")
        .next()
        .and_then(|rest| rest.trim_end_matches(')').parse().ok());
    say!("POST /v1/tulip/contracts              a rental ending before it starts → 422: {reason}");
    Ok(SentRentals {
        quote: quote.job_id,
        creations,
        refused_code,
    })
}

/// What became of the rentals.
pub(super) struct RentalReport {
    /// The event each job should raise.
    pub(super) wanted: HashMap<JobId, &'static str>,
    pub(super) created: usize,
    pub(super) cancelled: Option<String>,
    pub(super) as_expected: bool,
}

/// Follows the quote and creations, cancels the first creation, follows that, prints them.
pub(super) async fn follow(api: &Api, sent: &SentRentals) -> Result<RentalReport, DemoError> {
    let mut ids = vec![sent.quote];
    ids.extend(sent.creations.iter().map(|(_, id)| *id));
    let records = api.follow(&ids, "rentals").await?;
    let (quote, creations) = records.split_at(1);
    let mut report = RentalReport {
        wanted: HashMap::new(),
        created: 0,
        cancelled: None,
        as_expected: sent.refused_code == Some(1001),
    };
    report
        .wanted
        .insert(quote[0].id, event(&quote[0], "tulip.contract.quoted"));
    report.as_expected &= quote[0].state == JobState::Succeeded;
    let mut first_cid = None;
    for record in creations {
        report
            .wanted
            .insert(record.id, event(record, "tulip.contract.created"));
        if record.state == JobState::Succeeded {
            report.created += 1;
            first_cid = first_cid.or_else(|| field(record, "cid"));
        }
    }
    report.as_expected &= report.created == creations.len();
    let Some(cid) = first_cid else {
        return Err(DemoError::Unexpected(
            "no Tulip contract was created".into(),
        ));
    };
    let path = format!("/v1/tulip/contracts/{cid}/cancellation");
    let cancel: Accepted = api
        .post(
            &path,
            &json!({ "reason": "the renter changed their mind" }),
            None,
        )
        .await?;
    say!("POST {path}  → 202, job {}", cancel.job_id);
    let cancelled = api.follow(&[cancel.job_id], "cancel").await?.remove(0);
    report
        .wanted
        .insert(cancelled.id, event(&cancelled, "tulip.contract.cancelled"));
    report.cancelled = field(&cancelled, "outcome");
    report.as_expected &= cancelled.state == JobState::Succeeded;

    say!("");
    say!("{:<36}  {:<9}  OUTCOME", "JOB", "STATE");
    let price = |r: &JobRecord| {
        r.result
            .as_ref()
            .and_then(|r| r["price"].as_f64())
            .map_or("?".to_string(), |p| format!("€{p:.2}"))
    };
    say!(
        "{:<36}  {:<9}  quote of a 1-day bike rental: {}",
        quote[0].id.to_string(),
        quote[0].state.as_str(),
        price(&quote[0])
    );
    for ((what, _), record) in sent.creations.iter().zip(creations) {
        say!(
            "{:<36}  {:<9}  {what}: contract {} at {}",
            record.id.to_string(),
            record.state.as_str(),
            field(record, "cid").unwrap_or_else(|| "?".into()),
            price(record)
        );
    }
    say!(
        "{:<36}  {:<9}  contract {cid}: {}",
        cancelled.id.to_string(),
        cancelled.state.as_str(),
        report.cancelled.as_deref().unwrap_or("?")
    );
    Ok(report)
}

/// A string field of a job's result.
fn field(record: &JobRecord, name: &str) -> Option<String> {
    record
        .result
        .as_ref()?
        .get(name)?
        .as_str()
        .map(String::from)
}

/// The event a finished Tulip job raises: `success` when it succeeded
/// (`vendors/tulip/events.rs`).
fn event(record: &JobRecord, success: &'static str) -> &'static str {
    if record.state == JobState::Succeeded {
        success
    } else {
        "tulip.contract.failed"
    }
}
