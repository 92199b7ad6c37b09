//! The generic batcher (`queue/batcher.rs`) on a real redis-server, with job kinds of its
//! own and no vendor: the batches it forms are read back from their records. No test
//! depends on how fast anything runs: lingers are either far longer than any test waits
//! (so only a full batch or a shutdown can end them) or irrelevant to the assertion.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{Value, json};
use underwrite::queue::batcher::Batcher;
use underwrite::queue::keys::GROUP;
use underwrite::queue::{JobId, JobRecord, JobState, NewJob, Redis, Retention, Store};

use crate::helpers::background::Background;
use crate::helpers::redis::{TestRedis, store_on, unique_queue};
use crate::helpers::worker::wait_for;

const MEMBER: &str = "test.member";
const BATCH: &str = "test.batch";
const WITHIN: Duration = Duration::from_secs(20);
/// Longer than any wait of these tests: a linger this long never ends on its own.
const FOREVER: Duration = Duration::from_secs(600);

/// A store on a fresh queue, its member stream's consumer group made (as the first
/// batcher's read would) so that pending entries can be counted from the start.
async fn queue() -> (Store, Redis) {
    let (store, conn) = store_on(TestRedis::shared(), &unique_queue(), Retention::default());
    store.ensure_group(MEMBER).await.expect("group");
    (store, conn)
}

fn batcher(store: &Store, redis: &Redis, max: usize, linger: Duration) -> Batcher {
    Batcher {
        store: store.clone(),
        redis: redis.clone(),
        member_kind: MEMBER,
        batch_kind: BATCH,
        consumer: "batcher-under-test".into(),
        lease: Duration::from_secs(30),
        max,
        linger,
        distinct_by: None,
    }
}

fn by_key(payload: &Value) -> Option<String> {
    payload["key"].as_str().map(String::from)
}

fn start(batcher: Batcher) -> Background {
    Background::spawn(move |stopped| async move {
        let shutdown = async move {
            let _ = stopped.await;
        };
        batcher.run(shutdown).await.expect("batcher");
    })
}

async fn enqueue(store: &Store, keys: &[&str]) -> Vec<JobId> {
    let jobs: Vec<NewJob> = keys
        .iter()
        .map(|key| NewJob::new(MEMBER, json!({ "key": key })))
        .collect();
    let ids = jobs.iter().map(|job| job.id).collect();
    store.enqueue(&jobs, None).await.expect("enqueue");
    ids
}

async fn batched(store: &Store, id: &JobId) -> JobRecord {
    wait_for(store, id, WITHIN, |r| r.batch.is_some()).await
}

/// The member ids a batch job carries.
async fn members_of(store: &Store, batch: &JobId) -> Vec<JobId> {
    let record = store.job(batch).await.expect("read").expect("the batch");
    assert_eq!(record.kind, BATCH);
    serde_json::from_value(record.payload).expect("a list of member ids")
}

/// Entries of the member stream read by a batcher and neither batched nor handed back.
async fn pending(store: &Store) -> u64 {
    let mut cmd = redis::cmd("XPENDING");
    cmd.arg(store.keys().stream(MEMBER)).arg(GROUP);
    match store.raw(&cmd).await.expect("XPENDING") {
        redis::Value::Array(summary) => match summary.first() {
            Some(redis::Value::Int(n)) => *n as u64,
            other => panic!("unexpected XPENDING summary: {other:?}"),
        },
        other => panic!("unexpected XPENDING answer: {other:?}"),
    }
}

/// Waits until the batcher has read the member: its entry is pending, or it is batched.
async fn read_by_batcher(store: &Store, id: &JobId) {
    let deadline = tokio::time::Instant::now() + WITHIN;
    loop {
        let record = store.job(id).await.expect("read").expect("the member");
        if record.batch.is_some() || pending(store).await > 0 {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the batcher never read {id}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn a_member_read_alone_waits_for_the_next_and_a_full_batch_leaves_at_once() {
    let (store, conn) = queue().await;
    let running = start(batcher(&store, &conn, 3, FOREVER));
    let first = enqueue(&store, &["a"]).await[0];
    // Without a linger the first member would leave alone, the moment it is read.
    read_by_batcher(&store, &first).await;
    let rest = enqueue(&store, &["b", "c"]).await;
    // Three make a full batch: it is formed now, not when the (endless) linger ends.
    let batch = batched(&store, &first).await.batch.expect("batch");
    for id in &rest {
        assert_eq!(batched(&store, id).await.batch, Some(batch));
    }
    let mut members = members_of(&store, &batch).await;
    let mut expected = vec![first, rest[0], rest[1]];
    members.sort_by_key(JobId::to_string);
    expected.sort_by_key(JobId::to_string);
    assert_eq!(members, expected);
    assert_eq!(pending(&store).await, 0);
    running.stop().await;
}

#[tokio::test]
async fn a_linger_ends_with_the_members_that_came() {
    let (store, conn) = queue().await;
    let running = start(batcher(&store, &conn, 10, Duration::from_millis(200)));
    let ids = enqueue(&store, &["a", "b"]).await;
    let batch = batched(&store, &ids[0]).await.batch.expect("batch");
    assert_eq!(batched(&store, &ids[1]).await.batch, Some(batch));
    assert_eq!(members_of(&store, &batch).await.len(), 2);
    running.stop().await;
}

#[tokio::test]
async fn a_shutdown_during_a_linger_batches_what_was_held() {
    let (store, conn) = queue().await;
    let running = start(batcher(&store, &conn, 10, FOREVER));
    let id = enqueue(&store, &["a"]).await[0];
    read_by_batcher(&store, &id).await;
    // A shutdown that waited for the linger to end would not return within the test.
    tokio::time::timeout(WITHIN, running.stop())
        .await
        .expect("the batcher stops without finishing its linger");
    let member = store.job(&id).await.expect("read").expect("the member");
    let batch = member.batch.expect("formed into a batch at shutdown");
    assert_eq!(members_of(&store, &batch).await, vec![id]);
    let record = store.job(&batch).await.expect("read").expect("the batch");
    assert_eq!(record.state, JobState::Queued, "waiting for a batch worker");
    assert_eq!(pending(&store).await, 0, "nothing left to a lease");
}

#[tokio::test]
async fn members_with_the_same_key_never_share_a_batch_and_none_is_lost() {
    let (store, conn) = queue().await;
    let keys = ["a", "a", "b", "a", "c"];
    let ids = enqueue(&store, &keys).await;
    // Everything is waiting before the batcher starts, so its first read holds all five.
    let running = start(Batcher {
        distinct_by: Some(by_key),
        ..batcher(&store, &conn, 10, Duration::from_millis(50))
    });
    let mut batches: HashMap<JobId, Vec<&str>> = HashMap::new();
    for (id, key) in ids.iter().zip(keys) {
        let batch = batched(&store, id).await.batch.expect("batch");
        batches.entry(batch).or_default().push(key);
    }
    for (batch, mut keys) in batches.clone() {
        keys.sort();
        let before = keys.len();
        keys.dedup();
        assert_eq!(keys.len(), before, "batch {batch} repeats a key: {keys:?}");
        assert_eq!(members_of(&store, &batch).await.len(), before);
    }
    assert_eq!(
        batches.len(),
        3,
        "three `a`s need three batches: {batches:?}"
    );
    assert_eq!(pending(&store).await, 0);
    running.stop().await;
}

#[tokio::test]
async fn a_held_member_keeps_its_lease_for_as_long_as_the_batcher_lingers() {
    let (store, conn) = queue().await;
    let lease = Duration::from_secs(2);
    let running = start(Batcher {
        lease,
        ..batcher(&store, &conn, 10, FOREVER)
    });
    let id = enqueue(&store, &["a"]).await[0];
    read_by_batcher(&store, &id).await;
    // What a rival batcher does to a dead one's members, over several leases: take over
    // whatever has been idle a lease. Renewed every third of a lease, the member never is.
    let mut claim = redis::cmd("XAUTOCLAIM");
    claim
        .arg(store.keys().stream(MEMBER))
        .arg(GROUP)
        .arg("rival")
        .arg(lease.as_millis() as u64)
        .arg("0-0");
    let until = tokio::time::Instant::now() + lease * 5 / 2;
    while tokio::time::Instant::now() < until {
        let taken = match store.raw(&claim).await.expect("XAUTOCLAIM") {
            redis::Value::Array(reply) => match reply.get(1) {
                Some(redis::Value::Array(entries)) => entries.len(),
                other => panic!("unexpected XAUTOCLAIM entries: {other:?}"),
            },
            other => panic!("unexpected XAUTOCLAIM answer: {other:?}"),
        };
        assert_eq!(taken, 0, "a lingering batcher's member was taken over");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    running.stop().await;
    assert!(batched(&store, &id).await.batch.is_some());
}
