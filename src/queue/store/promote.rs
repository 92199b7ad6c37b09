//! Delayed jobs becoming due: a retry waits in its kind's `sched:<kind>` sorted set,
//! scored by when it is due, and moves into the kind's stream once it is.
//!
//! The promoter (`maintenance.rs`) calls [`Store::promote`] in a loop, sleeping until the
//! next due time it answers (a second at most).

use super::handle::Store;
use crate::queue::clock::now_ms;
use crate::queue::error::QueueError;
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
}
