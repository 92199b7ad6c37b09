//! `underwrite chaos redis-restart`, short form: Redis (AOF, `appendfsync always`) SIGKILLed
//! and restarted mid-run loses no accepted job, duplicates nothing, misses no webhook, and
//! the workers settle jobs again within 5 s of Redis answering.
//!
//! The scenario starts and kills a Redis of its own; the configured URL points at a port
//! where nothing listens, so no other Redis (127.0.0.1:6379 included) can be touched.

use crate::helpers::redis::free_port;

#[tokio::test]
async fn chaos_redis_restart_short_form_is_clean() {
    let nowhere = format!("redis://127.0.0.1:{}/", free_port());
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_underwrite"))
        .args([
            "chaos",
            "redis-restart",
            "--jobs",
            "600",
            "--vendor-latency-ms",
            "50",
            "--patience-secs",
            "60",
        ])
        .env("UNDERWRITE_REDIS_URL", &nowhere)
        .env_remove("UNDERWRITE_REDIS_QUEUE")
        .output()
        .await
        .expect("run chaos");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
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
