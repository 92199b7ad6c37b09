//! `/metrics` as an SRE reads it: every family the dashboards and alerts use has series
//! from the start (at 0), labels come from fixed sets, and a workload moves the numbers:
//! vendor calls by outcome, finished jobs, queue waits, the sampled depth per kind.

use std::time::Duration;

use underwrite::producer::Submission;
use underwrite::queue::JobState;
use underwrite::vendors::proteger::jobs::CreateContract;
use underwrite::vendors::proteger::sandbox::{ProtegerSandboxConfig, sample_contract};

use crate::helpers::api::TestApi;
use crate::helpers::redis::{TestRedis, unique_queue};
use crate::helpers::worker::wait_for_state;
use crate::helpers::world::World;

async fn scrape(api: &TestApi) -> String {
    api.anonymous(reqwest::Method::GET, "/metrics")
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text")
}

/// The value of the series whose line starts with `name{` and holds every `label`.
fn value(text: &str, name: &str, labels: &[&str]) -> Option<f64> {
    text.lines()
        .filter(|line| {
            line.starts_with(&format!("{name}{{")) || line.starts_with(&format!("{name} "))
        })
        .find(|line| labels.iter().all(|label| line.contains(label)))
        .and_then(|line| line.rsplit(' ').next()?.parse().ok())
}

#[tokio::test]
async fn every_family_has_its_series_before_the_first_event() {
    // The real start-up (API and workers), which creates the series.
    let redis = TestRedis::shared();
    let mut settings = crate::helpers::api::settings("metrics-token");
    settings.redis.url = redis.url();
    settings.redis.queue = unique_queue();
    let app = underwrite::startup::spawn_for_tests(settings)
        .await
        .expect("app starts");
    let text = reqwest::get(format!("{}/metrics", app.base_url()))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    let expected: &[(&str, &[&str])] = &[
        (
            "underwrite_jobs_finished_total",
            &[r#"kind="proteger.contract.batch""#, r#"outcome="dead""#],
        ),
        (
            "underwrite_job_attempts_total",
            &[r#"kind="billing_robo.credit.poll""#, r#"result="crashed""#],
        ),
        (
            "underwrite_job_queue_wait_seconds_count",
            &[r#"kind="tulip.contract.create""#],
        ),
        ("underwrite_jobs_in_flight", &[r#"kind="webhook.delivery""#]),
        (
            "underwrite_vendor_requests_total",
            &[
                r#"vendor="billing_robo""#,
                r#"operation="bulk_register""#,
                r#"outcome="http_429""#,
            ],
        ),
        (
            "underwrite_vendor_requests_total",
            &[
                r#"vendor="tulip""#,
                r#"operation="create_contract""#,
                r#"outcome="timeout""#,
            ],
        ),
        (
            "underwrite_vendor_requests_total",
            &[
                r#"vendor="proteger""#,
                r#"operation="create_contracts_bulk""#,
                r#"outcome="connect_error""#,
            ],
        ),
        (
            "underwrite_vendor_credential_failures_total",
            &[r#"vendor="tulip""#],
        ),
        (
            "underwrite_webhook_attempts_total",
            &[r#"outcome="ssrf_refused""#],
        ),
        (
            "underwrite_webhook_given_up_total",
            &[r#"reason="exhausted""#],
        ),
        (
            "underwrite_credit_decisions_total",
            &[r#"decision="expired""#],
        ),
        ("underwrite_credit_applications_pending", &[]),
        ("underwrite_build_info", &["version="]),
        ("underwrite_redis_up", &[]),
    ];
    for (name, labels) in expected {
        assert!(
            value(&text, name, labels).is_some(),
            "{name} {labels:?} missing from:\n{text}"
        );
    }
    assert!(
        text.contains("process_resident_memory_bytes"),
        "process metrics"
    );
    // Labels from fixed sets: no job id, no URL, no raw status code.
    assert!(!text.contains("http://"), "a URL became a label");
    assert!(!text.contains(r#"outcome="http_500""#));
    app.stop().await.expect("stops");
}

#[tokio::test]
async fn a_workload_counts_vendor_calls_finished_jobs_and_waits() {
    let world = World::start(ProtegerSandboxConfig::default(), |_| {}).await;
    let api = TestApi::spawn().await;
    let before = scrape(&api).await;
    let created = r#"kind="proteger.contract.create""#;
    let ok_calls = |text: &str| {
        value(
            text,
            "underwrite_vendor_requests_total",
            &[
                r#"vendor="proteger""#,
                r#"operation="create_contracts_bulk""#,
                r#"outcome="ok""#,
            ],
        )
        .unwrap_or(0.0)
    };
    let finished = |text: &str| {
        value(
            text,
            "underwrite_jobs_finished_total",
            &[created, r#"outcome="succeeded""#],
        )
        .unwrap_or(0.0)
    };
    let waits = |text: &str| {
        value(
            text,
            "underwrite_job_queue_wait_seconds_count",
            &[r#"kind="proteger.contract.batch""#],
        )
        .unwrap_or(0.0)
    };
    let ids = world
        .producer
        .submit(
            &underwrite::queue::AppName::default_app(),
            (0..3)
                .map(|i| Submission::new(CreateContract(sample_contract(&format!("metrics-{i}")))))
                .collect(),
            None,
        )
        .await
        .expect("submit")
        .job_ids;
    for id in &ids {
        wait_for_state(
            &world.store,
            id,
            JobState::Succeeded,
            Duration::from_secs(30),
        )
        .await;
    }
    let after = scrape(&api).await;
    assert!(
        ok_calls(&after) > ok_calls(&before),
        "no vendor call counted"
    );
    assert!(
        finished(&after) >= finished(&before) + 3.0,
        "members not counted as finished"
    );
    assert!(waits(&after) > waits(&before), "no queue wait observed");
    world.stop().await;
}
