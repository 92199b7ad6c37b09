//! The deployment's key for idempotency scopes: a keyed hash, not a bare SHA-256.
//!
//! Idempotency records are stored under `idem:<scope>:<key>`, and the scope names the
//! caller: its *app* (`auth.rs`), not its token. Every token of an app shares the app's
//! keys, so a retry sent with the app's new token after a rotation still replays, and two
//! apps never meet through a key. A bare name or a bare SHA-256 there would tell anyone
//! who sees key names (a `SCAN`, `MONITOR`, the slow log, a key-size report, a dump's
//! index) which apps exist and how busy each is; the scope is therefore an HMAC-SHA256 of
//! the app's name (domain-separated: `app:<name>`) under a 32-byte secret of the
//! deployment.
//!
//! ## Where the secret comes from
//!
//! Every process of a deployment must compute the same scope, or a retry that lands on
//! another process would enqueue twice. So the secret is made once per deployment, in
//! Redis: `SET idem_secret <random> NX` (the first process to need it wins) and `GET`,
//! pipelined, at every request that carries an `Idempotency-Key`. No setting to add, no
//! existing setup to change; and reading it at each request (one round trip, pipelined)
//! rather than caching it means a Redis that was emptied (and its idempotency records with
//! it) makes a new secret that every process picks up at once.
//!
//! What this protects: the token behind key names that leak alone. What it does not: who
//! can read every value in Redis can read this secret too (and the jobs themselves).
//!
//! Records written before this scheme (under a hash of the token) no longer match: a retry
//! of such a request within their TTL (`api.idempotency_secs`, 24 h by default) after the
//! upgrade enqueues anew; the old records expire by themselves.

use hmac::{Hmac, KeyInit, Mac};
use rand::Rng;
use sha2::Sha256;

use crate::queue::{QueueError, Store};

/// The secret's length in bytes.
const SECRET_BYTES: usize = 32;

/// The deployment's scope secret (created if there is none yet).
#[derive(Clone)]
pub struct ScopeKey([u8; SECRET_BYTES]);

impl std::fmt::Debug for ScopeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ScopeKey([redacted])")
    }
}

impl ScopeKey {
    /// Reads the deployment's secret, making it first if no process has yet.
    pub async fn load(store: &Store) -> Result<Self, QueueError> {
        let mut candidate = [0u8; SECRET_BYTES];
        rand::rng().fill_bytes(&mut candidate);
        let key = store.keys().idempotency_secret();
        let mut conn = store.connection();
        let (stored,): (Option<String>,) = redis::pipe()
            .set_options(
                &key,
                hex::encode(candidate),
                redis::SetOptions::default().conditional_set(redis::ExistenceCheck::NX),
            )
            .ignore()
            .get(&key)
            .query_async(&mut conn)
            .await
            .map_err(QueueError::from)?;
        let stored = stored.ok_or_else(|| {
            QueueError::Unexpected(format!("{key} vanished right after it was set"))
        })?;
        let bytes = hex::decode(&stored)
            .ok()
            .and_then(|bytes| <[u8; SECRET_BYTES]>::try_from(bytes).ok())
            .ok_or_else(|| {
                QueueError::Unexpected(format!("{key} does not hold {SECRET_BYTES} hex bytes"))
            })?;
        Ok(Self(bytes))
    }

    /// The scope of a caller known by its identity (`Caller::scope_identity`: its app):
    /// hex HMAC-SHA256.
    pub fn scope(&self, identity: &[u8]) -> String {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0)
            .expect("HMAC takes a key of any length");
        mac.update(identity);
        hex::encode(mac.finalize().into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_depend_on_the_secret_and_the_caller() {
        let a = ScopeKey([1; SECRET_BYTES]);
        let b = ScopeKey([2; SECRET_BYTES]);
        let shop = b"app:shop";
        assert_eq!(a.scope(shop), a.scope(shop));
        assert_ne!(a.scope(shop), b.scope(shop));
        assert_ne!(a.scope(shop), a.scope(b"app:other"));
        assert!(!a.scope(shop).contains("shop"));
        assert_eq!(format!("{a:?}"), "ScopeKey([redacted])");
    }
}
