//! A connection that closes itself when its client is too slow: the header-read and idle
//! keep-alive timeouts.
//!
//! hyper has a header-read timeout of its own, but its clock starts whenever it waits for a
//! request, the wait on an idle kept-alive connection included, so it cannot tell "idle
//! for 50 s between two requests" (fine up to the keep-alive timeout) from "sent half a
//! request line 50 s ago" (not fine after the header timeout). So both are kept here, on
//! the socket, with what the connection's service tells of its requests ([`Clock`]):
//!
//! - **idle**: no request is being handled and no byte of a new one came since the last
//!   one was answered (or since the connection opened): the connection is closed
//!   `idle` after that moment;
//! - **header**: the first byte of a request came, and the request has not reached the
//!   service yet (its head is incomplete): closed `header_read` after that first byte;
//! - **handling**: the service has the request: no deadline here. Reading the body is
//!   bounded by the body timeout (`api/extract.rs`), the handler by our own code.
//!
//! A deadline that passes while a read waits makes the read fail with `TimedOut`; hyper
//! then drops the connection without an answer (a client that never finished its head
//! would not read one).

use std::io;
use std::pin::Pin;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};

/// What the connection's service tells the socket: requests begun and ended.
#[derive(Debug)]
pub struct Clock {
    /// Requests the service has begun, ever (a new one resets the header deadline).
    begun: AtomicU64,
    /// Requests the service is handling now.
    in_flight: AtomicUsize,
    /// When the last request was answered (or the connection opened).
    idle_since: Mutex<Instant>,
}

impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock {
    pub fn new() -> Self {
        Self {
            begun: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            idle_since: Mutex::new(Instant::now()),
        }
    }

    /// A request reached the service; it is being handled until the guard is dropped.
    pub fn begin(self: &std::sync::Arc<Self>) -> Handling {
        self.begun.fetch_add(1, Ordering::SeqCst);
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        Handling(self.clone())
    }
}

/// A request being handled: dropped when its answer is ready (or it was abandoned).
pub struct Handling(std::sync::Arc<Clock>);

impl Drop for Handling {
    fn drop(&mut self) {
        if let Ok(mut since) = self.0.idle_since.lock() {
            *since = Instant::now();
        }
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The connection's limits.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub header_read: Duration,
    pub idle: Duration,
}

/// A TCP stream whose reads fail with `TimedOut` past the deadline of its phase.
pub struct TimedStream {
    inner: TcpStream,
    clock: std::sync::Arc<Clock>,
    timeouts: Timeouts,
    /// `Clock::begun` when this stream last looked.
    seen_begun: u64,
    /// When the first byte of the request being received came.
    head_since: Option<Instant>,
    sleep: Pin<Box<Sleep>>,
    armed_for: Option<Instant>,
}

impl TimedStream {
    pub fn new(inner: TcpStream, clock: std::sync::Arc<Clock>, timeouts: Timeouts) -> Self {
        Self {
            inner,
            clock,
            timeouts,
            seen_begun: 0,
            head_since: None,
            sleep: Box::pin(tokio::time::sleep(Duration::ZERO)),
            armed_for: None,
        }
    }

    /// Forgets the head's start once the service has begun a request since.
    fn sync(&mut self) {
        let begun = self.clock.begun.load(Ordering::SeqCst);
        if begun != self.seen_begun {
            self.seen_begun = begun;
            self.head_since = None;
        }
    }

    fn handling(&self) -> bool {
        self.clock.in_flight.load(Ordering::SeqCst) > 0
    }

    /// Bytes came: between requests, they start a new request's head.
    fn on_bytes(&mut self) {
        self.sync();
        if !self.handling() && self.head_since.is_none() {
            self.head_since = Some(Instant::now());
        }
    }

    /// When a waiting read must give up, if it must.
    fn deadline(&mut self) -> Option<Instant> {
        self.sync();
        if self.handling() {
            return None;
        }
        match self.head_since {
            Some(since) => Some(since + self.timeouts.header_read),
            None => {
                let since = self.clock.idle_since.lock().map(|since| *since).ok()?;
                Some(since + self.timeouts.idle)
            }
        }
    }
}

impl AsyncRead for TimedStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    this.on_bytes();
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
            Poll::Pending => {
                let Some(deadline) = this.deadline() else {
                    return Poll::Pending;
                };
                if this.armed_for != Some(deadline) {
                    this.sleep.as_mut().reset(deadline);
                    this.armed_for = Some(deadline);
                }
                match this.sleep.as_mut().poll(cx) {
                    Poll::Ready(()) => {
                        let phase = if this.head_since.is_some() {
                            "the request's head did not arrive within api.header_read_timeout_secs"
                        } else {
                            "the connection was idle for api.idle_timeout_secs"
                        };
                        Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, phase)))
                    }
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }
}

impl AsyncWrite for TimedStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
