//! The shared rate limiter against a real redis-server: many acquirers in two "processes"
//! (two stores, two connections) never exceed the budget within any window; a pause set by
//! one stops everyone until it ends; high priority gets through when low is throttled; and
//! a job that finds the budget spent is deferred without using an attempt.
//!
//! Grants are checked against the times Redis granted them (the clock the window is counted
//! on), so the checks do not depend on how fast this machine runs.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use underwrite::queue::metrics::RATE_LIMIT_DECISIONS;
use underwrite::queue::{
    Budget, JobError, JobId, JobKind, JobState, NewJob, Priority, RateLimiter, Retention,
    RetryPolicy, Store, Wait, WaitReason,
};

use crate::helpers::redis::{TestRedis, store_on, unique_queue};
use crate::helpers::worker::{Limiter, Scripted, TestWorker, WorkerOptions, wait_for};

/// A vendor name no other test uses (metrics are per vendor).
fn vendor() -> String {
    format!("test_rl_{}", uuid::Uuid::now_v7().simple())
}

fn decisions(vendor: &str, priority: &str, decision: &str) -> u64 {
    RATE_LIMIT_DECISIONS
        .with_label_values(&[vendor, priority, decision])
        .get()
}

/// Two "processes" on one queue.
fn two_stores() -> (Store, Store) {
    let redis = TestRedis::shared();
    let queue = unique_queue();
    let (one, _) = store_on(redis, &queue, Retention::default());
    let (two, _) = store_on(redis, &queue, Retention::default());
    (one, two)
}

#[tokio::test]
async fn concurrent_acquirers_in_two_processes_never_exceed_the_budget_in_any_window() {
    const LIMIT: usize = 10;
    const WINDOW_MS: i64 = 1_000;
    let (one, two) = two_stores();
    let vendor = vendor();
    let budget =
        Budget::new(LIMIT as u32, Duration::from_millis(WINDOW_MS as u64)).expect("budget");
    let granted = Arc::new(Mutex::new(Vec::new()));
    let until = Instant::now() + Duration::from_millis(2_600);
    let mut tasks = Vec::new();
    for i in 0..24 {
        let store = if i % 2 == 0 { &one } else { &two };
        let limiter = RateLimiter::new(store.clone(), &vendor, budget);
        let priority = if i % 3 == 0 {
            Priority::Low
        } else {
            Priority::High
        };
        let granted = Arc::clone(&granted);
        tasks.push(tokio::spawn(async move {
            while Instant::now() < until {
                match limiter.acquire(priority).await {
                    Ok(grant) => granted.lock().expect("lock").push(grant.at_ms),
                    // Sleep less than told, so that acquirers keep pressing on the budget.
                    Err(wait) => {
                        tokio::time::sleep(wait.after.min(Duration::from_millis(20))).await
                    }
                }
            }
        }));
    }
    for task in tasks {
        task.await.expect("acquirer");
    }
    let mut times = granted.lock().expect("lock").clone();
    times.sort_unstable();
    assert!(
        times.len() >= 2 * LIMIT,
        "only {} grants: the test did not cross windows",
        times.len()
    );
    // For every grant, the grants of the window ending with it: (t - window, t].
    for (i, t) in times.iter().enumerate() {
        let in_window = times[..=i]
            .iter()
            .rev()
            .take_while(|earlier| **earlier > t - WINDOW_MS)
            .count()
            + times[i + 1..]
                .iter()
                .take_while(|same| **same == *t)
                .count();
        assert!(
            in_window <= LIMIT,
            "{in_window} grants in the window ending at {t}: {times:?}"
        );
    }
    let granted_total =
        decisions(&vendor, "high", "granted") + decisions(&vendor, "low", "granted");
    assert_eq!(granted_total as usize, times.len());
    assert!(decisions(&vendor, "high", "throttled") > 0);
}

#[tokio::test]
async fn a_pause_stops_everyone_until_it_ends() {
    let (one, two) = two_stores();
    let vendor = vendor();
    let budget = Budget::new(100, Duration::from_secs(60)).expect("budget");
    let here = RateLimiter::new(one, &vendor, budget);
    let there = RateLimiter::new(two, &vendor, budget);
    here.acquire(Priority::High)
        .await
        .expect("room before the pause");

    let pause = Duration::from_secs(3);
    let until = here.pause(pause).await.expect("pause");
    // A shorter pause does not shorten it.
    assert!(here.pause(Duration::from_millis(100)).await.expect("pause") >= until);
    for (limiter, priority) in [
        (&here, Priority::High),
        (&there, Priority::High),
        (&there, Priority::Low),
    ] {
        let wait = limiter.acquire(priority).await.expect_err("paused");
        assert_eq!(wait.reason, WaitReason::Paused);
        assert!(
            wait.after > Duration::ZERO && wait.after <= pause,
            "{wait:?}"
        );
    }
    assert_eq!(decisions(&vendor, "high", "paused"), 2);
    assert_eq!(decisions(&vendor, "low", "paused"), 1);

    // Waiting as told, the other process gets through, and not before the pause ended.
    let deadline = Instant::now() + Duration::from_secs(15);
    let grant = loop {
        match there.acquire(Priority::Low).await {
            Ok(grant) => break grant,
            Err(wait) => {
                assert!(Instant::now() < deadline, "still paused: {wait:?}");
                tokio::time::sleep(wait.after).await;
            }
        }
    };
    assert!(
        grant.at_ms >= until,
        "granted at {} before the pause ended at {until}",
        grant.at_ms
    );
}

#[tokio::test]
async fn high_priority_gets_through_when_low_is_throttled() {
    let (one, two) = two_stores();
    let vendor = vendor();
    // 8 per minute, 3 kept for high priority: low may take 5.
    let budget = Budget::new(8, Duration::from_secs(60))
        .and_then(|b| b.reserving_for_high(3))
        .expect("budget");
    let polls = RateLimiter::new(one, &vendor, budget);
    let applications = RateLimiter::new(two, &vendor, budget);
    for n in 1..=5 {
        let grant = polls
            .acquire(Priority::Low)
            .await
            .expect("low within its share");
        assert_eq!(grant.used, n);
    }
    let wait: Wait = polls
        .acquire(Priority::Low)
        .await
        .expect_err("low's share is spent");
    assert!(
        matches!(wait.reason, WaitReason::Budget { limit: 8, .. }),
        "{wait:?}"
    );
    assert!(wait.after > Duration::ZERO && wait.after <= Duration::from_secs(60));
    for _ in 0..3 {
        applications
            .acquire(Priority::High)
            .await
            .expect("high uses the reserve");
    }
    let wait = applications
        .acquire(Priority::High)
        .await
        .expect_err("all spent");
    assert!(matches!(wait.reason, WaitReason::Budget { .. }), "{wait:?}");
    // A handler's `?` turns it into a deferral: no attempt used.
    assert!(matches!(JobError::from(wait), JobError::Deferred { .. }));

    assert_eq!(decisions(&vendor, "low", "granted"), 5);
    assert_eq!(decisions(&vendor, "low", "throttled"), 1);
    assert_eq!(decisions(&vendor, "high", "granted"), 3);
    assert_eq!(decisions(&vendor, "high", "throttled"), 1);
}

#[tokio::test]
async fn a_job_that_finds_the_budget_spent_is_deferred_without_using_an_attempt() {
    let redis = TestRedis::shared();
    let (store, conn) = store_on(redis, &unique_queue(), Retention::default());
    let vendor = vendor();
    // One call per second, and a single attempt per job: a deferral that used an attempt
    // would leave the later jobs dead.
    let budget = Budget::new(1, Duration::from_secs(1)).expect("budget");
    let limiter = RateLimiter::new(store.clone(), &vendor, budget);
    let jobs: Vec<NewJob> = (0..3)
        .map(|_| {
            let script = Scripted {
                rate_limited: true,
                ..Scripted::default()
            };
            NewJob::new(
                Scripted::KIND,
                serde_json::to_value(script).expect("payload"),
            )
        })
        .collect();
    let ids: Vec<JobId> = jobs.iter().map(|job| job.id).collect();
    store.enqueue(&jobs, None).await.expect("enqueue");
    let options = WorkerOptions {
        policy: RetryPolicy {
            max_attempts: 1,
            base_ms: 10,
            cap_ms: 10,
            snooze_deadline_secs: None,
        },
        limiter: Limiter(Some(limiter)),
        ..WorkerOptions::default()
    };
    let worker = TestWorker::start(&store, &conn, options);
    let mut started = Vec::new();
    for id in &ids {
        let done = wait_for(&store, id, Duration::from_secs(20), |r| r.state.is_final()).await;
        assert_eq!(done.state, JobState::Succeeded, "{done:?}");
        assert_eq!(done.attempts, 1);
        assert_eq!(done.last_error, None, "a deferral is not an error");
        started.push(done.started_at.expect("started"));
    }
    worker.stop().await;
    // One call a second: the three calls were spread over two seconds at least.
    started.sort();
    assert!(
        started[2] - started[0] >= chrono::Duration::milliseconds(1_900),
        "{started:?}"
    );
    assert!(decisions(&vendor, "high", "throttled") >= 2);
    assert_eq!(decisions(&vendor, "high", "granted"), 3);
}
