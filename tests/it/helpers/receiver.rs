//! A webhook receiver for tests, written independently of the library: it records every
//! request as it came (headers and raw body) and answers what the test tells it to.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

#[derive(Debug, Clone)]
pub struct Received {
    pub id: String,
    pub timestamp: String,
    pub signature: String,
    /// The W3C `traceparent` header, `""` when absent.
    pub traceparent: String,
    /// The `authorization` header, as the receiver's credentials arrive (an endpoint's
    /// `headers`).
    pub authorization: String,
    pub body: Bytes,
}

impl Received {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("json body")
    }
}

#[derive(Clone, Default)]
struct Shared {
    received: Arc<Mutex<Vec<Received>>>,
    status: Arc<AtomicU16>,
    retry_after: Arc<AtomicU64>,
    delay_ms: Arc<AtomicU64>,
    in_flight: Arc<AtomicU64>,
    most_in_flight: Arc<AtomicU64>,
}

pub struct Receiver {
    pub addr: SocketAddr,
    shared: Shared,
    task: tokio::task::JoinHandle<()>,
}

async fn hook(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let now = shared.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    shared.most_in_flight.fetch_max(now, Ordering::SeqCst);
    let delay = shared.delay_ms.load(Ordering::Relaxed);
    if delay > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
    }
    shared.in_flight.fetch_sub(1, Ordering::SeqCst);
    if let Ok(mut received) = shared.received.lock() {
        received.push(Received {
            id: header("webhook-id"),
            timestamp: header("webhook-timestamp"),
            signature: header("webhook-signature"),
            traceparent: header("traceparent"),
            authorization: header("authorization"),
            body,
        });
    }
    let status =
        StatusCode::from_u16(shared.status.load(Ordering::Relaxed)).unwrap_or(StatusCode::OK);
    let retry_after = shared.retry_after.load(Ordering::Relaxed);
    if retry_after > 0 {
        (status, [("retry-after", retry_after.to_string())]).into_response()
    } else {
        status.into_response()
    }
}

impl Receiver {
    /// Listens on `addr` (port 0 for any) and answers 204 until told otherwise.
    pub async fn start(addr: SocketAddr) -> Self {
        let shared = Shared::default();
        shared.status.store(204, Ordering::Relaxed);
        let app = Router::new()
            .route("/hook", post(hook))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .expect("bind receiver");
        let addr = listener.local_addr().expect("addr");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { addr, shared, task }
    }

    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    pub fn answer(&self, status: u16, retry_after_secs: u64) {
        self.shared.status.store(status, Ordering::Relaxed);
        self.shared
            .retry_after
            .store(retry_after_secs, Ordering::Relaxed);
    }

    /// Answers only after `ms` (a slow receiver).
    pub fn delay(&self, ms: u64) {
        self.shared.delay_ms.store(ms, Ordering::Relaxed);
    }

    /// The most requests that were ever in progress at once.
    pub fn most_in_flight(&self) -> u64 {
        self.shared.most_in_flight.load(Ordering::SeqCst)
    }

    /// Distinct `webhook-id`s received.
    pub fn distinct_ids(&self) -> usize {
        let mut ids: Vec<String> = self.received().into_iter().map(|r| r.id).collect();
        ids.sort();
        ids.dedup();
        ids.len()
    }

    pub fn received(&self) -> Vec<Received> {
        self.shared
            .received
            .lock()
            .map(|r| r.clone())
            .unwrap_or_default()
    }

    pub fn stop(self) {
        self.task.abort();
    }
}

/// Standard Webhooks v1 verification, written here from the spec (not the library's):
/// HMAC-SHA256 over `id.timestamp.body`, keyed by the base64 part of `whsec_...`. True when
/// any of the space-separated `v1,` signatures matches.
pub fn independently_verified(secret: &str, received: &Received) -> bool {
    let Some(encoded) = secret.strip_prefix("whsec_") else {
        return false;
    };
    let Ok(key) = STANDARD.decode(encoded) else {
        return false;
    };
    let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(&key) else {
        return false;
    };
    mac.update(received.id.as_bytes());
    mac.update(b".");
    mac.update(received.timestamp.as_bytes());
    mac.update(b".");
    mac.update(&received.body);
    let expected = STANDARD.encode(mac.finalize().into_bytes());
    received
        .signature
        .split(' ')
        .filter_map(|s| s.strip_prefix("v1,"))
        .any(|s| s == expected)
}
