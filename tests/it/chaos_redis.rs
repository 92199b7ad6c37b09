//! `underwrite chaos redis-restart`, short form: Redis (AOF, `appendfsync always`) SIGKILLed
//! and restarted mid-run loses no accepted job, duplicates nothing, misses no webhook, and
//! the workers settle jobs again within 5 s of Redis answering.
//!
//! The scenario starts and kills a Redis of its own; the configured URL points at a port
//! where nothing listens, so no other Redis (127.0.0.1:6379 included) can be touched.

use crate::helpers::process::run_to_success;
use crate::helpers::redis::free_port;

#[tokio::test]
async fn chaos_redis_restart_short_form_is_clean() {
    let nowhere = format!("redis://127.0.0.1:{}/", free_port());
    let stdout = run_to_success(
        &[
            "chaos",
            "redis-restart",
            "--jobs",
            "600",
            "--vendor-latency-ms",
            "50",
            "--patience-secs",
            "60",
        ],
        &nowhere,
    )
    .await;
    assert!(
        stdout
            .contains("chaos redis-restart: 600 jobs, 0 lost, 0 duplicated, 0 webhooks missing ("),
        "{stdout}"
    );
    assert!(
        stdout.contains("Redis SIGKILLed with ") && stdout.contains(" answered PING again "),
        "no restart: {stdout}"
    );
    let resumed: f64 = stdout
        .split("workers resumed ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|secs| secs.parse().ok())
        .expect("resume time printed");
    assert!(resumed <= 5.0, "{stdout}");
}
