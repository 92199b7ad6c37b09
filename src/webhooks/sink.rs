//! The webhook sink: a receiver for people and tests (`underwrite webhook-sink`).
//!
//! It accepts a POST on any path, verifies it with the [`Verifier`] (the same one the
//! README shows receivers), records it, and answers:
//!
//! | situation                                          | answer                      |
//! |----------------------------------------------------|-----------------------------|
//! | `always` is set                                    | that status, whatever came  |
//! | the signature (or timestamp) does not verify       | `400`, with the reason      |
//! | the dice say so (probability `fail_share`)         | `500`                       |
//! | otherwise                                          | `204`                       |
//!
//! `always` comes first because it plays a receiver that is gone (`410`) or overwhelmed
//! (`429`, `503`): such a receiver answers before any code of its own looks at the
//! request. Failures the sink chooses (`always`, `fail_share`) carry `Retry-After` when
//! `retry_after_secs` is set, so the sender's handling of it can be tested.
//!
//! Every delivery is recorded, verified or not, with the reason it was refused: a test
//! asks [`Sink::received`] or [`Sink::counts`], or waits with [`Sink::wait_for_verified`];
//! `underwrite webhook-sink` sets [`SinkConfig::print`] and gets one line per delivery on
//! stdout.

use std::collections::HashSet;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use rand::RngExt;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::endpoints::{EndpointError, EndpointStore, NewEndpoint};
use super::signing::{HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP, Secret, Verifier};
use crate::queue::Store;

/// How the sink behaves.
#[derive(Debug, Clone, Default)]
pub struct SinkConfig {
    /// The secrets deliveries are checked against (several during a rotation).
    pub secrets: Vec<Secret>,
    /// The share of verified deliveries answered with `500`, from 0 (none) to 1 (all).
    pub fail_share: f64,
    /// Answer every request with this status (`410`, `429`, `503`, ...).
    pub always: Option<u16>,
    /// Send `Retry-After: <secs>` with the failures the sink chooses.
    pub retry_after_secs: Option<u64>,
    /// Print one line per delivery on stdout (`underwrite webhook-sink`).
    pub print: bool,
    /// Also print each request's headers and its body exactly as received
    /// (`webhook-sink --show-requests`): what `underwrite webhooks verify` takes.
    pub print_requests: bool,
}

impl SinkConfig {
    /// Verifies with `secrets`, answers `204` to every verified delivery, prints nothing.
    pub fn new(secrets: Vec<Secret>) -> Self {
        Self {
            secrets,
            ..Self::default()
        }
    }

    fn check(&self) -> Result<(), SinkConfigError> {
        check_fail_share(self.fail_share)?;
        if let Some(status) = self.always {
            check_status(status)?;
        }
        Ok(())
    }
}

/// A setting the sink cannot honour.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SinkConfigError {
    #[error("the failing share must be between 0 and 1, not {0}")]
    FailShare(f64),
    #[error("{0} is not an HTTP status the sink can answer (200 to 599)")]
    Status(u16),
}

fn check_fail_share(share: f64) -> Result<(), SinkConfigError> {
    if (0.0..=1.0).contains(&share) {
        Ok(())
    } else {
        Err(SinkConfigError::FailShare(share))
    }
}

fn check_status(status: u16) -> Result<StatusCode, SinkConfigError> {
    match StatusCode::from_u16(status) {
        Ok(code) if (200..600).contains(&status) => Ok(code),
        _ => Err(SinkConfigError::Status(status)),
    }
}

/// One request the sink received.
#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    /// `webhook-id` (empty when missing).
    pub id: String,
    /// `webhook-timestamp`, when it was a number.
    pub timestamp: Option<i64>,
    /// `webhook-signature` as it came (empty when missing).
    pub signature: String,
    /// The body's `type`, when the body was a JSON object with one.
    pub event_type: Option<String>,
    /// The body as JSON (`Null` when it was not JSON).
    pub body: Value,
    pub verified: bool,
    /// Why it did not verify.
    pub error: Option<String>,
    /// What the sink answered.
    pub status: u16,
    /// When the request reached the sink (before verifying it): `bench e2e` measures
    /// latency from the producer's HTTP request to this.
    pub received_at: Instant,
}

/// What the sink has seen so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SinkCounts {
    /// Every request.
    pub received: usize,
    /// Requests whose signature and timestamp verified.
    pub verified: usize,
    /// Requests that did not verify.
    pub rejected: usize,
    /// Requests answered `2xx`.
    pub accepted: usize,
    /// Distinct `webhook-id`s among the verified requests: with retries, `verified` may be
    /// larger, and a sender that delivers every event at least once makes this the number
    /// of events.
    pub distinct_ids: usize,
}

/// What the sink does with the next requests; changeable while it runs.
#[derive(Debug, Clone, Copy)]
struct Behaviour {
    fail_share: f64,
    always: Option<StatusCode>,
    retry_after_secs: Option<u64>,
}

#[derive(Debug)]
struct Shared {
    verifier: Verifier,
    print: bool,
    print_requests: bool,
    behaviour: Mutex<Behaviour>,
    received: Mutex<Vec<Received>>,
    arrived: Notify,
}

impl Shared {
    fn received(&self) -> MutexGuard<'_, Vec<Received>> {
        // A poisoned lock only means a handler panicked mid-push; the list is still usable.
        self.received.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn behaviour(&self) -> MutexGuard<'_, Behaviour> {
        self.behaviour.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A running sink. Dropping it stops accepting connections.
#[derive(Debug)]
pub struct Sink {
    /// The bound address (the real port when asked for port 0).
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: CancellationToken,
    task: Option<JoinHandle<()>>,
}

impl Sink {
    /// A URL to register as an endpoint (any path works).
    pub fn url(&self) -> String {
        format!("http://{}/webhooks", self.addr)
    }

    /// Every request so far, in arrival order.
    pub fn received(&self) -> Vec<Received> {
        self.shared.received().clone()
    }

    pub fn counts(&self) -> SinkCounts {
        counts(&self.shared.received())
    }

    /// Waits until `count` requests have verified. False if `within` passed first.
    pub async fn wait_for_verified(&self, count: usize, within: Duration) -> bool {
        self.wait_until(within, |counts| counts.verified >= count)
            .await
    }

    /// Waits until `done` holds for the counts. False if `within` passed first.
    pub async fn wait_until(&self, within: Duration, done: impl Fn(&SinkCounts) -> bool) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            // Created before the check, so an arrival between the check and the wait
            // still wakes it.
            let arrived = self.shared.arrived.notified();
            if done(&self.counts()) {
                return true;
            }
            if tokio::time::timeout_at(deadline, arrived).await.is_err() {
                return done(&self.counts());
            }
        }
    }

    /// Answer every request with `status` from now on (`None`: back to normal).
    pub fn set_always(&self, status: Option<u16>) -> Result<(), SinkConfigError> {
        let status = status.map(check_status).transpose()?;
        self.shared.behaviour().always = status;
        Ok(())
    }

    /// Fail this share of verified deliveries with `500` from now on.
    pub fn set_fail_share(&self, share: f64) -> Result<(), SinkConfigError> {
        check_fail_share(share)?;
        self.shared.behaviour().fail_share = share;
        Ok(())
    }

    /// Stops accepting connections and waits for open requests to finish.
    pub async fn shutdown(mut self) {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    /// Takes the receiver down: the listening socket is closed (a new connection is
    /// refused, as when a receiver's process is gone) and open connections end once their
    /// request is answered. What was received stays. Nothing happens if it is down already.
    pub async fn go_down(&mut self) {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    /// Brings a receiver taken down by [`Sink::go_down`] back on the same address, with
    /// everything it received before. The port was free while it was down, so another
    /// socket may hold it for a moment: binding is retried for a few seconds before giving
    /// up. Nothing happens if it is up.
    pub async fn come_up(&mut self) -> io::Result<()> {
        if self.task.is_some() {
            return Ok(());
        }
        let mut tries = 0;
        let listener = loop {
            match TcpListener::bind(self.addr).await {
                Ok(listener) => break listener,
                Err(error) if error.kind() == io::ErrorKind::AddrInUse && tries < 50 => {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(error) => return Err(error),
            }
        };
        let (shutdown, task) = serve(listener, Arc::clone(&self.shared));
        self.shutdown = shutdown;
        self.task = Some(task);
        tracing::info!(addr = %self.addr, "webhook sink listening again");
        Ok(())
    }

    /// Whether the sink is listening (not taken down by [`Sink::go_down`]).
    pub fn is_up(&self) -> bool {
        self.task.is_some()
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Why [`spawn_as_endpoint`] failed.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error("webhook sink: {0}")]
    Sink(#[from] io::Error),
    #[error("webhook endpoint: {0}")]
    Endpoint(#[from] EndpointError),
}

/// A verifying sink on a free loopback port, registered with a fresh secret as an endpoint
/// (every event type) of `store`'s queue: the receiver the benchmarks and the chaos suite
/// count deliveries at. The endpoint's id comes with it.
pub async fn spawn_as_endpoint(store: &Store) -> Result<(Sink, String), RegisterError> {
    let secret = Secret::generate();
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    let sink = spawn(loopback, SinkConfig::new(vec![secret.clone()])).await?;
    let (endpoint, _) = EndpointStore::new(store)
        .create(NewEndpoint {
            url: sink.url(),
            secret: Some(secret),
            ..NewEndpoint::default()
        })
        .await?;
    Ok((sink, endpoint.id))
}

/// Binds `listen` (port 0 picks a free port) and receives in the background.
pub async fn spawn(listen: SocketAddr, config: SinkConfig) -> io::Result<Sink> {
    let invalid = |e: SinkConfigError| io::Error::new(io::ErrorKind::InvalidInput, e);
    config.check().map_err(invalid)?;
    let always = config
        .always
        .map(check_status)
        .transpose()
        .map_err(invalid)?;
    let shared = Arc::new(Shared {
        verifier: Verifier::new(config.secrets),
        print: config.print,
        print_requests: config.print_requests,
        behaviour: Mutex::new(Behaviour {
            fail_share: config.fail_share,
            always,
            retry_after_secs: config.retry_after_secs,
        }),
        received: Mutex::new(Vec::new()),
        arrived: Notify::new(),
    });
    let listener = TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let (shutdown, task) = serve(listener, Arc::clone(&shared));
    tracing::info!(%addr, "webhook sink listening");
    Ok(Sink {
        addr,
        shared,
        shutdown,
        task: Some(task),
    })
}

/// Receives on `listener` in the background until the token is cancelled; then the
/// listener is closed and the task ends once open connections are done.
fn serve(listener: TcpListener, shared: Arc<Shared>) -> (CancellationToken, JoinHandle<()>) {
    let app = Router::new()
        .route("/", post(receive))
        .route("/{*path}", post(receive))
        .with_state(shared);
    let shutdown = CancellationToken::new();
    let stop = shutdown.clone().cancelled_owned();
    let task = tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, app)
            .with_graceful_shutdown(stop)
            .await
        {
            tracing::warn!(%error, "webhook sink stopped");
        }
    });
    (shutdown, task)
}

async fn receive(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let received_at = Instant::now();
    let now = chrono::Utc::now().timestamp();
    let verdict = shared.verifier.verify(&headers, &body, now);
    let behaviour = *shared.behaviour();

    let response = if let Some(status) = behaviour.always {
        with_retry_after(status, behaviour.retry_after_secs)
    } else if let Err(error) = &verdict {
        (StatusCode::BAD_REQUEST, format!("{error}\n")).into_response()
    } else if behaviour.fail_share > 0.0 && rand::rng().random::<f64>() < behaviour.fail_share {
        with_retry_after(
            StatusCode::INTERNAL_SERVER_ERROR,
            behaviour.retry_after_secs,
        )
    } else {
        StatusCode::NO_CONTENT.into_response()
    };

    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let received = Received {
        id: text(HEADER_ID),
        timestamp: text(HEADER_TIMESTAMP).trim().parse().ok(),
        signature: text(HEADER_SIGNATURE),
        event_type: json.get("type").and_then(Value::as_str).map(String::from),
        body: json,
        verified: verdict.is_ok(),
        error: verdict.err().map(|e| e.to_string()),
        status: response.status().as_u16(),
        received_at,
    };
    if shared.print {
        println!("{}", line(&received));
    }
    if shared.print_requests {
        println!("{}", request_dump(&headers, &body));
    }
    shared.received().push(received);
    shared.arrived.notify_waiters();
    response
}

fn with_retry_after(status: StatusCode, retry_after_secs: Option<u64>) -> Response {
    let mut response = status.into_response();
    if let Some(secs) = retry_after_secs {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

/// `204 msg_2x… proteger.contract.created verified`, or the reason it was refused.
/// A request as it came: its headers (credentials masked), a blank line, the body byte for
/// byte (lossy only if it is not UTF-8), and a closing line. Copy the `webhook-*` headers
/// and the body into `underwrite webhooks verify` to check a delivery by hand.
fn request_dump(headers: &HeaderMap, body: &[u8]) -> String {
    let mut text = String::from("--- request\n");
    for (name, value) in headers {
        let shown = if matches!(
            name.as_str(),
            "authorization" | "cookie" | "proxy-authorization"
        ) {
            "********"
        } else {
            value.to_str().unwrap_or("<not text>")
        };
        text.push_str(&format!("{name}: {shown}\n"));
    }
    text.push('\n');
    text.push_str(&String::from_utf8_lossy(body));
    text.push_str("\n--- end");
    text
}

fn line(received: &Received) -> String {
    let or_dash = |s: &str| {
        if s.is_empty() {
            "-".to_string()
        } else {
            s.to_string()
        }
    };
    let verdict = match &received.error {
        None => "verified".to_string(),
        Some(reason) => format!("NOT VERIFIED: {reason}"),
    };
    format!(
        "{} {} {} {}",
        received.status,
        or_dash(&received.id),
        received.event_type.as_deref().unwrap_or("-"),
        verdict
    )
}

fn counts(received: &[Received]) -> SinkCounts {
    let verified: Vec<&Received> = received.iter().filter(|r| r.verified).collect();
    SinkCounts {
        received: received.len(),
        verified: verified.len(),
        rejected: received.len() - verified.len(),
        accepted: received
            .iter()
            .filter(|r| (200..300).contains(&r.status))
            .count(),
        distinct_ids: verified
            .iter()
            .map(|r| r.id.as_str())
            .collect::<HashSet<_>>()
            .len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_out_of_range_are_refused() {
        let mut config = SinkConfig::new(vec![Secret::generate()]);
        assert_eq!(config.check(), Ok(()));
        config.fail_share = 1.5;
        assert_eq!(config.check(), Err(SinkConfigError::FailShare(1.5)));
        config.fail_share = f64::NAN;
        assert!(config.check().is_err());
        config.fail_share = 1.0;
        config.always = Some(42);
        assert_eq!(config.check(), Err(SinkConfigError::Status(42)));
        config.always = Some(410);
        assert_eq!(config.check(), Ok(()));
    }

    #[test]
    fn a_line_names_the_delivery_and_the_verdict() {
        let mut received = Received {
            id: "msg_1".into(),
            timestamp: Some(1),
            signature: String::new(),
            event_type: Some("acme.contract.created".into()),
            body: Value::Null,
            verified: true,
            error: None,
            status: 204,
            received_at: Instant::now(),
        };
        assert_eq!(line(&received), "204 msg_1 acme.contract.created verified");
        received.id.clear();
        received.event_type = None;
        received.verified = false;
        received.error = Some("the `webhook-id` header is missing (or not text)".into());
        received.status = 400;
        assert_eq!(
            line(&received),
            "400 - - NOT VERIFIED: the `webhook-id` header is missing (or not text)"
        );
    }
}
