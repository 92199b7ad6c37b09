//! The HTTP server of the API (and of a worker-only process's `/metrics`): hyper's HTTP/1
//! under limits that hold against slow and greedy clients.
//!
//! `axum::serve` has no timeouts: a client that opens a connection and sends nothing, or
//! half a request line, or half a body, holds a task and a socket forever, and needs no
//! token to do it. Here:
//!
//! | limit | setting (`[api]`) | default | what happens |
//! |---|---|---|---|
//! | header read | `header_read_timeout_secs` | 10 s | a request whose head is not complete this long after its first byte: the connection is closed |
//! | idle keep-alive | `idle_timeout_secs` | 60 s | a connection with no request under way for this long (since it opened, or since its last answer): closed |
//! | body read | `body_timeout_secs` | 30 s | a body not received in full this long after the handler began reading it: `408 request_timeout`, then closed (`api/extract.rs`) |
//! | connections | `max_connections` | 1024 | past it, new connections wait in the listen backlog until one closes |
//! | head size | `max_header_bytes` | 16 KiB | a bigger request line + headers (or more than 100 headers): `431 headers_too_large` in the JSON shape (`api/head_limit.rs`) |
//!
//! The two first are kept on the socket (`timed_io.rs`). Heads far past the limit (more
//! than 4 × `max_header_bytes`, at least 64 KiB, or more than 400 headers) are refused by
//! hyper itself while parsing, before any of our code runs: that 431 has no body, and the
//! connection is closed. That cap bounds the memory a head may take.
//!
//! Shutdown: once `shutdown` fires, no connection is accepted any more, each open one
//! finishes the request it is on and closes, and [`serve`] returns when all are closed
//! (the caller bounds that wait).

mod timed_io;

use std::io;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use self::timed_io::{Clock, TimedStream, Timeouts};
use super::head_limit::MAX_HEADER_COUNT;
use crate::config::ApiSettings;

/// hyper refuses heads this many times larger than `api.max_header_bytes` itself.
const HARD_HEAD_FACTOR: usize = 4;
/// ... and never less than this (hyper's own minimum buffer is 8 KiB).
const HARD_HEAD_MIN: usize = 64 * 1024;
/// An error accepting a connection that is not the client's (out of file descriptors):
/// wait this long before the next accept rather than spinning.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);
/// A full server says so in the log at most this often.
const FULL_LOG_EVERY: Duration = Duration::from_secs(60);

/// The server's limits, from `[api]`.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub header_read: Duration,
    pub idle: Duration,
    pub max_connections: usize,
    pub max_header_bytes: usize,
}

impl Limits {
    pub fn from_settings(api: &ApiSettings) -> Self {
        Self {
            header_read: Duration::from_secs(api.header_read_timeout_secs),
            idle: Duration::from_secs(api.idle_timeout_secs),
            max_connections: api.max_connections,
            max_header_bytes: api.max_header_bytes,
        }
    }

    /// The head size hyper refuses by itself (see the module doc).
    fn hard_head_bytes(&self) -> usize {
        (self.max_header_bytes.saturating_mul(HARD_HEAD_FACTOR)).max(HARD_HEAD_MIN)
    }
}

/// Serves `router` on `listener` under `limits` until `shutdown`, then waits for the open
/// connections to finish their request and close.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: CancellationToken,
) -> io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut full_logged: Option<tokio::time::Instant> = None;
    loop {
        if slots.available_permits() == 0
            && full_logged.is_none_or(|at| at.elapsed() >= FULL_LOG_EVERY)
        {
            tracing::warn!(
                max_connections = limits.max_connections,
                "the API holds api.max_connections connections: new ones wait until one closes"
            );
            full_logged = Some(tokio::time::Instant::now());
        }
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
            () = shutdown.cancelled() => break,
        };
        let (stream, _peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    if !is_connection_error(&error) {
                        tracing::warn!(%error, "cannot accept a connection; pausing briefly");
                        tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                    }
                    continue;
                }
            },
            () = shutdown.cancelled() => break,
        };
        let _ = stream.set_nodelay(true);
        let clock = Arc::new(Clock::new());
        let io = TokioIo::new(TimedStream::new(
            stream,
            clock.clone(),
            Timeouts {
                header_read: limits.header_read,
                idle: limits.idle,
            },
        ));
        let router = router.clone();
        let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
            let handling = clock.begin();
            let router = router.clone();
            async move {
                let response = router.oneshot(request.map(axum::body::Body::new)).await;
                drop(handling);
                response
            }
        });
        let connection = hyper::server::conn::http1::Builder::new()
            .max_buf_size(limits.hard_head_bytes())
            .max_headers(MAX_HEADER_COUNT * HARD_HEAD_FACTOR)
            .serve_connection(io, service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "connection closed with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// Errors of one connection (the client gave up during the handshake), not of the listener.
fn is_connection_error(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}
