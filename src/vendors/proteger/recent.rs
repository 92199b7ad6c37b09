//! The contracts this service created at Proteger lately, and when.
//!
//! Proteger persists contracts asynchronously (seed 000): for a moment after a bulk create
//! answered, a refund or a quote on one of its contracts can answer 404. A 404 about a
//! contract that nobody created is final, so the cancel job needs to tell the two apart,
//! and only we know what we created: the batch job writes it down here when a bulk create
//! succeeds, and the cancel job asks here when the vendor says "not found".
//!
//! ## The key
//!
//! One sorted set per queue, [`crate::queue::Keys::vendor`]`("proteger", "recent")`
//! (`<prefix>:{<queue>}:vendor:proteger:recent`): member the vendor's contract id, score
//! the unix milliseconds when its creation was answered to us. Every write trims the
//! members older than the window and sets the key to expire one window later, so the set
//! holds at most the contracts of one window (about 100 bytes each: 300 s at 100 contracts
//! a second is 3 MB), and an idle deployment's set goes away by itself. Being in the
//! queue's hash tag, it is deleted with the queue.
//!
//! ## Time
//!
//! The scores are the workers' clocks ([`now_ms`]), like every score of the queue. A worker
//! whose clock runs ahead of another's shortens or lengthens the window by the difference:
//! harmless against a window of minutes. A score in the future counts as "just now".
//!
//! Failing to write is not fatal to the batch (its contracts exist whatever we note): the
//! only cost is that a cancellation sent within the vendor's persistence delay fails as it
//! did before this file existed.

use std::time::Duration;

use redis::RedisError;
use redis::aio::ConnectionManager;

use super::settings::NAME;
use super::types::Contract;
use crate::queue::clock::now_ms;
use crate::queue::{JobId, Store};

/// The vendor's name for the key, after `vendor:proteger:`.
pub const KEY_NAME: &str = "recent";

/// The set of contracts created within `window`, in one queue.
#[derive(Clone)]
pub struct RecentContracts {
    conn: ConnectionManager,
    key: String,
    window: Duration,
}

impl std::fmt::Debug for RecentContracts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecentContracts")
            .field("key", &self.key)
            .field("window", &self.window)
            .finish_non_exhaustive()
    }
}

impl RecentContracts {
    /// The set of `store`'s queue, remembering contracts for `window`.
    pub fn new(store: &Store, window: Duration) -> Self {
        Self {
            conn: store.connection(),
            key: store.keys().vendor(NAME, KEY_NAME),
            window,
        }
    }

    /// The Redis key, for tests and operators.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Notes that the contracts `ids` were created at `now` (unix ms), and forgets those
    /// older than the window. A contract noted before keeps its first time: a replayed
    /// answer of the same bulk call is not a new creation.
    pub async fn remember(&self, ids: &[&str], now: i64) -> Result<(), RedisError> {
        let window = self.window_ms();
        // With no window nothing counts as recent: there is nothing worth writing.
        if window == 0 || ids.is_empty() {
            return Ok(());
        }
        let members: Vec<(i64, &str)> = ids.iter().map(|id| (now, *id)).collect();
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd("ZADD")
            .arg(&self.key)
            .arg("NX")
            .arg(members)
            .ignore()
            .cmd("ZREMRANGEBYSCORE")
            .arg(&self.key)
            .arg("-inf")
            .arg(now.saturating_sub(window))
            .ignore()
            .cmd("PEXPIRE")
            .arg(&self.key)
            .arg(window)
            .ignore();
        let mut conn = self.conn.clone();
        pipe.query_async::<()>(&mut conn).await
    }

    /// How long before `now` (unix ms) we created `id`, when that is within the window;
    /// `None` for a contract we did not create, or created longer ago.
    pub async fn created_ago(&self, id: &str, now: i64) -> Result<Option<Duration>, RedisError> {
        let mut conn = self.conn.clone();
        let score: Option<f64> = redis::cmd("ZSCORE")
            .arg(&self.key)
            .arg(id)
            .query_async(&mut conn)
            .await?;
        // Scores are whole milliseconds well below 2^53: the conversion is exact.
        let age = score.map(|created| now.saturating_sub(created as i64).max(0));
        Ok(age
            .filter(|age| *age < self.window_ms())
            .map(|age| Duration::from_millis(age.unsigned_abs())))
    }

    fn window_ms(&self) -> i64 {
        i64::try_from(self.window.as_millis()).unwrap_or(i64::MAX)
    }
}

/// What the batch job calls when a bulk create succeeded: notes the created contracts now,
/// for `window` (`vendors.proteger.not_found_retry_secs`). A failure is logged, not
/// returned (see the module docs for what it costs).
pub async fn note_created(store: &Store, window: Duration, created: &[(JobId, Contract)]) {
    let recent = RecentContracts::new(store, window);
    let ids: Vec<&str> = created.iter().map(|(_, c)| c.id.as_str()).collect();
    if let Err(error) = recent.remember(&ids, now_ms()).await {
        tracing::warn!(
            %error,
            contracts = created.len(),
            "could not note the contracts just created at Proteger; a cancellation of one \
             of them sent before the vendor persists it will fail instead of waiting"
        );
    }
}
