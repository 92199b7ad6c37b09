//! The worker role of a process: apalis's `Monitor` running one worker per job kind of
//! every vendor in the registry, the webhook delivery worker, and the background chores
//! (vendors' batchers, retry promoters, retention, and the scheduler loop that fires every
//! vendor's periodic jobs).
//!
//! Shutdown (SIGTERM/SIGINT, or the future handed to [`run`]): workers stop taking jobs,
//! running jobs get `worker.shutdown_timeout_secs` to finish, jobs taken but not started
//! go back to the queue at once, and whatever is still running at the deadline is left to
//! its lease, to be re-delivered to another worker.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use apalis::prelude::Monitor;
use futures::FutureExt;
use tokio_util::sync::CancellationToken;

use crate::queue::maintenance::{spawn_janitor, spawn_promoter};
use crate::queue::schedule::{self, ScheduleError};
use crate::queue::scheduler::spawn_scheduler;
use crate::queue::{FinalHook, Hooks, JobKind};
use crate::vendors::{VendorError, Vendors};
use crate::webhooks::{self, delivery::Delivery};

pub use crate::worker_deps::WorkerDeps;

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("cannot set up a vendor: {0}")]
    Vendor(#[from] VendorError),
    #[error(transparent)]
    Webhooks(#[from] crate::webhooks::worker::WebhookSetupError),
    #[error("worker runtime: {0}")]
    Runtime(String),
    #[error(transparent)]
    Schedule(#[from] ScheduleError),
}

/// Runs the workers of every vendor in `vendors` until `shutdown` resolves, then shuts
/// down gracefully.
pub async fn run(
    mut deps: WorkerDeps,
    vendors: Vendors,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), WorkerError> {
    tracing::info!(worker = %deps.identity, vendors = ?vendors, "starting workers");
    // Checked before anything starts: a refused start leaves nothing running.
    let schedules = vendors.schedules(&deps.settings);
    schedule::check_unique(&schedules)?;
    // One signal for the setup, the monitor and the vendors' chores (which hand back what
    // they hold).
    let stop = CancellationToken::new();
    let trigger = tokio::spawn({
        let stop = stop.clone();
        async move {
            shutdown.await;
            stop.cancel();
        }
    });
    // First, so that every worker registered below writes webhook deliveries. It waits for
    // Redis if Redis is away; a shutdown meanwhile ends the run.
    let setup = webhooks::worker::setup(&mut deps, vendors.catalogue());
    let deliverer = tokio::select! {
        deliverer = setup => deliverer?,
        () = stop.cancelled() => {
            trigger.abort();
            tracing::info!("workers stopped before they started");
            return Ok(());
        }
    };
    // The vendors' chains (the next stage of a finished job) are written in the same step
    // as the webhook deliveries: one hook asks both.
    let chains = vendors.chains();
    if !chains.is_empty() {
        let mut hooks: Vec<Arc<dyn FinalHook>> = deps.hook.take().into_iter().collect();
        hooks.push(Arc::new(chains));
        deps.hook = Some(Arc::new(Hooks::new(hooks)));
    }

    let mut timers = Vec::new();
    let kinds = vendors
        .iter()
        .flat_map(|vendor| vendor.worker_kinds())
        .chain([Delivery::KIND]);
    for kind in kinds {
        timers.push(spawn_promoter(deps.store.clone(), kind.to_string()));
    }
    timers.push(spawn_janitor(deps.store.clone(), Duration::from_secs(60)));

    // Every process runs every schedule: Redis makes it one job per tick (schedule.rs).
    let mut chores = vec![spawn_scheduler(deps.store.clone(), schedules, stop.clone())];
    let mut monitor = Monitor::new().shutdown_timeout(Duration::from_secs(
        deps.settings.worker.shutdown_timeout_secs,
    ));
    for vendor in vendors.iter() {
        monitor = vendor.register_workers(monitor, &deps)?;
        chores.extend(vendor.spawn_chores(&deps, stop.clone()));
    }
    let monitor = webhooks::worker::register(monitor, &deps, deliverer);
    let result = monitor
        .run_with_signal(stop.clone().cancelled_owned().map(Ok))
        .await
        .map_err(|e| WorkerError::Runtime(e.to_string()));

    // The monitor may also stop on its own (an error): the chores stop with it.
    stop.cancel();
    trigger.abort();
    for timer in timers {
        timer.abort();
    }
    for chore in chores {
        if let Err(e) = chore.await {
            tracing::warn!(error = %e, "a background chore (a vendor's, or the scheduler) panicked");
        }
    }
    tracing::info!("workers stopped");
    result
}
