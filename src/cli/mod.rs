//! The `underwrite` command line: one file per command group. Each parses its own
//! arguments (clap derive) and calls into the library; none holds logic of its own beyond
//! presenting results.
//!
//! - `serve.rs`: `underwrite serve` (API and workers, or one of them).
//! - `sandbox.rs`: `underwrite sandbox` (the fake vendor APIs).
//! - `bench.rs`: `underwrite bench <name>` (figures for the README).
//! - `chaos.rs`: `underwrite chaos <scenario>` (breaks things, counts the cost).
//! - `demo.rs`: `underwrite demo` (everything in one process, see `src/demo.rs`).
//! - `jobs.rs`: `underwrite jobs show|list`; `dead.rs`: `underwrite dead ...`;
//!   `schedules.rs`: `underwrite schedules`. They talk to Redis directly through the
//!   queue's `Store`, not through the HTTP API.
//! - `ready.rs`: `underwrite ready` (is the API ready? for container healthchecks).
//! - `webhooks.rs`: `underwrite webhooks verify` and `underwrite webhook-sink` (tools for
//!   webhook receivers; no Redis).

mod bench;
mod chaos;
mod dead;
mod demo;
mod jobs;
mod ready;
mod sandbox;
mod schedules;
mod serve;
mod webhooks;

use std::fmt::Display;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};
use underwrite::config::Settings;
use underwrite::queue::{JobId, Store};
use underwrite::{startup, telemetry};

/// How long a CLI command waits for Redis to answer before giving up.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// underwrite: accepts vendor work over HTTP, stores it in Redis and carries it out with
/// retries, leases and a dead set.
#[derive(Debug, Parser)]
#[command(name = "underwrite", version, about, long_about = None)]
pub struct Cli {
    /// A TOML file laid over the built-in defaults (UNDERWRITE_* variables still win).
    #[arg(long, global = true, env = "UNDERWRITE_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the producer API and the workers (both unless told otherwise).
    #[command(after_help = serve::AFTER_HELP)]
    Serve(serve::ServeArgs),
    /// Run the vendor sandbox: a local fake of the vendor APIs, with fault injection.
    Sandbox(sandbox::SandboxArgs),
    /// Exit 0 when a running API answers GET /readyz with 200 (a container healthcheck).
    Ready(ready::ReadyArgs),
    /// Start Redis (if needed), the sandbox, the API and a worker, and send work through.
    Demo(demo::DemoArgs),
    /// Inspect jobs.
    #[command(subcommand)]
    Jobs(jobs::JobsCommand),
    /// Inspect and act on the dead set (failed and dead jobs).
    #[command(subcommand)]
    Dead(dead::DeadCommand),
    /// List the periodic jobs' schedules, with when each runs next.
    Schedules(schedules::SchedulesArgs),
    /// Measure: noop, latency, backlog, e2e, trickle, credit-poll, webhooks or retention.
    Bench(bench::BenchArgs),
    /// Break things on purpose and count what was lost or done twice.
    Chaos(chaos::ChaosArgs),
    /// Webhook tools: check a delivery's signature.
    #[command(subcommand)]
    Webhooks(webhooks::WebhooksCommand),
    /// Receive webhooks: verify and print every delivery; fail on purpose when asked.
    WebhookSink(webhooks::SinkArgs),
}

/// A failure to report: main prints `error: <message>` and exits 1.
#[derive(Debug)]
pub struct CliError(pub String);

impl<E: Display> From<E> for CliError {
    fn from(error: E) -> Self {
        Self(error.to_string())
    }
}

pub type CliResult = Result<(), CliError>;

impl Cli {
    /// The default log filter of the command (`UNDERWRITE_LOG` overrides it): servers log
    /// what they do; commands that print results stay quiet but for problems.
    pub fn log_filter(&self) -> &'static str {
        match self.command {
            Command::Serve(_) | Command::Sandbox(_) | Command::WebhookSink(_) => "info",
            Command::Demo(_) | Command::Bench(_) | Command::Chaos(_) | Command::Ready(_) => "error",
            Command::Jobs(_) | Command::Dead(_) | Command::Schedules(_) | Command::Webhooks(_) => {
                "warn"
            }
        }
    }

    pub async fn run(self) -> CliResult {
        telemetry::init(self.log_filter()).map_err(CliError)?;
        let settings = Settings::load(self.config.as_deref())?;
        match self.command {
            Command::Serve(args) => serve::run(settings, args).await,
            Command::Sandbox(args) => sandbox::run(settings, args).await,
            Command::Ready(args) => ready::run(settings, args).await,
            Command::Demo(args) => demo::run(settings, args).await,
            Command::Bench(args) => bench::run(settings, args).await,
            Command::Chaos(args) => chaos::run(settings, args).await,
            Command::Jobs(command) => jobs::run(&connect(&settings).await?, command).await,
            Command::Dead(command) => dead::run(&connect(&settings).await?, command).await,
            Command::Schedules(args) => schedules::run(&connect(&settings).await?, args).await,
            Command::Webhooks(command) => webhooks::run(command).await,
            Command::WebhookSink(args) => webhooks::sink(args).await,
        }
    }
}

/// The queue's store, once Redis has answered a PING: a CLI command fails fast, with the
/// address it tried, instead of hanging on a Redis that is not there.
async fn connect(settings: &Settings) -> Result<Store, CliError> {
    let where_ = startup::redacted_redis_url(&settings.redis.url);
    let (_redis, store) = startup::open_store(settings)
        .map_err(|e| CliError(format!("cannot use redis at {where_}: {e}")))?;
    match tokio::time::timeout(CONNECT_TIMEOUT, store.ping()).await {
        Ok(Ok(())) => Ok(store),
        Ok(Err(e)) => Err(CliError(format!(
            "cannot reach redis at {where_}: {e} (set UNDERWRITE_REDIS_URL or redis.url)"
        ))),
        Err(_) => Err(CliError(format!(
            "redis at {where_} did not answer within {} s (set UNDERWRITE_REDIS_URL or redis.url)",
            CONNECT_TIMEOUT.as_secs()
        ))),
    }
}

/// The paging flags of a listing command.
#[derive(Debug, clap::Args)]
pub struct PageArgs {
    /// At most this many jobs.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=500))]
    limit: u64,
    /// Continue a previous listing (the cursor it printed).
    #[arg(long)]
    cursor: Option<String>,
    /// Print the page as JSON instead of a table.
    #[arg(long)]
    json: bool,
}

impl PageArgs {
    fn limit(&self) -> usize {
        usize::try_from(self.limit).unwrap_or(usize::MAX)
    }
}

/// Parses a job id given on the command line.
fn job_id(text: &str) -> Result<JobId, CliError> {
    text.trim().parse().map_err(|_| {
        CliError(format!(
            "`{text}` is not a job id (a UUID such as 01935c1e-7d3a-7c4b-9a8f-2b1c3d4e5f60)"
        ))
    })
}

/// Prints a value as pretty JSON on stdout.
fn print_json(value: &impl serde::Serialize) -> CliResult {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    /// Every command and every argument says what it is for in `--help`.
    #[test]
    fn every_command_and_argument_has_help() {
        use clap::CommandFactory;
        fn walk(command: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in command.get_arguments() {
                let builtin = matches!(arg.get_id().as_str(), "help" | "version");
                if !builtin && arg.get_help().is_none() && arg.get_long_help().is_none() {
                    missing.push(format!("{path} {}", arg.get_id()));
                }
            }
            for sub in command.get_subcommands() {
                let sub_path = format!("{path} {}", sub.get_name());
                if sub.get_name() != "help" && sub.get_about().is_none() {
                    missing.push(sub_path.clone());
                }
                walk(sub, &sub_path, missing);
            }
        }
        let mut missing = Vec::new();
        walk(&Cli::command(), "underwrite", &mut missing);
        assert!(missing.is_empty(), "without help: {missing:#?}");
    }
}
