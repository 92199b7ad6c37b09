//! `bench credit-poll`: what a poll cycle of Billing-Robo decisions costs in vendor calls,
//! with 100, 1,000 and 10,000 applications pending.
//!
//! For each size and each of the two API versions (the seed's filters by date, the
//! current pages' by second), on a queue of its own, in-process: the Billing-Robo sandbox (it never
//! decides on its own here; its rate limit is lifted so that only our budget counts), and
//! the real workers (`startup::start_with`, worker role) polling every second.
//!
//! 1. `n` applications are submitted and registered (bulk calls of up to 3,000), and each
//!    one's decision job starts waiting.
//! 2. The benchmark waits until the registrations are older than the poll's margin (set
//!    to 2 s here: the sandbox shares our clock), and one more poll has run: the changes
//!    of the registrations themselves are behind the cursor.
//! 3. It decides [`DECIDED_PERCENT`] % of the applications at the sandbox (half approved,
//!    half rejected), and waits until every one of their jobs has its decision.
//! 4. It reads the poll jobs that ran meanwhile: vendor calls, records read, decisions.
//!
//! The goal (issue 10): at most `⌈n / 200⌉ + 1` calls per cycle. A poll reads only what
//! changed, so a cycle costs `⌈changes / 200⌉` calls, whatever `n` is.
//!
//! What the figures leave out: with the shipped `poll_margin_secs` (600), each poll also
//! reads again the changes of the last ten minutes, so a burst of `k` registrations costs
//! `⌈k / 200⌉` more calls per poll for ten minutes.

use std::time::{Duration, Instant};

use chrono::Days;
use serde_json::json;

use super::{BenchError, BenchOptions, Report, bench_store, drop_queue};
use crate::config::Settings;
use crate::producer::{Producer, Submission};
use crate::queue::{JobKind, JobState, ListFilter, Store};
use crate::startup::{self, Roles};
use crate::vendors::billing_robo::jobs::{ApplyCredit, PollCredits, PollReport, Watchlist};
use crate::vendors::billing_robo::sandbox::{
    self as sandbox, BillingRoboSandboxConfig, Customer, RateLimit, ServedBillingRobo,
};
use crate::vendors::billing_robo::settings::{ACCESS_KEY_SECRET, NAME, USER_ID_SECRET};
use crate::vendors::billing_robo::types::{ApiVersion, CreditApplication, format_date, today_jst};
use crate::vendors::{self, billing_robo::types::MAX_LIMIT_COUNT};

/// Pending applications of each run.
pub const SIZES: [usize; 3] = [100, 1_000, 10_000];
/// Share of them decided between two polls.
pub const DECIDED_PERCENT: usize = 3;
const USER: &str = "bench@example.co.jp";
const KEY: &str = "benchAccessKey";
const MARGIN_SECS: i64 = 2;
const PATIENCE: Duration = Duration::from_secs(300);

/// What one size measured.
struct Cycle {
    version: ApiVersion,
    pending: usize,
    decided: usize,
    /// The polls that ran between the decisions and the last job hearing its decision.
    polls: Vec<PollReport>,
    /// From the decisions at the sandbox to every job knowing its decision.
    took: Duration,
}

pub async fn credit_poll(options: &BenchOptions) -> Result<Report, BenchError> {
    let mut cycles = Vec::new();
    for version in [ApiVersion::Seed, ApiVersion::Current] {
        for n in SIZES
            .into_iter()
            .filter(|n| *n <= options.jobs.max(SIZES[0]))
        {
            let (store, _, queue) = bench_store(options)?;
            let result = once(options, &store, &queue, version, n).await;
            drop_queue(&store).await;
            cycles.push(result?);
        }
    }
    Ok(report(&cycles))
}

async fn once(
    options: &BenchOptions,
    store: &Store,
    queue: &str,
    version: ApiVersion,
    n: usize,
) -> Result<Cycle, BenchError> {
    let served = sandbox::serve(
        ([127, 0, 0, 1], 0).into(),
        BillingRoboSandboxConfig {
            user_id: Some(USER.into()),
            access_key: Some(KEY.into()),
            customers: vec![Customer::new("bench-*")],
            version,
            rate_limit: RateLimit {
                limit: u32::MAX,
                ..RateLimit::default()
            },
            ..BillingRoboSandboxConfig::default()
        },
    )
    .await
    .map_err(|e| BenchError::Setup(format!("sandbox: {e}")))?;
    let result = measure(options, store, queue, &served, version, n).await;
    served.shutdown().await;
    result
}

async fn measure(
    options: &BenchOptions,
    store: &Store,
    queue: &str,
    served: &ServedBillingRobo,
    version: ApiVersion,
    n: usize,
) -> Result<Cycle, BenchError> {
    let settings = settings(options, queue, served, version)?;
    let app = startup::start_with(
        settings,
        Roles {
            api: false,
            worker: true,
        },
        vendors::all(),
    )
    .await
    .map_err(|e| BenchError::Setup(format!("workers: {e}")))?;
    let watchlist = Watchlist::new(store.clone());
    submit(store, version, n).await?;
    until("every application registered and waiting", || async {
        Ok(watchlist.pending().await? == n as u64)
    })
    .await?;
    // The registrations' own changes fall behind the cursor.
    tokio::time::sleep(Duration::from_secs(MARGIN_SECS as u64 + 2)).await;
    let before = latest_poll(store).await?;
    until("a poll after the margin", || async {
        Ok(latest_poll(store).await? > before)
    })
    .await?;
    let since = latest_poll(store).await?;

    let decided = n * DECIDED_PERCENT / 100;
    let started = Instant::now();
    for (i, application) in served
        .billing_robo
        .applications()
        .into_iter()
        .take(decided)
        .enumerate()
    {
        served
            .billing_robo
            .decide(application.id, i % 2 == 0)
            .map_err(|e| BenchError::Setup(format!("deciding: {e:?}")))?;
    }
    until("every decision heard", || async {
        Ok(watchlist.pending().await? == (n - decided) as u64)
    })
    .await?;
    let took = started.elapsed();
    let polls = polls_after(store, since).await?;
    app.stop()
        .await
        .map_err(|e| BenchError::Setup(format!("stopping: {e}")))?;
    Ok(Cycle {
        version,
        pending: n,
        decided,
        polls,
        took,
    })
}

fn settings(
    options: &BenchOptions,
    queue: &str,
    served: &ServedBillingRobo,
    version: ApiVersion,
) -> Result<Settings, BenchError> {
    let mut settings = Settings::load_from(None, Vec::new())
        .map_err(|e| BenchError::Setup(format!("the shipped settings: {e}")))?;
    settings.redis.url = options.redis_url.clone();
    settings.redis.queue = queue.to_string();
    settings.redis.key_prefix = "uw".into();
    settings.secrets.set_vendor(NAME, USER_ID_SECRET, USER);
    settings.secrets.set_vendor(NAME, ACCESS_KEY_SECRET, KEY);
    settings.set_vendor(NAME, "base_url", served.url());
    settings.set_vendor(NAME, "api_version", version.to_string().as_str());
    settings.set_vendor(NAME, "batch_size", 3_000);
    settings.set_vendor(NAME, "linger_ms", 200);
    settings.set_vendor(NAME, "poll_interval_secs", 1);
    settings.set_vendor(NAME, "poll_margin_secs", MARGIN_SECS);
    Ok(settings)
}

/// `n` applications of distinct billing customers, in requests of 100.
async fn submit(store: &Store, version: ApiVersion, n: usize) -> Result<(), BenchError> {
    let producer = Producer::new(store.clone(), Duration::from_secs(3600));
    let contract_date = format_date(today_jst() - Days::new(30));
    let ids: Vec<usize> = (0..n).collect();
    for chunk in ids.chunks(100) {
        let mut submissions = Vec::with_capacity(chunk.len());
        for i in chunk {
            let mut item = json!({
                "billing_code": format!("bench-{i}"),
                "representative_name": "代表者名",
                "contract_date": contract_date,
                "transaction_count": 1,
                "company_url": "https://www.example.co.jp",
            });
            if version == ApiVersion::Current {
                item["business_type"] = json!(1);
                item["corporate_number"] = json!(1_234_567_891_234u64);
                item["claim_type"] = json!(1);
                item["estimated_billing_amount"] = json!(10_000);
            }
            let application = CreditApplication::parse(&item, version, today_jst())
                .map_err(|e| BenchError::Setup(format!("application: {e:?}")))?;
            submissions.push(Submission::new(ApplyCredit(application)));
        }
        producer
            .submit(&crate::queue::AppName::default_app(), submissions, None)
            .await
            .map_err(|e| BenchError::Setup(format!("submit: {e}")))?;
    }
    Ok(())
}

/// The newest finished poll's enqueue time (unix ms), or 0.
async fn latest_poll(store: &Store) -> Result<i64, BenchError> {
    Ok(finished_polls(store)
        .await?
        .iter()
        .map(|(at, _)| *at)
        .max()
        .unwrap_or(0))
}

/// The polls enqueued after `since` (unix ms), oldest first.
async fn polls_after(store: &Store, since: i64) -> Result<Vec<PollReport>, BenchError> {
    let mut polls: Vec<(i64, PollReport)> = finished_polls(store)
        .await?
        .into_iter()
        .filter(|(at, _)| *at > since)
        .collect();
    polls.sort_by_key(|(at, _)| *at);
    Ok(polls.into_iter().map(|(_, report)| report).collect())
}

async fn finished_polls(store: &Store) -> Result<Vec<(i64, PollReport)>, BenchError> {
    let page = store
        .list(&ListFilter {
            state: Some(JobState::Succeeded),
            kind: Some(PollCredits::KIND.to_string()),
            limit: 1_000,
            ..ListFilter::default()
        })
        .await?;
    Ok(page
        .jobs
        .into_iter()
        .filter_map(|job| {
            let report = serde_json::from_value(job.result?).ok()?;
            Some((job.enqueued_at.timestamp_millis(), report))
        })
        .collect())
}

async fn until<F, Fut>(what: &str, mut done: F) -> Result<(), BenchError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<bool, BenchError>>,
{
    let deadline = Instant::now() + PATIENCE;
    while !done().await? {
        if Instant::now() > deadline {
            return Err(BenchError::Setup(format!("timed out waiting for {what}")));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

fn report(cycles: &[Cycle]) -> Report {
    let mut rows = Vec::new();
    let mut json_rows = Vec::new();
    for cycle in cycles {
        let goal = cycle.pending.div_ceil(MAX_LIMIT_COUNT as usize) + 1;
        // The cycle that heard the decisions: the poll with the most of them.
        let deciding = cycle.polls.iter().max_by_key(|p| p.decided);
        let calls = deciding.map_or(0, |p| p.calls);
        let records = deciding.map_or(0, |p| p.records);
        let polls = cycle.polls.len();
        let all_calls: u32 = cycle.polls.iter().map(|p| p.calls).sum();
        rows.push((
            format!(
                "{} API, {} pending, {} decided",
                cycle.version, cycle.pending, cycle.decided
            ),
            format!(
                "{calls} calls in the deciding cycle (goal ≤ {goal}), {records} records read; \
                 {polls} polls, {all_calls} calls in all, decisions heard in {:.1} s",
                cycle.took.as_secs_f64()
            ),
        ));
        json_rows.push(json!({
            "api_version": cycle.version.to_string(),
            "pending": cycle.pending,
            "decided": cycle.decided,
            "calls_in_deciding_cycle": calls,
            "goal": goal,
            "records_read": records,
            "polls": polls,
            "calls_in_all_polls": all_calls,
            "heard_within_s": cycle.took.as_secs_f64(),
        }));
    }
    Report {
        name: "credit-poll",
        rows,
        json: json!({ "bench": "credit-poll", "cycles": json_rows }),
    }
}
