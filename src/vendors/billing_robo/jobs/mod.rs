//! Billing-Robo's job kinds and their handlers: where Billing-Robo is called from the queue.
//!
//! - `billing_robo.credit.apply`: one credit application a producer asked for (its payload
//!   is the validated [`CreditApplication`]). Never run alone: the batcher gathers waiting
//!   ones, no billing code twice, into a `billing_robo.credit.batch` of up to `batch_size`.
//! - `billing_robo.credit.batch`: one `request_marunage_credit/bulk_register` call for its
//!   members, each settled with its own item's outcome (`batch.rs`); after a failure whose
//!   outcome is unknown, it first adopts what the vendor registered (`adopt.rs`).
//! - `billing_robo.credit.decision`: started by an application's job when it succeeds (a
//!   chain), it waits, snoozed, for the vendor's decision (`decision.rs`).
//! - `billing_robo.credit.poll`: the periodic poll of the credits that changed, which
//!   finds the decisions and wakes the jobs waiting for them (`poll.rs`), through the watch
//!   list in Redis (`watchlist.rs`).
//!
//! Every call first takes one request from the shared budget ([`RateLimiter`]):
//! applications at high priority, searches at low, so polls never starve applications. A
//! spent budget defers the job without using an attempt, and a 429 pauses every process
//! for `pause_on_429_secs` ([`BillingRoboDeps::metered`]).

mod adopt;
mod batch;
mod decision;
mod poll;
pub mod watchlist;

use std::sync::Arc;
use std::time::Duration;

use apalis::layers::WorkerBuilderExt;
use apalis::prelude::{Monitor, WorkerBuilder};
use serde::{Deserialize, Serialize};

pub use self::batch::send_batch;
pub use self::decision::{AwaitDecision, DECISION_STEP, await_decision};
pub use self::poll::{PollCredits, PollReport, SCHEDULE, poll_credits};
pub use self::watchlist::{Decided, Watchlist};
use super::classify::{BillingRoboError, classify};
use super::client::{BillingRoboClient, Credentials};
use super::settings::{BillingRoboSettings, NAME};
use super::types::CreditApplication;
use crate::queue::rate_limit::{Budget, Priority, RateLimiter};
use crate::queue::schedule::ScheduleError;
use crate::queue::{
    ErrorDetail, Finished, JobError, JobId, JobKind, JobState, NewJob, QueueError, Schedule, Store,
};
use crate::worker_deps::WorkerDeps;

/// One credit application to register.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ApplyCredit(pub CreditApplication);

impl JobKind for ApplyCredit {
    const KIND: &'static str = "billing_robo.credit.apply";
}

/// Member jobs sent in one `bulk_register` call.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CreditBatch(pub Vec<JobId>);

impl JobKind for CreditBatch {
    const KIND: &'static str = "billing_robo.credit.batch";
}

/// What the handlers need.
#[derive(Debug, Clone)]
pub struct BillingRoboDeps {
    pub client: Arc<BillingRoboClient>,
    pub store: Store,
    pub settings: Arc<BillingRoboSettings>,
    /// The vendor's request budget, shared by every process.
    pub limiter: RateLimiter,
    /// The applications waiting for a decision.
    pub watchlist: Watchlist,
}

impl BillingRoboDeps {
    /// One vendor call under the shared budget: takes a request at `priority` first (a
    /// spent budget defers the job, no attempt used), and after a 429 pauses every
    /// process's calls for `pause_on_429_secs`. A failure becomes the queue's verdict
    /// (`classify.rs`).
    pub async fn metered<T>(
        &self,
        priority: Priority,
        call: impl Future<Output = Result<T, BillingRoboError>>,
    ) -> Result<T, JobError> {
        self.limiter.acquire(priority).await?;
        let error = match call.await {
            Ok(answer) => return Ok(answer),
            Err(error) => error,
        };
        let pause = self.settings.pause_on_429();
        // Paused before the job is settled: no other process calls meanwhile.
        if error.status() == Some(429) {
            self.limiter.pause_or_log(pause).await;
        }
        Err(classify(error, pause))
    }
}

/// A queue failure inside a handler: retried (Redis comes back).
fn queue_error(error: QueueError) -> JobError {
    JobError::retryable(ErrorDetail::message(format!("queue: {error}")))
}

/// The kinds that have a worker (and so a retry promoter) in this process.
pub const WORKER_KINDS: [&str; 3] = [CreditBatch::KIND, AwaitDecision::KIND, PollCredits::KIND];

/// The kinds that travel in batches: a credit application.
pub const MEMBER_KINDS: [&str; 1] = [ApplyCredit::KIND];

/// Adds Billing-Robo's workers to the monitor.
pub fn register(monitor: Monitor, deps: &WorkerDeps) -> Result<Monitor, BillingRoboError> {
    let settings = BillingRoboSettings::from_settings(&deps.settings)
        .map_err(|e| BillingRoboError::Config(e.to_string()))?;
    let client = Arc::new(BillingRoboClient::new(
        &settings,
        Credentials::from_settings(&deps.settings),
    )?);
    let budget = Budget::new(settings.rate_limit, settings.rate_limit_window())
        .and_then(|budget| budget.reserving_for_high(settings.high_priority_reserve()))
        .map_err(|e| BillingRoboError::Config(format!("{e:?}")))?;
    let data = BillingRoboDeps {
        client,
        store: deps.store.clone(),
        limiter: RateLimiter::new(deps.store.clone(), NAME, budget),
        watchlist: Watchlist::new(deps.store.clone()),
        settings: Arc::new(settings),
    };
    let concurrency = deps.settings.worker.concurrency;
    // The decision's deadline is the vendor's `expiry_days`, whatever `[retry]` says.
    let mut decision_deps = deps.clone();
    let mut policy = deps.settings.retry_policy(AwaitDecision::KIND);
    policy.snooze_deadline_secs = Some(data.settings.expiry().as_secs());
    decision_deps
        .settings
        .retry
        .insert(AwaitDecision::KIND.to_string(), policy);
    let (batch_deps, batch_data) = (deps.clone(), data.clone());
    let (poll_deps, poll_data) = (deps.clone(), data.clone());
    Ok(monitor
        .register(move |_| {
            WorkerBuilder::new(batch_deps.identity.consumer(CreditBatch::KIND))
                .backend(batch_deps.backend::<CreditBatch>())
                .catch_panic()
                .concurrency(concurrency)
                .data(batch_data.clone())
                .build(send_batch)
        })
        .register(move |_| {
            WorkerBuilder::new(decision_deps.identity.consumer(AwaitDecision::KIND))
                .backend(decision_deps.backend::<AwaitDecision>())
                .catch_panic()
                .concurrency(concurrency)
                .data(data.clone())
                .build(await_decision)
        })
        .register(move |_| {
            // One poll at a time per process is plenty (one per tick is enqueued).
            let backend = poll_deps.backend::<PollCredits>();
            crate::queue::metrics::set_concurrency(PollCredits::KIND, 1);
            WorkerBuilder::new(poll_deps.identity.consumer(PollCredits::KIND))
                .backend(backend)
                .catch_panic()
                .concurrency(1)
                .data(poll_data.clone())
                .build(poll_credits)
        }))
}

/// When an application's job succeeds, its decision job starts (`decision.rs`), named
/// after it. A failed application waits for nothing.
pub fn decision_after_apply(applied: &Finished) -> Option<NewJob> {
    if applied.state != JobState::Succeeded {
        return None;
    }
    let result = applied.result.as_ref()?;
    let payload = AwaitDecision {
        billing_code: result["billing_code"].as_str()?.to_string(),
        application_id: result["id"].as_u64(),
        requested_date: result["requested_date"].as_str().map(String::from),
        claim_type: applied.payload["claim_type"]
            .as_u64()
            .and_then(|c| u8::try_from(c).ok()),
        already_applied: result["already_applied"].as_bool().unwrap_or(false),
        applied_by: applied.id,
    };
    let mut job = NewJob::new(AwaitDecision::KIND, serde_json::to_value(payload).ok()?)
        .with_reference(applied.reference.clone(), applied.metadata.clone());
    job.id = JobId::then(&applied.id, DECISION_STEP);
    Some(job)
}

/// The periodic poll, every `poll_interval_secs` with up to a tenth of it (at most 30 s)
/// of jitter.
pub fn poll_schedule(settings: &BillingRoboSettings) -> Result<Schedule, ScheduleError> {
    let every = settings.poll_interval();
    Schedule::new(SCHEDULE, every, &PollCredits::default())?
        .with_jitter((every / 10).min(Duration::from_secs(30)))
}

/// The batcher that turns waiting applications into batches.
pub fn batcher(
    deps: &WorkerDeps,
) -> Result<crate::queue::batcher::Batcher, crate::config::ConfigError> {
    let settings = BillingRoboSettings::from_settings(&deps.settings)?;
    Ok(crate::queue::batcher::Batcher {
        store: deps.store.clone(),
        redis: deps.redis.clone(),
        member_kind: ApplyCredit::KIND,
        batch_kind: CreditBatch::KIND,
        consumer: deps.identity.consumer(ApplyCredit::KIND),
        lease: deps.settings.lease(),
        max: settings.batch_size,
        linger: settings.linger(),
        distinct_by: Some(billing_code),
    })
}

/// An application's billing code, read from a waiting application's payload: the vendor
/// refuses both applications of a billing code sent twice in one call, and answers are
/// matched to members by it.
fn billing_code(payload: &serde_json::Value) -> Option<String> {
    payload["billing_code"].as_str().map(String::from)
}
