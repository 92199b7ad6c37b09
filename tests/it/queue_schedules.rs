//! Periodic jobs against a real redis-server: scheduler loops in two "processes" (two
//! stores, two connections) enqueue one job per tick; a loop stopped for several intervals
//! catches up with one job, not many; a restart neither loses nor doubles a tick; and the
//! next run of every schedule is visible in the store, the API and the CLI.
//!
//! Each tick's job carries its tick in its metadata, so the checks read which ticks got a
//! job (and how many stream entries, and how many fires the loops counted) rather than
//! timing anything.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use underwrite::queue::metrics::SCHEDULE_RUNS;
use underwrite::queue::scheduler::spawn_scheduler;
use underwrite::queue::store::now_ms;
use underwrite::queue::{JobId, JobKind, ListFilter, Retention, Schedule, Store, Tick};

use crate::cli::{run, underwrite};
use crate::helpers::api::TestApi;
use crate::helpers::redis::{TestRedis, store_on, unique_queue};

const WITHIN: Duration = Duration::from_secs(30);
/// Short enough for a quick test, long enough that a loaded machine does not sleep through
/// a whole interval (that would be a catch-up, and the ticks would not be consecutive).
const EVERY_MS: i64 = 400;

#[derive(Debug, Serialize, Deserialize)]
struct Ping {
    from: String,
}

impl JobKind for Ping {
    const KIND: &'static str = "test.schedule.ping";
}

/// A schedule with a name no other test uses (the fire counter is per name).
fn schedule(every_ms: i64) -> Schedule {
    let name = format!("test.ping.{}", uuid::Uuid::now_v7().simple());
    let payload = Ping {
        from: "the schedule".into(),
    };
    let every = Duration::from_millis(every_ms.unsigned_abs());
    Schedule::new(&name, every, &payload).expect("a valid schedule")
}

/// A running scheduler loop: one "process".
struct Loop {
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl Loop {
    fn start(store: &Store, schedule: &Schedule) -> Self {
        let stop = CancellationToken::new();
        let task = spawn_scheduler(store.clone(), vec![schedule.clone()], stop.clone());
        Self { stop, task }
    }

    async fn stop(self) {
        self.stop.cancel();
        self.task.await.expect("the loop ends");
    }
}

/// The ticks that got a job, in order.
async fn ticks(store: &Store, schedule: &Schedule) -> Vec<i64> {
    let filter = ListFilter {
        kind: Some(Ping::KIND.into()),
        limit: 500,
        ..ListFilter::default()
    };
    let mut ticks: Vec<i64> = store
        .list(&filter)
        .await
        .expect("list")
        .jobs
        .iter()
        .filter(|job| {
            job.metadata.as_ref().map(|m| &m["schedule"]) == Some(&schedule.name().into())
        })
        .map(|job| {
            let tick = job.metadata.as_ref().and_then(|m| m["tick_ms"].as_i64());
            let tick = tick.expect("a tick's job carries its tick");
            assert_eq!(job.id, JobId::of_tick(schedule.name(), tick));
            tick
        })
        .collect();
    ticks.sort_unstable();
    ticks
}

async fn wait_for_ticks(store: &Store, schedule: &Schedule, at_least: usize) -> Vec<i64> {
    let deadline = Instant::now() + WITHIN;
    loop {
        let seen = ticks(store, schedule).await;
        if seen.len() >= at_least {
            return seen;
        }
        assert!(
            Instant::now() < deadline,
            "only {} ticks within {WITHIN:?}",
            seen.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Entries ever added to the kind's stream (no worker reads it here).
async fn stream_len(store: &Store, queue: &str) -> usize {
    redis::cmd("XLEN")
        .arg(format!("uw:{{{queue}}}:stream:{}", Ping::KIND))
        .query_async(&mut store.connection())
        .await
        .expect("xlen")
}

/// Ticks fired, as the loops counted them.
fn fires(schedule: &Schedule) -> usize {
    SCHEDULE_RUNS.with_label_values(&[schedule.name()]).get() as usize
}

fn assert_consecutive(ticks: &[i64]) {
    assert!(
        ticks.iter().all(|t| t % EVERY_MS == 0),
        "off the grid: {ticks:?}"
    );
    for pair in ticks.windows(2) {
        assert_eq!(
            pair[1] - pair[0],
            EVERY_MS,
            "a tick lost or doubled: {ticks:?}"
        );
    }
}

#[tokio::test]
async fn two_processes_enqueue_exactly_one_job_per_tick() {
    let redis = TestRedis::shared();
    let queue = unique_queue();
    let (one, _) = store_on(redis, &queue, Retention::default());
    let (two, _) = store_on(redis, &queue, Retention::default());
    let schedule = schedule(EVERY_MS);
    let (a, b) = (Loop::start(&one, &schedule), Loop::start(&two, &schedule));
    wait_for_ticks(&one, &schedule, 6).await;
    a.stop().await;
    b.stop().await;

    let ticks = ticks(&one, &schedule).await;
    assert_consecutive(&ticks);
    // One stream entry per tick, and one fire counted per tick across both loops: no tick
    // was enqueued twice, even as the same job.
    assert_eq!(stream_len(&one, &queue).await, ticks.len());
    assert_eq!(fires(&schedule), ticks.len());
    let status = &one.schedules().await.expect("schedules")[0];
    assert_eq!(
        status.last_job,
        ticks.last().map(|t| JobId::of_tick(schedule.name(), *t))
    );
    assert_eq!(
        status.next_run_at.timestamp_millis(),
        ticks.last().expect("ticks") + EVERY_MS
    );
}

#[tokio::test]
async fn a_scheduler_back_after_several_intervals_catches_up_once() {
    let redis = TestRedis::shared();
    let queue = unique_queue();
    let (store, _) = store_on(redis, &queue, Retention::default());
    let schedule = schedule(EVERY_MS);
    let first = Loop::start(&store, &schedule);
    wait_for_ticks(&store, &schedule, 2).await;
    first.stop().await;
    let before = ticks(&store, &schedule).await;
    let last_before = *before.last().expect("ticks before");

    // Down for five intervals or more.
    tokio::time::sleep(Duration::from_millis(5 * EVERY_MS.unsigned_abs())).await;
    let restart_ms = now_ms();
    let (again, _) = store_on(redis, &queue, Retention::default());
    let second = Loop::start(&again, &schedule);
    wait_for_ticks(&store, &schedule, before.len() + 3).await;
    second.stop().await;

    let all = ticks(&store, &schedule).await;
    let new: Vec<i64> = all.iter().copied().filter(|t| *t > last_before).collect();
    let missed = (restart_ms - last_before) / EVERY_MS;
    assert!(missed >= 5, "the loop was down for {missed} ticks");
    // Of the ticks missed while it was down, one job: the first of them, run late.
    let caught_up: Vec<i64> = new.iter().copied().filter(|t| *t <= restart_ms).collect();
    assert_eq!(caught_up, [last_before + EVERY_MS], "{all:?}");
    // After it, the ticks go on from the restart, one each.
    let after: Vec<i64> = new.iter().copied().filter(|t| *t > restart_ms).collect();
    assert!(after.len() >= 2, "{all:?}");
    assert!(after[0] - restart_ms <= EVERY_MS, "{all:?}");
    assert_consecutive(&after);
    assert_eq!(stream_len(&store, &queue).await, all.len());
    assert_eq!(fires(&schedule), all.len());
}

#[tokio::test]
async fn a_restart_neither_loses_nor_doubles_a_tick() {
    let redis = TestRedis::shared();
    let queue = unique_queue();
    let (store, _) = store_on(redis, &queue, Retention::default());
    let schedule = schedule(EVERY_MS);
    let first = Loop::start(&store, &schedule);
    let before = wait_for_ticks(&store, &schedule, 2).await.len();
    first.stop().await;
    // A new process at once: it declares the schedule again, which keeps its next tick.
    let (again, _) = store_on(redis, &queue, Retention::default());
    let second = Loop::start(&again, &schedule);
    wait_for_ticks(&store, &schedule, before + 3).await;
    second.stop().await;

    let all = ticks(&store, &schedule).await;
    assert_consecutive(&all);
    assert_eq!(stream_len(&store, &queue).await, all.len());
    assert_eq!(fires(&schedule), all.len());
}

#[tokio::test]
async fn declaring_again_keeps_the_next_tick_and_a_late_fire_skips_to_the_future() {
    let redis = TestRedis::shared();
    let (store, _) = store_on(redis, &unique_queue(), Retention::default());
    let schedule = schedule(60_000);
    let start = 1_800_000_000_000; // on the minute grid
    store
        .declare_schedules(std::slice::from_ref(&schedule), start + 1)
        .await
        .expect("declare");
    let next = |statuses: Vec<underwrite::queue::ScheduleStatus>| {
        statuses[0].next_run_at.timestamp_millis()
    };
    assert_eq!(next(store.schedules().await.expect("list")), start + 60_000);
    // Another process declaring it later (a restart) changes nothing.
    store
        .declare_schedules(std::slice::from_ref(&schedule), start + 200_000)
        .await
        .expect("declare");
    assert_eq!(next(store.schedules().await.expect("list")), start + 60_000);

    // Not due yet: nothing.
    assert_eq!(
        store
            .fire_schedule(&schedule, start + 59_999)
            .await
            .expect("look"),
        Tick::NotDue {
            next_run_at: start + 60_000
        }
    );
    // Ten minutes late: the due tick fires once, and the next is the next minute to come.
    let late = start + 60_000 * 10 + 5;
    let fired = store.fire_schedule(&schedule, late).await.expect("fire");
    assert_eq!(
        fired,
        Tick::Fired {
            job: JobId::of_tick(schedule.name(), start + 60_000),
            next_run_at: start + 60_000 * 11,
        }
    );
    assert_eq!(
        store.fire_schedule(&schedule, late).await.expect("look"),
        Tick::NotDue {
            next_run_at: start + 60_000 * 11
        }
    );
    assert_eq!(ticks(&store, &schedule).await, [start + 60_000]);
}

#[tokio::test]
async fn the_next_run_of_every_schedule_is_shown_by_the_api_and_the_cli() {
    let api = TestApi::spawn().await;
    let schedule = schedule(300_000)
        .with_jitter(Duration::from_secs(30))
        .expect("jitter");
    let now = now_ms();
    api.store
        .declare_schedules(std::slice::from_ref(&schedule), now)
        .await
        .expect("declare");

    let answer = api.get("/v1/schedules").send().await.expect("GET");
    assert_eq!(answer.status(), StatusCode::OK);
    let body: Value = answer.json().await.expect("JSON");
    let listed = &body["schedules"][0];
    assert_eq!(listed["name"], schedule.name());
    assert_eq!(listed["kind"], Ping::KIND);
    assert_eq!(listed["every_ms"], 300_000);
    assert_eq!(listed["jitter_ms"], 30_000);
    let next_run: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(listed["next_run_at"].clone()).expect("a time");
    let tick = (now + 300_000 - 1) / 300_000 * 300_000;
    let offset = next_run.timestamp_millis() - tick;
    assert!(
        (0..30_000).contains(&offset),
        "next run {next_run}, tick {tick}"
    );
    assert!(listed.get("last_run_at").is_none(), "{listed}");

    // The CLI reads the same record from Redis.
    let queue = unique_queue();
    let (store, _) = store_on(TestRedis::shared(), &queue, Retention::default());
    store
        .declare_schedules(std::slice::from_ref(&schedule), now)
        .await
        .expect("declare");
    let mut cmd = underwrite(&TestRedis::shared().url(), &queue);
    cmd.args(["schedules", "--json"]);
    let output = run(cmd);
    assert!(output.status.success(), "{}", output.stderr);
    let printed: Value = serde_json::from_str(&output.stdout).expect("JSON on stdout");
    assert_eq!(printed[0]["name"], schedule.name());
    assert_eq!(printed[0]["next_run_at"], listed["next_run_at"]);

    let mut cmd = underwrite(&TestRedis::shared().url(), &queue);
    cmd.arg("schedules");
    let table = run(cmd);
    assert!(table.status.success(), "{}", table.stderr);
    assert!(table.stdout.contains(schedule.name()), "{}", table.stdout);
    assert!(table.stdout.contains("5m"), "{}", table.stdout);
}

#[tokio::test]
async fn a_queue_without_schedules_lists_none_rather_than_failing() {
    let redis = TestRedis::shared();
    let (store, _) = store_on(redis, &unique_queue(), Retention::default());
    assert!(store.schedules().await.expect("listed").is_empty());
}
