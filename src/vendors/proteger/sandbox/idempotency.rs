//! `X-Idempotency-Key`, the way the vendor documents it (Stripe-like):
//!
//! - the first answer for a key (status and body, even a 500) is stored and **replayed** for
//!   every later request with that key, marked `Idempotent-Replayed: true`;
//! - keys live [`super::ProtegerSandboxConfig::idempotency_ttl`] (24 h by default) from the
//!   answer; after that the same key is a new request;
//! - the same key with other parameters (method, path, query or JSON body) is a 400
//!   (the vendor's status is **unknown**; Stripe's is 400);
//! - the same key while its first request is still executing is a 409, and nothing is
//!   stored for the refused one: retrying later is safe;
//! - nothing is stored when the request was refused before executing (malformed body,
//!   failed validation: answers marked [`NotExecuted`]) or was not authenticated (401,
//!   answered by an outer layer that never reaches this one); the caller may fix the body
//!   and reuse the key.
//!
//! The layer also **detaches** execution from the connection: the request runs in its own
//! task, so a client that hangs up (a timeout) does not cancel a create half-way. The vendor
//! keeps working when our client gives up, and so must its fake.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::errors::{NotExecuted, bad_request, refused_before_executing, vendor_error};
use super::faults::{dropped, server_error};
use super::state::Shared;
use crate::sandbox::DropConnection;

pub const IDEMPOTENCY_HEADER: &str = "x-idempotency-key";
/// Marks a replayed answer (Stripe's header name).
pub const REPLAYED_HEADER: &str = "idempotent-replayed";
/// Longest key accepted (Stripe's limit).
pub const MAX_KEY_LEN: usize = 255;
/// Largest request body the sandbox reads.
const MAX_BODY: usize = 1024 * 1024;
/// Past this many keys, expired ones are swept on each new key.
const SWEEP_ABOVE: usize = 1024;

/// A stored answer: enough to replay it byte for byte.
#[derive(Debug, Clone)]
pub struct StoredAnswer {
    status: StatusCode,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Bytes,
}

impl StoredAnswer {
    fn into_response(self, replayed: bool) -> Response {
        let mut response = (self.status, self.body).into_response();
        for (name, value) in self.headers {
            response.headers_mut().insert(name, value);
        }
        if replayed {
            response.headers_mut().insert(
                HeaderName::from_static(REPLAYED_HEADER),
                HeaderValue::from_static("true"),
            );
        }
        response
    }
}

enum Slot {
    InFlight,
    Done { answer: StoredAnswer, at: Instant },
}

struct Entry {
    fingerprint: String,
    slot: Slot,
}

/// What to do with a request that carries a key.
#[derive(Debug)]
pub enum Claim {
    /// First use (or expired): execute; the key is now in flight.
    Execute,
    Replay(StoredAnswer),
    InFlight,
    /// Known key, other parameters.
    Mismatch,
}

/// The keys and their answers.
pub struct IdempotencyStore {
    entries: HashMap<String, Entry>,
    ttl: Duration,
}

impl IdempotencyStore {
    pub fn new(ttl: Duration) -> Self {
        Self {
            entries: HashMap::new(),
            ttl,
        }
    }

    pub fn claim(&mut self, key: &str, fingerprint: &str, now: Instant) -> Claim {
        match self.entries.get(key) {
            Some(Entry {
                slot: Slot::InFlight,
                ..
            }) => return Claim::InFlight,
            Some(Entry {
                fingerprint: known,
                slot: Slot::Done { answer, at },
            }) if now.saturating_duration_since(*at) < self.ttl => {
                return if known == fingerprint {
                    Claim::Replay(answer.clone())
                } else {
                    Claim::Mismatch
                };
            }
            _ => {}
        }
        if self.entries.len() > SWEEP_ABOVE {
            let ttl = self.ttl;
            self.entries.retain(|_, entry| match &entry.slot {
                Slot::InFlight => true,
                Slot::Done { at, .. } => now.saturating_duration_since(*at) < ttl,
            });
        }
        self.entries.insert(
            key.to_string(),
            Entry {
                fingerprint: fingerprint.to_string(),
                slot: Slot::InFlight,
            },
        );
        Claim::Execute
    }

    /// The in-flight request for `key` produced `answer`.
    pub fn store(&mut self, key: &str, answer: StoredAnswer, now: Instant) {
        if let Some(entry) = self.entries.get_mut(key) {
            entry.slot = Slot::Done { answer, at: now };
        }
    }

    /// The in-flight request for `key` leaves nothing behind.
    pub fn forget(&mut self, key: &str) {
        self.entries.remove(key);
    }
}

/// What makes two requests "the same parameters": method, path, query and the body (as
/// JSON when it is JSON, so key order and spacing do not count).
fn fingerprint(request: &axum::http::request::Parts, body: &[u8]) -> String {
    let body = match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(json) => json.to_string(),
        Err(_) => String::from_utf8_lossy(body).into_owned(),
    };
    let target = request
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    format!("{} {target}\n{body}", request.method)
}

/// The idempotency layer of the write routes.
pub async fn layer(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let key = match request.headers().get(IDEMPOTENCY_HEADER) {
        None => return detached(next.run(request)).await,
        Some(value) => match value.to_str() {
            Ok(key) if !key.is_empty() && key.len() <= MAX_KEY_LEN => key.to_string(),
            _ => {
                return refused_before_executing(format!(
                    "invalid X-Idempotency-Key: 1 to {MAX_KEY_LEN} visible ASCII characters"
                ));
            }
        },
    };
    let (parts, body) = request.into_parts();
    let Ok(body) = to_bytes(body, MAX_BODY).await else {
        return refused_before_executing("request body too large or unreadable");
    };
    let fingerprint = fingerprint(&parts, &body);
    let claim = shared.lock().keys.claim(&key, &fingerprint, Instant::now());
    match claim {
        Claim::Execute => {}
        Claim::Replay(answer) => {
            shared.lock().effects.idempotent_replays += 1;
            return answer.into_response(true);
        }
        Claim::InFlight => {
            return vendor_error(
                StatusCode::CONFLICT,
                "ConflictException",
                "a request with this idempotency key is still in progress",
            );
        }
        Claim::Mismatch => {
            return bad_request("idempotency key already used with different parameters");
        }
    }
    let request = Request::from_parts(parts, Body::from(body));
    let task_shared = shared.clone();
    let task_key = key.clone();
    let task = tokio::spawn(async move {
        let response = next.run(request).await;
        let executed = response.extensions().get::<NotExecuted>().is_none();
        let drop = response.extensions().get::<DropConnection>().is_some();
        let (parts, body) = response.into_parts();
        let Ok(body) = to_bytes(body, usize::MAX).await else {
            task_shared.lock().keys.forget(&task_key);
            return dropped();
        };
        let answer = StoredAnswer {
            status: parts.status,
            headers: [header::CONTENT_TYPE, header::RETRY_AFTER]
                .into_iter()
                .filter_map(|name| parts.headers.get(&name).cloned().map(|v| (name, v)))
                .collect(),
            body,
        };
        {
            let mut inner = task_shared.lock();
            if executed && answer.status != StatusCode::UNAUTHORIZED {
                inner.keys.store(&task_key, answer.clone(), Instant::now());
            } else {
                inner.keys.forget(&task_key);
            }
        }
        let mut response = answer.into_response(false);
        if drop {
            response.extensions_mut().insert(DropConnection);
        }
        response
    });
    match task.await {
        Ok(response) => response,
        Err(_) => {
            // The handler panicked: nothing trustworthy to store.
            shared.lock().keys.forget(&key);
            server_error(500)
        }
    }
}

/// Runs `work` in its own task so that the client hanging up does not cancel it.
pub async fn detached(work: impl Future<Output = Response> + Send + 'static) -> Response {
    tokio::spawn(work)
        .await
        .unwrap_or_else(|_| server_error(500))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16) -> StoredAnswer {
        StoredAnswer {
            status: StatusCode::from_u16(status).expect("status"),
            headers: Vec::new(),
            body: Bytes::from_static(b"{}"),
        }
    }

    #[test]
    fn first_answer_wins_until_it_expires() {
        let mut store = IdempotencyStore::new(Duration::from_secs(60));
        let t0 = Instant::now();
        assert!(matches!(store.claim("k", "a", t0), Claim::Execute));
        assert!(matches!(store.claim("k", "a", t0), Claim::InFlight));
        assert!(matches!(store.claim("k", "b", t0), Claim::InFlight));
        store.store("k", answer(500), t0);
        match store.claim("k", "a", t0 + Duration::from_secs(59)) {
            Claim::Replay(replayed) => assert_eq!(replayed.status, 500),
            other => panic!("expected a replay, got {other:?}"),
        }
        assert!(matches!(
            store.claim("k", "b", t0 + Duration::from_secs(59)),
            Claim::Mismatch
        ));
        assert!(matches!(
            store.claim("k", "b", t0 + Duration::from_secs(60)),
            Claim::Execute
        ));
    }

    #[test]
    fn forgotten_keys_are_new() {
        let mut store = IdempotencyStore::new(Duration::from_secs(60));
        let now = Instant::now();
        assert!(matches!(store.claim("k", "a", now), Claim::Execute));
        store.forget("k");
        assert!(matches!(store.claim("k", "b", now), Claim::Execute));
    }

    #[test]
    fn json_bodies_compare_by_content() {
        let parts = Request::post("/v1/contracts/bulk?x=1")
            .body(())
            .expect("request")
            .into_parts()
            .0;
        assert_eq!(
            fingerprint(&parts, br#"{"a":1,"b":[2]}"#),
            fingerprint(&parts, br#"{ "b": [2], "a": 1 }"#)
        );
        assert_ne!(
            fingerprint(&parts, br#"{"a":1}"#),
            fingerprint(&parts, br#"{"a":2}"#)
        );
    }
}
