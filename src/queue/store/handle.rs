//! The [`Store`] value: what every other file of `store/` adds methods to.
//!
//! A `Store` is cheap to clone and every clone is the same store: the connection is a
//! `ConnectionManager` (one multiplexed connection that reconnects by itself), and the
//! pieces of state that must be seen by all clones (when Redis was last unreachable, the
//! group-commit task) sit behind an `Arc`.
//!
//! The fields are `pub(super)` so that the sibling files, each one `impl Store` block of
//! one concern, reach them directly; nothing outside `store/` does.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redis::Value;
use redis::aio::ConnectionManager;

use crate::queue::commit::Committer;
use crate::queue::error::QueueError;
use crate::queue::keys::Keys;

/// How long things are kept (enforced by `retention.rs`; the windows also set how long a
/// settled job's record lives, see `settle.rs`).
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    pub finished: Duration,
    pub dead_max_entries: u64,
    pub dead_max_age: Duration,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            finished: Duration::from_secs(7 * 24 * 3600),
            dead_max_entries: 10_000,
            dead_max_age: Duration::from_secs(30 * 24 * 3600),
        }
    }
}

#[derive(Clone)]
pub struct Store {
    pub(super) conn: ConnectionManager,
    pub(super) keys: Keys,
    pub(super) retention: Retention,
    /// When Redis was last found unreachable by a user of this store (shared by clones).
    unreachable_at: Arc<Mutex<Option<Instant>>>,
    /// Gathers the settlements that are ready together into one call (shared by clones).
    pub(super) committer: Arc<Committer>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("keys", &self.keys).finish()
    }
}

impl Store {
    pub fn new(conn: ConnectionManager, keys: Keys, retention: Retention) -> Self {
        Self {
            conn,
            keys,
            retention,
            unreachable_at: Arc::default(),
            committer: Arc::default(),
        }
    }

    /// A copy that settles on its own (no group commit): what the committer itself uses,
    /// so that it holds no handle on its own channel.
    pub(super) fn without_committer(&self) -> Self {
        Self {
            committer: Arc::default(),
            ..self.clone()
        }
    }

    /// Notes that Redis could not be reached just now.
    pub fn note_unreachable(&self) {
        *self
            .unreachable_at
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
    }

    /// Whether Redis was found unreachable within the last `window`. A reader asks before
    /// reclaiming other workers' jobs: right after an outage every lease looks expired
    /// (see `reader.rs`).
    pub fn unreachable_within(&self, window: Duration) -> bool {
        self.unreachable_at
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some_and(|at| at.elapsed() < window)
    }

    /// The key layout, for modules that keep keys of their own in this queue's hash tag.
    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// A handle on the shared connection (a clone: it multiplexes, it does not open one).
    pub fn connection(&self) -> ConnectionManager {
        self.conn.clone()
    }

    /// One round trip to Redis, for readiness checks.
    pub async fn ping(&self) -> Result<(), QueueError> {
        let mut conn = self.conn.clone();
        let _: String = redis::cmd("PING").query_async(&mut conn).await?;
        Ok(())
    }

    /// Raw access for tests and the chaos suite (for example to write a corrupt payload).
    pub async fn raw(&self, cmd: &redis::Cmd) -> Result<Value, QueueError> {
        let mut conn = self.conn.clone();
        Ok(cmd.query_async(&mut conn).await?)
    }
}
