//! The watch list's wake-up, crash-proof: a poll that decided an application and died
//! before it woke the waiting job leaves the job listed; the next poll wakes it, instead of
//! the job sleeping until its daily straggler check.

use std::time::Duration;

use chrono::NaiveDate;
use serde_json::json;
use underwrite::queue::{JobKind, JobState, NewJob, Retention};
use underwrite::vendors::billing_robo::decision::{Decision, Waiting};
use underwrite::vendors::billing_robo::jobs::watchlist::{Decided, Watchlist};

use crate::helpers::redis::{TestRedis, store_on, unique_queue};
use crate::helpers::worker::{Scripted, TestWorker, WorkerOptions, wait_for_state};

const WITHIN: Duration = Duration::from_secs(20);

#[tokio::test]
async fn a_decided_job_a_dead_poll_did_not_wake_is_woken_by_the_next() {
    let redis = TestRedis::shared();
    let queue = unique_queue();
    let (store, conn) = store_on(redis, &queue, Retention::default());
    // A job that waits a day unless woken (the decision job's straggler snooze).
    let new = NewJob::new(
        Scripted::KIND,
        serde_json::to_value(Scripted {
            snooze_runs: 1,
            snooze_ms: 86_400_000,
            ..Scripted::default()
        })
        .expect("payload"),
    );
    let id = new.id;
    store.enqueue(&[new], None).await.expect("enqueue");
    let worker = TestWorker::start(&store, &conn, WorkerOptions::default());
    wait_for_state(&store, &id, JobState::Snoozed, WITHIN).await;

    let watchlist = Watchlist::new(store.clone());
    let since = NaiveDate::from_ymd_opt(2026, 11, 1)
        .and_then(|d| d.and_hms_opt(9, 0, 0))
        .expect("date");
    let waiting = Waiting {
        since,
        claim_type: None,
        already_applied: false,
    };
    assert!(
        watchlist
            .watch("demo-wl-1", &waiting, &id)
            .await
            .expect("watch")
    );
    let decided = Decided {
        decision: Decision::Approved,
        credit: serde_json::from_value(json!({
            "id": 7, "billing_code": "demo-wl-1", "status": 1,
            "update_date": "2026/11/02 10:00:00"
        }))
        .expect("a credit record"),
    };
    // The poll decides, then dies before waking anyone.
    let watchers = watchlist
        .resolve("demo-wl-1", &decided)
        .await
        .expect("resolve");
    assert_eq!(watchers, vec![id]);
    assert_eq!(watchlist.pending().await.expect("pending"), 0);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        store.job(&id).await.expect("read").expect("record").state,
        JobState::Snoozed,
        "nobody woke it"
    );

    // The next poll, in any process, wakes it first.
    assert_eq!(
        watchlist
            .wake_leftovers(Scripted::KIND)
            .await
            .expect("wake"),
        1
    );
    wait_for_state(&store, &id, JobState::Succeeded, WITHIN).await;
    assert_eq!(
        watchlist
            .wake_leftovers(Scripted::KIND)
            .await
            .expect("again"),
        0,
        "taken off the list once woken"
    );
    assert_eq!(
        watchlist
            .decided(&id)
            .await
            .expect("read")
            .map(|d| d.decision),
        Some(Decision::Approved)
    );
    worker.stop().await;
}
