//! `underwrite jobs show ID` and `underwrite jobs list`.

use clap::Subcommand;
use underwrite::queue::{JobRecord, JobState, ListFilter, Store};

use super::{CliError, CliResult, PageArgs, job_id, print_json};

#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// Print a job's record as JSON.
    Show {
        /// The job id (as answered by the API: `job_id`).
        id: String,
    },
    /// List jobs, newest first.
    List {
        /// Only jobs in this state: queued, running, retrying, snoozed, succeeded, failed, dead,
        /// expired.
        #[arg(long)]
        state: Option<JobState>,
        /// Only jobs of this kind, e.g. proteger.contract.create (an unknown kind is refused,
        /// with the known ones).
        #[arg(long, value_parser = known_kind)]
        kind: Option<String>,
        #[command(flatten)]
        page: PageArgs,
    },
}

pub async fn run(store: &Store, command: JobsCommand) -> CliResult {
    match command {
        JobsCommand::Show { id } => {
            let id = job_id(&id)?;
            match store.job(&id).await? {
                Some(record) => print_json(&record),
                None => Err(CliError(format!(
                    "job {id} not found (it never existed, or its record has expired)"
                ))),
            }
        }
        JobsCommand::List {
            state,
            kind,
            page: args,
        } => {
            let filter = ListFilter {
                state,
                kind,
                limit: args.limit(),
                cursor: args.cursor.clone(),
                payload_field: None,
                // The CLI is the operator: every app's jobs.
                app: None,
            };
            let page = store.list(&filter).await?;
            if args.json {
                return print_json(&page);
            }
            print_table(&page.jobs);
            if let Some(cursor) = page.next_cursor {
                eprintln!("more: --cursor {cursor}");
            }
            Ok(())
        }
    }
}

/// A `--kind` is one of the registry's job kinds: a typo is refused with the kinds there
/// are, instead of listing nothing.
fn known_kind(kind: &str) -> Result<String, String> {
    let kinds = underwrite::vendors::all().job_kinds();
    if kinds.contains(&kind) {
        return Ok(kind.to_string());
    }
    Err(format!(
        "unknown kind `{kind}` (the kinds are: {}){}",
        kinds.join(", "),
        underwrite::config_hints::suggestion(kind, kinds.iter().copied()),
    ))
}

/// Prints records as a table, one line each.
pub fn print_table(jobs: &[JobRecord]) {
    if jobs.is_empty() {
        eprintln!("no jobs");
        return;
    }
    let kind_width = jobs.iter().map(|j| j.kind.len()).max().unwrap_or(4).max(4);
    println!(
        "{:<36}  {:<kind_width$}  {:<9}  {:>8}  {:<20}  REFERENCE / LAST ERROR",
        "ID", "KIND", "STATE", "ATTEMPTS", "ENQUEUED"
    );
    for job in jobs {
        // What an operator must see first: a success nobody could read, then a job the
        // vendor may have carried out, then the error, else the producer's reference.
        let note = match (&job.attention, &job.last_error, &job.reference) {
            (Some(why), _, _) => format!("ATTENTION: {why}"),
            _ if job.state == JobState::Snoozed => format!(
                "SNOOZED until {}: {}",
                job.next_attempt_at
                    .map(|at| at.format("%Y-%m-%d %H:%M:%S").to_string())
                    .unwrap_or_default(),
                job.snooze_reason.as_deref().unwrap_or_default()
            ),
            (_, Some(error), _) if job.state != JobState::Succeeded && error.ambiguous => {
                format!("AMBIGUOUS: {}", error.message)
            }
            (_, Some(error), _) if job.state != JobState::Succeeded => error.message.clone(),
            (_, _, Some(reference)) => reference.clone(),
            _ => String::new(),
        };
        println!(
            "{:<36}  {:<kind_width$}  {:<9}  {:>8}  {:<20}  {}",
            job.id.to_string(),
            job.kind,
            job.state.as_str(),
            job.attempts,
            job.enqueued_at.format("%Y-%m-%d %H:%M:%S"),
            one_line(&note, 100),
        );
    }
}

/// The first line of `text`, cut at `max` characters.
fn one_line(text: &str, max: usize) -> String {
    let line = text.lines().next().unwrap_or_default();
    if line.chars().count() > max {
        let cut: String = line.chars().take(max - 1).collect();
        format!("{cut}…")
    } else {
        line.to_string()
    }
}
