//! `underwrite demo`, run as a user runs it: every event it raises reaches a receiver of
//! the test's own and verifies with the test's own HMAC code.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngExt;

use underwrite::demo::DEMO_BILLING_ROBO_KEY;

use crate::helpers::process::run_logged;
use crate::helpers::receiver::{Receiver, independently_verified};
use crate::helpers::redis::TestRedis;

#[tokio::test]
async fn every_delivery_of_a_demo_run_verifies_independently() {
    let redis = TestRedis::shared();
    let receiver = Receiver::start("127.0.0.1:0".parse().expect("addr")).await;
    let key: [u8; 32] = rand::rng().random();
    let secret = format!("whsec_{}", STANDARD.encode(key));
    // Every log line the demo writes at debug level, to look for the vendor's key below.
    let (stdout, logs) = run_logged(
        &[
            "demo",
            "--also-webhook",
            &receiver.url(),
            "--also-webhook-secret",
            &secret,
        ],
        &redis.url(),
        "debug",
    )
    .await;
    // "webhooks: 27 of 27 delivered, all verified" (the count follows what the demo sent).
    let expected: usize = stdout
        .split("webhooks: ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .expect("the demo's webhook summary");
    assert!(expected >= 20, "{stdout}");
    assert_eq!(receiver.distinct_ids(), expected);
    for delivery in receiver.received() {
        assert!(
            independently_verified(&secret, &delivery),
            "delivery {} does not verify",
            delivery.id
        );
    }
    // Billing-Robo's decisions came too, and its access key (which the vendor echoes in
    // every answer) is in no webhook, no output and no log line.
    let bodies: Vec<String> = receiver
        .received()
        .iter()
        .map(|d| String::from_utf8_lossy(&d.body).into_owned())
        .collect();
    for event in [
        "billing_robo.credit.approved",
        "billing_robo.credit.rejected",
    ] {
        assert!(bodies.iter().any(|b| b.contains(event)), "no {event}");
    }
    assert!(logs.contains("DEBUG") || logs.contains("debug"), "{logs}");
    for text in bodies.iter().chain([&stdout, &logs]) {
        assert!(
            !text.contains(DEMO_BILLING_ROBO_KEY),
            "the access key leaked: {text}"
        );
    }
}

#[tokio::test]
async fn a_reader_that_stops_reading_ends_the_demo_quietly_and_clean() {
    use std::io::Read;
    use std::process::{Command, Stdio};

    let redis = TestRedis::start(&[]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_underwrite"))
        .arg("demo")
        .env("UNDERWRITE_REDIS_URL", redis.url())
        .env("UNDERWRITE_LOG", "error")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("demo starts");
    // Read the first line, then close the pipe, as `| head -1` does.
    let mut stdout = child.stdout.take().expect("stdout");
    let mut first = [0u8; 16];
    stdout.read_exact(&mut first).expect("the demo prints");
    drop(stdout);
    let status = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .expect("join")
        .expect("demo ends");
    let stderr = String::from_utf8_lossy(&status.stderr);
    assert!(status.status.success(), "{:?}: {stderr}", status.status);
    assert!(!stderr.contains("panicked"), "{stderr}");
    // Its keys are gone from this Redis: the cleanup ran.
    let client = redis::Client::open(redis.url()).expect("client");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("connect");
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("*demo-*")
        .query_async(&mut conn)
        .await
        .expect("KEYS");
    assert!(keys.is_empty(), "left behind: {keys:?}");
}
