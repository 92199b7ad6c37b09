//! `underwrite dead list|show|retry|purge`: the dead set holds jobs that `failed` (the
//! vendor refused them) or are `dead` (retries exhausted, or a poison job).

use clap::Subcommand;
use underwrite::queue::{JobState, Requeue, Store};

use super::jobs::print_table;
use super::{CliError, CliResult, PageArgs, job_id, print_json};

#[derive(Debug, Subcommand)]
pub enum DeadCommand {
    /// List the dead set, most recent first.
    List {
        #[command(flatten)]
        page: PageArgs,
    },
    /// Print a dead job's record (with its last error) as JSON.
    Show { id: String },
    /// Put a job (or every job, with --all) back in its queue with a fresh retry budget.
    Retry {
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        id: Option<String>,
        #[arg(long)]
        all: bool,
    },
    /// Delete a job (or every job, with --all) of the dead set for good.
    Purge {
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        id: Option<String>,
        #[arg(long)]
        all: bool,
    },
}

pub async fn run(store: &Store, command: DeadCommand) -> CliResult {
    match command {
        DeadCommand::List { page: args } => {
            let page = store.dead(args.cursor.clone(), args.limit()).await?;
            if args.json {
                return print_json(&page);
            }
            if page.jobs.is_empty() {
                eprintln!("the dead set is empty");
                return Ok(());
            }
            print_table(&page.jobs);
            if let Some(cursor) = page.next_cursor {
                eprintln!("more: --cursor {cursor}");
            }
            Ok(())
        }
        DeadCommand::Show { id } => {
            let id = job_id(&id)?;
            match store.job(&id).await? {
                Some(record) if matches!(record.state, JobState::Failed | JobState::Dead) => {
                    print_json(&record)
                }
                Some(record) => Err(CliError(format!(
                    "job {id} is not in the dead set (it is {}); see `underwrite jobs show {id}`",
                    record.state
                ))),
                None => Err(not_found(&id.to_string())),
            }
        }
        DeadCommand::Retry { all: true, .. } => {
            let count = store.requeue_all().await?;
            println!("requeued {count} job(s)");
            Ok(())
        }
        DeadCommand::Retry { id, .. } => {
            let id = job_id(id.as_deref().unwrap_or_default())?;
            match store.requeue(&id).await? {
                Requeue::Requeued => {
                    println!("requeued {id}");
                    Ok(())
                }
                Requeue::NotDead(state) => Err(CliError(format!(
                    "job {id} is not in the dead set (it is {state})"
                ))),
                Requeue::Missing => Err(not_found(&id.to_string())),
            }
        }
        DeadCommand::Purge { all: true, .. } => {
            let count = store.purge_all().await?;
            println!("purged {count} job(s)");
            Ok(())
        }
        DeadCommand::Purge { id, .. } => {
            let id = job_id(id.as_deref().unwrap_or_default())?;
            if store.purge(&id).await? {
                println!("purged {id}");
                Ok(())
            } else {
                Err(CliError(format!("job {id} is not in the dead set")))
            }
        }
    }
}

fn not_found(id: &str) -> CliError {
    CliError(format!(
        "job {id} not found (it never existed, or its record has expired)"
    ))
}
