//! The queue core's guarantees, against a real redis-server and the real backend under
//! apalis's runtime.

use std::time::Duration;

use serde_json::json;
use underwrite::producer::{IdempotencyKey, Producer, Submission};
use underwrite::queue::store::Settlement;
use underwrite::queue::{
    Enqueued, JobId, JobKind, JobState, ListFilter, NewJob, Requeue, Retention, RetryOptions,
    RetryPolicy,
};

use crate::helpers::redis::{TestRedis, store_on, unique_queue};
use crate::helpers::worker::{Scripted, TestWorker, WorkerOptions, wait_for, wait_for_state};

const WITHIN: Duration = Duration::from_secs(20);

/// Stream entries as Redis returns them: `[(entry id, [field, value, ...])]`.
type Entries = Vec<(String, Vec<String>)>;

/// A job of the default app (a job of no app raises its events for no endpoint).
fn job(script: Scripted) -> NewJob {
    NewJob::new(
        Scripted::KIND,
        serde_json::to_value(script).expect("payload"),
    )
    .with_app(Some(underwrite::queue::AppName::default_app()))
}

#[tokio::test]
async fn a_job_runs_once_and_its_record_tells_the_story() {
    let redis = TestRedis::shared();
    let (store, conn) = store_on(redis, &unique_queue(), Retention::default());
    let new = job(Scripted {
        label: "hello".into(),
        ..Scripted::default()
    })
    .with_reference(Some("order-1".into()), Some(json!({"shop": "a"})));
    let id = new.id;
    assert_eq!(
        store.enqueue(&[new], None).await.expect("enqueue"),
        Enqueued::Created(vec![id])
    );
    let queued = store.job(&id).await.expect("read").expect("exists");
    assert_eq!(queued.state, JobState::Queued);

    let worker = TestWorker::start(&store, &conn, WorkerOptions::default());
    let done = wait_for_state(&store, &id, JobState::Succeeded, WITHIN).await;
    assert_eq!(done.attempts, 1);
    assert_eq!(done.crashes, 0);
    assert_eq!(done.result, Some(json!({"label": "hello", "attempt": 1})));
    assert_eq!(done.reference.as_deref(), Some("order-1"));
    assert_eq!(done.metadata, Some(json!({"shop": "a"})));
    assert!(done.started_at.is_some() && done.finished_at.is_some());
    assert_eq!(worker.runs.total(), 1);
    worker.stop().await;
}

#[tokio::test]
async fn retryable_errors_are_retried_with_backoff_until_success() {
    let redis = TestRedis::shared();
    let (store, conn) = store_on(redis, &unique_queue(), Retention::default());
    let new = job(Scripted {
        fail_times: 2,
        ..Scripted::default()
    });
    let id = new.id;
    store.enqueue(&[new], None).await.expect("enqueue");
    let worker = TestWorker::start(&store, &conn, WorkerOptions::default());
    let done = wait_for_state(&store, &id, JobState::Succeeded, WITHIN).await;
    assert_eq!(done.attempts, 3);
    assert_eq!(worker.runs.of(&id), 3);
    let error = done.last_error.expect("the last failure is kept");
    assert_eq!(error.vendor_status, Some(503));
    worker.stop().await;
}

#[tokio::test]
async fn retry_after_is_honoured_and_the_retry_is_persisted() {
    let redis = TestRedis::shared();
    let queue = unique_queue();
    let (store, conn) = store_on(redis, &queue, Retention::default());
    let new = job(Scripted {
        fail_times: 1,
        retry_after_ms: Some(1_500),
        ..Scripted::default()
    });
    let id = new.id;
    store.enqueue(&[new], None).await.expect("enqueue");
    let worker = TestWorker::start(&store, &conn, WorkerOptions::default());
    let retrying = wait_for_state(&store, &id, JobState::Retrying, WITHIN).await;
    let started = retrying.started_at.expect("started");
    let next = retrying.next_attempt_at.expect("next attempt is recorded");
    assert!(
        next - started >= chrono::Duration::milliseconds(1_500),
        "retry scheduled {} ms after the attempt began, before Retry-After",
        (next - started).num_milliseconds()
    );
    // The retry is a delayed job in Redis, not a sleep in the worker's memory.
    let score: Option<f64> = redis::cmd("ZSCORE")
        .arg(format!("uw:{{{queue}}}:sched:{}", Scripted::KIND))
        .arg(id.to_string())
        .query_async(&mut store.connection())
        .await
        .expect("zscore");
    assert_eq!(score.map(|s| s as i64), Some(next.timestamp_millis()));
    let done = wait_for_state(&store, &id, JobState::Succeeded, WITHIN).await;
    assert_eq!(done.attempts, 2);
    assert!(done.started_at.expect("started") >= next);
    worker.stop().await;
}

#[tokio::test]
async fn exhausted_and_permanent_failures_land_in_the_dead_set() {
    let redis = TestRedis::shared();
    let (store, conn) = store_on(redis, &unique_queue(), Retention::default());
    let exhausted = job(Scripted {
        fail_times: 99,
        ..Scripted::default()
    });
    let permanent = job(Scripted {
        fail_times: 99,
        permanent: true,
        ..Scripted::default()
    });
    let (exhausted_id, permanent_id) = (exhausted.id, permanent.id);
    store
        .enqueue(&[exhausted, permanent], None)
        .await
        .expect("enqueue");
    let options = WorkerOptions {
        policy: RetryPolicy {
            max_attempts: 3,
            base_ms: 10,
            cap_ms: 50,
            snooze_deadline_secs: None,
        },
        ..WorkerOptions::default()
    };
    let worker = TestWorker::start(&store, &conn, options);
    let dead = wait_for_state(&store, &exhausted_id, JobState::Dead, WITHIN).await;
    assert_eq!(dead.attempts, 3);
    let message = dead.last_error.expect("error").message;
    assert!(message.contains("gave up after 3 attempts"), "{message}");
    let failed = wait_for_state(&store, &permanent_id, JobState::Failed, WITHIN).await;
    assert_eq!(failed.attempts, 1, "a permanent error is never retried");
    assert_eq!(worker.runs.of(&permanent_id), 1);
    assert_eq!(failed.last_error.expect("error").vendor_status, Some(400));

    let page = store.dead(None, 10).await.expect("dead set");
    let mut ids: Vec<JobId> = page.jobs.iter().map(|j| j.id).collect();
    ids.sort();
    let mut expected = vec![exhausted_id, permanent_id];
    expected.sort();
    assert_eq!(ids, expected);
    worker.stop().await;
}

#[tokio::test]
async fn dead_jobs_can_be_retried_and_purged() {
    let redis = TestRedis::shared();
    let (store, conn) = store_on(redis, &unique_queue(), Retention::default());
    // Fails twice; with max_attempts 2 it dies, and an operator retry then succeeds
    // because attempts start again from 1... unless fail_times covers them too.
    let flaky = job(Scripted {
        fail_times: 2,
        ..Scripted::default()
    });
    let doomed = job(Scripted {
        fail_times: 99,
        permanent: true,
        ..Scripted::default()
    });
    let (flaky_id, doomed_id) = (flaky.id, doomed.id);
    store
        .enqueue(&[flaky, doomed], None)
        .await
        .expect("enqueue");
    let options = WorkerOptions {
        policy: RetryPolicy {
            max_attempts: 2,
            base_ms: 10,
            cap_ms: 20,
            snooze_deadline_secs: None,
        },
        ..WorkerOptions::default()
    };
    let worker = TestWorker::start(&store, &conn, options);
    wait_for_state(&store, &flaky_id, JobState::Dead, WITHIN).await;
    wait_for_state(&store, &doomed_id, JobState::Failed, WITHIN).await;
    assert_eq!(store.dead_count().await.expect("count"), 2);

    // A job that is not dead cannot be "retried".
    let alive = job(Scripted {
        sleep_ms: 0,
        ..Scripted::default()
    });
    let alive_id = alive.id;
    store.enqueue(&[alive], None).await.expect("enqueue");
    wait_for_state(&store, &alive_id, JobState::Succeeded, WITHIN).await;
    assert_eq!(
        store
            .requeue(&alive_id, RetryOptions::default())
            .await
            .expect("requeue"),
        Requeue::NotDead(JobState::Succeeded)
    );
    assert_eq!(
        store
            .requeue(&JobId::new(), RetryOptions::default())
            .await
            .expect("requeue"),
        Requeue::Missing
    );

    assert_eq!(
        store
            .requeue(&flaky_id, RetryOptions::default())
            .await
            .expect("requeue"),
        Requeue::Requeued
    );
    // Fresh budget: attempts restart at 1, so the scripted failures happen again and it dies
    // again after 2 attempts; its run count shows it really ran again.
    wait_for(&store, &flaky_id, WITHIN, |r| {
        r.state == JobState::Dead && r.attempts == 2
    })
    .await;
    assert_eq!(worker.runs.of(&flaky_id), 4);

    assert!(store.purge(&doomed_id).await.expect("purge"));
    assert!(store.job(&doomed_id).await.expect("read").is_none());
    assert!(!store.purge(&doomed_id).await.expect("purge twice"));
    assert_eq!(store.purge_all().await.expect("purge all"), 1);
    assert_eq!(store.dead_count().await.expect("count"), 0);
    worker.stop().await;
}

#[tokio::test]
async fn retention_deletes_finished_records_and_bounds_the_dead_set() {
    let redis = TestRedis::shared();
    let queue = unique_queue();
    let retention = Retention {
        finished: Duration::from_millis(300),
        dead_max_entries: 3,
        dead_max_age: Duration::from_secs(3600),
    };
    let (store, conn) = store_on(redis, &queue, retention);
    let ok: Vec<NewJob> = (0..20).map(|_| job(Scripted::default())).collect();
    let bad: Vec<NewJob> = (0..6)
        .map(|_| {
            job(Scripted {
                fail_times: 9,
                permanent: true,
                ..Scripted::default()
            })
        })
        .collect();
    let ok_ids: Vec<JobId> = ok.iter().map(|j| j.id).collect();
    store.enqueue(&ok, None).await.expect("enqueue");
    store.enqueue(&bad, None).await.expect("enqueue");
    let worker = TestWorker::start(&store, &conn, WorkerOptions::default());
    for id in ok_ids.iter().chain(bad.iter().map(|j| &j.id)) {
        wait_for(&store, id, WITHIN, |r| r.state.is_final()).await;
    }
    worker.stop().await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    store.enforce_retention().await.expect("retention");
    for id in &ok_ids {
        assert!(
            store.job(id).await.expect("read").is_none(),
            "finished record kept past retention"
        );
    }
    assert_eq!(
        store.dead_count().await.expect("count"),
        3,
        "dead set bounded to 3 entries"
    );
    // Nothing else of the finished jobs is left behind: only the 3 dead records and the
    // queue's fixed keys remain.
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("uw:{{{queue}}}:job:*"))
        .query_async(&mut store.connection())
        .await
        .expect("keys");
    assert_eq!(keys.len(), 3);
    let listed = store
        .list(&ListFilter {
            limit: 100,
            ..ListFilter::default()
        })
        .await
        .expect("list");
    assert_eq!(listed.jobs.len(), 3);
}

#[tokio::test]
async fn a_job_abandoned_by_a_dead_worker_runs_again_without_using_an_attempt() {
    let redis = TestRedis::shared();
    let queue = unique_queue();
    let (store, conn) = store_on(redis, &queue, Retention::default());
    let new = job(Scripted {
        label: "orphan".into(),
        ..Scripted::default()
    });
    let id = new.id;
    store.enqueue(&[new], None).await.expect("enqueue");
    take_and_abandon(&store, &queue, &id, "ghost-1").await;
    let options = WorkerOptions {
        lease: Duration::from_secs(1),
        ..WorkerOptions::default()
    };
    let worker = TestWorker::start(&store, &conn, options);
    let done = wait_for_state(&store, &id, JobState::Succeeded, WITHIN).await;
    assert_eq!(
        done.attempts, 1,
        "re-delivery after a crash does not use up an attempt"
    );
    assert_eq!(done.crashes, 1);
    worker.stop().await;
}

#[tokio::test]
async fn a_job_whose_worker_dies_three_times_is_buried_as_poison() {
    let redis = TestRedis::shared();
    let queue = unique_queue();
    let (store, conn) = store_on(redis, &queue, Retention::default());
    let new = job(Scripted::default());
    let id = new.id;
    store.enqueue(&[new], None).await.expect("enqueue");
    let options = || WorkerOptions {
        lease: Duration::from_millis(600),
        ..WorkerOptions::default()
    };
    // Crash 1 and 2: a worker takes the job and vanishes; the next one reclaims it.
    take_and_abandon(&store, &queue, &id, "ghost-1").await;
    for round in 2..=3 {
        // Reclaim by a consumer that dies too: simulate with a claim that is never settled.
        tokio::time::sleep(Duration::from_millis(700)).await;
        reclaim_and_abandon(&store, &queue, &format!("ghost-{round}")).await;
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    let worker = TestWorker::start(&store, &conn, options());
    let dead = wait_for_state(&store, &id, JobState::Dead, WITHIN).await;
    assert_eq!(dead.crashes, 3);
    assert_eq!(
        worker.runs.of(&id),
        0,
        "a poison job is not run a fourth time"
    );
    assert!(dead.last_error.expect("error").message.contains("poison"));
    worker.stop().await;
}

fn take(job: JobId, entry: String, reclaimed: bool) -> underwrite::queue::store::Take {
    underwrite::queue::store::Take {
        job,
        entry,
        token: "ghost-token".into(),
        reclaimed,
    }
}

/// Answers written at the same moment share calls (the group commit), and each is still
/// its own step: a stale answer among them changes nothing, the others all land.
#[tokio::test]
async fn settlements_written_together_each_land_on_their_own() {
    let redis = TestRedis::shared();
    let queue = unique_queue();
    let (store, _conn) = store_on(redis, &queue, Retention::default());
    let jobs: Vec<NewJob> = (0..40).map(|_| job(Scripted::default())).collect();
    store.enqueue(&jobs, None).await.expect("enqueue");
    let takes: Vec<_> = read_as(&store, &queue, "w", 40)
        .await
        .into_iter()
        .map(|(entry, id)| take(id, entry, false))
        .collect();
    assert_eq!(takes.len(), 40);
    store
        .claim(Scripted::KIND, "w", &takes)
        .await
        .expect("claim");
    let settles = takes.iter().enumerate().map(|(i, take)| {
        let store = store.clone();
        // The first one answers with a token it never held: stale.
        let token = if i == 0 {
            "wrong".to_string()
        } else {
            take.token.clone()
        };
        async move {
            let settlement = Settlement::Succeeded {
                result: json!({ "n": i }),
                children: Vec::new(),
                attention: None,
            };
            store
                .settle(
                    Scripted::KIND,
                    &take.job,
                    &take.entry,
                    &token,
                    &settlement,
                    &[],
                )
                .await
                .expect("settle")
        }
    });
    let answers = futures::future::join_all(settles).await;
    assert!(!answers[0], "a stale answer was written");
    assert!(answers[1..].iter().all(|landed| *landed));
    for (i, take) in takes.iter().enumerate() {
        let record = store.job(&take.job).await.expect("read").expect("exists");
        if i == 0 {
            assert_eq!(record.state, JobState::Running);
        } else {
            assert_eq!(record.state, JobState::Succeeded);
            assert_eq!(record.result, Some(json!({ "n": i })));
            assert_eq!(record.attempts, 1);
        }
    }
}

/// Reads the job's entry as consumer `ghost` and claims it, then never settles: what a
/// worker killed mid-job leaves behind.
async fn take_and_abandon(store: &underwrite::queue::Store, queue: &str, id: &JobId, ghost: &str) {
    let read = read_as(store, queue, ghost, 1).await;
    let (entry, _) = read.into_iter().next().expect("an entry");
    store
        .claim(Scripted::KIND, ghost, &[take(*id, entry, false)])
        .await
        .expect("claim");
}

/// Reads up to `count` new entries of the `Scripted` stream as `consumer`: (entry, job).
async fn read_as(
    store: &underwrite::queue::Store,
    queue: &str,
    consumer: &str,
    count: usize,
) -> Vec<(String, JobId)> {
    store.ensure_group(Scripted::KIND).await.expect("group");
    let reply: Vec<(String, Entries)> = redis::cmd("XREADGROUP")
        .arg("GROUP")
        .arg("workers")
        .arg(consumer)
        .arg("COUNT")
        .arg(count)
        .arg("STREAMS")
        .arg(format!("uw:{{{queue}}}:stream:{}", Scripted::KIND))
        .arg(">")
        .query_async(&mut store.connection())
        .await
        .expect("xreadgroup");
    reply
        .into_iter()
        .flat_map(|(_, entries)| entries)
        .map(|(entry, fields)| (entry, fields[1].parse().expect("job id")))
        .collect()
}

async fn reclaim_and_abandon(store: &underwrite::queue::Store, queue: &str, ghost: &str) {
    let reply: (String, Entries, Vec<String>) = redis::cmd("XAUTOCLAIM")
        .arg(format!("uw:{{{queue}}}:stream:{}", Scripted::KIND))
        .arg("workers")
        .arg(ghost)
        .arg(500)
        .arg("0-0")
        .arg("COUNT")
        .arg(1)
        .query_async(&mut store.connection())
        .await
        .expect("xautoclaim");
    let (entry, fields) = reply.1.into_iter().next().expect("an abandoned entry");
    let id: JobId = fields[1].parse().expect("job id");
    store
        .claim(Scripted::KIND, ghost, &[take(id, entry, true)])
        .await
        .expect("claim");
}

#[tokio::test]
async fn a_corrupt_payload_is_buried_and_the_worker_lives_on() {
    let redis = TestRedis::shared();
    let (store, conn) = store_on(redis, &unique_queue(), Retention::default());
    let corrupt = NewJob::new(Scripted::KIND, json!({"fail_times": "not a number"}));
    let fine = job(Scripted::default());
    let (corrupt_id, fine_id) = (corrupt.id, fine.id);
    store
        .enqueue(&[corrupt, fine], None)
        .await
        .expect("enqueue");
    let worker = TestWorker::start(&store, &conn, WorkerOptions::default());
    let dead = wait_for_state(&store, &corrupt_id, JobState::Dead, WITHIN).await;
    assert!(
        dead.last_error
            .expect("error")
            .message
            .contains("payload is not a valid")
    );
    wait_for_state(&store, &fine_id, JobState::Succeeded, WITHIN).await;
    worker.stop().await;
}

#[tokio::test]
async fn graceful_shutdown_finishes_running_jobs_and_hands_back_the_rest() {
    let redis = TestRedis::shared();
    let (store, conn) = store_on(redis, &unique_queue(), Retention::default());
    let slow: Vec<NewJob> = (0..6)
        .map(|_| {
            job(Scripted {
                sleep_ms: 700,
                ..Scripted::default()
            })
        })
        .collect();
    let ids: Vec<JobId> = slow.iter().map(|j| j.id).collect();
    store.enqueue(&slow, None).await.expect("enqueue");
    let options = WorkerOptions {
        concurrency: 2,
        ..WorkerOptions::default()
    };
    let worker = TestWorker::start(&store, &conn, options);
    // Wait until two are running, then ask for shutdown.
    let deadline = std::time::Instant::now() + WITHIN;
    while worker.runs.total() < 2 {
        assert!(std::time::Instant::now() < deadline, "jobs never started");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let runs = worker.runs.clone();
    worker.stop().await;
    let mut succeeded = 0;
    for id in &ids {
        let record = store.job(id).await.expect("read").expect("exists");
        match record.state {
            JobState::Succeeded => succeeded += 1,
            JobState::Queued => assert_eq!(record.crashes, 0),
            other => panic!("job {id} left {other} by a graceful shutdown"),
        }
    }
    assert_eq!(succeeded, runs.total(), "every started job finished");
    assert!((2..6).contains(&succeeded));
    // The rest goes to the next worker at once, with no lease to wait for.
    let next = TestWorker::start(&store, &conn, WorkerOptions::default());
    for id in &ids {
        wait_for_state(&store, id, JobState::Succeeded, Duration::from_secs(10)).await;
    }
    next.stop().await;
}

#[tokio::test]
async fn idempotent_enqueue_answers_the_first_jobs_and_refuses_another_body() {
    let redis = TestRedis::shared();
    let (store, _conn) = store_on(redis, &unique_queue(), Retention::default());
    let producer = Producer::new(store.clone(), Duration::from_secs(60));
    let key = || {
        Some(IdempotencyKey {
            scope: "caller".into(),
            key: "k-1".into(),
        })
    };
    let first = producer
        .submit_one(
            &underwrite::queue::AppName::default_app(),
            Submission::new(Scripted {
                label: "a".into(),
                ..Scripted::default()
            }),
            key(),
        )
        .await
        .expect("first");
    let again = producer
        .submit_one(
            &underwrite::queue::AppName::default_app(),
            Submission::new(Scripted {
                label: "a".into(),
                ..Scripted::default()
            }),
            key(),
        )
        .await
        .expect("again");
    assert_eq!(again.job_ids, first.job_ids);
    assert!(again.replayed && !first.replayed);
    let other = producer
        .submit_one(
            &underwrite::queue::AppName::default_app(),
            Submission::new(Scripted {
                label: "b".into(),
                ..Scripted::default()
            }),
            key(),
        )
        .await;
    assert!(matches!(
        other,
        Err(underwrite::producer::ProduceError::KeyReused)
    ));

    // Concurrent duplicates: exactly one job.
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let producer = producer.clone();
        tasks.push(tokio::spawn(async move {
            producer
                .submit_one(
                    &underwrite::queue::AppName::default_app(),
                    Submission::new(Scripted {
                        label: "c".into(),
                        ..Scripted::default()
                    }),
                    Some(IdempotencyKey {
                        scope: "caller".into(),
                        key: "k-2".into(),
                    }),
                )
                .await
                .expect("submit")
                .job_ids
        }));
    }
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.expect("task"));
    }
    assert!(answers.windows(2).all(|w| w[0] == w[1]));
    let page = store
        .list(&ListFilter {
            kind: Some(Scripted::KIND.into()),
            limit: 500,
            ..ListFilter::default()
        })
        .await
        .expect("list");
    assert_eq!(page.jobs.len(), 2, "one job for k-1, one for k-2");
}

#[tokio::test]
async fn fifty_thousand_jobs_enqueue_and_drain() {
    let redis = TestRedis::start(&[]);
    let (store, conn) = store_on(&redis, &unique_queue(), Retention::default());
    const TOTAL: usize = 50_000;
    for chunk in 0..TOTAL / 1_000 {
        let jobs: Vec<NewJob> = (0..1_000)
            .map(|i| {
                job(Scripted {
                    label: format!("{}", chunk * 1_000 + i),
                    ..Scripted::default()
                })
            })
            .collect();
        store.enqueue(&jobs, None).await.expect("enqueue");
    }
    let counts = store.counts().await.expect("counts");
    assert!(counts.contains(&(JobState::Queued, TOTAL as u64)));
    let options = WorkerOptions {
        concurrency: 64,
        ..WorkerOptions::default()
    };
    let worker = TestWorker::start(&store, &conn, options);
    let deadline = std::time::Instant::now() + Duration::from_secs(300);
    loop {
        let counts = store.counts().await.expect("counts");
        if counts.contains(&(JobState::Succeeded, TOTAL as u64)) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not drained: {counts:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        worker.runs.total() as usize,
        TOTAL,
        "each job ran exactly once"
    );
    worker.stop().await;
}

#[tokio::test]
async fn workers_ride_out_a_redis_restart() {
    let mut redis = TestRedis::start(&["--appendonly", "yes", "--appendfsync", "always"]);
    let queue = unique_queue();
    let (store, conn) = store_on(&redis, &queue, Retention::default());
    let before = job(Scripted::default());
    let before_id = before.id;
    store.enqueue(&[before], None).await.expect("enqueue");
    let worker = TestWorker::start(&store, &conn, WorkerOptions::default());
    wait_for_state(&store, &before_id, JobState::Succeeded, WITHIN).await;

    redis.kill();
    let during = store.enqueue(&[job(Scripted::default())], None).await;
    assert!(
        during.is_err(),
        "enqueue must fail loudly while Redis is down"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    redis.restart();

    // The same Store and worker go on, after reconnecting by themselves.
    let after = job(Scripted::default());
    let after_id = after.id;
    let deadline = std::time::Instant::now() + WITHIN;
    loop {
        match store.enqueue(std::slice::from_ref(&after), None).await {
            Ok(_) => break,
            Err(e) => {
                assert!(std::time::Instant::now() < deadline, "no reconnect: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    wait_for_state(&store, &after_id, JobState::Succeeded, WITHIN).await;
    // AOF with appendfsync always: the job accepted before the crash is still there.
    assert!(store.job(&before_id).await.expect("read").is_some());
    worker.stop().await;
}

/// After Redis was unreachable, every pending entry has aged, live workers' included, and
/// their heartbeats need a moment to renew them: a worker waits a whole lease before it
/// reclaims anything, so an outage is not taken for the death of every worker.
#[tokio::test]
async fn reclaims_wait_a_lease_after_redis_was_unreachable() {
    let redis = TestRedis::shared();
    let queue = unique_queue();
    let (store, conn) = store_on(redis, &queue, Retention::default());
    let new = job(Scripted::default());
    let id = new.id;
    store.enqueue(&[new], None).await.expect("enqueue");
    take_and_abandon(&store, &queue, &id, "ghost").await;
    let lease = Duration::from_millis(1_500);
    tokio::time::sleep(lease + Duration::from_millis(100)).await;
    // The entry is reclaimable now; but this store has just seen Redis unreachable.
    store.note_unreachable();
    let started = std::time::Instant::now();
    let worker = TestWorker::start(
        &store,
        &conn,
        WorkerOptions {
            lease,
            ..WorkerOptions::default()
        },
    );
    let done = wait_for_state(&store, &id, JobState::Succeeded, WITHIN).await;
    assert!(
        started.elapsed() >= lease - Duration::from_millis(200),
        "reclaimed {:?} after the outage, within the lease",
        started.elapsed()
    );
    assert_eq!(done.crashes, 1, "the ghost's death still counts");
    worker.stop().await;
}

#[tokio::test]
async fn names_of_gone_workers_are_tidied_but_never_with_jobs_they_hold() {
    let redis = TestRedis::shared();
    let queue = unique_queue();
    let (store, _conn) = store_on(redis, &queue, Retention::default());
    let new = job(Scripted::default());
    let id = new.id;
    store.enqueue(&[new], None).await.expect("enqueue");
    take_and_abandon(&store, &queue, &id, "holder").await;
    // A consumer that read nothing: what a restarted worker's old name looks like.
    let _: redis::Value = redis::cmd("XGROUP")
        .arg("CREATECONSUMER")
        .arg(format!("uw:{{{queue}}}:stream:{}", Scripted::KIND))
        .arg("workers")
        .arg("empty-handed")
        .query_async(&mut store.connection())
        .await
        .expect("createconsumer");
    tokio::time::sleep(Duration::from_millis(50)).await;
    let removed = store
        .forget_idle_consumers(Duration::from_millis(10))
        .await
        .expect("tidy");
    assert_eq!(removed, 1);
    let consumers: Vec<Vec<redis::Value>> = redis::cmd("XINFO")
        .arg("CONSUMERS")
        .arg(format!("uw:{{{queue}}}:stream:{}", Scripted::KIND))
        .arg("workers")
        .query_async(&mut store.connection())
        .await
        .expect("xinfo");
    assert_eq!(consumers.len(), 1, "the consumer holding a job stays");
}

#[tokio::test]
async fn paging_walks_every_job_once_even_within_one_millisecond() {
    let redis = TestRedis::shared();
    let (store, _conn) = store_on(redis, &unique_queue(), Retention::default());
    // One script, one timestamp: 100 jobs tie on their index score.
    let jobs: Vec<NewJob> = (0..100).map(|_| job(Scripted::default())).collect();
    store.enqueue(&jobs, None).await.expect("enqueue");
    let later = job(Scripted::default());
    store
        .enqueue(std::slice::from_ref(&later), None)
        .await
        .expect("enqueue");
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .list(&ListFilter {
                cursor,
                limit: 3,
                ..ListFilter::default()
            })
            .await
            .expect("page");
        assert!(page.jobs.len() <= 3);
        seen.extend(page.jobs.iter().map(|j| j.id));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
        assert!(seen.len() <= 101, "paging went round in circles");
    }
    assert_eq!(seen.len(), 101);
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 101, "a job was shown twice");
    assert!(
        seen.iter().position(|id| *id == later.id) <= Some(2),
        "newest first"
    );
}
