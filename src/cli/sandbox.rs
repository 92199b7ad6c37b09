//! `underwrite sandbox [--listen ADDR]`: every vendor's fake on one port, until SIGTERM or
//! SIGINT. Fault injection and the effects report are under `/<vendor>/_admin/`.

use std::net::SocketAddr;

use clap::Args;
use underwrite::config::Settings;
use underwrite::sandbox::{self, SandboxConfig};
use underwrite::startup;

use super::{CliError, CliResult};

#[derive(Debug, Args)]
pub struct SandboxArgs {
    /// Where to listen (default: `sandbox.listen`, 127.0.0.1:8090).
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
}

pub async fn run(settings: Settings, args: SandboxArgs) -> CliResult {
    let listen = args.listen.unwrap_or(settings.sandbox.listen);
    let shutdown = startup::shutdown_signal();
    let server = sandbox::spawn(listen, SandboxConfig::from_settings(&settings))
        .await
        .map_err(|e| CliError(format!("cannot listen on {listen}: {e}")))?;
    tracing::info!(
        proteger = %server.proteger_url(),
        token_required = settings.secrets.proteger_token.is_some(),
        "sandbox ready; SIGTERM or SIGINT stops it"
    );
    shutdown.await;
    server.shutdown().await;
    Ok(())
}
