//! A producer that keeps submitting while a scenario breaks things.

use std::time::{Duration, Instant};

use super::super::{ChaosError, err};
use super::Rig;
use crate::producer::Submission;
use crate::queue::JobId;
use crate::vendors::proteger::jobs::CreateContract;
use crate::vendors::proteger::sandbox::sample_contract;

/// What a [`Submitter`] sent.
#[derive(Debug, Clone, Default)]
pub struct Submitted {
    /// The job ids submits returned: the jobs the queue promised to run.
    pub accepted: Vec<JobId>,
    /// Contracts in submits that failed (Redis away): never accepted, so never counted as
    /// lost. Their `transactionId`s are not reused, because a submit whose answer was lost
    /// may still have been written; such jobs simply run as extras.
    pub refused: usize,
    /// The failed submits themselves.
    pub failed_submits: usize,
}

/// A producer submitting contracts in the background while a scenario breaks things (see
/// [`Rig::spawn_submitter`]).
pub struct Submitter {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    task: tokio::task::JoinHandle<Submitted>,
}

impl Submitter {
    /// Waits until every contract asked for was accepted, at most until `deadline`; then
    /// stops submitting and says what was sent.
    pub async fn finish(self, deadline: Instant) -> Result<Submitted, ChaosError> {
        while !self.task.is_finished() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.task.await.map_err(err)
    }
}

impl Rig {
    /// Submits contracts `from..` in the background, `chunk` per submit, until `total` were
    /// accepted, keeping the queue fed but not flooded: a new submit waits while `backlog`
    /// or more jobs are unfinished. So the producer is still at work when something breaks
    /// mid-run, as a real one would be. A failed submit is counted (and not retried with the
    /// same contracts); while the queue cannot even be counted, submits go on (and fail),
    /// a tenth of a second apart.
    pub fn spawn_submitter(
        &self,
        from: usize,
        total: usize,
        chunk: usize,
        backlog: u64,
    ) -> Submitter {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let producer = self.producer.clone();
        let store = self.store.clone();
        let tag = self.tag.clone();
        let stopped = stop.clone();
        let task = tokio::spawn(async move {
            let mut sent = Submitted::default();
            let mut next = from;
            while sent.accepted.len() < total && !stopped.load(std::sync::atomic::Ordering::Relaxed)
            {
                if let Ok(counts) = store.counts().await {
                    let unfinished: u64 = counts
                        .iter()
                        .filter(|(state, _)| !state.is_final())
                        .map(|(_, n)| n)
                        .sum();
                    if unfinished >= backlog {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        continue;
                    }
                }
                let count = chunk.max(1).min(total - sent.accepted.len());
                let submissions = (next..next + count)
                    .map(|i| {
                        let transaction = format!("chaos-{tag}-{i}");
                        Submission::new(CreateContract(sample_contract(&transaction)))
                    })
                    .collect();
                next += count;
                match producer
                    .submit(&crate::queue::AppName::default_app(), submissions, None)
                    .await
                {
                    Ok(accepted) => sent.accepted.extend(accepted.job_ids),
                    Err(e) => {
                        tracing::debug!(error = %e, "chaos submit failed");
                        sent.refused += count;
                        sent.failed_submits += 1;
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
            sent
        });
        Submitter { stop, task }
    }
}
