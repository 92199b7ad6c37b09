//! `underwrite ready [--url URL]`: exits 0 when a running API answers `GET /readyz` with
//! 200, 1 otherwise. It is the container healthcheck (`docker-compose.yml`): the runtime
//! image has no curl, and the binary knows where its API listens.

use std::time::Duration;

use clap::Args;
use underwrite::config::Settings;

use super::{CliError, CliResult};

#[derive(Debug, Args)]
pub struct ReadyArgs {
    /// The readiness URL; default: /readyz on api.listen (a wildcard address is asked on
    /// loopback).
    #[arg(long, value_name = "URL")]
    url: Option<String>,
    /// How long to wait for the answer, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 3)]
    timeout_secs: u64,
}

pub async fn run(settings: Settings, args: ReadyArgs) -> CliResult {
    let url = args.url.unwrap_or_else(|| {
        let mut addr = settings.api.listen;
        if addr.ip().is_unspecified() {
            addr.set_ip(if addr.is_ipv4() {
                std::net::Ipv4Addr::LOCALHOST.into()
            } else {
                std::net::Ipv6Addr::LOCALHOST.into()
            });
        }
        format!("http://{addr}/readyz")
    });
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(args.timeout_secs.max(1)))
        .build()?;
    let answer = client
        .get(&url)
        .send()
        .await
        .map_err(|e| CliError(format!("{url}: no answer ({e})")))?;
    if answer.status().is_success() {
        println!("ready");
        Ok(())
    } else {
        Err(CliError(format!(
            "{url}: not ready (HTTP {})",
            answer.status()
        )))
    }
}
