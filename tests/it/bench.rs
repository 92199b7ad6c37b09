//! `underwrite bench e2e`, `trickle`, `retention` and `noop`, short forms: they run to the
//! end and their JSON lines hold what the README promises (no duplicate, no missing
//! webhook, retention gives the memory back). No timing is asserted: CI machines vary too
//! much.

use serde_json::Value;

use crate::helpers::process::run_to_success;
use crate::helpers::redis::TestRedis;

/// Runs `underwrite bench <args>` against `redis_url` and returns its JSON line.
async fn bench(redis_url: &str, args: &[&str]) -> Value {
    let args: Vec<&str> = std::iter::once("bench")
        .chain(args.iter().copied())
        .collect();
    let stdout = run_to_success(&args, redis_url).await;
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .unwrap_or_else(|| panic!("no JSON line in:\n{stdout}"));
    serde_json::from_str(line).expect("JSON line")
}

#[tokio::test]
async fn bench_e2e_short_form_loses_and_duplicates_nothing() {
    let redis = TestRedis::shared();
    let report = bench(&redis.url(), &["e2e", "--jobs", "200"]).await;
    assert_eq!(report["bench"], "e2e", "{report}");
    assert_eq!(report["contracts"], 200, "{report}");
    assert_eq!(report["complete"], true, "{report}");
    assert_eq!(report["duplicates"], 0, "{report}");
    assert_eq!(report["webhooks_verified"], 200, "{report}");
    assert_eq!(report["webhooks_missing"], 0, "{report}");
    assert_eq!(report["webhooks_rejected"], 0, "{report}");
    // Batches of up to 10: at most one call per contract, at least one per 10.
    let calls = report["vendor_calls_per_1000"].as_f64().expect("calls");
    assert!((100.0..=1000.0).contains(&calls), "{report}");
    assert!(
        report["p50_ms"].as_f64().is_some_and(|ms| ms > 0.0),
        "{report}"
    );
    assert!(
        report["idle_samples"].as_u64().is_some_and(|n| n > 0),
        "{report}"
    );
    for rss in ["worker_peak_rss_mib", "api_peak_rss_mib"] {
        assert!(
            report[rss].as_f64().is_some_and(|mib| mib > 0.0),
            "{report}"
        );
    }
}

/// `bench e2e --vendor tulip`: Tulip contracts, one per request, each confirmed by a
/// verified `tulip.contract.created` webhook, none stored twice, one vendor call each.
#[tokio::test]
async fn bench_e2e_tulip_short_form_loses_and_duplicates_nothing() {
    let redis = TestRedis::shared();
    let report = bench(&redis.url(), &["e2e", "--vendor", "tulip", "--jobs", "100"]).await;
    assert_eq!(report["bench"], "e2e", "{report}");
    assert_eq!(report["vendor"], "tulip", "{report}");
    assert_eq!(report["contracts"], 100, "{report}");
    assert_eq!(report["contracts_per_request"], 1, "{report}");
    assert_eq!(report["complete"], true, "{report}");
    assert_eq!(report["duplicates"], 0, "{report}");
    assert_eq!(report["webhooks_verified"], 100, "{report}");
    assert_eq!(report["webhooks_missing"], 0, "{report}");
    assert_eq!(report["webhooks_rejected"], 0, "{report}");
    // No faults: exactly one `POST /contracts` per contract.
    assert_eq!(report["vendor_calls_per_1000"], 1000.0, "{report}");
    assert!(
        report["contracts_per_s"].as_f64().is_some_and(|r| r > 0.0),
        "{report}"
    );
}

#[tokio::test]
async fn bench_e2e_refuses_an_unknown_vendor() {
    let redis = TestRedis::shared();
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_underwrite"))
        .args(["bench", "e2e", "--vendor", "nobody", "--jobs", "1"])
        .env("UNDERWRITE_REDIS_URL", redis.url())
        .env_remove("UNDERWRITE_CONFIG")
        .output()
        .await
        .expect("run underwrite");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("unknown vendor `nobody`"), "{stderr}");
}

#[tokio::test]
async fn bench_retention_short_form_gives_the_memory_back() {
    // A server of its own: `used_memory` is server-wide, and other tests write to the
    // shared one meanwhile.
    let redis = TestRedis::start(&[]);
    let report = bench(&redis.url(), &["retention", "--jobs", "500"]).await;
    assert_eq!(report["bench"], "retention", "{report}");
    let per_job = report["bytes_per_retained_job"].as_f64().expect("bytes");
    assert!(per_job > 100.0, "records were not retained: {report}");
    // 500 records left behind would be some 400 KB; client buffers and the like move by
    // a few tens of KB.
    let left = report["left_bytes"].as_i64().expect("left");
    assert!(left < 128 * 1024, "{report}");
    let keys = report["keys_left"].as_array().expect("keys");
    assert!(
        keys.iter()
            .all(|k| !k.as_str().unwrap_or("").ends_with(", new)")),
        "keys appeared and stayed: {report}"
    );
}

/// `bench noop` runs our backend and, in the same run, the apalis-redis baseline: both
/// drain every job and the ratios are reported.
#[tokio::test]
async fn bench_noop_runs_ours_and_the_apalis_redis_baseline() {
    let redis = TestRedis::start(&[]);
    let report = bench(
        &redis.url(),
        &["noop", "--jobs", "3000", "--concurrency", "16"],
    )
    .await;
    assert_eq!(report["bench"], "noop", "{report}");
    assert!(
        report["drain_per_s"].as_f64().expect("ours") > 0.0,
        "{report}"
    );
    let baseline = &report["baseline"];
    assert_eq!(baseline["error"], Value::Null, "{report}");
    assert_eq!(baseline["drained_jobs"], 3000, "{report}");
    assert!(
        report["ratio_drain"].as_f64().expect("ratio") > 0.0,
        "{report}"
    );
    // Both clean up after themselves.
    let client = redis::Client::open(redis.url()).expect("client");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("connect");
    let keys: u64 = redis::cmd("DBSIZE")
        .query_async(&mut conn)
        .await
        .expect("dbsize");
    assert_eq!(keys, 0, "keys left behind");
}

/// `bench trickle` runs with the linger and without, each contract sent alone, and both
/// runs lose, duplicate and leave behind nothing. Calls per 1,000 are only bounded by what
/// batches of 1 to 10 allow: how many share a batch depends on timing, which is the
/// benchmark's to measure, not this test's.
#[tokio::test]
async fn bench_trickle_short_form_runs_both_ways_and_cleans_up() {
    let redis = TestRedis::start(&[]);
    let report = bench(&redis.url(), &["trickle", "--jobs", "30"]).await;
    assert_eq!(report["bench"], "trickle", "{report}");
    assert_eq!(report["complete"], true, "{report}");
    for (run, linger_ms) in [("linger_on", 250), ("linger_off", 0)] {
        let run = &report[run];
        assert_eq!(run["linger_ms"], linger_ms, "{report}");
        assert_eq!(run["contracts"], 30, "{report}");
        assert_eq!(run["duplicates"], 0, "{report}");
        assert_eq!(run["webhooks_verified"], 30, "{report}");
        assert_eq!(run["webhooks_missing"], 0, "{report}");
        let calls = run["vendor_calls_per_1000"].as_f64().expect("calls");
        assert!((100.0..=1000.0).contains(&calls), "{report}");
        assert!(
            run["p50_ms"].as_f64().is_some_and(|ms| ms > 0.0),
            "{report}"
        );
    }
    assert!(report["added_p50_ms"].is_number(), "{report}");
    let client = redis::Client::open(redis.url()).expect("client");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("connect");
    let keys: u64 = redis::cmd("DBSIZE")
        .query_async(&mut conn)
        .await
        .expect("dbsize");
    assert_eq!(keys, 0, "keys left behind");
}
