//! `underwrite serve [--no-api] [--no-worker]`.

use clap::Args;
use underwrite::config::Settings;
use underwrite::startup::{self, Roles};

use super::{CliError, CliResult};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Do not run the producer API (a worker-only process).
    #[arg(long)]
    no_api: bool,
    /// Do not run workers (an API-only process).
    #[arg(long)]
    no_worker: bool,
}

/// Runs until SIGTERM or SIGINT, then shuts down gracefully (exit 0). A second signal
/// during the shutdown exits at once: jobs still running are re-delivered after their lease.
pub async fn run(settings: Settings, args: ServeArgs) -> CliResult {
    let roles = Roles {
        api: !args.no_api,
        worker: !args.no_worker,
    };
    if !roles.api && !roles.worker {
        return Err(CliError(
            "--no-api and --no-worker together leave nothing to run".into(),
        ));
    }
    // Handlers first, so that a signal during start-up already means "shut down".
    let first = startup::shutdown_signal();
    let shutdown = async {
        first.await;
        let second = startup::shutdown_signal();
        tokio::spawn(async {
            second.await;
            eprintln!("error: second signal during shutdown: exiting now");
            std::process::exit(1);
        });
    };
    startup::serve(settings, roles, shutdown).await?;
    Ok(())
}
