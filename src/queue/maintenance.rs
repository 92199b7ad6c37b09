//! Background chores every worker process runs: promoting due retries, and retention.
//!
//! Both are safe to run in many processes at once: each step is one atomic script, and a
//! step done twice is a step that finds nothing left to do.

use std::time::Duration;

use super::clock::now_ms;
use super::store::Store;

/// Moves a kind's due delayed jobs into its stream. It sleeps until the next one is due,
/// but never longer than a second, because another process may schedule an earlier retry
/// meanwhile: a retry runs at most about a second late.
pub fn spawn_promoter(store: Store, kind: String) -> tokio::task::JoinHandle<()> {
    const BATCH: usize = 500;
    tokio::spawn(async move {
        loop {
            let wait = match store.promote(&kind, BATCH).await {
                Ok((moved, _)) if moved as usize == BATCH => Duration::ZERO,
                Ok((_, Some(next))) => {
                    Duration::from_millis((next - now_ms()).clamp(10, 1_000) as u64)
                }
                Ok((_, None)) => Duration::from_secs(1),
                Err(e) => {
                    tracing::warn!(%kind, error = %e, "cannot promote delayed jobs; retrying");
                    Duration::from_secs(1)
                }
            };
            tokio::time::sleep(wait).await;
        }
    })
}

/// Enforces retention every `every` (finished records, the dead set's bounds).
pub fn spawn_janitor(store: Store, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match store.enforce_retention().await {
                Ok(0) => {}
                Ok(deleted) => tracing::info!(deleted, "retention: deleted expired job records"),
                Err(e) => tracing::warn!(error = %e, "retention pass failed; will try again"),
            }
            if let Err(e) = store.forget_idle_consumers(Duration::from_secs(3600)).await {
                tracing::warn!(error = %e, "cannot tidy consumer groups; will try again");
            }
        }
    })
}
