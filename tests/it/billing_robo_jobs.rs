//! Billing-Robo end to end: producer → queue → batcher → workers → the sandbox over HTTP,
//! and the producer API's refusals.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use underwrite::config::Settings;
use underwrite::producer::Submission;
use underwrite::queue::{JobId, JobRecord, JobState};
use underwrite::vendors::billing_robo::jobs::ApplyCredit;
use underwrite::vendors::billing_robo::sandbox::ServedBillingRobo;
use underwrite::vendors::billing_robo::types::{ApiVersion, CreditApplication, today_jst};
use underwrite::vendors::proteger::sandbox::ProtegerSandboxConfig;

use crate::billing_robo_sandbox::{ACCESS_KEY, USER_ID, config, item, start};
use crate::helpers::api::TestApi;
use crate::helpers::worker::wait_for;
use crate::helpers::world::World;

const WITHIN: Duration = Duration::from_secs(30);

/// The workers pointed at a Billing-Robo sandbox of the seed's API.
async fn world() -> (World, ServedBillingRobo) {
    let sandbox = start(config()).await;
    let url = sandbox.url();
    let world = World::start(
        ProtegerSandboxConfig::default(),
        |settings: &mut Settings| {
            settings.set_vendor("billing_robo", "base_url", url);
            settings.set_vendor("billing_robo", "linger_ms", 300);
            settings.set_vendor("billing_robo", "timeout_ms", 2_000);
            settings
                .secrets
                .set_vendor("billing_robo", "user_id", USER_ID);
            settings
                .secrets
                .set_vendor("billing_robo", "access_key", ACCESS_KEY);
        },
    )
    .await;
    (world, sandbox)
}

fn application(code: &str) -> CreditApplication {
    CreditApplication::parse(&item(code), ApiVersion::Seed, today_jst()).expect("valid")
}

async fn submit(world: &World, codes: &[&str]) -> Vec<JobId> {
    let submissions = codes
        .iter()
        .map(|code| Submission::new(ApplyCredit(application(code))))
        .collect();
    world
        .producer
        .submit(
            &underwrite::queue::AppName::default_app(),
            submissions,
            None,
        )
        .await
        .expect("submit")
        .job_ids
}

async fn all_final(world: &World, ids: &[JobId]) -> Vec<JobRecord> {
    let mut records = Vec::new();
    for id in ids {
        records.push(wait_for(&world.store, id, WITHIN, |r| r.state.is_final()).await);
    }
    records
}

#[tokio::test]
async fn billing_robo_applications_go_out_in_one_bulk_call_and_each_job_gets_its_application() {
    let (world, sandbox) = world().await;
    let codes = ["cust-a", "cust-b", "cust-c", "cust-d", "cust-e"];
    let ids = submit(&world, &codes).await;
    let records = all_final(&world, &ids).await;
    for (record, code) in records.iter().zip(codes) {
        assert_eq!(record.state, JobState::Succeeded, "{record:?}");
        let result = record.result.as_ref().expect("the application");
        assert_eq!(result["billing_code"], json!(code));
        assert!(result["id"].as_u64().is_some(), "{result}");
        assert_eq!(result["status"], json!(2), "pending");
        assert!(record.batch.is_some());
    }
    let effects = sandbox.billing_robo.effects();
    assert_eq!(effects.register_calls, 1, "{effects:?}");
    assert_eq!(effects.applications_registered, 5);
    world.stop().await;
}

#[tokio::test]
async fn billing_robo_an_unknown_customer_fails_alone_and_the_others_apply() {
    let (world, sandbox) = world().await;
    let codes = ["cust-1", "stranger", "cust-2"];
    let ids = submit(&world, &codes).await;
    let records = all_final(&world, &ids).await;
    assert_eq!(records[1].state, JobState::Failed, "{:?}", records[1]);
    let error = records[1].last_error.as_ref().expect("the refusal");
    assert!(error.message.contains("5401"), "{error:?}");
    assert!(error.message.contains("stranger"), "{error:?}");
    for record in [&records[0], &records[2]] {
        assert_eq!(record.state, JobState::Succeeded, "{record:?}");
        assert!(
            record.result.as_ref().expect("application")["id"]
                .as_u64()
                .is_some()
        );
    }
    assert_eq!(sandbox.billing_robo.effects().applications_registered, 2);
    world.stop().await;
}

#[tokio::test]
async fn billing_robo_a_resent_application_answered_already_applied_succeeds() {
    let (world, sandbox) = world().await;
    let first = submit(&world, &["cust-r"]).await;
    let first = all_final(&world, &first).await;
    assert_eq!(first[0].state, JobState::Succeeded, "{:?}", first[0]);
    let again = submit(&world, &["cust-r"]).await;
    let again = all_final(&world, &again).await;
    assert_eq!(again[0].state, JobState::Succeeded, "{:?}", again[0]);
    let result = again[0].result.as_ref().expect("result");
    assert_eq!(result["already_applied"], json!(true), "{result}");
    assert_eq!(result["code"], json!(5411));
    assert_eq!(sandbox.billing_robo.effects().applications_registered, 1);
    world.stop().await;
}

#[tokio::test]
async fn billing_robo_the_api_refuses_a_bad_field_with_the_vendor_code() {
    let api = TestApi::spawn().await;
    let mut bad = item("cust-1");
    bad["billing_code"] = json!("x".repeat(21));
    let refused = api
        .post("/v1/billing-robo/credit-applications")
        .json(&bad)
        .send()
        .await
        .expect("answered");
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = refused.json().await.expect("json");
    let shown = body.to_string();
    assert!(shown.contains("billing_code"), "{shown}");
    assert!(shown.contains("Billing-Robo would answer 5403"), "{shown}");

    let twice = api
        .post("/v1/billing-robo/credit-applications/bulk")
        .json(&json!({"applications": [item("cust-1"), item("cust-1")]}))
        .send()
        .await
        .expect("answered");
    assert_eq!(twice.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let shown = twice.text().await.expect("text");
    assert!(shown.contains("applications[1].billing_code"), "{shown}");
    assert!(api.all_jobs().await.is_empty(), "nothing enqueued");

    let mut one = item("cust-1");
    one["reference"] = json!("order-1");
    let accepted = api
        .post("/v1/billing-robo/credit-applications")
        .json(&one)
        .send()
        .await
        .expect("answered");
    assert_eq!(accepted.status(), StatusCode::ACCEPTED);
    let bulk = api
        .post("/v1/billing-robo/credit-applications/bulk")
        .json(&json!({"applications": [item("cust-2"), item("cust-3")]}))
        .send()
        .await
        .expect("answered");
    assert_eq!(bulk.status(), StatusCode::ACCEPTED);
    let jobs = api.all_jobs().await;
    assert_eq!(jobs.len(), 3);
    assert!(jobs.iter().all(|j| j.kind == "billing_robo.credit.apply"));
}
