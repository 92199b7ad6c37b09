//! `underwrite schedules`: every periodic job's schedule, with when it runs next.
//!
//! It reads Redis through the queue's `Store`, like `jobs` and `dead`: the schedules are
//! those the workers declared, whichever process runs this.

use chrono::{DateTime, Utc};
use underwrite::queue::{ScheduleStatus, Store};

use super::{CliResult, print_json};

#[derive(Debug, clap::Args)]
pub struct SchedulesArgs {
    /// Print the schedules as JSON instead of a table.
    #[arg(long)]
    json: bool,
}

pub async fn run(store: &Store, args: SchedulesArgs) -> CliResult {
    let schedules = store.schedules().await?;
    if args.json {
        return print_json(&schedules);
    }
    print_table(&schedules);
    Ok(())
}

fn print_table(schedules: &[ScheduleStatus]) {
    if schedules.is_empty() {
        eprintln!("no schedules (none declared by a worker yet)");
        return;
    }
    let name_width = schedules
        .iter()
        .map(|s| s.name.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let kind_width = schedules
        .iter()
        .map(|s| s.kind.len())
        .max()
        .unwrap_or(4)
        .max(4);
    println!(
        "{:<name_width$}  {:<kind_width$}  {:>10}  {:<20}  {:<20}  LAST JOB",
        "NAME", "KIND", "EVERY", "NEXT RUN", "LAST RUN"
    );
    for schedule in schedules {
        println!(
            "{:<name_width$}  {:<kind_width$}  {:>10}  {:<20}  {:<20}  {}",
            schedule.name,
            schedule.kind,
            interval(schedule.every_ms),
            time(Some(schedule.next_run_at)),
            time(schedule.last_run_at),
            schedule
                .last_job
                .map(|id| id.to_string())
                .unwrap_or_default(),
        );
    }
}

/// An interval in the largest unit that divides it: `5m`, `90s`, `250ms`.
fn interval(ms: u64) -> String {
    match ms {
        0 => "0ms".into(),
        ms if ms % 3_600_000 == 0 => format!("{}h", ms / 3_600_000),
        ms if ms % 60_000 == 0 => format!("{}m", ms / 60_000),
        ms if ms % 1_000 == 0 => format!("{}s", ms / 1_000),
        ms => format!("{ms}ms"),
    }
}

fn time(at: Option<DateTime<Utc>>) -> String {
    at.map(|at| at.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|| "-".into())
}

#[cfg(test)]
mod tests {
    use super::interval;

    #[test]
    fn intervals_read_in_their_largest_unit() {
        assert_eq!(interval(300_000), "5m");
        assert_eq!(interval(90_000), "90s");
        assert_eq!(interval(7_200_000), "2h");
        assert_eq!(interval(250), "250ms");
    }
}
