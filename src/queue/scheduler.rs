//! The scheduler loop: what every worker process runs to fire its schedules' ticks.
//!
//! It declares its schedules once (again whenever one goes missing), then looks at each:
//! a due tick is fired through `Store::fire_schedule`, which enqueues its job only if no
//! other process has (see `schedule.rs`). It sleeps until the earliest next run, but never
//! longer than a second, because another process may re-declare a schedule with another
//! interval meanwhile: a tick fires at most about a second late.
//!
//! Safe to run in any number of processes, and to stop at any moment: each step is one
//! atomic script, and a step done twice finds nothing left to do. Cancelling `stop` ends
//! the loop between two looks, so a stopped loop has no tick in flight.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::clock::now_ms;
use super::metrics;
use super::schedule::Schedule;
use super::store::{Store, Tick};

/// The longest sleep between two looks.
const MAX_WAIT: Duration = Duration::from_secs(1);

/// Runs the loop for `schedules` until `stop` is cancelled.
pub fn spawn_scheduler(
    store: Store,
    schedules: Vec<Schedule>,
    stop: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        if schedules.is_empty() {
            return;
        }
        let mut declared = false;
        while !stop.is_cancelled() {
            if !declared {
                match store.declare_schedules(&schedules, now_ms()).await {
                    Ok(()) => declared = true,
                    Err(e) => tracing::warn!(error = %e, "cannot declare schedules; retrying"),
                }
            }
            let mut wait = MAX_WAIT;
            if declared {
                for schedule in &schedules {
                    let next = look(&store, schedule).await;
                    if next == Next::Declare {
                        declared = false;
                    }
                    if let Next::At(at) = next {
                        let until = u64::try_from(at - now_ms()).unwrap_or(0);
                        wait = wait.min(Duration::from_millis(until));
                    }
                }
            }
            tokio::select! {
                () = stop.cancelled() => {}
                () = tokio::time::sleep(wait.max(Duration::from_millis(5))) => {}
            }
        }
    })
}

/// What to do after looking at a schedule.
#[derive(Debug, PartialEq, Eq)]
enum Next {
    /// Look again by then (unix ms).
    At(i64),
    /// Look again within [`MAX_WAIT`].
    Soon,
    /// Its record is gone: declare the schedules again.
    Declare,
}

/// Fires `schedule` if its tick is due.
async fn look(store: &Store, schedule: &Schedule) -> Next {
    let name = schedule.name();
    match store.fire_schedule(schedule, now_ms()).await {
        Ok(Tick::Fired { job, next_run_at }) => {
            tracing::info!(schedule = name, %job, "periodic job enqueued");
            metrics::record_schedule_run(name);
            Next::At(next_run_at)
        }
        Ok(Tick::NotDue { next_run_at }) => Next::At(next_run_at),
        Ok(Tick::Taken { next_run_at }) => next_run_at.map_or(Next::Soon, Next::At),
        Ok(Tick::Undeclared) => Next::Declare,
        Err(e) => {
            tracing::warn!(schedule = name, error = %e, "cannot fire a schedule; retrying");
            Next::Soon
        }
    }
}
