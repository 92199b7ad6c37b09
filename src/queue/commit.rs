//! Group commit: the answers of attempts that finish together share one round trip.
//!
//! Each settlement is one atomic step of `settle.lua`, and most of what a step costs Redis
//! is the script call itself, not the few commands inside. A worker running 64 jobs at once
//! finishes many of them within the same millisecond, so its settlements go through one
//! task per store: it takes whatever is waiting (up to [`MAX_BATCH`]), writes all of it in
//! one call, and answers each caller. While one call is in flight the next batch gathers,
//! so a lone settlement waits for at most one call, and a busy worker's settlements share
//! calls by the dozen.
//!
//! Nothing changes for a job: its step is still atomic, its lease token is still checked,
//! and a caller still gets its own answer. If a batched call fails, each settlement is
//! written again on its own, so one bad job cannot fail its neighbours; a settlement that
//! did land the first time then answers "lease lost" (its token is spent), which the caller
//! logs and otherwise ignores.
//!
//! The committer writes through a [`Writer`], which the store implements
//! (`store/settle.rs`): the store holds its committer, and this file never names the store,
//! so neither file needs the other.

use std::sync::OnceLock;

use tokio::sync::{mpsc, oneshot};

use super::error::QueueError;
use super::metrics;
use super::settlement::SettleRequest;

/// Settlements written by one call at most.
pub const MAX_BATCH: usize = 64;

struct Pending {
    request: SettleRequest,
    reply: oneshot::Sender<Result<bool, QueueError>>,
}

/// What the commit task writes through.
pub(crate) trait Writer: Sized + Send + Sync + 'static {
    /// A copy for the commit task to own: one that writes directly and holds no handle on
    /// the committer, or the task would keep its own channel open forever.
    fn detached(&self) -> Self;

    /// Writes `requests` in one call: one answer each, `false` for a lost lease.
    fn write(
        &self,
        requests: &[SettleRequest],
    ) -> impl Future<Output = Result<Vec<bool>, QueueError>> + Send;
}

/// The channel to a store's commit task, started by the first settlement.
#[derive(Default)]
pub(crate) struct Committer {
    queue: OnceLock<mpsc::UnboundedSender<Pending>>,
}

impl std::fmt::Debug for Committer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Committer")
            .field("started", &self.queue.get().is_some())
            .finish()
    }
}

impl Committer {
    /// Writes one settlement, together with whatever else is ready.
    pub(crate) async fn settle<W: Writer>(
        &self,
        writer: &W,
        request: SettleRequest,
    ) -> Result<bool, QueueError> {
        let queue = self
            .queue
            .get_or_init(|| spawn_commit_task(writer.detached()));
        let (reply, answer) = oneshot::channel();
        if let Err(refused) = queue.send(Pending { request, reply }) {
            // The task is gone (its runtime shut down): write it here.
            return settle_alone(writer, &refused.0.request).await;
        }
        answer.await.unwrap_or_else(|_| {
            Err(QueueError::Unexpected(
                "the commit task stopped before answering".into(),
            ))
        })
    }
}

fn spawn_commit_task<W: Writer>(writer: W) -> mpsc::UnboundedSender<Pending> {
    let (queue, mut waiting) = mpsc::unbounded_channel::<Pending>();
    tokio::spawn(async move {
        while let Some(first) = waiting.recv().await {
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match waiting.try_recv() {
                    Ok(next) => batch.push(next),
                    Err(_) => break,
                }
            }
            commit(&writer, batch).await;
        }
    });
    queue
}

async fn commit<W: Writer>(writer: &W, batch: Vec<Pending>) {
    let (requests, replies): (Vec<SettleRequest>, Vec<_>) =
        batch.into_iter().map(|p| (p.request, p.reply)).unzip();
    metrics::record_commit(requests.len());
    match writer.write(&requests).await {
        Ok(answers) if answers.len() == requests.len() => {
            for (reply, answer) in replies.into_iter().zip(answers) {
                let _ = reply.send(Ok(answer));
            }
        }
        Err(e) if requests.len() == 1 => {
            if let Some(reply) = replies.into_iter().next() {
                let _ = reply.send(Err(e));
            }
        }
        // A failed or malformed batched call: each on its own, each with its own answer.
        _ => {
            for (request, reply) in requests.iter().zip(replies) {
                let _ = reply.send(settle_alone(writer, request).await);
            }
        }
    }
}

async fn settle_alone<W: Writer>(writer: &W, request: &SettleRequest) -> Result<bool, QueueError> {
    let answers = writer.write(std::slice::from_ref(request)).await?;
    Ok(answers.first().copied().unwrap_or(false))
}
