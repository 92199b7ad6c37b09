//! `underwrite demo [--also-webhook URL --also-webhook-secret whsec_...]`: see
//! `src/demo/`.

use clap::Args;
use underwrite::config::Settings;
use underwrite::demo::{DemoError, DemoOptions};

use super::{CliError, CliResult};

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Also send every event to this receiver (it must be on loopback).
    #[arg(long, value_name = "URL", requires = "also_webhook_secret")]
    also_webhook: Option<String>,
    /// The `whsec_...` secret for `--also-webhook`.
    #[arg(long, value_name = "SECRET", requires = "also_webhook")]
    also_webhook_secret: Option<String>,
}

pub async fn run(settings: Settings, args: DemoArgs) -> CliResult {
    let extra_webhook = match (args.also_webhook, args.also_webhook_secret) {
        (Some(url), Some(secret)) => Some((url, secret)),
        (None, None) => None,
        _ => {
            return Err(CliError(
                "--also-webhook needs --also-webhook-secret".into(),
            ));
        }
    };
    match underwrite::demo::run(settings, DemoOptions { extra_webhook }).await {
        // The reader went away (`| head`): everything was cleaned up; nothing to say.
        Ok(()) | Err(DemoError::StdoutClosed) => Ok(()),
        Err(error) => Err(error.into()),
    }
}
