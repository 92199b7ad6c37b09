//! `underwrite chaos kill`, short form: workers SIGKILLed mid-run lose nothing, duplicate
//! nothing and miss no webhook.

use crate::helpers::process::run_to_success;
use crate::helpers::redis::TestRedis;

#[tokio::test]
async fn chaos_kill_short_form_is_clean() {
    let redis = TestRedis::shared();
    // A kill every 2 s, the scenario's design point (its poison threshold of 10 is set for
    // it): every second, on a machine loaded by other builds, a slow batch can be caught
    // ten times and be buried by the poison rule, which is the rule working, not a loss.
    let stdout = run_to_success(
        &[
            "chaos",
            "kill",
            "--jobs",
            "2000",
            "--every-secs",
            "2",
            "--patience-secs",
            "120",
        ],
        &redis.url(),
    )
    .await;
    assert!(
        stdout.contains("2000 jobs, 0 lost, 0 duplicated, 0 webhooks missing"),
        "{stdout}"
    );
    let kills: u32 = stdout
        .split(" SIGKILLs")
        .next()
        .and_then(|before| before.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .expect("kill count");
    assert!(
        stdout.contains("1350 creates, 200 quotes, 200 cancels, 200 Tulip contracts (200 stored, "),
        "{stdout}"
    );
    assert!(
        stdout.contains("25 Billing-Robo applications and their decisions"),
        "{stdout}"
    );
    assert!(kills >= 1, "no worker was killed: {stdout}");
}

/// `underwrite chaos poison`, short form: corrupt jobs written straight into Redis are
/// buried, the good contracts around them (some in the same batch) all succeed, and no
/// worker dies of what it was fed.
#[tokio::test]
async fn chaos_poison_short_form_buries_every_corrupt_job() {
    let redis = TestRedis::shared();
    let stdout = run_to_success(
        &[
            "chaos",
            "poison",
            "--jobs",
            "300",
            "--vendor-latency-ms",
            "50",
            "--patience-secs",
            "60",
        ],
        &redis.url(),
    )
    .await;
    assert!(
        stdout.contains("chaos poison: 310 jobs, 0 lost, 0 duplicated, 0 webhooks missing"),
        "{stdout}"
    );
    assert!(stdout.contains("10 corrupt jobs, 10 buried"), "{stdout}");
}
