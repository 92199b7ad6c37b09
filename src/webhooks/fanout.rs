//! The fan-out: one delivery per (event, endpoint), written with the job's final state.
//!
//! This is the queue's [`FinalHook`]: when jobs finish, it asks the vendors' [`Catalogue`]
//! for their events, finds the endpoints that want each event, and hands the queue one
//! `webhook.delivery` job per (event, endpoint). The queue writes them in the same atomic
//! step as the final state (`settle.lua`), so no crash leaves a finished job without its
//! webhooks, and a settle that is retried creates nothing twice (a lost lease makes the
//! retry a no-op).
//!
//! ## Only to the app's own endpoints
//!
//! An event goes to the enabled endpoints that want it *and belong to the app of the job*
//! (`queue/app.rs`): one tenant never receives another's events. Its deliveries belong to
//! that app too, so the app sees them (`/v1/webhook-deliveries`). A job of no app (an
//! internal one: a vendor batch or a scheduled poll, which raise no events today) goes to
//! no endpoint at all: sending it to some app's endpoints would be a guess, and a wrong
//! guess a leak. (Members of a batch are their producers' jobs and keep their app.) A
//! record written before apps existed reads as the default app's, and so do endpoints.

use std::sync::Arc;

use chrono::Utc;
use futures::future::BoxFuture;

use super::delivery::{Delivery, order_key};
use super::endpoints::{EndpointError, EndpointStore};
use super::event::{Catalogue, Event};
use crate::queue::store::FollowUp;
use crate::queue::{AppName, FinalHook, Finished, JobKind, NewJob, QueueError};

#[derive(Debug, Clone)]
pub struct Fanout {
    catalogue: Arc<Catalogue>,
    endpoints: EndpointStore,
}

impl Fanout {
    pub fn new(catalogue: Catalogue, endpoints: EndpointStore) -> Self {
        Self {
            catalogue: Arc::new(catalogue),
            endpoints,
        }
    }

    async fn deliveries(&self, finished: &[Finished]) -> Result<Vec<FollowUp>, QueueError> {
        // Each event with the trace and the app of the job it tells of. A job of no app
        // raises its event for nobody (see the module doc).
        let events: Vec<(Event, _, &AppName)> = finished
            .iter()
            .filter_map(|job| {
                let spec = self.catalogue.event_for(job)?;
                let Some(app) = job.app.as_ref() else {
                    tracing::debug!(job = %job.id, kind = %job.kind, "a job of no app: its event goes to no endpoint");
                    return None;
                };
                Some((Event::new(spec, job, Utc::now()), job.traceparent, app))
            })
            .collect();
        if events.is_empty() {
            return Ok(Vec::new());
        }
        // One read of the endpoints for the whole settlement (a batch finishes ten jobs).
        let endpoints = self.endpoints.list().await.map_err(|e| match e {
            // Keeps "Redis is away" recognisable, so the settlement waits for Redis
            // instead of being written without its deliveries.
            EndpointError::Store(e) => e,
            other => QueueError::Unexpected(format!("webhook endpoints: {other}")),
        })?;
        let mut follow_ups = Vec::new();
        for (event, traceparent, app) in &events {
            for endpoint in endpoints
                .iter()
                .filter(|e| e.app == **app && e.enabled && e.accepts(&event.event_type))
            {
                let delivery = Delivery {
                    event: event.clone(),
                    endpoint_id: endpoint.id.clone(),
                    ordered: endpoint.ordered,
                };
                let job = NewJob::new(Delivery::KIND, serde_json::to_value(&delivery)?)
                    .with_traceparent(*traceparent)
                    .with_app(Some(endpoint.app.clone()));
                let index = endpoint.ordered.then(|| {
                    (
                        order_key(self.endpoints.keys(), &endpoint.id, &event.subject),
                        event.timestamp.timestamp_millis() as f64,
                    )
                });
                follow_ups.push(FollowUp { job, index });
            }
        }
        Ok(follow_ups)
    }
}

impl FinalHook for Fanout {
    /// One `SCARD`: with no endpoint at all, finished jobs cost nothing more.
    fn active(&self) -> BoxFuture<'_, Result<bool, QueueError>> {
        Box::pin(async {
            let mut conn = self.endpoints.connection();
            let endpoints: u64 = redis::cmd("SCARD")
                .arg(self.endpoints.index_key())
                .query_async(&mut conn)
                .await?;
            Ok(endpoints > 0)
        })
    }

    fn concerns(&self, kind: &str) -> bool {
        self.catalogue.has(kind)
    }

    fn follow_ups<'a>(
        &'a self,
        finished: &'a [Finished],
    ) -> BoxFuture<'a, Result<Vec<FollowUp>, QueueError>> {
        Box::pin(self.deliveries(finished))
    }
}
