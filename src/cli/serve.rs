//! `underwrite serve [--no-api] [--no-worker]`.

use clap::Args;
use underwrite::config::Settings;
use underwrite::startup::{self, Roles};

use super::{CliError, CliResult};

/// What `serve --help` adds: where it listens and the variables a first run needs.
pub const AFTER_HELP: &str = "\
Listens on:
  127.0.0.1:8080  the producer API, /metrics, /healthz, /readyz (api.listen, UNDERWRITE_API_LISTEN)
  worker.metrics_listen  /metrics of a worker-only process (--no-api), when set
                  (UNDERWRITE_WORKER_METRICS_LISTEN, e.g. 0.0.0.0:9464)

Key variables (every setting is UNDERWRITE_<SECTION>_<KEY>; see the README's Configuration):
  UNDERWRITE_REDIS_URL            redis://127.0.0.1:6379 by default
  UNDERWRITE_API_TOKENS           bearer tokens of the producer API (none: every /v1 request is refused)
  UNDERWRITE_PROTEGER_TOKEN       Proteger's API key
  UNDERWRITE_BILLING_ROBO_USER_ID, UNDERWRITE_BILLING_ROBO_ACCESS_KEY   Billing-Robo's credentials
  UNDERWRITE_TULIP_API_KEY        Tulip's API key
  UNDERWRITE_VENDORS_<VENDOR>_BASE_URL   where a vendor is called (`underwrite sandbox` serves fakes on 127.0.0.1:8090)
  UNDERWRITE_WEBHOOKS_ALLOW_CIDRS private ranges webhook receivers may be on (e.g. 127.0.0.0/8 for a local one)
  UNDERWRITE_LOG, UNDERWRITE_LOG_FORMAT   log filter (info) and format (json or pretty)";

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
