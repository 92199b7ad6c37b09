//! `underwrite chaos <scenario>`: break things on purpose and count what was lost, done
//! twice or never told. See `src/chaos/` for what each scenario does.

use std::time::Duration;

use clap::{Args, ValueEnum};
use underwrite::chaos::{self, ChaosOptions, Scenario};
use underwrite::config::Settings;

use super::{CliError, CliResult};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ScenarioArg {
    /// Worker processes SIGKILLed and restarted while they work.
    Kill,
    /// Redis (AOF, appendfsync always) killed and restarted mid-run.
    RedisRestart,
    /// The vendor answers 5xx, 429 with Retry-After, and stalls.
    VendorFaults,
    /// The webhook receiver is down for a while, then up.
    ReceiverDown,
    /// Corrupt jobs written straight into Redis.
    Poison,
}

impl From<ScenarioArg> for Scenario {
    fn from(arg: ScenarioArg) -> Self {
        match arg {
            ScenarioArg::Kill => Self::Kill,
            ScenarioArg::RedisRestart => Self::RedisRestart,
            ScenarioArg::VendorFaults => Self::VendorFaults,
            ScenarioArg::ReceiverDown => Self::ReceiverDown,
            ScenarioArg::Poison => Self::Poison,
        }
    }
}

#[derive(Debug, Args)]
pub struct ChaosArgs {
    /// What to break (each scenario's promise is in docs/chaos.md).
    scenario: ScenarioArg,
    /// Jobs to send through (each raises one webhook).
    #[arg(long, default_value_t = 5_000)]
    jobs: usize,
    /// Worker processes.
    #[arg(long, default_value_t = 3)]
    workers: usize,
    /// kill: seconds between two SIGKILLs.
    #[arg(long, default_value_t = 2)]
    every_secs: u64,
    /// Milliseconds added to every vendor call (what breaks then strikes mid-call).
    #[arg(long, default_value_t = 500)]
    vendor_latency_ms: u64,
    /// receiver-down: seconds the receiver stays down.
    #[arg(long, default_value_t = 120)]
    down_secs: u64,
    /// Seconds to wait for the run to settle before counting.
    #[arg(long, default_value_t = 300)]
    patience_secs: u64,
}

pub async fn run(settings: Settings, args: ChaosArgs) -> CliResult {
    let options = ChaosOptions {
        jobs: args.jobs.max(1),
        workers: args.workers.max(1),
        every: Duration::from_secs(args.every_secs.max(1)),
        patience: Duration::from_secs(args.patience_secs),
        vendor_latency: Duration::from_millis(args.vendor_latency_ms),
        down_for: Duration::from_secs(args.down_secs),
    };
    let report = chaos::run(args.scenario.into(), settings, options).await?;
    println!("{report}");
    if report.is_clean() {
        Ok(())
    } else {
        Err(CliError(format!(
            "chaos {}: the run lost, duplicated, missed or broke something",
            report.scenario
        )))
    }
}
