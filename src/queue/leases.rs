//! The jobs a worker holds, and the heartbeat that keeps their leases alive.
//!
//! A lease is the entry's idle time in the consumer group's pending list: it runs out
//! `worker.lease_secs` after the last heartbeat. While a worker lives it renews every
//! entry it holds every third of a lease, so a job that takes longer than the lease (a
//! vendor stall) is not taken over; once the worker dies, renewals stop and another worker
//! reclaims the job within one lease.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use super::id::JobId;
use super::store::Store;

/// One held entry.
#[derive(Debug, Clone)]
pub struct Held {
    pub job: JobId,
    pub token: String,
    /// The handler has started; until then the job can be handed back at shutdown.
    pub started: bool,
}

/// The entries one consumer holds, shared by its fetch loop, its acknowledgement layer
/// and its heartbeat.
#[derive(Debug, Clone, Default)]
pub struct Leases(Arc<Mutex<HashMap<String, Held>>>);

impl Leases {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Held>> {
        // A panic while holding this lock leaves a plain map behind: still consistent.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn hold(&self, entry: &str, job: JobId, token: &str) {
        self.lock().insert(
            entry.to_string(),
            Held {
                job,
                token: token.to_string(),
                started: false,
            },
        );
    }

    pub fn start(&self, entry: &str) {
        if let Some(held) = self.lock().get_mut(entry) {
            held.started = true;
        }
    }

    pub fn drop_entry(&self, entry: &str) {
        self.lock().remove(entry);
    }

    pub fn entries(&self) -> Vec<String> {
        self.lock().keys().cloned().collect()
    }

    pub fn unstarted(&self) -> Vec<(String, Held)> {
        self.lock()
            .iter()
            .filter(|(_, held)| !held.started)
            .map(|(entry, held)| (entry.clone(), held.clone()))
            .collect()
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Renews `leases` every `lease / 3` until the returned task is aborted.
pub fn spawn_heartbeat(
    store: Store,
    kind: String,
    consumer: String,
    leases: Leases,
    lease: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(lease / 3);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let entries = leases.entries();
            if let Err(e) = store.heartbeat(&kind, &consumer, &entries).await {
                // Redis away: the next tick tries again; a lease outlives several misses.
                if e.is_connection() {
                    store.note_unreachable();
                }
                tracing::warn!(%kind, error = %e, "lease heartbeat failed");
            }
        }
    })
}
