//! `underwrite sandbox [--listen ADDR]`: every vendor's fake on one port, until SIGTERM or
//! SIGINT. Fault injection and the effects report are under `/<vendor>/_admin/`.

use std::net::SocketAddr;

use clap::Args;
use underwrite::config::Settings;
use underwrite::{sandbox, startup, vendors};

use super::{CliError, CliResult};

#[derive(Debug, Args)]
pub struct SandboxArgs {
    /// Where to listen (default: `sandbox.listen`, 127.0.0.1:8090).
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
}

pub async fn run(settings: Settings, args: SandboxArgs) -> CliResult {
    let listen = args.listen.unwrap_or(settings.sandbox.listen);
    let vendors = vendors::all();
    vendors
        .check(&settings)
        .map_err(|e| CliError(e.to_string()))?;
    let mounts = vendors
        .sandboxes(&settings)
        .map_err(|e| CliError(e.to_string()))?;
    let shutdown = startup::shutdown_signal();
    let server = sandbox::spawn(listen, mounts)
        .await
        .map_err(|e| CliError(format!("cannot listen on {listen}: {e}")))?;
    for prefix in server.prefixes() {
        tracing::info!(url = %server.url(prefix), "vendor fake ready");
    }
    tracing::info!("sandbox ready; SIGTERM or SIGINT stops it");
    shutdown.await;
    server.shutdown().await;
    Ok(())
}
