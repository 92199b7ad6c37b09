//! `RedisBackend<T>`: our Redis queue as an apalis [`Backend`], one per job kind.
//!
//! apalis's worker drives it: it asks for a task whenever a concurrency slot is free
//! (`poll_next`), runs the handler inside our acknowledgement layer (`ack.rs`, installed as
//! the backend's middleware), and calls `poll_close` once the worker drains at shutdown.
//!
//! Under the hood a fetch loop reads deliveries (`reader.rs`), claims each job with a fresh
//! lease token, decodes its payload and hands it over. Redis errors never reach apalis (an
//! apalis worker stops on a backend error): the loop logs them, backs off and goes on, so a
//! worker survives Redis being away.

use std::collections::VecDeque;
use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use apalis_core::backend::{Backend, BackendConfig, finalize::Ephemeral};
use apalis_core::task::Task;
use apalis_core::task::builder::TaskBuilder;
use apalis_core::task::task_id::{RandomId, TaskId};
use apalis_core::worker::context::WorkerContext;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use futures::{FutureExt, StreamExt};
use rand::RngExt;

use super::ack::{AckLayer, Acker};
use super::connection::{MAX_BACKOFF, Redis};
use super::context::JobContext;
use super::delivery::Delivery;
use super::error::QueueError;
use super::hook::FinalHook;
use super::identity::WorkerIdentity;
use super::job::JobState;
use super::kind::JobKind;
use super::leases::{Leases, spawn_heartbeat};
use super::metrics;
use super::outcome::ErrorDetail;
use super::reader::StreamReader;
use super::retry::RetryPolicy;
use super::settlement::Settlement;
use super::store::{Claim, Store, Take};

/// How a backend fetches and holds jobs.
#[derive(Debug, Clone)]
pub struct FetchSettings {
    pub lease: Duration,
    /// Deliveries read per round trip (at most the worker's concurrency).
    pub prefetch: usize,
    /// How long one blocking read waits before the loop looks around again.
    pub block: Duration,
    pub max_crashes: u32,
    pub policy: RetryPolicy,
    /// Turns finished jobs into follow-up jobs (webhook deliveries); `None` for none.
    pub hook: Option<Arc<dyn FinalHook>>,
}

pub struct RedisBackend<T> {
    store: Store,
    redis: Redis,
    kind: &'static str,
    consumer: String,
    settings: FetchSettings,
    leases: Leases,
    tasks: Option<BoxStream<'static, Task<T>>>,
    heartbeat: Option<tokio::task::JoinHandle<()>>,
    closing: Option<BoxFuture<'static, ()>>,
    /// Free concurrency slots, updated on every `poll_next` for the fetch loop.
    free: Arc<AtomicUsize>,
    _payload: PhantomData<fn() -> T>,
}

impl<T> std::fmt::Debug for RedisBackend<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBackend")
            .field("kind", &self.kind)
            .field("consumer", &self.consumer)
            .finish()
    }
}

impl<T: JobKind> RedisBackend<T> {
    pub fn new(
        store: Store,
        redis: Redis,
        identity: &WorkerIdentity,
        settings: FetchSettings,
    ) -> Self {
        Self {
            store,
            redis,
            kind: T::KIND,
            consumer: identity.consumer(T::KIND),
            settings,
            leases: Leases::default(),
            tasks: None,
            heartbeat: None,
            closing: None,
            free: Arc::new(AtomicUsize::new(1)),
            _payload: PhantomData,
        }
    }

    fn start(&mut self) -> Result<BoxStream<'static, Task<T>>, QueueError> {
        let reader = StreamReader::new(
            self.store.clone(),
            self.redis.blocking(self.settings.block)?,
            self.kind,
            self.consumer.clone(),
            self.settings.lease,
            self.settings.block,
        );
        self.heartbeat = Some(spawn_heartbeat(
            self.store.clone(),
            self.kind.to_string(),
            self.consumer.clone(),
            self.leases.clone(),
            self.settings.lease,
        ));
        let fetch = FetchLoop {
            reader,
            acker: self.acker(),
            store: self.store.clone(),
            leases: self.leases.clone(),
            settings: self.settings.clone(),
            ready: VecDeque::new(),
            claimed: VecDeque::new(),
            free: self.free.clone(),
            _payload: PhantomData,
        };
        Ok(futures::stream::unfold(fetch, |mut fetch| async move {
            let task = fetch.next_task().await;
            Some((task, fetch))
        })
        .boxed())
    }

    fn acker(&self) -> Acker {
        Acker {
            store: self.store.clone(),
            policy: self.settings.policy,
            leases: self.leases.clone(),
            hook: self.settings.hook.clone(),
        }
    }

    /// Hands back every entry this consumer still holds unstarted, so that at a graceful
    /// shutdown they go to another worker at once instead of after a lease.
    fn release_all(&self) -> BoxFuture<'static, ()> {
        let store = self.store.clone();
        let leases = self.leases.clone();
        let kind = self.kind;
        let consumer = self.consumer.clone();
        async move {
            let held = leases.unstarted();
            let pending = match store.pending_deliveries(kind, &consumer).await {
                Ok(pending) => pending,
                Err(e) => {
                    tracing::warn!(%kind, error = %e, "cannot list held jobs at shutdown; their leases will run out");
                    return;
                }
            };
            let mut released = 0;
            for delivery in pending {
                let token = held
                    .iter()
                    .find(|(entry, _)| *entry == delivery.entry)
                    .map(|(_, h)| h.token.clone())
                    .unwrap_or_default();
                let result = match delivery.job {
                    Some(job) => store.release(kind, &job, &delivery.entry, &token).await,
                    None => store.drop_entry(kind, &delivery.entry).await,
                };
                match result {
                    Ok(()) => released += 1,
                    Err(e) => tracing::warn!(%kind, error = %e, "cannot hand a job back at shutdown"),
                }
                leases.drop_entry(&delivery.entry);
            }
            if released > 0 {
                tracing::info!(%kind, released, "handed unstarted jobs back to the queue");
            }
        }
        .boxed()
    }
}

impl<T> Drop for RedisBackend<T> {
    fn drop(&mut self) {
        if let Some(heartbeat) = self.heartbeat.take() {
            heartbeat.abort();
        }
    }
}

impl<T: JobKind> Backend for RedisBackend<T> {
    type Task = Task<T>;
    type Error = QueueError;

    fn poll_ready(
        &mut self,
        _: &mut Context<'_>,
        _: &WorkerContext,
    ) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn poll_next(
        &mut self,
        cx: &mut Context<'_>,
        worker: &WorkerContext,
    ) -> Poll<Option<Result<Self::Task, Self::Error>>> {
        self.free.store(
            self.settings.prefetch.saturating_sub(worker.task_count()),
            Ordering::Relaxed,
        );
        if self.tasks.is_none() {
            match self.start() {
                Ok(tasks) => self.tasks = Some(tasks),
                Err(e) => return Poll::Ready(Some(Err(e))),
            }
        }
        match self.tasks.as_mut().map(|tasks| tasks.poll_next_unpin(cx)) {
            Some(Poll::Ready(Some(task))) => Poll::Ready(Some(Ok(task))),
            Some(Poll::Ready(None)) | None => Poll::Ready(None),
            Some(Poll::Pending) => Poll::Pending,
        }
    }

    fn poll_close(
        &mut self,
        cx: &mut Context<'_>,
        _: &WorkerContext,
    ) -> Poll<Result<(), Self::Error>> {
        if self.closing.is_none() {
            // Stop reading first, so nothing new is taken while we hand jobs back.
            self.tasks = None;
            self.closing = Some(self.release_all());
        }
        match self.closing.as_mut().map(|closing| closing.poll_unpin(cx)) {
            Some(Poll::Pending) => Poll::Pending,
            _ => {
                if let Some(heartbeat) = self.heartbeat.take() {
                    heartbeat.abort();
                }
                Poll::Ready(Ok(()))
            }
        }
    }
}

impl<T: JobKind> BackendConfig for RedisBackend<T> {
    type Args = T;
    type Id = RandomId;
    type Kind = Ephemeral;
    type Config = FetchSettings;
    type Layer = AckLayer;

    fn config(&self) -> &Self::Config {
        &self.settings
    }

    fn middleware(&mut self, _: &mut WorkerContext) -> Self::Layer {
        AckLayer::new(self.acker())
    }
}

/// The loop behind `poll_next`.
struct FetchLoop<T> {
    reader: StreamReader,
    acker: Acker,
    store: Store,
    leases: Leases,
    settings: FetchSettings,
    /// Read but not claimed yet.
    ready: VecDeque<Delivery>,
    /// Claimed, to hand out right away.
    claimed: VecDeque<Task<T>>,
    /// Free concurrency slots, as apalis last told us.
    free: Arc<AtomicUsize>,
    _payload: PhantomData<fn() -> T>,
}

impl<T: JobKind> FetchLoop<T> {
    /// The next runnable task. Deliveries are read in batches, but claimed only as many at
    /// a time as there are free slots: apalis asks for a task only when a slot is free, so
    /// a claimed job is a started job, and a job that merely sat in this buffer when the
    /// worker died is not counted as a crash of its own.
    async fn next_task(&mut self) -> Task<T> {
        let mut backoff = Duration::from_millis(50);
        loop {
            if let Some(task) = self.claimed.pop_front() {
                return task;
            }
            if !self.ready.is_empty() {
                let free = self.free.load(Ordering::Relaxed);
                let take = free.clamp(1, self.ready.len());
                let deliveries: Vec<Delivery> = self.ready.drain(..take).collect();
                if let Err(e) = self.admit(deliveries).await {
                    tracing::warn!(kind = T::KIND, error = %e, "cannot take jobs; they stay queued");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
                continue;
            }
            match self.reader.next(self.settings.prefetch).await {
                Ok(deliveries) => {
                    backoff = Duration::from_millis(50);
                    // Buffered deliveries are leased too (heartbeats keep them), or a
                    // long wait for a free slot would let another worker take them over.
                    for delivery in &deliveries {
                        if let Some(job) = delivery.job {
                            self.leases.hold(&delivery.entry, job, "");
                        }
                    }
                    self.ready.extend(deliveries);
                }
                Err(e) => {
                    tracing::warn!(kind = T::KIND, error = %e, ?backoff, "cannot read the queue; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }

    /// Claims deliveries in one round trip; runnable jobs join `claimed`.
    async fn admit(&mut self, deliveries: Vec<Delivery>) -> Result<(), QueueError> {
        let mut takes = Vec::with_capacity(deliveries.len());
        for delivery in deliveries {
            let Some(job) = delivery.job else {
                tracing::error!(kind = T::KIND, entry = %delivery.entry, "stream entry without a job id; dropping it");
                self.store.drop_entry(T::KIND, &delivery.entry).await?;
                continue;
            };
            let token = format!("{:032x}", rand::rng().random::<u128>());
            self.leases.hold(&delivery.entry, job, &token);
            takes.push(Take {
                job,
                entry: delivery.entry,
                token,
                reclaimed: delivery.reclaimed,
            });
        }
        let claims = match self
            .store
            .claim(T::KIND, self.reader.consumer(), &takes)
            .await
        {
            Ok(claims) => claims,
            Err(e) => {
                // Unknown whether the claim landed: let the leases decide.
                for take in &takes {
                    self.leases.drop_entry(&take.entry);
                }
                return Err(e);
            }
        };
        for (take, claim) in takes.into_iter().zip(claims) {
            let Claim::Run(claimed) = claim else {
                self.leases.drop_entry(&take.entry);
                continue;
            };
            let ctx = JobContext {
                id: take.job,
                kind: T::KIND.to_string(),
                attempt: claimed.attempts + 1,
                children: claimed.children,
                enqueued_at: claimed
                    .enqueued_at_ms
                    .and_then(chrono::DateTime::from_timestamp_millis),
                due_at_ms: claimed.due_at_ms.or(claimed.enqueued_at_ms),
                traceparent: claimed.traceparent,
                entry: take.entry,
                token: take.token,
            };
            if claimed.rescued {
                metrics::record_rescue(T::KIND);
            }
            if claimed.crashes >= self.settings.max_crashes {
                tracing::error!(job = %ctx.id, kind = T::KIND, crashes = claimed.crashes, "poison job: its worker died every time it ran; burying it");
                let error = ErrorDetail::message(format!(
                    "poison job: the worker running it died {} times",
                    claimed.crashes
                ));
                self.bury(&ctx, error).await;
                continue;
            }
            match serde_json::from_str::<T>(&claimed.payload) {
                Ok(payload) => self.claimed.push_back(
                    TaskBuilder::new(payload)
                        .task_id(TaskId::from_string(ctx.id.to_string()))
                        .data(ctx)
                        .build(),
                ),
                Err(e) => {
                    tracing::error!(job = %ctx.id, kind = T::KIND, error = %e, "job payload cannot be decoded; burying it");
                    let error =
                        ErrorDetail::message(format!("payload is not a valid {}: {e}", T::KIND));
                    self.bury(&ctx, error).await;
                }
            }
        }
        Ok(())
    }

    async fn bury(&self, ctx: &JobContext, error: ErrorDetail) {
        let settlement = Settlement::Buried {
            state: JobState::Dead,
            error,
            children: ctx.children.clone(),
        };
        metrics::record_burial(&ctx.kind);
        self.acker.settle(ctx, &settlement).await;
    }
}
