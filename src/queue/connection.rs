//! Connections to Redis, and what we check about the server at start-up.
//!
//! Connections are lazy and reconnect by themselves (`ConnectionManager`): when Redis goes
//! away, calls fail fast, the callers back off and try again, and nothing exits. A worker's
//! blocking reads get a connection of their own, because a blocked command holds up every
//! command queued behind it on a multiplexed connection.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::error::QueueError;

/// The longest a loop waits between two tries while Redis is away (the fetch loops, the
/// batcher, writing down a job's answer).
///
/// Their backoff doubles from 50 ms, so the wait under way when Redis comes back is about
/// as long as Redis was away, up to this cap: the cap *is* the worst-case delay before a
/// worker notices that Redis is back. It was 5 s (with jitter on top for answers), and a
/// job passes two such loops (batcher, then fetch loop) before it runs: after a 9 s outage
/// the first job taken after the restart settled 8.2–8.6 s after Redis answered again
/// (`chaos redis-restart`), against a promise of 5 s. A try while Redis is down costs a
/// refused connection, so one a second per loop is nothing.
pub const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// Opens connections to one Redis server.
#[derive(Clone)]
pub struct Redis {
    client: redis::Client,
}

impl std::fmt::Debug for Redis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may carry a password: show only where it points.
        let info = self.client.get_connection_info();
        f.debug_struct("Redis")
            .field("addr", &info.addr().to_string())
            .finish()
    }
}

impl Redis {
    pub fn open(url: &str) -> Result<Self, QueueError> {
        Ok(Self {
            client: redis::Client::open(url)?,
        })
    }

    fn config(response_timeout: Duration) -> ConnectionManagerConfig {
        ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(response_timeout))
            // Keep reconnecting in the background for as long as Redis is away; each call
            // made meanwhile fails fast and its caller decides how long to wait.
            .set_number_of_retries(3)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_secs(2))
    }

    /// The shared connection for ordinary commands.
    pub fn manager(&self) -> Result<ConnectionManager, QueueError> {
        Ok(ConnectionManager::new_lazy_with_config(
            self.client.clone(),
            Self::config(Duration::from_secs(5)),
        )?)
    }

    /// A connection for blocking reads of up to `block`.
    pub fn blocking(&self, block: Duration) -> Result<ConnectionManager, QueueError> {
        Ok(ConnectionManager::new_lazy_with_config(
            self.client.clone(),
            Self::config(block + Duration::from_secs(5)),
        )?)
    }
}

/// What the server's settings mean for durability, read once at start-up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerCheck {
    pub version: String,
    pub maxmemory_policy: String,
    pub appendonly: String,
    pub appendfsync: String,
}

impl ServerCheck {
    /// Reads `INFO server` and the persistence settings. `CONFIG GET` may be disabled on
    /// managed Redis; then the fields stay empty and only the version is known.
    pub async fn read(conn: &mut ConnectionManager) -> Result<Self, QueueError> {
        let info: String = redis::cmd("INFO").arg("server").query_async(conn).await?;
        let version = info
            .lines()
            .find_map(|l| l.strip_prefix("redis_version:"))
            .unwrap_or_default()
            .trim()
            .to_string();
        let mut check = Self {
            version,
            ..Self::default()
        };
        for (name, slot) in [
            ("maxmemory-policy", &mut check.maxmemory_policy),
            ("appendonly", &mut check.appendonly),
            ("appendfsync", &mut check.appendfsync),
        ] {
            let pair: Result<Vec<String>, _> = redis::cmd("CONFIG")
                .arg("GET")
                .arg(name)
                .query_async(conn)
                .await;
            if let Ok(pair) = pair {
                *slot = pair.get(1).cloned().unwrap_or_default();
            }
        }
        Ok(check)
    }

    /// Logs what an operator must know: eviction deletes jobs silently, and without AOF a
    /// Redis restart loses what was accepted.
    pub fn log(&self) {
        tracing::info!(
            redis_version = %self.version,
            appendonly = %self.appendonly,
            appendfsync = %self.appendfsync,
            maxmemory_policy = %self.maxmemory_policy,
            "connected to redis"
        );
        if !self.maxmemory_policy.is_empty() && self.maxmemory_policy != "noeviction" {
            tracing::warn!(
                maxmemory_policy = %self.maxmemory_policy,
                "redis may evict keys under memory pressure, which silently deletes jobs: set maxmemory-policy noeviction"
            );
        }
        if self.appendonly == "no" {
            tracing::warn!(
                "redis runs without AOF: a redis restart loses accepted jobs; see docs/queue.md, Durability"
            );
        }
    }
}
