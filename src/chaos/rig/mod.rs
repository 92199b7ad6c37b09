//! The test rig every chaos scenario runs on: a sandbox vendor, a verifying webhook sink
//! registered as the only endpoint, a fleet of real `underwrite serve --no-api` worker
//! processes on a queue of the run's own, and the counting at the end.
//!
//! Workers are separate processes (the binary runs itself) so that a scenario can SIGKILL
//! them: nothing in the run's own process survives a kill of a worker, as in production.
//!
//! Proteger's sandbox is always there; Billing-Robo's and Tulip's join when the scenario
//! asks for them ([`RigConfig::billing_robo`], [`RigConfig::tulip`]), each on a port of
//! its own, with their jobs, counts and settings in `vendors.rs`.

mod fleet;
mod submitter;
mod vendors;

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

pub use fleet::Fleet;
pub use submitter::{Submitted, Submitter};
pub use vendors::{BillingRoboRun, TulipRun, decisions};

use super::{ChaosError, ChaosReport, err};
use crate::config::Settings;
use crate::producer::{Producer, Submission};
use crate::queue::{JobId, JobState, ListFilter, Store};
use crate::startup;
use crate::vendors::billing_robo::sandbox::ServedBillingRobo;
use crate::vendors::proteger::client::ProtegerClient;
use crate::vendors::proteger::idempotency_key::IdempotencyKey;
use crate::vendors::proteger::jobs::{CancelContract, CreateContract};
use crate::vendors::proteger::sandbox::sample_contract;
use crate::vendors::proteger::sandbox::{ProtegerSandboxConfig, ServedProteger};
use crate::vendors::proteger::settings::ProtegerSettings;
use crate::vendors::proteger::types::MAX_BULK_CONTRACTS;
use crate::vendors::tulip::sandbox::ServedTulip;
use crate::webhooks::sink::{self, Sink};

/// How a rig is set up.
#[derive(Debug, Clone)]
pub struct RigConfig {
    pub workers: usize,
    pub sandbox: ProtegerSandboxConfig,
    /// Billing-Robo's sandbox and how the workers use it (none: not in this run).
    pub billing_robo: Option<BillingRoboRun>,
    /// Tulip's sandbox (none: not in this run).
    pub tulip: Option<TulipRun>,
    /// Environment for the worker processes, on top of the rig's own (later wins).
    pub env: Vec<(String, String)>,
}

impl RigConfig {
    pub fn new(workers: usize, sandbox: ProtegerSandboxConfig) -> Self {
        Self {
            workers,
            sandbox,
            billing_robo: None,
            tulip: None,
            env: Vec::new(),
        }
    }

    /// Adds Billing-Robo to the run.
    pub fn with_billing_robo(mut self, run: BillingRoboRun) -> Self {
        self.billing_robo = Some(run);
        self
    }

    /// Adds Tulip to the run.
    pub fn with_tulip(mut self, run: TulipRun) -> Self {
        self.tulip = Some(run);
        self
    }

    /// Sets one more environment variable of the workers.
    pub fn env(mut self, key: &str, value: impl Into<String>) -> Self {
        self.env.push((key.to_string(), value.into()));
        self
    }
}

/// Attempts made by the jobs of one kind ([`Rig::attempts`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Attempts {
    pub jobs: usize,
    /// Attempts that ran to an answer, summed over the jobs.
    pub attempts: u64,
    /// The most any one job needed.
    pub max: u32,
}

impl Attempts {
    /// Attempts beyond the first of each job: the failures that were retried.
    pub fn retries(&self) -> u64 {
        self.attempts.saturating_sub(self.jobs as u64)
    }
}

/// A sandbox, a sink, a fleet and a queue of the run's own.
pub struct Rig {
    pub settings: Settings,
    pub store: Store,
    pub sandbox: ServedProteger,
    /// Billing-Robo's and Tulip's sandboxes, when the run has them.
    pub billing_robo: Option<ServedBillingRobo>,
    pub tulip: Option<ServedTulip>,
    pub sink: Sink,
    pub fleet: Fleet,
    producer: Producer,
    /// How long the sandbox keeps a new contract invisible.
    persist_delay: Duration,
    /// Makes this run's `transactionId`s unique, so the sandbox's count is this run's.
    tag: String,
}

impl Rig {
    /// Starts everything on the Redis at `settings.redis.url`, on a queue of its own.
    pub async fn start(settings: &Settings, config: RigConfig) -> Result<Self, ChaosError> {
        let mut settings = settings.clone();
        let tag = uuid::Uuid::now_v7().simple().to_string();
        settings.redis.queue = format!("chaos-{tag}");
        let loopback = "127.0.0.1:0".parse().map_err(err)?;
        let persist_delay = config.sandbox.persist_delay;
        let sandbox = crate::vendors::proteger::sandbox::serve(loopback, config.sandbox)
            .await
            .map_err(err)?;
        let (_, store) = startup::open_store(&settings).map_err(err)?;
        let (sink, _) = sink::spawn_as_endpoint(&store).await.map_err(err)?;
        let mut env = worker_env(&settings, &sandbox);
        let (billing_robo, tulip) =
            vendors::serve(config.billing_robo, config.tulip, &mut env).await?;
        env.extend(config.env);
        let fleet = Fleet::start(config.workers, env)?;
        let producer = Producer::new(store.clone(), Duration::from_secs(3600));
        Ok(Self {
            settings,
            store,
            sandbox,
            billing_robo,
            tulip,
            sink,
            fleet,
            producer,
            persist_delay,
            tag: tag[tag.len() - 8..].to_string(),
        })
    }

    /// Enqueues contracts `from..from + count` (by 100), each with its own `transactionId`.
    pub async fn submit_contracts(
        &self,
        from: usize,
        count: usize,
    ) -> Result<Vec<JobId>, ChaosError> {
        self.submit_each(from..from + count, |i| {
            let transaction = format!("chaos-{}-{i}", self.tag);
            Ok(Submission::new(CreateContract(sample_contract(
                &transaction,
            ))))
        })
        .await
    }

    /// Enqueues one job per number of `numbers`, made by `job`, in requests of 100 (as a
    /// producer would), all as the app `default`.
    pub(super) async fn submit_each<T: crate::queue::JobKind>(
        &self,
        numbers: std::ops::Range<usize>,
        job: impl Fn(usize) -> Result<Submission<T>, ChaosError>,
    ) -> Result<Vec<JobId>, ChaosError> {
        let numbers: Vec<usize> = numbers.collect();
        let mut ids = Vec::with_capacity(numbers.len());
        for chunk in numbers.chunks(100) {
            let submissions = chunk
                .iter()
                .map(|i| job(*i))
                .collect::<Result<Vec<_>, _>>()?;
            let accepted = self
                .producer
                .submit(&crate::queue::AppName::default_app(), submissions, None)
                .await
                .map_err(err)?;
            ids.extend(accepted.job_ids);
        }
        Ok(ids)
    }

    /// Creates `count` contracts at the vendor directly (not through the queue), for the
    /// cancellations of a mixed run to cancel. Returns their contract ids once readable.
    pub async fn seed_contracts(&self, count: usize) -> Result<Vec<String>, ChaosError> {
        use futures::{StreamExt, TryStreamExt};
        let mut proteger = ProtegerSettings::from_settings(&self.settings).map_err(err)?;
        proteger.base_url = self.sandbox.proteger_url();
        let client = ProtegerClient::new(&proteger, Some("chaos".into())).map_err(err)?;
        let numbers: Vec<usize> = (0..count).collect();
        let batches = numbers.chunks(MAX_BULK_CONTRACTS).map(|chunk| {
            let contracts: Vec<_> = chunk
                .iter()
                .map(|i| sample_contract(&format!("chaos-{}-seed-{i}", self.tag)))
                .collect();
            let client = &client;
            async move {
                let key = IdempotencyKey::for_batch(&JobId::new());
                client.create_contracts_bulk(&key, &contracts).await
            }
        });
        let created: Vec<Vec<_>> = futures::stream::iter(batches)
            .buffer_unordered(32)
            .try_collect()
            .await
            .map_err(err)?;
        // The vendor persists contracts asynchronously: wait until they can be cancelled.
        tokio::time::sleep(self.persist_delay + Duration::from_millis(100)).await;
        Ok(created.into_iter().flatten().map(|c| c.id).collect())
    }

    /// Enqueues one cancellation per contract (`preview`: a refund quote only).
    pub async fn submit_cancels(
        &self,
        contracts: &[String],
        preview: bool,
    ) -> Result<Vec<JobId>, ChaosError> {
        let mut ids = Vec::with_capacity(contracts.len());
        for chunk in contracts.chunks(100) {
            let submissions = chunk
                .iter()
                .map(|contract_id| {
                    Submission::new(CancelContract {
                        contract_id: contract_id.clone(),
                        preview,
                    })
                })
                .collect();
            let accepted = self
                .producer
                .submit(&crate::queue::AppName::default_app(), submissions, None)
                .await
                .map_err(err)?;
            ids.extend(accepted.job_ids);
        }
        Ok(ids)
    }

    /// Jobs of any kind (deliveries included) not yet in a final state.
    pub async fn unfinished(&self) -> Result<u64, ChaosError> {
        let counts = self.store.counts().await.map_err(err)?;
        Ok(counts
            .iter()
            .filter(|(state, _)| !state.is_final())
            .map(|(_, n)| n)
            .sum())
    }

    /// True once every job is final and at least `events` distinct events verified.
    pub async fn settled(&self, events: usize) -> Result<bool, ChaosError> {
        Ok(self.unfinished().await? == 0 && self.sink.counts().distinct_ids >= events)
    }

    /// Waits until [`Rig::settled`], at most `patience`. False if it ran out.
    pub async fn wait_settled(&self, events: usize, patience: Duration) -> bool {
        let deadline = Instant::now() + patience;
        while Instant::now() < deadline {
            if let Ok(true) = self.settled(events).await {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }

    /// Counts the jobs `ids` (which should all succeed) into `report`: lost, duplicated
    /// contracts, and events not received verified.
    pub async fn tally(&self, report: &mut ChaosReport, ids: &[JobId]) -> Result<(), ChaosError> {
        report.jobs += ids.len();
        // What became of the jobs that did not succeed, by kind and state: the first thing
        // to read when a run loses any.
        let mut unsuccessful: BTreeMap<String, usize> = BTreeMap::new();
        for id in ids {
            match self.store.job(id).await.map_err(err)? {
                Some(record) if record.state == JobState::Succeeded => {}
                Some(record) => {
                    report.lost += 1;
                    *unsuccessful
                        .entry(format!("{} {:?}", record.kind, record.state).to_lowercase())
                        .or_default() += 1;
                }
                None => {
                    report.lost += 1;
                    *unsuccessful.entry("no record".into()).or_default() += 1;
                }
            }
        }
        if !unsuccessful.is_empty() {
            let list: Vec<String> = unsuccessful
                .iter()
                .map(|(what, n)| format!("{n} {what}"))
                .collect();
            report
                .details
                .push(format!("not succeeded: {}", list.join(", ")));
        }
        report.duplicated += self.sandbox.proteger.effects().duplicate_transaction_ids;
        report.duplicated += self.duplicated_elsewhere();
        let notified = self.notified_jobs();
        report.webhooks_missing += ids
            .iter()
            .filter(|id| !notified.contains(&id.to_string()))
            .count();
        let rejected = self.sink.counts().rejected;
        if rejected > 0 {
            report
                .broken
                .push(format!("{rejected} webhook deliveries did not verify"));
        }
        Ok(())
    }

    /// What the jobs of `kind` spent in attempts, read from their records.
    pub async fn attempts(&self, kind: &str) -> Result<Attempts, ChaosError> {
        let mut filter = ListFilter {
            kind: Some(kind.to_string()),
            limit: 500,
            ..ListFilter::default()
        };
        let mut attempts = Attempts::default();
        loop {
            let page = self.store.list(&filter).await.map_err(err)?;
            for record in &page.jobs {
                attempts.jobs += 1;
                attempts.attempts += u64::from(record.attempts);
                attempts.max = attempts.max.max(record.attempts);
            }
            match page.next_cursor {
                Some(cursor) => filter.cursor = Some(cursor),
                None => return Ok(attempts),
            }
        }
    }

    /// The job ids named by events the sink received verified.
    pub fn notified_jobs(&self) -> HashSet<String> {
        self.sink
            .received()
            .into_iter()
            .filter(|received| received.verified)
            .filter_map(|received| received.body["data"]["job_id"].as_str().map(str::to_string))
            .collect()
    }

    /// Stops the workers and deletes the run's keys.
    pub async fn finish(mut self) {
        self.fleet.kill_all().await;
        if let Err(e) = self.store.delete_queue().await {
            tracing::warn!(error = %e, "cannot delete the chaos run's keys");
        }
    }
}

/// What every worker of a run gets: this run's Redis and queue, the sandbox, a short lease
/// (kills are noticed in seconds), a webhook schedule in seconds (a receiver that failed
/// is tried again soon), and loopback allowed as a webhook destination (the sink).
fn worker_env(settings: &Settings, sandbox: &ServedProteger) -> Vec<(String, String)> {
    [
        ("UNDERWRITE_REDIS_URL", settings.redis.url.clone()),
        ("UNDERWRITE_REDIS_QUEUE", settings.redis.queue.clone()),
        (
            "UNDERWRITE_VENDORS_PROTEGER_BASE_URL",
            sandbox.proteger_url(),
        ),
        ("UNDERWRITE_PROTEGER_TOKEN", "chaos".to_string()),
        ("UNDERWRITE_WORKER_LEASE_SECS", "2".to_string()),
        ("UNDERWRITE_WEBHOOKS_ALLOW_CIDRS", "127.0.0.0/8".to_string()),
        (
            "UNDERWRITE_WEBHOOKS_SCHEDULE_SECS",
            "0,1,1,2,2,5,5,10".to_string(),
        ),
        ("UNDERWRITE_LOG", "error".to_string()),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_string(), value))
    .collect()
}
