//! "This job has sent its creation to Tulip before": one Redis key per job, written *before*
//! each `POST /contracts`.
//!
//! The queue counts attempts, but a worker that dies mid-call is not an attempt (its job is
//! delivered again with the same attempt number), and that is exactly when a contract may
//! have been made without our knowing. So the creation job does not trust the attempt
//! number alone: it writes this mark before it sends, and any run that finds the mark first
//! looks for the contract it may already have made (`adopt.rs`). A mark that cannot be
//! written stops the call (the job retries): sending unmarked would make the next run
//! blind.
//!
//! Key: [`crate::queue::Keys::vendor`]`("tulip", "sent:<job id>")`, in the queue's hash
//! tag (deleted with the queue), expiring after [`MARK_TTL`]: far longer than any job's
//! retries, and an operator's `dead retry` keeps the job id, so the mark still applies.

use std::time::Duration;

use redis::AsyncCommands;
use redis::aio::ConnectionManager;

use crate::queue::{JobId, Store};
use crate::vendors::tulip::settings::NAME;

/// How long a mark lives.
pub const MARK_TTL: Duration = Duration::from_secs(90 * 24 * 3600);

/// The marks of one queue.
#[derive(Clone)]
pub struct SentMarks {
    conn: ConnectionManager,
    store: Store,
}

impl std::fmt::Debug for SentMarks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SentMarks").finish_non_exhaustive()
    }
}

impl SentMarks {
    pub fn new(store: &Store) -> Self {
        Self {
            conn: store.connection(),
            store: store.clone(),
        }
    }

    /// The Redis key of `job`'s mark, for tests and operators.
    pub fn key(&self, job: &JobId) -> String {
        self.store.keys().vendor(NAME, &format!("sent:{job}"))
    }

    /// Notes that `job` is about to send its creation.
    pub async fn mark(&self, job: &JobId) -> Result<(), redis::RedisError> {
        let mut conn = self.conn.clone();
        conn.set_ex(self.key(job), 1, MARK_TTL.as_secs()).await
    }

    /// Whether `job` sent its creation before.
    pub async fn was_sent(&self, job: &JobId) -> Result<bool, redis::RedisError> {
        let mut conn = self.conn.clone();
        conn.exists(self.key(job)).await
    }
}
