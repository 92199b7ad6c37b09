//! The webhooks the demo expects, and the check that every one arrived verified.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Instant;

use super::WEBHOOK_PATIENCE;
use crate::queue::{JobId, JobState};
use crate::webhooks::sink::Sink;

/// The event a finished contract job raises (`vendors/proteger/events.rs`).
pub(super) fn contract_event(state: JobState) -> &'static str {
    match state {
        JobState::Succeeded => "proteger.contract.created",
        _ => "proteger.contract.failed",
    }
}

/// The event a finished cancellation job raises.
pub(super) fn cancellation_event(state: JobState, preview: bool) -> &'static str {
    match (state, preview) {
        (JobState::Succeeded, true) => "proteger.contract.refund_quoted",
        (JobState::Succeeded, false) => "proteger.contract.cancelled",
        _ => "proteger.contract.cancellation_failed",
    }
}

/// What the sink got, against what the demo expected.
pub(super) struct WebhookReport {
    pub(super) expected: usize,
    /// Distinct events (`webhook-id`s) that arrived verified for a job the demo sent.
    pub(super) delivered: usize,
    /// Requests that did not verify.
    pub(super) rejected: usize,
    pub(super) problems: Vec<String>,
}

/// Waits (at most [`WEBHOOK_PATIENCE`]) until the sink has verified one event per job of
/// `wanted`, then prints them by type and checks each job got the event it should.
pub(super) async fn check_webhooks(
    sink: &Sink,
    wanted: &HashMap<JobId, &'static str>,
) -> WebhookReport {
    let expected = wanted.len();
    let waited = Instant::now();
    let complete = sink
        .wait_until(WEBHOOK_PATIENCE, |counts| counts.distinct_ids >= expected)
        .await;
    let received = sink.received();

    // Per event type: distinct events, attempts that verified, attempts refused.
    let mut by_type: BTreeMap<String, (HashSet<String>, usize, usize)> = BTreeMap::new();
    // Per job: the distinct events about it.
    let mut by_job: HashMap<JobId, HashMap<String, String>> = HashMap::new();
    let mut rejected = Vec::new();
    for delivery in &received {
        let event_type = delivery.event_type.clone().unwrap_or_else(|| "?".into());
        let row = by_type.entry(event_type.clone()).or_default();
        if !delivery.verified {
            row.2 += 1;
            rejected.push(format!(
                "{} {}: {}",
                if delivery.id.is_empty() {
                    "-"
                } else {
                    &delivery.id
                },
                event_type,
                delivery.error.as_deref().unwrap_or("not verified")
            ));
            continue;
        }
        row.0.insert(delivery.id.clone());
        row.1 += 1;
        let job = delivery.body["data"]["job_id"]
            .as_str()
            .and_then(|id| id.parse::<JobId>().ok());
        if let Some(job) = job {
            by_job
                .entry(job)
                .or_default()
                .insert(delivery.id.clone(), event_type);
        }
    }

    say!("webhooks → {}", sink.url());
    say!(
        "{:<40}  {:>6}  {:>8}  {:>8}",
        "EVENT",
        "EVENTS",
        "VERIFIED",
        "REJECTED"
    );
    for (event_type, (ids, verified, refused)) in &by_type {
        say!(
            "{event_type:<40}  {:>6}  {verified:>8}  {refused:>8}",
            ids.len()
        );
    }

    let mut problems = Vec::new();
    if !rejected.is_empty() {
        problems.push(format!(
            "{} deliveries did not verify ({})",
            rejected.len(),
            rejected[..rejected.len().min(3)].join(", ")
        ));
    }
    let mut delivered = 0;
    let mut missing = 0;
    for (job, want) in wanted {
        match by_job
            .get(job)
            .map(|events| events.values().collect::<Vec<_>>())
        {
            None => missing += 1,
            Some(events) if events.len() == 1 && events[0] == want => delivered += 1,
            Some(events) => problems.push(format!("job {job} raised {events:?}, not one {want}")),
        }
    }
    if missing > 0 {
        problems.push(format!(
            "{missing} of {expected} events missing after {:.1} s",
            waited.elapsed().as_secs_f64()
        ));
    }
    let strangers = by_job
        .keys()
        .filter(|job| !wanted.contains_key(job))
        .count();
    if strangers > 0 {
        problems.push(format!(
            "{strangers} events about jobs the demo did not send"
        ));
    }
    let verdict = if problems.is_empty() {
        "all verified"
    } else if complete {
        "NOT AS EXPECTED"
    } else {
        "INCOMPLETE"
    };
    say!(
        "{delivered} of {expected} events delivered (one per finished job), {verdict}; {} requests, {} repeated",
        received.len(),
        received
            .len()
            .saturating_sub(by_type.values().map(|r| r.0.len()).sum::<usize>() + rejected.len()),
    );
    WebhookReport {
        expected,
        delivered,
        rejected: rejected.len(),
        problems,
    }
}
