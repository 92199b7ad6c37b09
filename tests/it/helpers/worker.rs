//! An in-process worker for test job kinds, on the real backend and a real redis-server.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use apalis::layers::WorkerBuilderExt;
use apalis::prelude::{Data, Monitor, WorkerBuilder};
use serde::{Deserialize, Serialize};
use underwrite::queue::maintenance::spawn_promoter;

use super::background::Background;
use underwrite::queue::{
    ErrorDetail, FetchSettings, FinalHook, JobContext, JobError, JobId, JobKind, JobOutput,
    JobRecord, JobState, Priority, RateLimiter, Redis, RedisBackend, RetryPolicy, Store,
    WorkerIdentity,
};

/// A test job: it does what its payload says.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Scripted {
    /// Attempts 1..=fail_times fail.
    #[serde(default)]
    pub fail_times: u32,
    #[serde(default)]
    pub permanent: bool,
    #[serde(default)]
    pub retry_after_ms: Option<u64>,
    #[serde(default)]
    pub sleep_ms: u64,
    #[serde(default)]
    pub label: String,
    /// Runs 1..=snooze_runs answer "not yet, look again after `snooze_ms`".
    #[serde(default)]
    pub snooze_runs: u32,
    #[serde(default)]
    pub snooze_ms: u64,
    /// How long a snoozing run works before it answers (a look that takes time).
    #[serde(default)]
    pub look_ms: u64,
    /// Asks the worker's rate limiter (high priority) before doing anything else.
    #[serde(default)]
    pub rate_limited: bool,
}

impl JobKind for Scripted {
    const KIND: &'static str = "test.scripted";
}

/// How many times each job's handler ran (started).
#[derive(Debug, Clone, Default)]
pub struct Runs(pub Arc<Mutex<HashMap<JobId, u32>>>);

impl Runs {
    pub fn of(&self, id: &JobId) -> u32 {
        self.0
            .lock()
            .map(|m| m.get(id).copied().unwrap_or(0))
            .unwrap_or(0)
    }
    pub fn total(&self) -> u32 {
        self.0.lock().map(|m| m.values().sum()).unwrap_or(0)
    }
}

/// The shared budget the worker's jobs ask, if any.
#[derive(Debug, Clone, Default)]
pub struct Limiter(pub Option<RateLimiter>);

async fn scripted(
    job: Scripted,
    ctx: JobContext,
    runs: Data<Runs>,
    limiter: Data<Limiter>,
) -> Result<JobOutput, JobError> {
    if let (true, Some(limiter)) = (job.rate_limited, &limiter.0.0) {
        limiter.acquire(Priority::High).await?;
    }
    let run = match runs.0.0.lock() {
        Ok(mut map) => {
            let run = map.entry(ctx.id).or_default();
            *run += 1;
            *run
        }
        Err(_) => 0,
    };
    if run <= job.snooze_runs {
        tokio::time::sleep(Duration::from_millis(job.look_ms)).await;
        return Err(JobError::snooze(
            Duration::from_millis(job.snooze_ms),
            format!("not done yet (run {run})"),
        ));
    }
    if job.sleep_ms > 0 {
        tokio::time::sleep(Duration::from_millis(job.sleep_ms)).await;
    }
    if ctx.attempt <= job.fail_times {
        let detail = ErrorDetail {
            message: format!("scripted failure on attempt {}", ctx.attempt),
            vendor_status: Some(if job.permanent { 400 } else { 503 }),
            vendor_body: None,
            ambiguous: false,
        };
        return Err(if job.permanent {
            JobError::permanent(detail)
        } else {
            JobError::Retryable {
                detail,
                retry_after: job.retry_after_ms.map(Duration::from_millis),
            }
        });
    }
    Ok(JobOutput::new(
        serde_json::json!({ "label": job.label, "attempt": ctx.attempt }),
    ))
}

pub struct TestWorker {
    pub runs: Runs,
    task: Background,
}

pub struct WorkerOptions {
    pub concurrency: usize,
    pub lease: Duration,
    pub max_crashes: u32,
    pub policy: RetryPolicy,
    pub shutdown_timeout: Duration,
    /// What finished jobs cause (the webhook fan-out); `None` for nothing.
    pub hook: Option<Arc<dyn FinalHook>>,
    /// The budget jobs with `rate_limited` ask.
    pub limiter: Limiter,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        Self {
            concurrency: 8,
            lease: Duration::from_secs(30),
            max_crashes: 3,
            policy: RetryPolicy {
                max_attempts: 5,
                base_ms: 20,
                cap_ms: 100,
                snooze_deadline_secs: None,
            },
            shutdown_timeout: Duration::from_secs(10),
            hook: None,
            limiter: Limiter::default(),
        }
    }
}

impl TestWorker {
    pub fn start(store: &Store, redis: &Redis, options: WorkerOptions) -> Self {
        let runs = Runs::default();
        let store = store.clone();
        let redis = redis.clone();
        let data = runs.clone();
        let task = Background::spawn(move |stopped| async move {
            let promoter = spawn_promoter(store.clone(), Scripted::KIND.to_string());
            let identity = WorkerIdentity::new();
            let settings = FetchSettings {
                lease: options.lease,
                prefetch: options.concurrency,
                block: Duration::from_millis(500),
                max_crashes: options.max_crashes,
                policy: options.policy,
                hook: options.hook,
            };
            let monitor = Monitor::new()
                .shutdown_timeout(options.shutdown_timeout)
                .register(move |_| {
                    WorkerBuilder::new(identity.consumer(Scripted::KIND))
                        .backend(RedisBackend::<Scripted>::new(
                            store.clone(),
                            redis.clone(),
                            &identity,
                            settings.clone(),
                        ))
                        .catch_panic()
                        .concurrency(options.concurrency)
                        .data(data.clone())
                        .data(options.limiter.clone())
                        .build(scripted)
                });
            let signal = async move {
                let _ = stopped.await;
                Ok(())
            };
            if let Err(e) = monitor.run_with_signal(signal).await {
                panic!("monitor failed: {e}");
            }
            promoter.abort();
        });
        Self { runs, task }
    }

    /// Graceful shutdown; waits until the worker has stopped.
    pub async fn stop(self) {
        self.task.stop().await;
    }
}

/// Polls a job until `done` holds, or panics after `within`.
pub async fn wait_for(
    store: &Store,
    id: &JobId,
    within: Duration,
    done: impl Fn(&JobRecord) -> bool,
) -> JobRecord {
    let deadline = Instant::now() + within;
    loop {
        if let Ok(Some(record)) = store.job(id).await {
            if done(&record) {
                return record;
            }
            assert!(
                Instant::now() < deadline,
                "job {id} did not get there in {within:?}; last seen: {record:?}"
            );
        } else {
            assert!(
                Instant::now() < deadline,
                "job {id} not found within {within:?}"
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub async fn wait_for_state(
    store: &Store,
    id: &JobId,
    state: JobState,
    within: Duration,
) -> JobRecord {
    wait_for(store, id, within, |r| r.state == state).await
}
