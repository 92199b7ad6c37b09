//! `underwrite demo`, run as a user runs it: every event it raises reaches a receiver of
//! the test's own and verifies with the test's own HMAC code.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngExt;

use crate::helpers::process::run_to_success;
use crate::helpers::receiver::{Receiver, independently_verified};
use crate::helpers::redis::TestRedis;

#[tokio::test]
async fn every_delivery_of_a_demo_run_verifies_independently() {
    let redis = TestRedis::shared();
    let receiver = Receiver::start("127.0.0.1:0".parse().expect("addr")).await;
    let key: [u8; 32] = rand::rng().random();
    let secret = format!("whsec_{}", STANDARD.encode(key));
    let stdout = run_to_success(
        &[
            "demo",
            "--also-webhook",
            &receiver.url(),
            "--also-webhook-secret",
            &secret,
        ],
        &redis.url(),
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
}
