//! `underwrite dead list|show|retry|purge`: the dead set holds jobs that `failed` (the
//! vendor refused them) or are `dead` (retries exhausted, or a poison job).

use clap::Subcommand;
use underwrite::queue::{Requeue, RetryOptions, Store};

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
    Show {
        /// The dead job's id.
        id: String,
    },
    /// Put a job (or every job, with --all) back in its queue with a fresh retry budget.
    ///
    /// Never twice: a job the vendor may have carried out (its last error says
    /// "ambiguous") that would go under a new idempotency key is refused until you checked
    /// at the vendor and pass --vendor-checked. A batch goes again under its own key; with
    /// --all, members go with their batch.
    #[command(group(clap::ArgGroup::new("which").required(true).args(["id", "all"])))]
    Retry {
        /// The dead job to requeue (its id, as `dead list` shows it).
        id: Option<String>,
        /// Every job of the dead set instead of one.
        #[arg(long)]
        all: bool,
        /// I checked at the vendor that this work was not carried out.
        #[arg(long)]
        vendor_checked: bool,
    },
    /// Delete a job (or every job, with --all) of the dead set for good.
    #[command(group(clap::ArgGroup::new("which").required(true).args(["id", "all"])))]
    Purge {
        /// The dead job to delete (its id, as `dead list` shows it).
        id: Option<String>,
        /// Every job of the dead set instead of one.
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
                Some(record) if record.state.is_dead() => print_json(&record),
                Some(record) => Err(CliError(format!(
                    "job {id} is not in the dead set (it is {}); see `underwrite jobs show {id}`",
                    record.state
                ))),
                None => Err(not_found(&id.to_string())),
            }
        }
        DeadCommand::Retry {
            all: true,
            vendor_checked,
            ..
        } => {
            let done = store.requeue_all(RetryOptions { vendor_checked }).await?;
            println!("requeued {} job(s)", done.requeued);
            if done.released > 0 {
                println!(
                    "sent {} contract(s) of ambiguous batches back to be batched under new keys",
                    done.released
                );
            }
            if done.ambiguous + done.in_batch > 0 {
                eprintln!(
                    "left in the dead set: {} job(s) the vendor may have carried out and {} member(s) of them; \
                     check at the vendor, then retry with --vendor-checked",
                    done.ambiguous, done.in_batch
                );
            }
            Ok(())
        }
        DeadCommand::Retry {
            id, vendor_checked, ..
        } => {
            let id = job_id(id.as_deref().unwrap_or_default())?;
            match store.requeue(&id, RetryOptions { vendor_checked }).await? {
                Requeue::Requeued => {
                    println!("requeued {id}");
                    Ok(())
                }
                Requeue::Released { members } => {
                    println!(
                        "released {members} contract(s) of batch {id} to be batched under new keys"
                    );
                    Ok(())
                }
                Requeue::NotDead(state) => Err(CliError(format!(
                    "job {id} is not in the dead set (it is {state})"
                ))),
                Requeue::Missing => Err(not_found(&id.to_string())),
                Requeue::Ambiguous | Requeue::InBatch(_) => {
                    let batch = match store.job(&id).await? {
                        Some(record) => record.batch.map(|batch| {
                            format!("; or retry its batch (`underwrite dead retry {batch}`), which sends it again under the batch's own idempotency key")
                        }),
                        None => None,
                    };
                    Err(CliError(format!(
                        "job {id} may have been carried out by the vendor (see `underwrite dead show {id}`) \
                         and would go under a new idempotency key: check at the vendor, then retry with \
                         --vendor-checked{}",
                        batch.unwrap_or_default()
                    )))
                }
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
