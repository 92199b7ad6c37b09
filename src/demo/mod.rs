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
//! 7. Billing-Robo: three credit applications in one bulk request, sent first: one the
//!    sandbox approves, one it rejects, one for a customer it does not know (refused, 5401).
//!    The sandbox decides within two seconds and the demo polls every second; each
//!    registered application's decision job ends `approved` or `rejected`, with its
//!    webhook after the application's own (`demo/credit.rs`).
//!
//! 8. Tulip: a quote and two rentals (a one-day bike rental, a two-month one), one rental
//!    refused by our API before anything is sent (it ends before it starts: Tulip's code
//!    1001), and the one-day rental cancelled (`demo/rental.rs`).
//!
//! The contract with the unknown product shows the batch rule of `vendors/proteger/jobs/`:
//! Proteger refuses its whole bulk call, the batch is split, its nine good contracts go
//! through one by one, and only the bad one ends `failed`, with the vendor's answer.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::config::Settings;
use crate::local_redis::LocalRedis;
use crate::queue::{JobId, JobState};
use crate::startup::{self, Roles, RunningApp, StartupError};
use crate::vendors::billing_robo::sandbox::{
    self as billing_robo_sandbox, BillingRoboSandboxConfig, Customer,
};
use crate::vendors::billing_robo::settings::{
    ACCESS_KEY_SECRET, NAME as BILLING_ROBO, USER_ID_SECRET,
};
use crate::vendors::proteger::sandbox::{self as proteger_sandbox, ProtegerSandboxConfig};
use crate::vendors::proteger::settings::{NAME as PROTEGER, ProtegerSettings, TOKEN_SECRET};
use crate::vendors::tulip::sandbox::{self as tulip_sandbox, TulipSandboxConfig};
use crate::vendors::tulip::settings::{API_KEY_SECRET as TULIP_KEY_SECRET, NAME as TULIP};
use crate::webhooks::signing::Secret;
use crate::webhooks::sink::{self, Sink, SinkConfig};

/// `println!` that survives a closed stdout (see `output.rs`).
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::demo::output::line(format_args!($($arg)*))
    };
}

mod contracts;
mod credit;
mod events;
mod output;
mod producer;
mod rental;

use self::contracts::{contract, error_line, yen};
use self::events::{cancellation_event, check_webhooks, contract_event};
use self::producer::{Accepted, Api, BulkAccepted, CreatedEndpoint, Sent};

/// The bearer token the demo's producer uses (the in-process API accepts only it).
const DEMO_API_TOKEN: &str = "demo-api-token";
/// The Proteger key the worker sends and the in-process sandbox demands.
const DEMO_PROTEGER_TOKEN: &str = "demo-proteger-token";
/// The Billing-Robo credentials the worker sends and the in-process sandbox demands.
const DEMO_BILLING_ROBO_USER: &str = "demo@example.co.jp";
pub const DEMO_BILLING_ROBO_KEY: &str = "demoBillingRoboAccessKey";
/// How soon the Billing-Robo sandbox decides an application, and how often the demo polls.
const CREDIT_DECIDE_AFTER: Duration = Duration::from_secs(2);
const CREDIT_POLL_EVERY_SECS: i64 = 1;
/// The Tulip key the worker sends and the in-process sandbox demands.
const DEMO_TULIP_KEY: &str = "demo-tulip-key";
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
    /// Whoever read the demo's output stopped reading (`underwrite demo | head`): not a
    /// failure, the demo just ends.
    #[error("stdout was closed")]
    StdoutClosed,
}

impl From<reqwest::Error> for DemoError {
    fn from(error: reqwest::Error) -> Self {
        Self::Http(format!("HTTP call to the demo's API failed: {error}"))
    }
}

/// Resolves once the demo's app has stopped (see [`RunningApp::stopped`]).
type Stopped = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

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

    // The app's "stopped" signal, so that the cleanup below never runs under a worker that
    // is still writing (the app is dropped with `demo` when the run ends early).
    let (stopped_tx, stopped_rx) = tokio::sync::oneshot::channel();
    let result = tokio::select! {
        result = demo(settings.clone(), &redis, started, &options, stopped_tx) => result,
        _ = tokio::signal::ctrl_c() => Err(DemoError::Interrupted),
        () = output::closed() => Err(DemoError::StdoutClosed),
    };
    // Everything the demo started in-process was dropped (hence asked to stop) with `demo`;
    // wait until the app really has stopped, within its shutdown timeout.
    if let Ok(stopped) = stopped_rx.await {
        let grace = Duration::from_secs(settings.worker.shutdown_timeout_secs + 5);
        let _ = tokio::time::timeout(grace, stopped).await;
    }
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
    stopped: tokio::sync::oneshot::Sender<Stopped>,
) -> Result<(), DemoError> {
    settings.secrets.api_tokens = vec![crate::config_tokens::AppToken::default_app(DEMO_API_TOKEN)];
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
    settings
        .secrets
        .set_vendor(BILLING_ROBO, USER_ID_SECRET, DEMO_BILLING_ROBO_USER);
    settings
        .secrets
        .set_vendor(BILLING_ROBO, ACCESS_KEY_SECRET, DEMO_BILLING_ROBO_KEY);
    let credit_sandbox = billing_robo_sandbox::serve(
        loopback,
        BillingRoboSandboxConfig {
            user_id: Some(DEMO_BILLING_ROBO_USER.into()),
            access_key: Some(DEMO_BILLING_ROBO_KEY.into()),
            customers: vec![Customer::new("demo-*")],
            decide_after: Some(CREDIT_DECIDE_AFTER),
            ..BillingRoboSandboxConfig::default()
        },
    )
    .await
    .map_err(DemoError::Sandbox)?;
    settings.set_vendor(BILLING_ROBO, "base_url", credit_sandbox.url());
    settings
        .secrets
        .set_vendor(TULIP, TULIP_KEY_SECRET, DEMO_TULIP_KEY);
    let rental_sandbox = tulip_sandbox::serve(
        loopback,
        TulipSandboxConfig {
            keys: vec![DEMO_TULIP_KEY.into()],
            ..TulipSandboxConfig::default()
        },
    )
    .await
    .map_err(DemoError::Sandbox)?;
    settings.set_vendor(TULIP, "base_url", rental_sandbox.url());
    settings.set_vendor(BILLING_ROBO, "linger_ms", 200);
    settings.set_vendor(BILLING_ROBO, "poll_interval_secs", CREDIT_POLL_EVERY_SECS);
    settings.api.listen = loopback;
    // The sink listens on loopback, which the SSRF guard refuses unless allowlisted.
    settings.webhooks.allow_cidrs = vec!["127.0.0.0/8".into()];
    let secret = Secret::generate();
    let sink = sink::spawn(loopback, SinkConfig::new(vec![secret.clone()]))
        .await
        .map_err(DemoError::Sink)?;
    let app = startup::start(settings.clone(), Roles::ALL).await?;
    let _ = stopped.send(Box::pin(app.stopped()));

    say!("underwrite demo");
    say!("  redis     {}", redis.describe());
    say!("  sandbox   {}", sandbox.proteger_url());
    say!("            {}", credit_sandbox.url());
    say!("            {}", rental_sandbox.url());
    say!("  API       {}", app.base_url());
    say!("  queue     {}", settings.redis.queue);
    say!("  webhooks  {}", sink.url());
    say!("");

    let api = Api::new(&app);
    api.wait_ready().await?;

    // --- the webhook endpoint, before any work ------------------------------------------
    let endpoint: CreatedEndpoint = api
        .send(
            "/v1/webhook-endpoints",
            &json!({
                "url": sink.url(),
                "events": ["proteger.*", "billing_robo.*", "tulip.*"],
                "secret": secret.expose(),
            }),
            None,
            reqwest::StatusCode::CREATED,
        )
        .await?;
    say!(
        "POST /v1/webhook-endpoints            {} → 201, endpoint {}",
        endpoint.events.join(","),
        endpoint.id
    );
    let mut extra_endpoint = None;
    if let Some((url, secret)) = &options.extra_webhook {
        let extra: CreatedEndpoint = api
            .send(
                "/v1/webhook-endpoints",
                &json!({ "url": url, "events": ["proteger.*", "billing_robo.*", "tulip.*"], "secret": secret }),
                None,
                reqwest::StatusCode::CREATED,
            )
            .await?;
        say!(
            "POST /v1/webhook-endpoints            (extra receiver) → 201, endpoint {}",
            extra.id
        );
        extra_endpoint = Some(extra.id);
    }

    // --- contracts ----------------------------------------------------------------------
    let queue = &settings.redis.queue;
    // The random end of the queue's UUID v7 (its start is a timestamp).
    let run_tag = &queue[queue.len() - 8..];
    // Credit applications first: their decisions take a few seconds, meanwhile the
    // contracts go through.
    let applications = credit::send(&api, run_tag).await?;
    let rentals = rental::send(&api, run_tag).await?;
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
    say!(
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
        say!(
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
            say!("  resent with the same Idempotency-Key → {verdict}");
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
    say!("");

    let ids: Vec<JobId> = sent.iter().map(|s| s.job_id).collect();
    let records = api.follow(&ids, "contracts").await?;
    say!("");
    say!("{:<36}  {:<9}  OUTCOME", "JOB", "STATE");
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
        say!(
            "{:<36}  {:<9}  {outcome}",
            record.id.to_string(),
            record.state.as_str()
        );
    }
    say!("");

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
        say!("POST {path}  preview={preview} → 202, job {}", link.job_id);
        let record = api
            .follow(&[link.job_id], if preview { "quote" } else { "cancel" })
            .await?
            .remove(0);
        cancellations.push((preview, record));
    }
    say!("");
    say!("{:<36}  {:<9}  OUTCOME", "JOB", "STATE");
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
        say!(
            "{:<36}  {:<9}  {outcome}",
            record.id.to_string(),
            record.state.as_str()
        );
    }
    say!("");

    // --- credit decisions ---------------------------------------------------------------
    let credit = credit::follow(&api, &applications).await?;
    say!("");

    // --- rentals ------------------------------------------------------------------------
    let rentals = rental::follow(&api, &rentals).await?;
    say!("");

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
    wanted.extend(credit.wanted.iter().map(|(id, event)| (*id, *event)));
    wanted.extend(rentals.wanted.iter().map(|(id, event)| (*id, *event)));
    let webhooks = check_webhooks(&sink, &wanted).await;
    if let Some(id) = &extra_endpoint {
        api.wait_delivered(id, wanted.len()).await?;
        say!("extra receiver: {} deliveries succeeded", wanted.len());
    }
    say!("");

    let effects = sandbox.proteger.effects();
    let cancel_ok = cancellations
        .iter()
        .all(|(_, r)| r.state == JobState::Succeeded);
    let expected = created.len() == BULK + SINGLES - 1 && failed == 1;
    let credit_effects = credit_sandbox.billing_robo.effects();
    say!(
        "demo: {} of {} contracts created, {failed} failed (unknown product: expected), refund quoted and contract cancelled ({}); credit: {} approved, {} rejected, {} refused (unknown customer: expected) in {} register and {} search calls; rentals: quoted, {} created, 1 refused before sending (Tulip code 1001), one {}, {} contracts at Tulip; sandboxes: {} contracts, {} duplicates, {} applications; webhooks: {} of {} delivered, {}; {:.1} s",
        created.len(),
        BULK + SINGLES,
        refunded.map_or("?".to_string(), yen),
        credit.approved,
        credit.rejected,
        credit.refused,
        credit_effects.register_calls,
        credit_effects.credit_searches + credit_effects.application_searches,
        rentals.created,
        rentals.cancelled.as_deref().unwrap_or("not ended"),
        rental_sandbox.tulip.contracts().len(),
        effects.contracts_created,
        effects.duplicate_transaction_ids,
        credit_effects.applications_registered,
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
    credit_sandbox.shutdown().await;
    rental_sandbox.shutdown().await;
    if !expected
        || !cancel_ok
        || effects.duplicate_transaction_ids != 0
        || !credit.as_expected
        || !rentals.as_expected
    {
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

/// Deletes every key of the demo's queue from a Redis that is not ours.
async fn drop_queue(settings: &Settings) {
    if let Ok((_, store)) = startup::open_store(settings) {
        let _ = store.delete_queue().await;
    }
}
