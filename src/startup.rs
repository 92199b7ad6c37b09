//! Builds the application from [`Settings`] and a list of [`Vendors`] and runs it: the
//! producer API, the workers, and the chores every process runs (queue metrics, a Redis
//! watch). Tests start the real thing through [`spawn_for_tests`].
//!
//! The vendors are a value: `underwrite serve` passes the registry's ([`vendors::all`]), a
//! test may add a vendor of its own ([`start_with`]). Nothing here names a vendor.
//!
//! - [`App::build`] opens Redis *lazily*: nothing connects until the first command, so a
//!   process starts (and `/healthz` answers) while Redis is away, and every connection
//!   reconnects by itself with backoff once it is back.
//! - [`start`] binds the API's listener, spawns the roles and hands back a [`RunningApp`];
//!   [`serve`] is `start` plus waiting for a shutdown signal.
//! - Shutdown: the API stops accepting connections and finishes the requests in flight; the
//!   workers stop taking jobs and give running ones `worker.shutdown_timeout_secs` (see
//!   `workers.rs`). Both done, [`serve`] returns `Ok` and the process exits 0.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::api::{self, ApiState};
use crate::config::{ConfigError, Settings};
use crate::metrics;
use crate::producer::Producer;
use crate::queue::connection::ServerCheck;
use crate::queue::{Keys, QueueError, Redis, Retention, Store};
use crate::vendors::{self, Vendors};
use crate::workers::{self, WorkerDeps, WorkerError};

/// How often the queue-depth gauges are sampled.
const SAMPLE_EVERY: Duration = Duration::from_secs(5);
/// How often the Redis watch pings while Redis is up, and how long a ping may take.
const WATCH_EVERY: Duration = Duration::from_secs(1);
const PING_TIMEOUT: Duration = Duration::from_secs(2);
/// The longest pause between reconnection attempts of the Redis watch.
const WATCH_MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Which roles a process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Roles {
    pub api: bool,
    pub worker: bool,
}

impl Roles {
    pub const ALL: Roles = Roles {
        api: true,
        worker: true,
    };
}

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("nothing to run: --no-api and --no-worker together leave no role")]
    NoRole,
    #[error("redis: {0}")]
    Queue(#[from] QueueError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("the API server stopped: {0}")]
    Serve(std::io::Error),
    #[error(transparent)]
    Worker(#[from] WorkerError),
    #[error("{role} crashed: {reason}")]
    Crashed { role: &'static str, reason: String },
}

/// The pieces built from settings. Cheap to clone: everything inside is a handle.
#[derive(Debug, Clone)]
pub struct App {
    pub settings: Settings,
    pub vendors: Vendors,
    pub redis: Redis,
    pub store: Store,
    pub producer: Producer,
}

/// Creates every series the vendors and the queue will have, at 0, so that rates and
/// alerts have series before the first event.
fn init_metrics(vendors: &Vendors) {
    let kinds = vendors.job_kinds();
    let operations: Vec<(&str, &[&str])> = vendors
        .iter()
        .map(|vendor| (vendor.name(), vendor.operations()))
        .collect();
    metrics::init(&kinds, &operations);
}

impl App {
    /// Builds the pieces after checking the vendors' settings. Connects to nothing yet
    /// (connections are lazy).
    pub fn build(settings: Settings, vendors: Vendors) -> Result<Self, StartupError> {
        vendors.check(&settings)?;
        let (redis, store) = open_store(&settings)?;
        let producer = Producer::new(
            store.clone(),
            Duration::from_secs(settings.api.idempotency_secs),
        );
        Ok(Self {
            settings,
            vendors,
            redis,
            store,
            producer,
        })
    }

    /// The producer API's router, with every vendor's routes.
    pub fn router(&self) -> axum::Router {
        api::router(
            ApiState::new(
                self.producer.clone(),
                &self.settings,
                self.vendors.job_kinds(),
            ),
            self.vendors.routes(&self.settings),
        )
    }

    /// What the workers need, with a fresh identity (unique per process start).
    pub fn worker_deps(&self) -> WorkerDeps {
        WorkerDeps::new(
            self.settings.clone(),
            self.redis.clone(),
            self.store.clone(),
        )
    }
}

/// The queue's retention, from `[retention]`.
pub fn retention(settings: &Settings) -> Retention {
    Retention {
        finished: Duration::from_secs(settings.retention.finished_secs),
        dead_max_entries: settings.retention.dead_max_entries,
        dead_max_age: Duration::from_secs(settings.retention.dead_max_age_secs),
    }
}

/// A lazy connection to `redis.url` and the `Store` of `redis.queue`.
pub fn open_store(settings: &Settings) -> Result<(Redis, Store), QueueError> {
    let redis = Redis::open(&settings.redis.url)?;
    let store = Store::new(
        redis.manager()?,
        Keys::new(&settings.redis.key_prefix, &settings.redis.queue),
        retention(settings),
    );
    Ok((redis, store))
}

pub use crate::config::redacted_redis_url;

/// A started application: its roles run in the background until [`RunningApp::stop`] (or
/// the shutdown future given to [`serve`]).
pub struct RunningApp {
    /// Where the API listens (`None` without the API role). With port 0 in the settings,
    /// the port the OS picked.
    pub api_addr: Option<SocketAddr>,
    pub app: App,
    shutdown: CancellationToken,
    task: Option<JoinHandle<Result<(), StartupError>>>,
    /// Turns `true` when every role has stopped, for whoever cannot hold the app itself.
    done: watch::Receiver<bool>,
}

impl RunningApp {
    /// A future that resolves once every role has stopped (after a shutdown, or a role's
    /// failure), even when the app itself was dropped meanwhile: a caller that must not
    /// clean up under a worker still writing (the demo) waits on it.
    pub fn stopped(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut done = self.done.clone();
        async move {
            // An error means the app's task is gone: stopped too.
            let _ = done.wait_for(|stopped| *stopped).await;
        }
    }

    /// `http://<api_addr>`; panics without the API role (a test bug).
    pub fn base_url(&self) -> String {
        match self.api_addr {
            Some(addr) => format!("http://{addr}"),
            None => panic!("this app runs without the API role"),
        }
    }

    /// Asks every role to shut down gracefully; does not wait.
    pub fn shutdown(&self) {
        self.shutdown.cancel();
    }

    /// A token that shuts the app down when cancelled.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Waits until every role has stopped (after a shutdown, or a role's failure).
    pub async fn wait(mut self) -> Result<(), StartupError> {
        match self.task.take() {
            Some(task) => joined("the app", task.await),
            None => Ok(()),
        }
    }

    /// Graceful shutdown, waited for.
    pub async fn stop(self) -> Result<(), StartupError> {
        self.shutdown();
        self.wait().await
    }
}

impl Drop for RunningApp {
    fn drop(&mut self) {
        // A test that forgets `stop()` still shuts its app down.
        self.shutdown.cancel();
    }
}

/// Binds the API (if that role is on) and starts every role in the background, with the
/// registry's vendors.
pub async fn start(settings: Settings, roles: Roles) -> Result<RunningApp, StartupError> {
    start_with(settings, roles, vendors::all()).await
}

/// [`start`] with a list of vendors of the caller's.
pub async fn start_with(
    settings: Settings,
    roles: Roles,
    vendors: Vendors,
) -> Result<RunningApp, StartupError> {
    if !roles.api && !roles.worker {
        return Err(StartupError::NoRole);
    }
    let app = App::build(settings, vendors)?;
    init_metrics(&app.vendors);
    let listener = if roles.api {
        let addr = app.settings.api.listen;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| StartupError::Bind { addr, source })?;
        Some(listener)
    } else {
        None
    };
    let api_addr = match &listener {
        Some(listener) => Some(listener.local_addr().map_err(|source| StartupError::Bind {
            addr: app.settings.api.listen,
            source,
        })?),
        None => None,
    };
    let shutdown = CancellationToken::new();
    let (done_tx, done) = watch::channel(false);
    let roles_run = run(app.clone(), listener, roles.worker, shutdown.clone());
    let task = tokio::spawn(async move {
        let result = roles_run.await;
        let _ = done_tx.send(true);
        result
    });
    if let Some(addr) = api_addr {
        tracing::info!(%addr, "producer API listening");
        let secrets = &app.settings.secrets;
        if secrets.api_tokens.is_empty() && secrets.operator_tokens.is_empty() {
            tracing::warn!(
                "UNDERWRITE_API_TOKENS and UNDERWRITE_API_OPERATOR_TOKENS are empty: every /v1 request will be refused with 401"
            );
        }
    }
    Ok(RunningApp {
        api_addr,
        app,
        shutdown,
        task: Some(task),
        done,
    })
}

/// Runs the roles until `shutdown` resolves, then shuts down gracefully. `Ok` means a clean
/// stop (exit code 0).
pub async fn serve(
    settings: Settings,
    roles: Roles,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartupError> {
    let running = start(settings, roles).await?;
    tracing::info!(
        api = roles.api,
        worker = roles.worker,
        "underwrite is running; SIGTERM or SIGINT stops it gracefully"
    );
    let token = running.shutdown_token();
    let trigger = tokio::spawn(async move {
        tokio::select! {
            () = shutdown => {
                tracing::info!("shutdown requested: finishing in-flight work");
                token.cancel();
            }
            () = token.cancelled() => {}
        }
    });
    let result = running.wait().await;
    trigger.abort();
    if result.is_ok() {
        tracing::info!("stopped cleanly");
    }
    result
}

/// Starts the app for a test: API on an OS-picked port of 127.0.0.1, API and workers both.
/// Stop it with [`RunningApp::stop`].
pub async fn spawn_for_tests(settings: Settings) -> Result<RunningApp, StartupError> {
    spawn_for_tests_with(settings, Roles::ALL).await
}

/// [`spawn_for_tests`] with a choice of roles.
pub async fn spawn_for_tests_with(
    mut settings: Settings,
    roles: Roles,
) -> Result<RunningApp, StartupError> {
    settings.api.listen = SocketAddr::from(([127, 0, 0, 1], 0));
    start(settings, roles).await
}

/// [`spawn_for_tests`] with a list of vendors of the test's.
pub async fn spawn_for_tests_vendors(
    mut settings: Settings,
    vendors: Vendors,
) -> Result<RunningApp, StartupError> {
    settings.api.listen = SocketAddr::from(([127, 0, 0, 1], 0));
    start_with(settings, Roles::ALL, vendors).await
}

/// A future that resolves on the first SIGTERM or SIGINT after this call. The handlers are
/// installed by the call itself (it must run inside the tokio runtime), not when the future
/// is first polled, so a signal that comes while the app is still starting is neither lost
/// nor fatal. They stay installed afterwards: later signals do not kill the process by
/// themselves (`underwrite serve` exits at once on a second one).
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    use tokio::signal::unix::{SignalKind, signal};
    let handlers = signal(SignalKind::terminate()).and_then(|term| {
        let int = signal(SignalKind::interrupt())?;
        Ok((term, int))
    });
    async move {
        let (mut term, mut int) = match handlers {
            Ok(handlers) => handlers,
            Err(e) => {
                // Without handlers there is nothing to wait for: never resolve, and let the
                // signal's default action end the process.
                tracing::error!(error = %e, "cannot install signal handlers");
                return std::future::pending().await;
            }
        };
        let name = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        };
        tracing::info!(signal = name, "received shutdown signal");
    }
}

/// The body of a running app.
async fn run(
    app: App,
    listener: Option<TcpListener>,
    worker: bool,
    shutdown: CancellationToken,
) -> Result<(), StartupError> {
    let sampler = metrics::spawn_queue_sampler(app.store.clone(), SAMPLE_EVERY);
    let watch = tokio::spawn(watch_redis(app.store.clone(), shutdown.clone()));

    // Without the API, the metrics get a listener of their own, when one is configured.
    let metrics_only = match (&listener, app.settings.worker.metrics_listen) {
        (None, Some(addr)) => Some(
            TcpListener::bind(addr)
                .await
                .map_err(|source| StartupError::Bind { addr, source })?,
        ),
        _ => None,
    };
    let metrics_server = metrics_only.map(|listener| {
        tracing::info!(addr = ?listener.local_addr().ok(), "metrics listening");
        let grace = Duration::from_secs(1);
        let router = axum::Router::new().route(
            "/metrics",
            axum::routing::get(|| async { metrics::render() }),
        );
        let limits = api::serve::Limits::from_settings(&app.settings.api);
        tokio::spawn(serve_api(listener, router, limits, shutdown.clone(), grace))
    });
    let api = listener.map(|listener| {
        let grace = Duration::from_secs(app.settings.worker.shutdown_timeout_secs);
        let limits = api::serve::Limits::from_settings(&app.settings.api);
        tokio::spawn(serve_api(
            listener,
            app.router(),
            limits,
            shutdown.clone(),
            grace,
        ))
    });
    let workers = worker.then(|| {
        let deps = app.worker_deps();
        let vendors = app.vendors.clone();
        let signal = shutdown.clone().cancelled_owned();
        tokio::spawn(async move {
            workers::run(deps, vendors, signal)
                .await
                .map_err(StartupError::from)
        })
    });

    // A role that fails stops the others: a process half up is worse than one that exits.
    let api_done = role_done("the API", api, &shutdown);
    let workers_done = role_done("the workers", workers, &shutdown);
    let (api_result, workers_result) = tokio::join!(api_done, workers_done);

    sampler.abort();
    watch.abort();
    if let Some(server) = metrics_server {
        server.abort();
    }
    api_result.and(workers_result)
}

async fn role_done(
    role: &'static str,
    task: Option<JoinHandle<Result<(), StartupError>>>,
    shutdown: &CancellationToken,
) -> Result<(), StartupError> {
    let Some(task) = task else {
        return Ok(());
    };
    let result = joined(role, task.await);
    if let Err(e) = &result {
        tracing::error!(role, error = %e, "stopping the process");
        shutdown.cancel();
    } else if !shutdown.is_cancelled() {
        tracing::error!(
            role,
            "stopped without a shutdown request; stopping the process"
        );
        shutdown.cancel();
    }
    result
}

fn joined(
    role: &'static str,
    result: Result<Result<(), StartupError>, tokio::task::JoinError>,
) -> Result<(), StartupError> {
    result.unwrap_or_else(|e| {
        Err(StartupError::Crashed {
            role,
            reason: e.to_string(),
        })
    })
}

/// Serves the API until `shutdown`, then lets requests in flight finish for up to `grace`.
/// The server's limits against slow clients are `[api]`'s (`api/serve/`), for the
/// worker-only `/metrics` listener too.
async fn serve_api(
    listener: TcpListener,
    router: axum::Router,
    limits: api::serve::Limits,
    shutdown: CancellationToken,
    grace: Duration,
) -> Result<(), StartupError> {
    let server = api::serve::serve(listener, router, limits, shutdown.clone());
    tokio::pin!(server);
    tokio::select! {
        result = &mut server => return result.map_err(StartupError::Serve),
        () = shutdown.cancelled() => {}
    }
    match tokio::time::timeout(grace, server).await {
        Ok(result) => result.map_err(StartupError::Serve),
        Err(_) => {
            tracing::warn!(
                grace_secs = grace.as_secs(),
                "API connections still open after the shutdown timeout: closing them"
            );
            Ok(())
        }
    }
}

/// Watches Redis for the whole life of the process: logs its durability settings the first
/// time it answers (`ServerCheck`, which warns about eviction and missing AOF), and logs
/// when the connection is lost and when it is back. Callers never wait for it: a process
/// starts while Redis is down and its connections reconnect by themselves.
async fn watch_redis(store: Store, shutdown: CancellationToken) {
    let mut checked = false;
    let mut up: Option<bool> = None;
    let mut backoff = WATCH_EVERY;
    loop {
        let ping = tokio::time::timeout(PING_TIMEOUT, store.ping()).await;
        let error = match ping {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e.to_string()),
            Err(_) => Some(format!("no answer to PING within {PING_TIMEOUT:?}")),
        };
        match error {
            None => {
                if up == Some(false) {
                    tracing::info!("redis is reachable again");
                }
                up = Some(true);
                backoff = WATCH_EVERY;
                if !checked {
                    let mut conn = store.connection();
                    match ServerCheck::read(&mut conn).await {
                        Ok(check) => {
                            check.log();
                            checked = true;
                        }
                        Err(e) => tracing::warn!(error = %e, "cannot read redis's settings"),
                    }
                }
            }
            Some(error) => {
                if up != Some(false) {
                    tracing::warn!(
                        %error,
                        "redis is unreachable: not ready until it is back; connections retry with backoff"
                    );
                }
                up = Some(false);
                backoff = (backoff * 2).min(WATCH_MAX_BACKOFF);
            }
        }
        let pause = if up == Some(true) {
            WATCH_EVERY
        } else {
            backoff
        };
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            () = shutdown.cancelled() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::redacted_redis_url;

    #[test]
    fn urls_lose_their_password() {
        assert_eq!(
            redacted_redis_url("redis://user:secret@host:6379/0"),
            "redis://***@host:6379/0"
        );
        assert_eq!(
            redacted_redis_url("redis://127.0.0.1:6379"),
            "redis://127.0.0.1:6379"
        );
    }
}
