//! Settling: the answer of an attempt, written with everything it causes, in one step.
//!
//! `settle.lua` checks the lease token (a worker whose lease ran out and was taken over
//! writes nothing), moves the job to its new state, settles the member jobs it carried,
//! enqueues its follow-up jobs (webhook deliveries, see `hook.rs`) and acknowledges the
//! stream entry. A crash therefore never leaves a finished job without its deliveries.
//!
//! Settlements that are ready together share one call to the script (`commit.rs`, the
//! group commit); each is still its own atomic step, with its own answer.

use std::time::Duration;

use super::enqueue::job_args;
use super::handle::Store;
use crate::queue::clock::now_ms;
use crate::queue::commit::Writer;
use crate::queue::error::QueueError;
use crate::queue::id::JobId;
use crate::queue::keys::GROUP;
use crate::queue::outcome::ErrorDetail;
use crate::queue::scripts::SCRIPTS;
use crate::queue::settlement::{ChildSettlement, FollowUp, SettleRequest, Settlement};

/// The arguments `settle.lua` takes for a settlement.
struct SettleArgs {
    state: &'static str,
    result: String,
    error: String,
    due: i64,
    keep: Duration,
    /// (member, its new state, its result or error JSON)
    children: Vec<(JobId, &'static str, String)>,
}

impl Store {
    /// Writes the answer of an attempt, with the jobs it causes (`follow_ups`), in one
    /// atomic step. Returns `false` when the lease was lost meanwhile (another worker holds
    /// the job now) and nothing was written.
    ///
    /// Answers that are ready together share one round trip (see `commit.rs`); each is
    /// still its own atomic step.
    pub async fn settle(
        &self,
        kind: &str,
        id: &JobId,
        entry: &str,
        token: &str,
        settlement: &Settlement,
        follow_ups: &[FollowUp],
    ) -> Result<bool, QueueError> {
        let request = SettleRequest {
            kind: kind.to_string(),
            id: *id,
            entry: entry.to_string(),
            token: token.to_string(),
            settlement: settlement.clone(),
            follow_ups: follow_ups.to_vec(),
        };
        self.committer.settle(self, request).await
    }

    /// Writes `requests` in one call of `settle.lua`: one answer each, `false` for a lost
    /// lease.
    async fn settle_now(&self, requests: &[SettleRequest]) -> Result<Vec<bool>, QueueError> {
        let mut invocation = SCRIPTS.settle.prepare_invoke();
        invocation.key(self.keys.state_keys());
        for request in requests {
            self.push_settle(&mut invocation, request)?;
        }
        let mut conn = self.conn.clone();
        let answers: Vec<String> = invocation.invoke_async(&mut conn).await?;
        Ok(answers.iter().map(|answer| answer == "ok").collect())
    }

    /// Appends one settlement's keys and arguments (the layout is `settle.lua`'s).
    fn push_settle(
        &self,
        invocation: &mut redis::ScriptInvocation<'_>,
        request: &SettleRequest,
    ) -> Result<(), QueueError> {
        let (kind, id) = (request.kind.as_str(), &request.id);
        invocation
            .key(self.keys.job(id))
            .key(self.keys.stream(kind))
            .key(self.keys.scheduled(kind))
            .key(self.keys.kinds());
        let error_json = |error: &ErrorDetail| serde_json::to_string(error);
        let SettleArgs {
            state,
            result,
            error,
            due,
            keep,
            children,
        } = match &request.settlement {
            Settlement::Succeeded {
                result,
                children,
                attention,
            } => SettleArgs {
                state: "succeeded",
                result: serde_json::to_string(result)?,
                // A success has no error: the slot carries the attention reason instead.
                error: attention.clone().unwrap_or_default(),
                due: 0,
                keep: self.retention.finished,
                children: children
                    .iter()
                    .map(|(child, outcome)| {
                        Ok(match outcome {
                            ChildSettlement::Succeeded(result) => {
                                (*child, "succeeded", serde_json::to_string(result)?)
                            }
                            ChildSettlement::Failed(error) => {
                                (*child, "failed", error_json(error)?)
                            }
                        })
                    })
                    .collect::<Result<_, serde_json::Error>>()?,
            },
            Settlement::Retrying {
                error,
                due_ms,
                children,
            } => {
                let error = error_json(error)?;
                SettleArgs {
                    state: "retrying",
                    result: String::new(),
                    children: children
                        .iter()
                        .map(|c| (*c, "retrying", error.clone()))
                        .collect(),
                    error,
                    due: *due_ms,
                    keep: self.retention.finished,
                }
            }
            Settlement::Deferred { due_ms } => SettleArgs {
                state: "deferred",
                result: String::new(),
                error: String::new(),
                due: *due_ms,
                keep: self.retention.finished,
                children: Vec::new(),
            },
            // Not an error: the error slot carries the reason, written as `snooze_reason`.
            Settlement::Snoozed { due_ms, reason } => SettleArgs {
                state: "snoozed",
                result: String::new(),
                error: reason.clone(),
                due: *due_ms,
                keep: self.retention.finished,
                children: Vec::new(),
            },
            // Final but not a failure: kept like a success, not like the dead set.
            Settlement::Expired { error, children } => {
                let error = error_json(error)?;
                SettleArgs {
                    state: "expired",
                    result: String::new(),
                    children: children
                        .iter()
                        .map(|c| (*c, "expired", error.clone()))
                        .collect(),
                    error,
                    due: 0,
                    keep: self.retention.finished,
                }
            }
            Settlement::Buried {
                state,
                error,
                children,
            } => {
                let error = error_json(error)?;
                SettleArgs {
                    state: state.as_str(),
                    result: String::new(),
                    children: children
                        .iter()
                        .map(|c| (*c, state.as_str(), error.clone()))
                        .collect(),
                    error,
                    due: 0,
                    keep: self.retention.dead_max_age,
                }
            }
        };
        invocation
            .arg(now_ms())
            .arg(&request.token)
            .arg(&request.entry)
            .arg(GROUP)
            .arg(state)
            .arg(result)
            .arg(&error)
            .arg(due)
            .arg(keep.as_millis() as u64)
            .arg(children.len())
            .arg(request.follow_ups.len());
        for (child, state, data) in &children {
            invocation
                .key(self.keys.job(child))
                .arg(child.to_string())
                .arg(*state)
                .arg(data);
        }
        for follow_up in &request.follow_ups {
            let job = &follow_up.job;
            let (index, score) = match &follow_up.index {
                Some((key, score)) => (key.clone(), score.to_string()),
                None => (self.keys.kinds(), String::new()),
            };
            invocation
                .key(self.keys.job(&job.id))
                .key(self.keys.stream(&job.kind))
                .key(index);
            job_args(invocation, job)?;
            invocation.arg(score);
        }
        Ok(())
    }
}

/// The group commit writes through the store, without the store's committer in hand.
impl Writer for Store {
    fn detached(&self) -> Self {
        self.without_committer()
    }

    async fn write(&self, requests: &[SettleRequest]) -> Result<Vec<bool>, QueueError> {
        self.settle_now(requests).await
    }
}
