//! `vendors/proteger/recent.rs` against a real Redis: which contracts count as created
//! lately, and that the set stays bounded. Time is passed in, so nothing here sleeps.

use std::time::Duration;

use redis::Value;
use underwrite::queue::{Retention, Store};
use underwrite::vendors::proteger::recent::RecentContracts;

use crate::helpers::redis::{TestRedis, store_on, unique_queue};

const WINDOW: Duration = Duration::from_secs(300);
/// Some unix time in ms (2026-11-28), so that the tests do not depend on the clock.
const T0: i64 = 1_795_000_000_000;

fn recent(window: Duration) -> (RecentContracts, Store, String) {
    let queue = unique_queue();
    let (store, _) = store_on(TestRedis::shared(), &queue, Retention::default());
    (RecentContracts::new(&store, window), store, queue)
}

async fn int(store: &Store, cmd: &mut redis::Cmd) -> i64 {
    match store.raw(cmd).await.expect("redis") {
        Value::Int(n) => n,
        other => panic!("not an integer: {other:?}"),
    }
}

#[tokio::test]
async fn the_key_belongs_to_the_queue_and_to_proteger() {
    let (recent, _, queue) = recent(WINDOW);
    assert_eq!(
        recent.key(),
        format!("uw:{{{queue}}}:vendor:proteger:recent")
    );
}

#[tokio::test]
async fn a_contract_we_created_is_recent_for_the_window_and_no_longer() {
    let (recent, _, _) = recent(WINDOW);
    recent.remember(&["c-1", "c-2"], T0).await.expect("noted");
    assert_eq!(
        recent.created_ago("c-1", T0 + 1_500).await.expect("asked"),
        Some(Duration::from_millis(1_500))
    );
    assert_eq!(
        recent.created_ago("c-2", T0).await.expect("asked"),
        Some(Duration::ZERO)
    );
    let last = T0 + WINDOW.as_millis() as i64 - 1;
    assert!(
        recent
            .created_ago("c-2", last)
            .await
            .expect("asked")
            .is_some()
    );
    assert_eq!(
        recent.created_ago("c-2", last + 1).await.expect("asked"),
        None
    );
    assert_eq!(recent.created_ago("never", T0).await.expect("asked"), None);
    // Another worker's clock a little behind ours: still recent, as "just now".
    assert_eq!(
        recent.created_ago("c-1", T0 - 2_000).await.expect("asked"),
        Some(Duration::ZERO)
    );
}

#[tokio::test]
async fn a_replayed_answer_keeps_the_first_creation_time() {
    let (recent, _, _) = recent(WINDOW);
    recent.remember(&["c-1"], T0).await.expect("noted");
    recent
        .remember(&["c-1"], T0 + 60_000)
        .await
        .expect("noted again");
    assert_eq!(
        recent.created_ago("c-1", T0 + 60_000).await.expect("asked"),
        Some(Duration::from_secs(60))
    );
}

#[tokio::test]
async fn the_set_forgets_what_is_past_the_window_and_expires_when_idle() {
    let (recent, store, _) = recent(WINDOW);
    let window = WINDOW.as_millis() as i64;
    recent
        .remember(&["old-1", "old-2"], T0)
        .await
        .expect("noted");
    recent
        .remember(&["mid"], T0 + window / 2)
        .await
        .expect("noted");
    recent.remember(&["new"], T0 + window).await.expect("noted");
    // `old-*` are exactly one window old when `new` is written: trimmed.
    let size = int(&store, redis::cmd("ZCARD").arg(recent.key())).await;
    assert_eq!(size, 2, "only `mid` and `new` are left");
    let ttl = int(&store, redis::cmd("PTTL").arg(recent.key())).await;
    assert!(
        (1..=window).contains(&ttl),
        "the key expires within one window of the last write: {ttl}"
    );
}

#[tokio::test]
async fn without_a_window_nothing_is_written() {
    let (recent, store, _) = recent(Duration::ZERO);
    recent.remember(&["c-1"], T0).await.expect("noted");
    assert_eq!(recent.created_ago("c-1", T0).await.expect("asked"), None);
    let exists = int(&store, redis::cmd("EXISTS").arg(recent.key())).await;
    assert_eq!(exists, 0);
}
