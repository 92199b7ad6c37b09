//! The sandbox server: every vendor's fake behind one port (`underwrite sandbox`).
//!
//! Each vendor of the registry brings its fake as a router ([`crate::vendors::Vendor::sandbox`]);
//! this server mounts each under the vendor's prefix (`/proteger`, `/billing-robo`, ...) and
//! knows nothing else about them. Point a client's base URL at `http://<listen>/<prefix>`.
//! Tests call [`spawn`] on port 0 with the mounts they want and read the bound address from
//! the [`SandboxServer`] it returns; a vendor's own handle (effects, faults) stays with
//! whoever built its router.
//!
//! ## Why a hand-written accept loop
//!
//! A fake vendor must be able to hang up without answering, the way a crashed process or a
//! load balancer does. `axum::serve` always writes *some* answer, so the server runs its own
//! accept loop on hyper: a response carrying the [`DropConnection`] extension makes the
//! connection close before a single byte of it is written, and the client sees "connection
//! closed before message completed", a true network error.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

/// Marks a response that must not be sent: the server closes the connection instead.
/// Every vendor fake uses it for its "dropped connection" fault.
#[derive(Debug, Clone, Copy)]
pub struct DropConnection;

/// One vendor's fake and the path prefix it is served under (without slashes).
pub type Mount = (String, Router);

/// A running sandbox. Dropping it stops accepting connections.
#[derive(Debug)]
pub struct SandboxServer {
    /// The bound address (the real port when asked for port 0).
    pub addr: SocketAddr,
    prefixes: Vec<String>,
    shutdown: CancellationToken,
    task: Option<JoinHandle<()>>,
}

impl SandboxServer {
    /// The base URL of the fake mounted at `prefix`, e.g. `http://127.0.0.1:43117/proteger`.
    pub fn url(&self, prefix: &str) -> String {
        format!("http://{}/{prefix}", self.addr)
    }

    /// The prefixes served, in mount order.
    pub fn prefixes(&self) -> &[String] {
        &self.prefixes
    }

    /// Stops accepting connections and waits for the accept loop to end. Connections
    /// already open finish their current request.
    pub async fn shutdown(mut self) {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    /// Runs until the accept loop ends (it only ends on [`SandboxServer::shutdown`] from
    /// another handle, so in practice: forever). For `underwrite sandbox`.
    pub async fn wait(mut self) {
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for SandboxServer {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Every mount under its prefix.
pub fn router(mounts: Vec<Mount>) -> Router {
    mounts
        .into_iter()
        .fold(Router::new(), |router, (prefix, fake)| {
            router.nest(&format!("/{prefix}"), fake)
        })
}

/// Binds `listen` (port 0 picks a free port) and serves the mounts in the background.
pub async fn spawn(listen: SocketAddr, mounts: Vec<Mount>) -> std::io::Result<SandboxServer> {
    let listener = TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let prefixes = mounts.iter().map(|(prefix, _)| prefix.clone()).collect();
    let app = router(mounts);
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(serve(listener, app, shutdown.clone()));
    tracing::info!(%addr, "sandbox listening");
    Ok(SandboxServer {
        addr,
        prefixes,
        shutdown,
        task: Some(task),
    })
}

/// The accept loop: HTTP/1.1 with keep-alive, one task per connection.
async fn serve(listener: TcpListener, app: Router, shutdown: CancellationToken) {
    loop {
        let stream = tokio::select! {
            () = shutdown.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    tracing::warn!(%error, "sandbox accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let app = app.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
                let app = app.clone();
                async move {
                    let response = match app.oneshot(request.map(axum::body::Body::new)).await {
                        Ok(response) => response,
                        Err(never) => match never {},
                    };
                    if response.extensions().get::<DropConnection>().is_some() {
                        // An error from the service makes hyper close the connection
                        // without writing the response.
                        return Err(std::io::Error::other("connection dropped on purpose"));
                    }
                    Ok::<_, std::io::Error>(response)
                }
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .serve_connection(TokioIo::new(stream), service);
            if let Err(error) = connection.await {
                tracing::debug!(%error, "sandbox connection ended");
            }
        });
    }
}
