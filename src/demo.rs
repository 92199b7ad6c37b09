//! `underwrite demo`: the whole service in one process, with real work sent through it.
//!
//! 1. Redis: the one at `redis.url` (`UNDERWRITE_REDIS_URL`) when it answers `PING`, on a
//!    queue of the demo's own whose keys are deleted at the end; otherwise a private
//!    `redis-server` on a free port in a temporary directory, stopped at the end (also on
//!    Ctrl-C).
//! 2. The Proteger sandbox, the producer API and a worker, in-process, on free ports; the
//!    worker's Proteger client points at the sandbox.
//! 3. Over HTTP, like any producer: a bulk of 20 contracts (one of them names a product the
//!    vendor does not know), then 5 single contracts, one of them sent twice with the same
//!    `Idempotency-Key` (the second answer names the first job). A progress bar follows the
//!    jobs to their end.
//! 4. A refund quote (`preview: true`) and a real cancellation of one created contract,
//!    whose id is read from its job's result.
//! 5. Every outcome.
//! 6. Webhooks: a webhook sink (`webhooks/sink.rs`) listens on loopback with a fresh
//!    secret, and an endpoint pointing at it (`proteger.*`) is created through the API
//!    before any work is sent. Every finished contract and cancellation job raises one
//!    event; the demo waits until the sink has verified one delivery per job, shows them
//!    by type, and fails when one did not verify or is missing. Then a one-line summary.
//!
//! The contract with the unknown product shows the batch rule of `vendors/proteger/jobs.rs`:
//! Proteger refuses its whole bulk call, the batch is split, its nine good contracts go
//! through one by one, and only the bad one ends `failed`, with the vendor's answer.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::config::Settings;
use crate::local_redis::LocalRedis;
use crate::queue::{JobId, JobRecord, JobState};
use crate::startup::{self, Roles, RunningApp, StartupError};
use crate::vendors::proteger::sandbox::{self as proteger_sandbox, ProtegerSandboxConfig};
use crate::vendors::proteger::sandbox::{
    SANDBOX_PHONE_PLAN_ID, SANDBOX_PHONE_PRODUCT_ID, SANDBOX_PLAN_3Y_ID, sample_contract,
};
use crate::vendors::proteger::settings::{NAME as PROTEGER, ProtegerSettings, TOKEN_SECRET};
use crate::webhooks::signing::Secret;
use crate::webhooks::sink::{self, Sink, SinkConfig};

/// The bearer token the demo's producer uses (the in-process API accepts only it).
const DEMO_API_TOKEN: &str = "demo-api-token";
/// The Proteger key the worker sends and the in-process sandbox demands.
const DEMO_PROTEGER_TOKEN: &str = "demo-proteger-token";
/// Contracts in the bulk request, and sent one by one.
const BULK: usize = 20;
const SINGLES: usize = 5;
/// Where in the bulk the contract with the unknown product sits.
const BAD_INDEX: usize = 7;
const UNKNOWN_PRODUCT: &str = "demo-unknown-toaster";
/// How long the demo waits for its jobs before giving up.
const PATIENCE: Duration = Duration::from_secs(120);
const POLL_EVERY: Duration = Duration::from_millis(150);
/// How long the demo waits, after the last job, for the sink to have every webhook.
const WEBHOOK_PATIENCE: Duration = Duration::from_secs(15);

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("{0}")]
    Redis(String),
    #[error("cannot start the sandbox: {0}")]
    Sandbox(std::io::Error),
    #[error("cannot start the webhook sink: {0}")]
    Sink(std::io::Error),
    #[error(transparent)]
    Startup(#[from] StartupError),
    #[error("{0}")]
    Http(String),
    #[error("{0}")]
    Unexpected(String),
    #[error("interrupted")]
    Interrupted,
}

impl From<reqwest::Error> for DemoError {
    fn from(error: reqwest::Error) -> Self {
        Self::Http(format!("HTTP call to the demo's API failed: {error}"))
    }
}

/// Runs the demo; `Ok` when every step went as the demo expects (the one failure included).
/// Options of a demo run.
#[derive(Debug, Clone, Default)]
pub struct DemoOptions {
    /// A second webhook receiver `(url, whsec_ secret)` to send every event to as well, for
    /// checking a demo run from outside (the tests verify its deliveries independently).
    pub extra_webhook: Option<(String, String)>,
}

pub async fn run(mut settings: Settings, options: DemoOptions) -> Result<(), DemoError> {
    let started = Instant::now();
    let redis = LocalRedis::find_or_start(&settings.redis.url)
        .await
        .map_err(DemoError::Redis)?;
    settings.redis.url = redis.url();
    settings.redis.queue = format!("demo-{}", uuid::Uuid::now_v7().simple());

    let result = tokio::select! {
        result = demo(settings.clone(), &redis, started, &options) => result,
        _ = tokio::signal::ctrl_c() => Err(DemoError::Interrupted),
    };
    // Everything the demo started in-process was dropped (hence stopped) with `demo`.
    if redis.is_external() {
        drop_queue(&settings).await;
    }
    redis.stop().await;
    result
}

async fn demo(
    mut settings: Settings,
    redis: &LocalRedis,
    started: Instant,
    options: &DemoOptions,
) -> Result<(), DemoError> {
    settings.secrets.api_tokens = vec![DEMO_API_TOKEN.to_string()];
    settings
        .secrets
        .set_vendor(PROTEGER, TOKEN_SECRET, DEMO_PROTEGER_TOKEN);
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    let proteger = ProtegerSettings::from_settings(&settings)
        .map_err(|e| DemoError::Unexpected(e.to_string()))?;
    let sandbox = proteger_sandbox::serve(
        loopback,
        ProtegerSandboxConfig {
            token: Some(DEMO_PROTEGER_TOKEN.to_string()),
            persist_delay: proteger.persist_delay(),
            ..ProtegerSandboxConfig::default()
        },
    )
    .await
    .map_err(DemoError::Sandbox)?;
    settings.set_vendor(PROTEGER, "base_url", sandbox.proteger_url());
    settings.api.listen = loopback;
    // The sink listens on loopback, which the SSRF guard refuses unless allowlisted.
    settings.webhooks.allow_cidrs = vec!["127.0.0.0/8".into()];
    let secret = Secret::generate();
    let sink = sink::spawn(loopback, SinkConfig::new(vec![secret.clone()]))
        .await
        .map_err(DemoError::Sink)?;
    let app = startup::start(settings.clone(), Roles::ALL).await?;

    println!("underwrite demo");
    println!("  redis     {}", redis.describe());
    println!("  sandbox   {}", sandbox.proteger_url());
    println!("  API       {}", app.base_url());
    println!("  queue     {}", settings.redis.queue);
    println!("  webhooks  {}", sink.url());
    println!();

    let api = Api::new(&app);
    api.wait_ready().await?;

    // --- the webhook endpoint, before any work ------------------------------------------
    let endpoint: CreatedEndpoint = api
        .send(
            "/v1/webhook-endpoints",
            &json!({
                "url": sink.url(),
                "events": ["proteger.*"],
                "secret": secret.expose(),
            }),
            None,
            reqwest::StatusCode::CREATED,
        )
        .await?;
    println!(
        "POST /v1/webhook-endpoints            {} → 201, endpoint {}",
        endpoint.events.join(","),
        endpoint.id
    );
    let mut extra_endpoint = None;
    if let Some((url, secret)) = &options.extra_webhook {
        let extra: CreatedEndpoint = api
            .send(
                "/v1/webhook-endpoints",
                &json!({ "url": url, "events": ["proteger.*"], "secret": secret }),
                None,
                reqwest::StatusCode::CREATED,
            )
            .await?;
        println!(
            "POST /v1/webhook-endpoints            (extra receiver) → 201, endpoint {}",
            extra.id
        );
        extra_endpoint = Some(extra.id);
    }

    // --- contracts ----------------------------------------------------------------------
    let queue = &settings.redis.queue;
    // The random end of the queue's UUID v7 (its start is a timestamp).
    let run_tag = &queue[queue.len() - 8..];
    let mut sent = Vec::new();
    let mut bulk = Vec::with_capacity(BULK);
    for i in 0..BULK {
        let mut contract = contract(run_tag, i);
        if i == BAD_INDEX {
            contract["product"]["referenceId"] = json!(UNKNOWN_PRODUCT);
        }
        bulk.push(contract);
    }
    let answer: BulkAccepted = api
        .post(
            "/v1/proteger/contracts/bulk",
            &json!({ "contracts": bulk }),
            None,
        )
        .await?;
    if answer.jobs.len() != BULK {
        return Err(DemoError::Unexpected(format!(
            "the bulk of {BULK} was answered with {} jobs",
            answer.jobs.len()
        )));
    }
    println!(
        "POST /v1/proteger/contracts/bulk      {BULK} contracts → 202, {} jobs",
        answer.jobs.len()
    );
    for (i, link) in answer.jobs.into_iter().enumerate() {
        let transaction = bulk[i]["transactionId"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        sent.push(Sent {
            job_id: link.job_id,
            what: transaction,
        });
    }
    for i in BULK..BULK + SINGLES {
        let body = contract(run_tag, i);
        let key = format!("demo-{run_tag}-{i}");
        let link: Accepted = api
            .post("/v1/proteger/contracts", &body, Some(&key))
            .await?;
        println!(
            "POST /v1/proteger/contracts           1 contract → 202, job {}",
            link.job_id
        );
        if i == BULK {
            // The same request again under the same key: the same job, nothing new.
            let again: Accepted = api
                .post("/v1/proteger/contracts", &body, Some(&key))
                .await?;
            let verdict = if again.job_id == link.job_id {
                "same job (idempotent replay)"
            } else {
                "A DIFFERENT JOB"
            };
            println!("  resent with the same Idempotency-Key → {verdict}");
            if again.job_id != link.job_id {
                return Err(DemoError::Unexpected(
                    "an idempotent replay created a second job".into(),
                ));
            }
        }
        sent.push(Sent {
            job_id: link.job_id,
            what: body["transactionId"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        });
    }
    println!();

    let ids: Vec<JobId> = sent.iter().map(|s| s.job_id).collect();
    let records = api.follow(&ids, "contracts").await?;
    println!();
    println!("{:<36}  {:<9}  OUTCOME", "JOB", "STATE");
    let mut created = Vec::new();
    let mut failed = 0;
    for (sent, record) in sent.iter().zip(&records) {
        let outcome = match record.state {
            JobState::Succeeded => {
                let contract_id = record
                    .result
                    .as_ref()
                    .and_then(|r| r.get("id"))
                    .and_then(Value::as_str)
                    .unwrap_or("?")
                    .to_string();
                let line = format!("contract {contract_id} for {}", sent.what);
                created.push(contract_id);
                line
            }
            _ => {
                failed += 1;
                format!("{}: {}", sent.what, error_line(record))
            }
        };
        println!(
            "{:<36}  {:<9}  {outcome}",
            record.id.to_string(),
            record.state.as_str()
        );
    }
    println!();

    // --- a refund quote, then a cancellation -------------------------------------------
    let Some(contract_id) = created.first().cloned() else {
        return Err(DemoError::Unexpected("no contract was created".into()));
    };
    // No wait for the vendor's asynchronous persistence: a cancellation that comes too early
    // gets a 404, which the cancel job retries for a contract we just created.
    let path = format!("/v1/proteger/contracts/{contract_id}/cancellation");
    let mut cancellations = Vec::new();
    for preview in [true, false] {
        let link: Accepted = api
            .post(&path, &json!({ "preview": preview }), None)
            .await?;
        println!("POST {path}  preview={preview} → 202, job {}", link.job_id);
        let record = api
            .follow(&[link.job_id], if preview { "quote" } else { "cancel" })
            .await?
            .remove(0);
        cancellations.push((preview, record));
    }
    println!();
    println!("{:<36}  {:<9}  OUTCOME", "JOB", "STATE");
    let mut refunded = None;
    for (preview, record) in &cancellations {
        let outcome = match (record.state, &record.result) {
            (JobState::Succeeded, Some(result)) => {
                let amount = result.get("refundAmount").and_then(Value::as_i64);
                let status = result.get("status").and_then(Value::as_str).unwrap_or("?");
                let amount_text = amount.map_or("?".to_string(), yen);
                if *preview {
                    format!(
                        "quote for {contract_id}: refund would be {amount_text}, contract still {status}"
                    )
                } else {
                    refunded = amount;
                    format!("cancelled {contract_id}: {status}, refunded {amount_text}")
                }
            }
            _ => error_line(record),
        };
        println!(
            "{:<36}  {:<9}  {outcome}",
            record.id.to_string(),
            record.state.as_str()
        );
    }
    println!();

    // --- webhooks -----------------------------------------------------------------------
    // One event per finished job the demo sent: what each should be, by job id.
    let mut wanted: HashMap<JobId, &'static str> = records
        .iter()
        .map(|r| (r.id, contract_event(r.state)))
        .collect();
    wanted.extend(
        cancellations
            .iter()
            .map(|(preview, r)| (r.id, cancellation_event(r.state, *preview))),
    );
    let webhooks = check_webhooks(&sink, &wanted).await;
    if let Some(id) = &extra_endpoint {
        api.wait_delivered(id, wanted.len()).await?;
        println!("extra receiver: {} deliveries succeeded", wanted.len());
    }
    println!();

    let effects = sandbox.proteger.effects();
    let cancel_ok = cancellations
        .iter()
        .all(|(_, r)| r.state == JobState::Succeeded);
    let expected = created.len() == BULK + SINGLES - 1 && failed == 1;
    println!(
        "demo: {} of {} contracts created, {failed} failed (unknown product: expected), refund quoted and contract cancelled ({}); sandbox: {} contracts, {} duplicates; webhooks: {} of {} delivered, {}; {:.1} s",
        created.len(),
        BULK + SINGLES,
        refunded.map_or("?".to_string(), yen),
        effects.contracts_created,
        effects.duplicate_transaction_ids,
        webhooks.delivered,
        webhooks.expected,
        if webhooks.rejected == 0 {
            "all verified".to_string()
        } else {
            format!("{} NOT VERIFIED", webhooks.rejected)
        },
        started.elapsed().as_secs_f64(),
    );

    stop(app, sandbox, sink).await?;
    if !expected || !cancel_ok || effects.duplicate_transaction_ids != 0 {
        return Err(DemoError::Unexpected(
            "the demo did not end as expected; see the outcomes above".into(),
        ));
    }
    if !webhooks.problems.is_empty() {
        return Err(DemoError::Unexpected(format!(
            "the webhooks did not arrive as expected: {}",
            webhooks.problems.join("; ")
        )));
    }
    Ok(())
}

async fn stop(
    app: RunningApp,
    sandbox: proteger_sandbox::ServedProteger,
    sink: Sink,
) -> Result<(), DemoError> {
    app.stop().await?;
    sandbox.shutdown().await;
    sink.shutdown().await;
    Ok(())
}

/// The event a finished contract job raises (`vendors/proteger/events.rs`).
fn contract_event(state: JobState) -> &'static str {
    match state {
        JobState::Succeeded => "proteger.contract.created",
        _ => "proteger.contract.failed",
    }
}

/// The event a finished cancellation job raises.
fn cancellation_event(state: JobState, preview: bool) -> &'static str {
    match (state, preview) {
        (JobState::Succeeded, true) => "proteger.contract.refund_quoted",
        (JobState::Succeeded, false) => "proteger.contract.cancelled",
        _ => "proteger.contract.cancellation_failed",
    }
}

/// What the sink got, against what the demo expected.
struct WebhookReport {
    expected: usize,
    /// Distinct events (`webhook-id`s) that arrived verified for a job the demo sent.
    delivered: usize,
    /// Requests that did not verify.
    rejected: usize,
    problems: Vec<String>,
}

/// Waits (at most [`WEBHOOK_PATIENCE`]) until the sink has verified one event per job of
/// `wanted`, then prints them by type and checks each job got the event it should.
async fn check_webhooks(sink: &Sink, wanted: &HashMap<JobId, &'static str>) -> WebhookReport {
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

    println!("webhooks → {}", sink.url());
    println!(
        "{:<40}  {:>6}  {:>8}  {:>8}",
        "EVENT", "EVENTS", "VERIFIED", "REJECTED"
    );
    for (event_type, (ids, verified, refused)) in &by_type {
        println!(
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
    println!(
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

/// Contract number `i` of this run: the sandbox's sample, varied over its catalogue.
fn contract(run_tag: &str, i: usize) -> Value {
    const NAMES: [(&str, &str); 5] = [
        ("山田 太郎", "taro.yamada"),
        ("佐藤 花子", "hanako.sato"),
        ("鈴木 一郎", "ichiro.suzuki"),
        ("高橋 美咲", "misaki.takahashi"),
        ("田中 健", "ken.tanaka"),
    ];
    let mut contract = sample_contract(&format!("demo-{run_tag}-{i:03}"));
    let (name, mail) = NAMES[i % NAMES.len()];
    contract.customer.name = name.to_string();
    contract.customer.email = format!("{mail}+{i}@example.com");
    match i % 3 {
        // The laptop with its 3-year plan.
        1 => {
            contract.plan.plan_id = SANDBOX_PLAN_3Y_ID.to_string();
            contract.plan.purchase_price = 5_000;
        }
        // The phone with its 2-year plan.
        2 => {
            contract.product.reference_id = SANDBOX_PHONE_PRODUCT_ID.to_string();
            contract.product.purchase_price = 80_000;
            contract.plan.plan_id = SANDBOX_PHONE_PLAN_ID.to_string();
            contract.plan.purchase_price = 3_000;
        }
        // The sample as it is: the laptop with its 1-year plan.
        _ => {}
    }
    contract.transaction_total = contract.product.purchase_price + contract.plan.purchase_price;
    serde_json::to_value(contract).unwrap_or_default()
}

/// The last error of a job, with the vendor's own words when it gave some.
fn error_line(record: &JobRecord) -> String {
    let Some(error) = &record.last_error else {
        return format!("ended {} without an error recorded", record.state);
    };
    // Proteger's error body: `{"requestId", "code", "error"}`.
    let vendor_says = error
        .vendor_body
        .as_ref()
        .and_then(|body| body.get("error"))
        .and_then(Value::as_str);
    match (error.vendor_status, vendor_says) {
        (Some(status), Some(says)) => format!("Proteger answered {status}: {says}"),
        (Some(status), None) => format!("Proteger answered {status}: {}", error.message),
        (None, _) => error.message.clone(),
    }
}

/// `12345` → `¥12,345`.
fn yen(amount: i64) -> String {
    let digits = amount.unsigned_abs().to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{}¥{grouped}", if amount < 0 { "-" } else { "" })
}

struct Sent {
    job_id: JobId,
    what: String,
}

#[derive(Debug, Deserialize)]
struct Accepted {
    job_id: JobId,
}

#[derive(Debug, Deserialize)]
struct CreatedEndpoint {
    id: String,
    events: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct BulkAccepted {
    jobs: Vec<Accepted>,
}

/// The demo's producer: plain HTTP against the in-process API.
struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    fn new(app: &RunningApp) -> Self {
        Self {
            http: reqwest::Client::new(),
            base: app.base_url(),
        }
    }

    async fn wait_ready(&self) -> Result<(), DemoError> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let answer = self.http.get(format!("{}/readyz", self.base)).send().await;
            if matches!(&answer, Ok(r) if r.status().is_success()) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(DemoError::Http("the API did not become ready".into()));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// POSTs a request that enqueues work: `202 Accepted` or an error.
    async fn post<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        body: &Value,
        idempotency_key: Option<&str>,
    ) -> Result<T, DemoError> {
        self.send(path, body, idempotency_key, reqwest::StatusCode::ACCEPTED)
            .await
    }

    /// POSTs `body`; any answer but `expected` is an error.
    async fn send<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        body: &Value,
        idempotency_key: Option<&str>,
        expected: reqwest::StatusCode,
    ) -> Result<T, DemoError> {
        let mut request = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(DEMO_API_TOKEN)
            .json(body);
        if let Some(key) = idempotency_key {
            request = request.header("Idempotency-Key", key);
        }
        let response = request.send().await?;
        let status = response.status();
        if status != expected {
            let text = response.text().await.unwrap_or_default();
            return Err(DemoError::Http(format!(
                "POST {path} answered {status}: {text}"
            )));
        }
        Ok(response.json().await?)
    }

    /// Waits until `count` deliveries to `endpoint` have succeeded.
    async fn wait_delivered(&self, endpoint: &str, count: usize) -> Result<(), DemoError> {
        let deadline = Instant::now() + WEBHOOK_PATIENCE;
        loop {
            let page: Value = self
                .http
                .get(format!(
                    "{}/v1/webhook-deliveries?endpoint={endpoint}&state=succeeded&limit=500",
                    self.base
                ))
                .bearer_auth(DEMO_API_TOKEN)
                .send()
                .await?
                .json()
                .await?;
            let done = page["jobs"].as_array().map_or(0, Vec::len);
            if done >= count {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(DemoError::Unexpected(format!(
                    "the extra receiver got {done} of {count} deliveries"
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn job(&self, id: &JobId) -> Result<JobRecord, DemoError> {
        let response = self
            .http
            .get(format!("{}/v1/jobs/{id}", self.base))
            .bearer_auth(DEMO_API_TOKEN)
            .send()
            .await?;
        let status = response.status();
        if !status.is_success() {
            let text = response.text().await.unwrap_or_default();
            return Err(DemoError::Http(format!(
                "GET /v1/jobs/{id} answered {status}: {text}"
            )));
        }
        Ok(response.json().await?)
    }

    /// Polls the jobs until every one is final, with a progress bar. Records in `ids` order.
    async fn follow(&self, ids: &[JobId], label: &str) -> Result<Vec<JobRecord>, DemoError> {
        let bar = ProgressBar::new(ids.len() as u64);
        bar.set_style(
            ProgressStyle::with_template(
                "{prefix:>9} {elapsed:>4} {bar:24.cyan/blue} {pos}/{len} {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("█▓░"),
        );
        bar.set_prefix(label.to_string());
        let deadline = Instant::now() + PATIENCE;
        let mut records: Vec<Option<JobRecord>> = vec![None; ids.len()];
        loop {
            for (slot, id) in records.iter_mut().zip(ids) {
                if slot.as_ref().is_some_and(|r| r.state.is_final()) {
                    continue;
                }
                *slot = Some(self.job(id).await?);
            }
            let count = |state: JobState| {
                records
                    .iter()
                    .flatten()
                    .filter(|r| r.state == state)
                    .count()
            };
            let done = records
                .iter()
                .flatten()
                .filter(|r| r.state.is_final())
                .count();
            bar.set_message(format!(
                "{} ok, {} failed, {} running, {} waiting",
                count(JobState::Succeeded),
                count(JobState::Failed) + count(JobState::Dead),
                count(JobState::Running),
                count(JobState::Queued) + count(JobState::Retrying),
            ));
            bar.set_position(done as u64);
            if done == ids.len() {
                bar.finish();
                return Ok(records.into_iter().flatten().collect());
            }
            if Instant::now() > deadline {
                bar.abandon();
                return Err(DemoError::Unexpected(format!(
                    "{} of {} jobs were not done after {} s",
                    ids.len() - done,
                    ids.len(),
                    PATIENCE.as_secs()
                )));
            }
            tokio::time::sleep(POLL_EVERY).await;
        }
    }
}

/// Deletes every key of the demo's queue from a Redis that is not ours.
async fn drop_queue(settings: &Settings) {
    if let Ok((_, store)) = startup::open_store(settings) {
        let _ = store.delete_queue().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yen_groups_thousands() {
        assert_eq!(yen(0), "¥0");
        assert_eq!(yen(999), "¥999");
        assert_eq!(yen(1_000), "¥1,000");
        assert_eq!(yen(1_234_567), "¥1,234,567");
    }

    #[test]
    fn demo_contracts_pass_the_vendor_form_checks() {
        for i in 0..BULK + SINGLES {
            let value = contract("tag", i);
            let parsed: crate::vendors::proteger::types::ContractRequest =
                serde_json::from_value(value).expect("a contract");
            assert!(
                parsed.validate().is_empty(),
                "contract {i}: {:?}",
                parsed.validate()
            );
        }
    }
}
