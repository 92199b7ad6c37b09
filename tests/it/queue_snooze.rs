//! Snooze: a handler's "not done yet, look again after D", against a real redis-server and
//! the real backend. No attempt is used, the record says the job is snoozed and until when,
//! and a kind with a deadline ends a job that keeps snoozing as `expired`: final, not in the
//! dead set, and seen as final by the real webhook fan-out.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};
use underwrite::queue::{
    Finished, JobKind, JobState, ListFilter, NewJob, Retention, RetryPolicy, Store,
};
use underwrite::webhooks::delivery::Delivery;
use underwrite::webhooks::endpoints::{EndpointStore, NewEndpoint};
use underwrite::webhooks::event::{Catalogue, EventSpec};
use underwrite::webhooks::fanout::Fanout;

use crate::helpers::redis::{TestRedis, store_on, unique_queue};
use crate::helpers::worker::{Scripted, TestWorker, WorkerOptions, wait_for, wait_for_state};

const WITHIN: Duration = Duration::from_secs(20);

/// A job of the default app (a job of no app raises its events for no endpoint).
fn job(script: Scripted) -> NewJob {
    NewJob::new(
        Scripted::KIND,
        serde_json::to_value(script).expect("payload"),
    )
    .with_app(Some(underwrite::queue::AppName::default_app()))
}

/// A policy whose snoozes end `deadline_secs` after enqueue.
fn with_deadline(deadline_secs: Option<u64>) -> RetryPolicy {
    RetryPolicy {
        max_attempts: 2,
        base_ms: 10,
        cap_ms: 50,
        snooze_deadline_secs: deadline_secs,
    }
}

async fn delayed_score(store: &Store, queue: &str, id: &underwrite::queue::JobId) -> Option<f64> {
    redis::cmd("ZSCORE")
        .arg(format!("uw:{{{queue}}}:sched:{}", Scripted::KIND))
        .arg(id.to_string())
        .query_async(&mut store.connection())
        .await
        .expect("zscore")
}

#[tokio::test]
async fn a_snoozed_job_waits_in_the_delayed_set_without_using_an_attempt() {
    let redis = TestRedis::shared();
    let queue = unique_queue();
    let (store, conn) = store_on(redis, &queue, Retention::default());
    // Two snoozes, then success; only one attempt is allowed, so an attempt used by a
    // snooze would leave the job dead instead of succeeded.
    let new = job(Scripted {
        snooze_runs: 2,
        snooze_ms: 700,
        ..Scripted::default()
    });
    let id = new.id;
    store.enqueue(&[new], None).await.expect("enqueue");
    let options = WorkerOptions {
        policy: RetryPolicy {
            max_attempts: 1,
            ..with_deadline(None)
        },
        ..WorkerOptions::default()
    };
    let worker = TestWorker::start(&store, &conn, options);

    let snoozed = wait_for_state(&store, &id, JobState::Snoozed, WITHIN).await;
    assert_eq!(snoozed.attempts, 0, "a snooze uses no attempt");
    assert_eq!(snoozed.last_error, None, "a snooze is not an error");
    assert_eq!(snoozed.snoozes, 1);
    assert_eq!(
        snoozed.snooze_reason.as_deref(),
        Some("not done yet (run 1)")
    );
    let next = snoozed
        .next_attempt_at
        .expect("the record says when it is looked at again");
    let started = snoozed.started_at.expect("it ran");
    assert!(next - started >= chrono::Duration::milliseconds(700));
    // Persisted in the delayed set, at that time (unless the promoter moved it already).
    if let Some(score) = delayed_score(&store, &queue, &id).await {
        assert_eq!(score as i64, next.timestamp_millis());
    }
    let in_index = store
        .list(&ListFilter {
            state: Some(JobState::Snoozed),
            limit: 10,
            ..ListFilter::default()
        })
        .await
        .expect("list");
    assert!(in_index.jobs.iter().any(|r| r.id == id) || worker.runs.of(&id) > 1);

    let done = wait_for_state(&store, &id, JobState::Succeeded, WITHIN).await;
    assert_eq!(done.attempts, 1);
    assert_eq!(done.snoozes, 2);
    assert_eq!(worker.runs.of(&id), 3);
    assert!(done.started_at.expect("started") >= next);
    worker.stop().await;
}

/// The event catalogue of a vendor defined here: every final job of the test kind raises
/// `test.scripted.<state>`.
fn catalogue() -> Catalogue {
    fn event(job: &Finished) -> Option<EventSpec> {
        Some(EventSpec {
            event_type: format!("test.scripted.{}", job.state),
            subject: job.id.to_string(),
            data: Map::new(),
        })
    }
    let mut catalogue = Catalogue::default();
    catalogue.register(Scripted::KIND, event);
    catalogue
}

#[tokio::test]
async fn a_job_snoozed_past_its_deadline_expires_outside_the_dead_set_and_raises_its_event() {
    let redis = TestRedis::shared();
    let (store, conn) = store_on(redis, &unique_queue(), Retention::default());
    let endpoints = EndpointStore::new(&store);
    endpoints
        .create(NewEndpoint {
            url: "https://receiver.example/hooks".into(),
            ..NewEndpoint::default()
        })
        .await
        .expect("endpoint");
    let new = job(Scripted {
        snooze_runs: u32::MAX,
        snooze_ms: 300,
        ..Scripted::default()
    });
    let id = new.id;
    store.enqueue(&[new], None).await.expect("enqueue");
    let options = WorkerOptions {
        // Long enough for several looks: the promoter may take up to a second to notice
        // a snoozed job is due.
        policy: with_deadline(Some(3)),
        hook: Some(Arc::new(Fanout::new(catalogue(), endpoints))),
        ..WorkerOptions::default()
    };
    let worker = TestWorker::start(&store, &conn, options);

    let expired = wait_for_state(&store, &id, JobState::Expired, WITHIN).await;
    assert_eq!(expired.attempts, 0, "snoozes and the expiry use no attempt");
    assert!(expired.snoozes >= 2, "it snoozed until the deadline");
    let finished = expired.finished_at.expect("a final state has its time");
    assert!(finished - expired.enqueued_at >= chrono::Duration::seconds(3));
    let error = expired.last_error.expect("the record says why it ended");
    assert!(error.message.contains("expired"), "{}", error.message);
    assert!(error.message.contains("not done yet"), "{}", error.message);
    assert_eq!(expired.next_attempt_at, None);

    // Final, but not a failure: not in the dead set, in its own index.
    assert_eq!(store.dead_count().await.expect("dead count"), 0);
    let listed = store
        .list(&ListFilter {
            state: Some(JobState::Expired),
            limit: 10,
            ..ListFilter::default()
        })
        .await
        .expect("list");
    assert_eq!(listed.jobs.iter().map(|r| r.id).collect::<Vec<_>>(), [id]);
    let counts = store.counts().await.expect("counts");
    assert!(counts.contains(&(JobState::Expired, 1)), "{counts:?}");
    assert!(counts.contains(&(JobState::Snoozed, 0)), "{counts:?}");

    // The fan-out saw it as final: one delivery of its event, written with the expiry.
    let deliveries = store
        .list(&ListFilter {
            kind: Some(Delivery::KIND.into()),
            limit: 10,
            ..ListFilter::default()
        })
        .await
        .expect("deliveries")
        .jobs;
    assert_eq!(deliveries.len(), 1, "{deliveries:?}");
    let body: Value = deliveries[0].payload["event"]["body"]
        .as_str()
        .and_then(|body| serde_json::from_str(body).ok())
        .expect("the event body");
    assert_eq!(body["type"], "test.scripted.expired");
    assert_eq!(body["data"]["state"], "expired");
    assert!(body["data"]["error"]["message"].is_string(), "{body}");

    // It is not run again.
    let runs = worker.runs.of(&id);
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(worker.runs.of(&id), runs);
    worker.stop().await;
}

#[tokio::test]
async fn the_last_look_is_at_the_deadline_and_a_vendor_done_by_then_is_heard() {
    let redis = TestRedis::shared();
    let (store, conn) = store_on(redis, &unique_queue(), Retention::default());
    // One snooze asking for a minute, under a deadline of two seconds: the job is looked at
    // again at the deadline, not a minute later, and succeeds then.
    let new = job(Scripted {
        snooze_runs: 1,
        snooze_ms: 60_000,
        ..Scripted::default()
    });
    let id = new.id;
    store.enqueue(&[new], None).await.expect("enqueue");
    let options = WorkerOptions {
        policy: with_deadline(Some(2)),
        ..WorkerOptions::default()
    };
    let worker = TestWorker::start(&store, &conn, options);
    let snoozed = wait_for_state(&store, &id, JobState::Snoozed, WITHIN).await;
    let next = snoozed.next_attempt_at.expect("next look");
    assert_eq!(
        next.timestamp_millis(),
        snoozed.enqueued_at.timestamp_millis() + 2_000,
        "the look again is held to the deadline"
    );
    let done = wait_for(&store, &id, WITHIN, |r| r.state.is_final()).await;
    assert_eq!(done.state, JobState::Succeeded);
    assert_eq!(done.snoozes, 1);
    worker.stop().await;
}

/// A wake that comes while the job runs (the decision arrived during its own look) is not
/// lost: the snooze that attempt ends with is due at once, not a day later.
#[tokio::test]
async fn a_wake_during_the_attempt_makes_its_snooze_due_at_once() {
    let redis = TestRedis::shared();
    let queue = unique_queue();
    let (store, conn) = store_on(redis, &queue, Retention::default());
    let new = job(Scripted {
        look_ms: 1_500,
        snooze_runs: 1,
        snooze_ms: 86_400_000,
        ..Scripted::default()
    });
    let id = new.id;
    store.enqueue(&[new], None).await.expect("enqueue");
    let worker = TestWorker::start(&store, &conn, WorkerOptions::default());
    wait_for_state(&store, &id, JobState::Running, WITHIN).await;
    assert_eq!(
        store.wake(Scripted::KIND, &id).await.expect("wake"),
        underwrite::queue::Wake::Marked
    );
    let done = wait_for_state(&store, &id, JobState::Succeeded, WITHIN).await;
    assert_eq!(done.snoozes, 1, "{done:?}");
    assert_eq!(worker.runs.of(&id), 2);
    // The mark was used up: a later wake of the finished job does nothing.
    assert_eq!(
        store.wake(Scripted::KIND, &id).await.expect("wake"),
        underwrite::queue::Wake::NotWaiting
    );
    let fields: std::collections::HashMap<String, String> = redis::cmd("HGETALL")
        .arg(format!("uw:{{{queue}}}:job:{id}"))
        .query_async(&mut store.connection())
        .await
        .expect("hgetall");
    assert!(!fields.contains_key("wake_requested"), "{fields:?}");
    worker.stop().await;
}

/// A snoozed job woken early runs at once; waking twice changes nothing more.
#[tokio::test]
async fn a_snoozed_job_woken_runs_at_once() {
    let redis = TestRedis::shared();
    let queue = unique_queue();
    let (store, conn) = store_on(redis, &queue, Retention::default());
    let new = job(Scripted {
        snooze_runs: 1,
        snooze_ms: 86_400_000,
        ..Scripted::default()
    });
    let id = new.id;
    store.enqueue(&[new], None).await.expect("enqueue");
    let worker = TestWorker::start(&store, &conn, WorkerOptions::default());
    wait_for_state(&store, &id, JobState::Snoozed, WITHIN).await;
    assert_eq!(
        store.wake(Scripted::KIND, &id).await.expect("wake"),
        underwrite::queue::Wake::Woken
    );
    let done = wait_for_state(&store, &id, JobState::Succeeded, WITHIN).await;
    assert_eq!(done.snoozes, 1);
    worker.stop().await;
}
