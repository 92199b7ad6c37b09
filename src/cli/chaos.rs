//! `underwrite chaos kill`: SIGKILL worker processes while they work and count the cost.
//! See `src/chaos.rs`.

use std::time::Duration;

use clap::{Args, ValueEnum};
use underwrite::chaos::{self, ChaosOptions};
use underwrite::config::Settings;

use super::{CliError, CliResult};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Scenario {
    /// Worker processes SIGKILLed and restarted while they work.
    Kill,
}

#[derive(Debug, Args)]
pub struct ChaosArgs {
    scenario: Scenario,
    /// Contracts to send through (each raises one webhook).
    #[arg(long, default_value_t = 5_000)]
    jobs: usize,
    /// Worker processes.
    #[arg(long, default_value_t = 3)]
    workers: usize,
    /// Seconds between two kills.
    #[arg(long, default_value_t = 2)]
    every_secs: u64,
    /// Milliseconds added to every vendor call (kills then land mid-call).
    #[arg(long, default_value_t = 500)]
    vendor_latency_ms: u64,
    /// Seconds to wait for the run to settle before counting.
    #[arg(long, default_value_t = 300)]
    patience_secs: u64,
}

pub async fn run(settings: Settings, args: ChaosArgs) -> CliResult {
    let Scenario::Kill = args.scenario;
    let options = ChaosOptions {
        jobs: args.jobs.max(1),
        workers: args.workers.max(1),
        every: Duration::from_secs(args.every_secs.max(1)),
        patience: Duration::from_secs(args.patience_secs),
        vendor_latency: Duration::from_millis(args.vendor_latency_ms),
    };
    let report = chaos::kill(settings, options).await?;
    println!("{}", report.line());
    if report.is_clean() {
        Ok(())
    } else {
        Err(CliError("the run lost, duplicated or missed work".into()))
    }
}
