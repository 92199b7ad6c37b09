//! `underwrite bench <name>`: run one benchmark and print its table and JSON line.
//! See `src/bench/` for what each measures.

use clap::Args;
use underwrite::bench::{self, BenchOptions, Benchmark};
use underwrite::config::Settings;
use underwrite::local_redis::LocalRedis;

use super::{CliError, CliResult};

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// noop, latency, backlog, e2e, trickle, credit-poll, webhooks or retention.
    name: Benchmark,
    /// Jobs (or samples, for latency). Defaults: noop 100000, latency 1000,
    /// backlog 1000000, e2e and webhooks 10000, trickle 1000 (each way), retention 100000,
    /// credit-poll 10000 (the largest of its 100, 1000 and 10000 pending applications).
    #[arg(long)]
    jobs: Option<usize>,
    /// Jobs run at once by the worker.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// noop: skip the apalis-redis 1.0.0 baseline run after ours.
    #[arg(long)]
    no_baseline: bool,
    /// e2e: whose contracts, proteger or tulip.
    #[arg(long, default_value = "proteger")]
    vendor: String,
}

pub async fn run(settings: Settings, args: BenchArgs) -> CliResult {
    let jobs = args.jobs.unwrap_or(match args.name {
        Benchmark::Latency | Benchmark::Trickle => 1_000,
        Benchmark::Backlog => 1_000_000,
        Benchmark::E2e | Benchmark::Webhooks | Benchmark::CreditPoll => 10_000,
        Benchmark::Noop | Benchmark::Retention => 100_000,
    });
    let redis = LocalRedis::find_or_start(&settings.redis.url)
        .await
        .map_err(CliError)?;
    eprintln!("redis: {}", redis.describe());
    let options = BenchOptions {
        jobs,
        concurrency: args.concurrency.max(1),
        redis_url: redis.url(),
        baseline: !args.no_baseline,
        vendor: args.vendor,
    };
    let report = bench::run(args.name, &options).await;
    redis.stop().await;
    report?.print();
    Ok(())
}
