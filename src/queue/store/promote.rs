//! Delayed jobs becoming due: a retry waits in its kind's `sched:<kind>` sorted set,
//! scored by when it is due, and moves into the kind's stream once it is.
//!
//! The promoter (`maintenance.rs`) calls [`Store::promote`] in a loop, sleeping until the
//! next due time it answers (a second at most).
//!
//! A snoozed job can also be made due early ([`Store::wake`]): whoever learns that the
//! vendor is done (a poll that covers many jobs at once) wakes the jobs waiting for it,
//! instead of each job asking the vendor on its own.

use super::handle::Store;
use crate::queue::clock::now_ms;
use crate::queue::error::QueueError;
use crate::queue::id::JobId;
use crate::queue::scripts::SCRIPTS;

impl Store {
    /// Moves due delayed jobs of a kind into its stream. Returns how many moved and when
    /// the next one is due (unix ms).
    pub async fn promote(&self, kind: &str, max: usize) -> Result<(u64, Option<i64>), QueueError> {
        let mut conn = self.conn.clone();
        let (moved, next): (u64, String) = SCRIPTS
            .promote
            .key(self.keys.scheduled(kind))
            .key(self.keys.stream(kind))
            .arg(now_ms())
            .arg(max)
            .invoke_async(&mut conn)
            .await?;
        Ok((moved, next.parse::<f64>().ok().map(|ms| ms as i64)))
    }

    /// Makes a snoozed job of `kind` due now, so that it runs within the promoter's next
    /// look. A job running right now is marked instead: if its attempt ends in a snooze,
    /// that snooze is due at once, so a wake that races the attempt is never lost. Anything
    /// else (queued, retrying, finished, gone) is left alone, so waking twice or too late
    /// is harmless.
    pub async fn wake(&self, kind: &str, id: &JobId) -> Result<Wake, QueueError> {
        let mut conn = self.conn.clone();
        let woken: i64 = SCRIPTS
            .wake
            .key(self.keys.job(id))
            .key(self.keys.scheduled(kind))
            .arg(now_ms())
            .arg(id.to_string())
            .invoke_async(&mut conn)
            .await?;
        Ok(match woken {
            1 => Wake::Woken,
            2 => Wake::Marked,
            _ => Wake::NotWaiting,
        })
    }
}

/// What [`Store::wake`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// It was snoozed: it is due now.
    Woken,
    /// It was running: should this attempt snooze, it is due at once.
    Marked,
    /// Queued, retrying, finished or gone: it runs (or ran) anyway.
    NotWaiting,
}
