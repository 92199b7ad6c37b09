//! Delivering one event to one endpoint: a job of kind `webhook.delivery`.
//!
//! A delivery is an ordinary job, so it has the queue's durability: leases, re-delivery
//! after a crash, persisted retries, the dead set. Its handler:
//!
//! 1. reads the endpoint (deleted or disabled → the delivery fails for good);
//! 2. waits its turn: for an `ordered` endpoint, only the oldest undelivered event of a
//!    subject goes out; and at most `endpoint_concurrency` deliveries per endpoint run at
//!    once in a process. Waiting is a *deferral*: the job comes back later without using
//!    up an attempt, and without holding a worker slot meanwhile;
//! 3. signs the body (exactly as stored) with every current secret of the endpoint and
//!    POSTs it through the SSRF-guarded client (`http.rs`);
//! 4. records the attempt (time, status, duration, response excerpt) and decides: 2xx
//!    delivered; 410 disables the endpoint; 429/503 wait for `Retry-After`; anything else
//!    waits for the next step of the schedule (at once, 5 s, 5 min, 30 min, 2 h, 5 h,
//!    10 h, 10 h by default, ±20 %). An endpoint failing with no success for
//!    `disable_after` is disabled.
//!
//! Every attempt of a delivery carries the same `webhook-id` (the event id), so a receiver
//! that sees a delivery twice (we may deliver and crash before recording it) can tell.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use apalis::prelude::Data;
use bytes::Bytes;
use chrono::Utc;
use rand::RngExt;
use redis::AsyncCommands;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::endpoints::{Endpoint, EndpointStore};
use super::event::Event;
use super::http::{AttemptOutcome, Verdict, WebhookHttp};
use super::signing::signature_header;
use crate::config::WebhookSettings;
use crate::metrics::webhooks as webhook_metrics;
use crate::queue::{
    ErrorDetail, JobContext, JobError, JobId, JobKind, JobOutput, JobState, Keys, RetryPolicy,
};

/// The payload of a delivery job.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Delivery {
    pub event: Event,
    pub endpoint_id: String,
    pub ordered: bool,
}

impl JobKind for Delivery {
    const KIND: &'static str = "webhook.delivery";
}

/// The sorted set that orders an `ordered` endpoint's deliveries for one subject.
pub fn order_key(keys: &Keys, endpoint: &str, subject: &str) -> String {
    keys.webhook_order(endpoint, subject)
}

/// The attempt log of a delivery (newest last, at most [`ATTEMPTS_KEPT`]).
pub fn attempts_key(keys: &Keys, delivery: &str) -> String {
    keys.webhook_attempts(delivery)
}

pub const ATTEMPTS_KEPT: isize = 50;

/// One attempt, as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct AttemptRecord {
    pub at: chrono::DateTime<Utc>,
    pub status: Option<u16>,
    pub duration_ms: u64,
    pub outcome: String,
    pub response_excerpt: String,
}

/// The delivery schedule as a retry policy: the handler picks each wait itself (it hands
/// the next step as `retry_after`), so the policy only bounds the number of attempts.
pub fn retry_policy(settings: &WebhookSettings) -> RetryPolicy {
    RetryPolicy {
        max_attempts: settings.schedule_secs.len().max(1) as u32,
        base_ms: 0,
        cap_ms: 0,
        snooze_deadline_secs: None,
    }
}

/// What the delivery handler needs.
#[derive(Debug, Clone)]
pub struct Deliverer {
    pub endpoints: EndpointStore,
    pub http: Arc<WebhookHttp>,
    pub settings: WebhookSettings,
    limits: Arc<Mutex<HashMap<String, Arc<Semaphore>>>>,
}

impl Deliverer {
    pub fn new(endpoints: EndpointStore, http: WebhookHttp, settings: WebhookSettings) -> Self {
        Self {
            endpoints,
            http: Arc::new(http),
            settings,
            limits: Arc::default(),
        }
    }

    /// A slot of the endpoint's concurrency limit, if one is free.
    fn permit(&self, endpoint: &str) -> Option<OwnedSemaphorePermit> {
        let semaphore = {
            let mut limits = self.limits.lock().unwrap_or_else(|p| p.into_inner());
            limits
                .entry(endpoint.to_string())
                .or_insert_with(|| {
                    Arc::new(Semaphore::new(self.settings.endpoint_concurrency.max(1)))
                })
                .clone()
        };
        semaphore.try_acquire_owned().ok()
    }

    /// The wait before attempt `next` (1-based), ±jitter.
    fn schedule(&self, next: u32) -> Duration {
        let secs = self
            .settings
            .schedule_secs
            .get(next.saturating_sub(1) as usize)
            .or(self.settings.schedule_secs.last())
            .copied()
            .unwrap_or(60);
        let jitter = self.settings.jitter.clamp(0.0, 1.0);
        let factor = 1.0 + jitter * (rand::rng().random::<f64>() * 2.0 - 1.0);
        Duration::from_secs_f64(secs as f64 * factor)
    }
}

fn defer(after: Duration, reason: &str) -> JobError {
    JobError::Deferred {
        after,
        reason: reason.into(),
    }
}

fn store_error(e: impl std::fmt::Display) -> JobError {
    JobError::retryable(ErrorDetail::message(format!("webhook store: {e}")))
}

/// The handler of `webhook.delivery`.
pub async fn deliver(
    delivery: Delivery,
    ctx: JobContext,
    deliverer: Data<Deliverer>,
) -> Result<JobOutput, JobError> {
    let endpoints = &deliverer.endpoints;
    let keys = endpoints.keys().clone();
    let Some(endpoint) = endpoints
        .get(&delivery.endpoint_id)
        .await
        .map_err(store_error)?
    else {
        return Err(JobError::permanent(ErrorDetail::message(
            "the endpoint was deleted",
        )));
    };
    // Only deliveries to an ordered endpoint hold a place in their subject's order.
    let order = delivery
        .ordered
        .then(|| order_key(&keys, &endpoint.id, &delivery.event.subject));
    if !endpoint.enabled {
        give_up("disabled");
        release_turn(endpoints, order.as_deref(), &ctx).await;
        return Err(JobError::permanent(ErrorDetail::message(format!(
            "the endpoint is disabled: {}",
            endpoint
                .disabled_reason
                .as_deref()
                .unwrap_or("by an operator")
        ))));
    }
    if let Some(order) = &order
        && !is_my_turn(endpoints, order, &ctx).await?
    {
        return Err(defer(
            Duration::from_millis(500),
            "waiting for an earlier event of the same subject",
        ));
    }
    let Some(_permit) = deliverer.permit(&endpoint.id) else {
        return Err(defer(
            Duration::from_millis(250),
            "the endpoint's concurrency limit is reached",
        ));
    };

    let now = Utc::now();
    let body = Bytes::from(delivery.event.body.clone());
    let secrets = endpoint.signing_secrets(now);
    let mut headers: Vec<(String, String)> = endpoint
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    headers.push(("content-type".into(), "application/json".into()));
    headers.push(("webhook-id".into(), delivery.event.id.clone()));
    headers.push(("webhook-timestamp".into(), now.timestamp().to_string()));
    headers.push((
        "webhook-signature".into(),
        signature_header(&secrets, &delivery.event.id, now.timestamp(), &body),
    ));
    if let Some(due) = ctx.due_at_ms {
        let lag = (now.timestamp_millis() - due).max(0) as f64 / 1_000.0;
        webhook_metrics::WEBHOOK_DELIVERY_LAG.observe(lag);
    }
    let outcome = deliverer.http.post(&endpoint.url, &headers, body).await;
    record_attempt(endpoints, &ctx, now, &outcome).await;
    webhook_metrics::record_attempt(&outcome);

    let last_attempt = ctx.attempt >= retry_policy(&deliverer.settings).max_attempts;
    let detail = |message: String| ErrorDetail {
        message,
        vendor_status: outcome.status,
        vendor_body: Some(json!(outcome.response_excerpt)),
        ambiguous: false,
    };
    match &outcome.verdict {
        Verdict::Delivered => {
            if needs_success_recorded(&endpoint, now)
                && let Err(e) = endpoints.record_success(&endpoint.id, now).await
            {
                tracing::warn!(endpoint = %endpoint.id, error = %e, "cannot record a delivery success");
            }
            release_turn(endpoints, order.as_deref(), &ctx).await;
            let since_event = (Utc::now() - delivery.event.timestamp).num_milliseconds();
            webhook_metrics::WEBHOOK_END_TO_END.observe(since_event.max(0) as f64 / 1_000.0);
            Ok(JobOutput::new(json!({
                "endpoint_id": endpoint.id,
                "event_id": delivery.event.id,
                "status": outcome.status,
                "duration_ms": outcome.duration_ms,
            })))
        }
        Verdict::Gone => {
            tracing::warn!(endpoint = %endpoint.id, "receiver answered 410 Gone: disabling the endpoint");
            if let Err(e) = endpoints
                .disable(&endpoint.id, "the receiver answered 410 Gone")
                .await
            {
                tracing::error!(endpoint = %endpoint.id, error = %e, "cannot disable the endpoint");
            }
            give_up("gone");
            release_turn(endpoints, order.as_deref(), &ctx).await;
            Err(JobError::permanent(detail(
                "410 Gone: the endpoint is disabled".into(),
            )))
        }
        Verdict::Refused(reason) => {
            release_turn(endpoints, order.as_deref(), &ctx).await;
            Err(JobError::permanent(detail(format!(
                "refused by the SSRF guard: {reason}"
            ))))
        }
        Verdict::RetryAfter(wait) => {
            if last_attempt {
                give_up("exhausted");
                release_turn(endpoints, order.as_deref(), &ctx).await;
            }
            Err(JobError::Retryable {
                detail: detail(format!(
                    "the receiver asked to retry after {}s",
                    wait.as_secs()
                )),
                retry_after: Some((*wait).max(deliverer.schedule(ctx.attempt + 1))),
            })
        }
        Verdict::Failed(reason) => {
            let disable_after = Duration::from_secs(deliverer.settings.disable_after_secs);
            match endpoints
                .record_failure(&endpoint.id, now, disable_after)
                .await
            {
                Ok(true) => {
                    tracing::warn!(endpoint = %endpoint.id, "endpoint failed without a success for too long: disabled");
                }
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(endpoint = %endpoint.id, error = %e, "cannot record a delivery failure")
                }
            }
            if last_attempt {
                give_up("exhausted");
                release_turn(endpoints, order.as_deref(), &ctx).await;
            }
            Err(JobError::Retryable {
                detail: detail(reason.clone()),
                retry_after: Some(deliverer.schedule(ctx.attempt + 1)),
            })
        }
    }
}

/// Whether a success must be written to the endpoint's health. Always while it is failing
/// (the success ends the streak that would disable it); for a healthy endpoint, at most once
/// per [`SUCCESS_REFRESH`], so that a busy receiver does not cost one more script call per
/// delivery. `last_success_at` is then up to that much behind, which only moves the start of
/// a later failing streak (measured in days) by as much.
fn needs_success_recorded(endpoint: &Endpoint, now: chrono::DateTime<Utc>) -> bool {
    endpoint.failing_since.is_some()
        || endpoint
            .last_success_at
            .is_none_or(|last| (now - last).to_std().unwrap_or(Duration::ZERO) >= SUCCESS_REFRESH)
}

const SUCCESS_REFRESH: Duration = Duration::from_secs(1);

/// Whether this delivery is the oldest undelivered one of its subject.
///
/// A head that will never release its turn is stale and removed: a delivery job buried
/// without running (poison, a corrupt record) or purged by an operator has no handler run
/// left to do it, and would otherwise block its subject's later events forever.
async fn is_my_turn(
    endpoints: &EndpointStore,
    order: &str,
    ctx: &JobContext,
) -> Result<bool, JobError> {
    let mut conn = endpoints.connection();
    let me = ctx.id.to_string();
    for _ in 0..STALE_HEADS_PER_LOOK {
        let head: Vec<String> = conn.zrange(order, 0, 0).await.map_err(store_error)?;
        let Some(first) = head.into_iter().next() else {
            return Ok(true);
        };
        if first == me {
            return Ok(true);
        }
        let state: Option<String> = match first.parse::<JobId>() {
            Ok(id) => conn
                .hget(endpoints.keys().job(&id), "state")
                .await
                .map_err(store_error)?,
            Err(_) => None,
        };
        let waiting = state
            .and_then(|s| s.parse::<JobState>().ok())
            .is_some_and(|s| !s.is_final());
        if waiting {
            return Ok(false);
        }
        tracing::warn!(delivery = %first, "an ordered subject's head delivery is gone or finished; removing it");
        let _: i64 = conn.zrem(order, &first).await.map_err(store_error)?;
    }
    Ok(false)
}

/// Stale heads removed per look; more wait for the next one.
const STALE_HEADS_PER_LOOK: usize = 8;

/// Lets the next event of the subject go (a no-op for unordered endpoints).
async fn release_turn(endpoints: &EndpointStore, order: Option<&str>, ctx: &JobContext) {
    let Some(order) = order else {
        return;
    };
    let mut conn = endpoints.connection();
    let removed: Result<i64, _> = conn.zrem(order, ctx.id.to_string()).await;
    if let Err(e) = removed {
        tracing::warn!(delivery = %ctx.id, error = %e, "cannot release the delivery's turn");
    }
}

async fn record_attempt(
    endpoints: &EndpointStore,
    ctx: &JobContext,
    at: chrono::DateTime<Utc>,
    outcome: &AttemptOutcome,
) {
    let record = AttemptRecord {
        at,
        status: outcome.status,
        duration_ms: outcome.duration_ms,
        outcome: verdict_label(&outcome.verdict).into(),
        response_excerpt: outcome.response_excerpt.clone(),
    };
    let Ok(json) = serde_json::to_string(&record) else {
        return;
    };
    let key = attempts_key(endpoints.keys(), &ctx.id.to_string());
    let mut pipe = redis::pipe();
    pipe.rpush(&key, json)
        .ltrim(&key, -ATTEMPTS_KEPT, -1)
        .expire(&key, 30 * 24 * 3600);
    let mut conn = endpoints.connection();
    let written: Result<(), _> = pipe.query_async(&mut conn).await;
    if let Err(e) = written {
        tracing::warn!(delivery = %ctx.id, error = %e, "cannot record the attempt");
    }
}

fn give_up(reason: &str) {
    webhook_metrics::WEBHOOK_GIVEN_UP
        .with_label_values(&[reason])
        .inc();
}

/// The verdict's word in a delivery's attempt log.
fn verdict_label(verdict: &Verdict) -> &'static str {
    match verdict {
        Verdict::Delivered => "delivered",
        Verdict::Gone => "gone",
        Verdict::RetryAfter(_) => "retry_after",
        Verdict::Failed(_) => "failed",
        Verdict::Refused(_) => "refused",
    }
}
