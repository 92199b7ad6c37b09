//! A whole underwrite in-process: the sandbox on a free port, a private queue on the shared
//! redis-server, the real workers (`workers::run`), and a `Producer`.

use std::time::Duration;

use underwrite::config::Settings;
use underwrite::producer::Producer;
use underwrite::queue::{Keys, Redis, Retention, RetryPolicy, Store};
use underwrite::vendors;
use underwrite::vendors::proteger::sandbox::ProtegerSandboxConfig;
use underwrite::vendors::proteger::sandbox::ServedProteger;
use underwrite::workers::{self, WorkerDeps};

use super::background::Background;
use super::redis::{TestRedis, unique_queue};

pub struct World {
    pub sandbox: ServedProteger,
    pub settings: Settings,
    pub store: Store,
    pub producer: Producer,
    workers: Background,
}

/// Settings for a test: the shared redis-server, a fresh queue, fast retries.
pub fn test_settings(redis: &TestRedis, queue: &str, sandbox_url: &str) -> Settings {
    let env = vec![
        ("UNDERWRITE_REDIS_URL".to_string(), redis.url()),
        ("UNDERWRITE_REDIS_QUEUE".to_string(), queue.to_string()),
        (
            "UNDERWRITE_PROTEGER_TOKEN".to_string(),
            "sandbox-token".to_string(),
        ),
        (
            "UNDERWRITE_VENDORS_PROTEGER_BASE_URL".to_string(),
            sandbox_url.to_string(),
        ),
        (
            "UNDERWRITE_VENDORS_PROTEGER_TIMEOUT_MS".to_string(),
            "1000".to_string(),
        ),
        (
            "UNDERWRITE_API_TOKENS".to_string(),
            "test-token".to_string(),
        ),
    ];
    let mut settings = Settings::load_from(None, env).expect("settings");
    let fast = RetryPolicy {
        max_attempts: 6,
        base_ms: 50,
        cap_ms: 200,
        snooze_deadline_secs: None,
    };
    for kind in [
        "default",
        "proteger.contract.batch",
        "proteger.contract.cancel",
    ] {
        settings.retry.insert(kind.to_string(), fast);
    }
    settings
}

impl World {
    pub async fn start(proteger: ProtegerSandboxConfig, tweak: impl FnOnce(&mut Settings)) -> Self {
        let sandbox = underwrite::vendors::proteger::sandbox::serve(
            "127.0.0.1:0".parse().expect("addr"),
            proteger,
        )
        .await
        .expect("sandbox");
        let redis = TestRedis::shared();
        let queue = unique_queue();
        let mut settings = test_settings(redis, &queue, &sandbox.proteger_url());
        tweak(&mut settings);
        let conn = Redis::open(&settings.redis.url).expect("redis");
        let store = Store::new(
            conn.manager().expect("manager"),
            Keys::new(&settings.redis.key_prefix, &settings.redis.queue),
            Retention::default(),
        );
        let producer = Producer::new(store.clone(), Duration::from_secs(3600));
        let deps = WorkerDeps::new(settings.clone(), conn, store.clone());
        let workers = Background::spawn(move |stopped| async move {
            let shutdown = async move {
                let _ = stopped.await;
            };
            workers::run(deps, vendors::all(), shutdown)
                .await
                .expect("workers");
        });
        Self {
            sandbox,
            settings,
            store,
            producer,
            workers,
        }
    }

    /// Another worker process on the same queue (its own identity, the same settings):
    /// stop it with [`Background::stop`].
    pub fn another_process(&self) -> Background {
        let settings = self.settings.clone();
        let conn = Redis::open(&settings.redis.url).expect("redis");
        let deps = WorkerDeps::new(settings, conn, self.store.clone());
        Background::spawn(move |stopped| async move {
            let shutdown = async move {
                let _ = stopped.await;
            };
            workers::run(deps, vendors::all(), shutdown)
                .await
                .expect("workers");
        })
    }

    pub async fn stop(self) {
        self.workers.stop().await;
    }
}

/// Waits for a contract job to succeed and returns the vendor's contract id. The vendor may
/// not have persisted it yet: a cancellation sent at once is retried until it has (the
/// cancel job knows the contract is ours), so there is nothing to wait for.
pub async fn created_contract(store: &Store, job: &underwrite::queue::JobId) -> String {
    let record = super::worker::wait_for(store, job, Duration::from_secs(30), |r| {
        r.state == underwrite::queue::JobState::Succeeded
    })
    .await;
    record
        .result
        .as_ref()
        .and_then(|r| r["id"].as_str())
        .expect("the vendor's contract id")
        .to_string()
}
