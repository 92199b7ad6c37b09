//! The real producer API on a random port, against a real redis-server.
//!
//! Each `TestApi` has a queue of its own on the shared server (`unique_queue`), so tests run
//! in parallel without seeing each other's jobs, and can read the queue directly through
//! `store` to check what a request did (or did not) enqueue.

use std::time::Duration;

use reqwest::{Client, RequestBuilder};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use underwrite::config::Settings;
use underwrite::producer::Producer;
use underwrite::queue::{JobRecord, Keys, ListFilter, Redis, Retention, Store};
use underwrite::startup::App;

use super::redis::{TestRedis, free_port, store_on, unique_queue};

/// The bearer token the test settings accept: a bare one, so of the app `default` (as an
/// existing single-token setup), the app the Rust producer's tests submit as.
pub const TOKEN: &str = "test-token";
/// A second accepted token: another caller, of another app ([`OTHER_APP`]).
pub const OTHER_TOKEN: &str = "other-token";
/// The app of [`OTHER_TOKEN`].
pub const OTHER_APP: &str = "other";
/// The operator's token: every app's records, and the dead set's bulk routes.
pub const OPERATOR_TOKEN: &str = "operator-token";

/// `UNDERWRITE_API_TOKENS` of the test settings: two apps.
pub fn app_tokens() -> String {
    format!("{TOKEN},{OTHER_APP}:{OTHER_TOKEN}")
}

pub struct TestApi {
    /// `http://127.0.0.1:<port>`
    pub url: String,
    pub store: Store,
    pub redis: Redis,
    pub client: Client,
    server: JoinHandle<()>,
}

/// Settings as a deployment would load them, with these app tokens and the operator's.
pub fn settings(tokens: &str) -> Settings {
    Settings::load_from(
        None,
        vec![
            ("UNDERWRITE_API_TOKENS".to_string(), tokens.to_string()),
            (
                "UNDERWRITE_API_OPERATOR_TOKENS".to_string(),
                OPERATOR_TOKEN.to_string(),
            ),
        ],
    )
    .expect("test settings")
}

impl TestApi {
    /// The API on the shared redis-server, a fresh queue, default settings.
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// Like [`TestApi::spawn`], with settings adjusted first.
    pub async fn spawn_with(adjust: impl FnOnce(&mut Settings)) -> Self {
        let redis = TestRedis::shared();
        let queue = unique_queue();
        let mut settings = settings(&app_tokens());
        settings.redis.url = redis.url();
        settings.redis.queue = queue.clone();
        adjust(&mut settings);
        let (store, conn) = store_on(redis, &queue, Retention::default());
        Self::serve(store, conn, &settings).await
    }

    /// The API on a redis-server of the test's own (one it reconfigures or kills).
    pub async fn spawn_on(redis: &TestRedis) -> Self {
        let queue = unique_queue();
        let mut settings = settings(&app_tokens());
        settings.redis.url = redis.url();
        settings.redis.queue = queue.clone();
        let (store, conn) = store_on(redis, &queue, Retention::default());
        Self::serve(store, conn, &settings).await
    }

    /// The API pointed at a Redis port nobody listens on.
    pub async fn spawn_without_redis() -> Self {
        let url = format!("redis://127.0.0.1:{}/", free_port());
        let conn = Redis::open(&url).expect("redis url");
        let store = Store::new(
            conn.manager().expect("lazy manager"),
            Keys::new("uw", &unique_queue()),
            Retention::default(),
        );
        Self::serve(store, conn, &settings(TOKEN)).await
    }

    /// The API on a queue that is already there (a [`World`](super::world::World)'s, whose
    /// workers then run what it enqueues), with the test tokens of [`settings`].
    pub async fn on_queue(store: Store, redis: Redis, world_settings: &Settings) -> Self {
        let mut settings = world_settings.clone();
        let tokens = self::settings(&app_tokens()).secrets;
        settings.secrets.api_tokens = tokens.api_tokens;
        settings.secrets.operator_tokens = tokens.operator_tokens;
        Self::serve(store, redis, &settings).await
    }

    async fn serve(store: Store, redis: Redis, settings: &Settings) -> Self {
        let producer = Producer::new(
            store.clone(),
            Duration::from_secs(settings.api.idempotency_secs),
        );
        // The app's own router, vendor routes included, on this test's store.
        let app = App {
            settings: settings.clone(),
            vendors: underwrite::vendors::all(),
            redis: redis.clone(),
            store: store.clone(),
            producer,
        }
        .router();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        // The app's own server, with its limits against slow clients.
        let limits = underwrite::api::serve::Limits::from_settings(&settings.api);
        let server = tokio::spawn(async move {
            underwrite::api::serve::serve(listener, app, limits, CancellationToken::new())
                .await
                .expect("serve");
        });
        let client = Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client");
        Self {
            url,
            store,
            redis,
            client,
            server,
        }
    }

    /// A request with our bearer token.
    pub fn get(&self, path: &str) -> RequestBuilder {
        self.client
            .get(format!("{}{path}", self.url))
            .bearer_auth(TOKEN)
    }

    pub fn post(&self, path: &str) -> RequestBuilder {
        self.client
            .post(format!("{}{path}", self.url))
            .bearer_auth(TOKEN)
    }

    pub fn delete(&self, path: &str) -> RequestBuilder {
        self.client
            .delete(format!("{}{path}", self.url))
            .bearer_auth(TOKEN)
    }

    /// A request with another token (another app's, or the operator's).
    pub fn request_as(&self, token: &str, method: reqwest::Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(token)
    }

    /// A request without any token.
    pub fn anonymous(&self, method: reqwest::Method, path: &str) -> RequestBuilder {
        self.client.request(method, format!("{}{path}", self.url))
    }

    /// Every job of this API's queue, read from Redis directly.
    pub async fn all_jobs(&self) -> Vec<JobRecord> {
        let filter = ListFilter {
            limit: 500,
            ..ListFilter::default()
        };
        self.store.list(&filter).await.expect("list").jobs
    }
}

impl Drop for TestApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}
