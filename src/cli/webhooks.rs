//! Webhook tools for receivers' owners (see `webhooks/signing.rs` and `webhooks/sink.rs`):
//!
//! - `underwrite webhooks verify --secret whsec_... --id ID --timestamp TS --signature SIG
//!   [--body-file FILE]`: checks one delivery as a receiver would (the body from the file,
//!   else from stdin, byte for byte). Prints `valid`, or exits 1 with the reason. `--now`
//!   checks the timestamp against another clock, to look at a delivery logged long ago.
//! - `underwrite webhook-sink --listen ADDR --secret whsec_...`: a receiver that verifies
//!   and prints every delivery, one line each on stdout, with flags to fail on purpose.
//!
//! Secrets are parsed here rather than by clap, so that a mistyped one is never echoed
//! back in an error message.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use tokio::io::AsyncReadExt;
use underwrite::startup;
use underwrite::webhooks::signing::{Secret, Verifier};
use underwrite::webhooks::sink::{self, SinkConfig};

use super::{CliError, CliResult};

#[derive(Debug, Subcommand)]
pub enum WebhooksCommand {
    /// Check one delivery's signature and timestamp, as a receiver would.
    Verify(VerifyArgs),
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The endpoint's secret; repeat it to try several (during a rotation).
    #[arg(long = "secret", value_name = "whsec_...", required = true)]
    secrets: Vec<String>,
    /// The `webhook-id` header.
    #[arg(long, value_name = "ID")]
    id: String,
    /// The `webhook-timestamp` header (unix seconds).
    #[arg(long, value_name = "TS")]
    timestamp: String,
    /// The `webhook-signature` header (one or more `v1,...` separated by spaces).
    #[arg(long, value_name = "SIG", allow_hyphen_values = true)]
    signature: String,
    /// The body exactly as received; without it, the body is read from stdin.
    #[arg(long, value_name = "FILE")]
    body_file: Option<PathBuf>,
    /// Check the timestamp against this time (unix seconds) instead of the clock.
    #[arg(long, value_name = "UNIX_SECONDS")]
    now: Option<i64>,
}

#[derive(Debug, Args)]
pub struct SinkArgs {
    /// Where to listen.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8099")]
    listen: SocketAddr,
    /// The endpoint's secret; repeat it to accept several (during a rotation).
    #[arg(long = "secret", value_name = "whsec_...", required = true)]
    secrets: Vec<String>,
    /// Answer this share of verified deliveries with 500 (0 to 1).
    #[arg(long, value_name = "SHARE", default_value_t = 0.0, value_parser = share)]
    fail_share: f64,
    /// Answer every request with this status (410 gone, 429 too many, 500, 503, ...).
    #[arg(long, value_name = "STATUS", value_parser = clap::value_parser!(u16).range(200..=599))]
    always: Option<u16>,
    /// Send `Retry-After: SECS` with the failures chosen by --always and --fail-share.
    #[arg(long, value_name = "SECS")]
    retry_after: Option<u64>,
    /// Also print each request's headers and body as received, to try `underwrite
    /// webhooks verify` on (credential headers masked).
    #[arg(long)]
    show_requests: bool,
}

pub async fn run(command: WebhooksCommand) -> CliResult {
    match command {
        WebhooksCommand::Verify(args) => verify(args).await,
    }
}

async fn verify(args: VerifyArgs) -> CliResult {
    let verifier = Verifier::new(parse_secrets(&args.secrets)?);
    let body = read_body(args.body_file.as_ref()).await?;
    let now = args.now.unwrap_or_else(|| chrono::Utc::now().timestamp());
    verifier
        .verify_parts(&args.id, &args.timestamp, &args.signature, &body, now)
        .map_err(|reason| CliError(format!("not valid: {reason}")))?;
    println!("valid");
    Ok(())
}

/// `underwrite webhook-sink`: until SIGTERM or SIGINT, then a summary on stderr.
pub async fn sink(args: SinkArgs) -> CliResult {
    let config = SinkConfig {
        secrets: parse_secrets(&args.secrets)?,
        fail_share: args.fail_share,
        always: args.always,
        retry_after_secs: args.retry_after,
        print: true,
        print_requests: args.show_requests,
    };
    let shutdown = startup::shutdown_signal();
    let sink = sink::spawn(args.listen, config)
        .await
        .map_err(|e| CliError(format!("cannot listen on {}: {e}", args.listen)))?;
    println!(
        "webhook-sink listening on {}; SIGTERM or SIGINT stops it",
        sink.url()
    );
    shutdown.await;
    let counts = sink.counts();
    sink.shutdown().await;
    eprintln!(
        "webhook-sink: {} received, {} verified ({} distinct ids), {} not verified, {} answered 2xx",
        counts.received, counts.verified, counts.distinct_ids, counts.rejected, counts.accepted
    );
    Ok(())
}

/// A share between 0 and 1, for --fail-share.
fn share(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(share) if (0.0..=1.0).contains(&share) => Ok(share),
        _ => Err(format!("`{text}` is not a number between 0 and 1")),
    }
}

fn parse_secrets(texts: &[String]) -> Result<Vec<Secret>, CliError> {
    texts
        .iter()
        .enumerate()
        .map(|(n, text)| {
            Secret::parse(text).map_err(|e| CliError(format!("--secret number {}: {e}", n + 1)))
        })
        .collect()
}

/// The body, byte for byte: a trailing newline added by an editor would change the
/// signature, so nothing is trimmed.
async fn read_body(file: Option<&PathBuf>) -> Result<Vec<u8>, CliError> {
    if let Some(path) = file {
        return tokio::fs::read(path)
            .await
            .map_err(|e| CliError(format!("cannot read {}: {e}", path.display())));
    }
    if std::io::stdin().is_terminal() {
        return Err(CliError(
            "give the body with --body-file FILE or on stdin".into(),
        ));
    }
    let mut body = Vec::new();
    tokio::io::stdin()
        .read_to_end(&mut body)
        .await
        .map_err(|e| CliError(format!("cannot read the body from stdin: {e}")))?;
    Ok(body)
}
