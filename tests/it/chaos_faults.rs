//! `underwrite chaos vendor-faults` and `chaos receiver-down`, short forms: vendors that
//! fail a third to half of their calls (Proteger, Tulip and Billing-Robo at once, the last
//! behind a real rate limit), and a receiver that is gone for a few seconds, lose nothing,
//! duplicate nothing, miss no webhook and breach no limit. Plus the sink's outage itself.

use std::time::Duration;

use underwrite::webhooks::signing::Secret;
use underwrite::webhooks::sink::{self, SinkConfig};

use crate::helpers::process::run_to_success;
use crate::helpers::redis::TestRedis;

/// Runs `underwrite chaos <args>` on the shared test Redis; its stdout, once it succeeded.
async fn chaos(args: &[&str]) -> String {
    let args: Vec<&str> = std::iter::once("chaos")
        .chain(args.iter().copied())
        .collect();
    run_to_success(&args, &TestRedis::shared().url()).await
}

/// The number just before `label` in the printed details (`"40 faults injected"`).
fn count_before(stdout: &str, label: &str) -> u64 {
    let before = stdout
        .split(label)
        .next()
        .filter(|before| before.len() < stdout.len())
        .unwrap_or_else(|| panic!("no `{label}` in: {stdout}"));
    before
        .trim_end()
        .rsplit([' ', '(', ';'])
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count before `{label}` in: {stdout}"))
}

#[tokio::test]
async fn chaos_vendor_faults_short_form_is_clean() {
    let stdout = chaos(&[
        "vendor-faults",
        "--jobs",
        "240",
        "--vendor-latency-ms",
        "200",
        "--patience-secs",
        "60",
    ])
    .await;
    // 204 Proteger contracts, 24 Tulip contracts, 12 applications and their 12 decisions.
    assert!(
        stdout.contains("252 jobs, 0 lost, 0 duplicated, 0 webhooks missing"),
        "{stdout}"
    );
    assert!(
        stdout.contains("204 Proteger contracts, 24 Tulip contracts, 12 Billing-Robo applications"),
        "{stdout}"
    );
    assert!(count_before(&stdout, "faults injected") > 0, "{stdout}");
    // The faults cost attempts, which were retried.
    assert!(count_before(&stdout, "retries") > 0, "{stdout}");
    // Each vendor drew faults; Billing-Robo's limit held, over more calls than it allows.
    let after = |label: &str| {
        &stdout[stdout
            .find(label)
            .unwrap_or_else(|| panic!("no {label}: {stdout}"))..]
    };
    assert!(
        count_before(after("Tulip: "), "faults injected") > 0,
        "{stdout}"
    );
    assert!(
        count_before(after("Billing-Robo: "), "faults injected") > 0,
        "{stdout}"
    );
    assert!(
        count_before(after("Billing-Robo: "), "calls,") > 5,
        "{stdout}"
    );
    assert_eq!(count_before(&stdout, "breaches"), 0, "{stdout}");
}

#[tokio::test]
async fn chaos_receiver_down_short_form_is_clean() {
    let stdout = chaos(&[
        "receiver-down",
        "--jobs",
        "300",
        "--down-secs",
        "3",
        "--vendor-latency-ms",
        "100",
        "--patience-secs",
        "60",
    ])
    .await;
    assert!(
        stdout.contains("300 jobs, 0 lost, 0 duplicated, 0 webhooks missing"),
        "{stdout}"
    );
    assert!(count_before(&stdout, "connections refused") > 0, "{stdout}");
    assert!(
        count_before(&stdout, "delivery attempts failed") > 0,
        "{stdout}"
    );
    assert!(
        count_before(&stdout, "events arrived after it came back") > 0,
        "{stdout}"
    );
}

#[tokio::test]
async fn chaos_sink_goes_down_and_comes_back_with_what_it_had() {
    let mut sink = sink::spawn(
        "127.0.0.1:0".parse().expect("address"),
        SinkConfig::new(vec![Secret::generate()]),
    )
    .await
    .expect("sink");
    let addr = sink.addr;
    let client = reqwest::Client::new();
    // Unsigned, so refused with 400, but recorded all the same.
    let answer = client
        .post(sink.url())
        .body("{}")
        .send()
        .await
        .expect("post");
    assert_eq!(answer.status(), 400);

    sink.go_down().await;
    assert!(!sink.is_up());
    let refused = tokio::net::TcpStream::connect(addr)
        .await
        .expect_err("nobody listens");
    assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
    assert!(
        client
            .post(sink.url())
            .timeout(Duration::from_secs(2))
            .send()
            .await
            .is_err()
    );

    sink.come_up().await.expect("listens again");
    assert!(sink.is_up());
    assert_eq!(sink.addr, addr);
    let answer = client
        .post(sink.url())
        .body("{}")
        .send()
        .await
        .expect("post");
    assert_eq!(answer.status(), 400);
    assert_eq!(
        sink.counts().received,
        2,
        "what came before the outage stays"
    );
    sink.shutdown().await;
}
