//! Tulip end to end: producer → queue → workers → the sandbox over HTTP, on a real
//! redis-server: quote versus create, cancellation versus termination, the "never twice"
//! rule under stalls after the contract was stored, and the back-off on 99888 and 429.

use std::time::Duration;

use chrono::Utc;
use serde_json::json;
use underwrite::config::Settings;
use underwrite::producer::Submission;
use underwrite::queue::{JobId, JobRecord, JobState};
use underwrite::vendors::proteger::sandbox::ProtegerSandboxConfig;
use underwrite::vendors::tulip::jobs::{
    CancelContract, CreateContract, QuoteContract, SentMarks, reference,
};
use underwrite::vendors::tulip::sandbox::{Fault, Phase, ServedTulip, StallThen, Switches};
use underwrite::vendors::tulip::types::{ContractRequest, Mode, Rules};

use crate::helpers::worker::wait_for;
use crate::helpers::world::World;
use crate::tulip_sandbox::{KEY, config, lcd, start};

const WITHIN: Duration = Duration::from_secs(30);

/// The workers pointed at a Tulip sandbox, with a client timeout of 1 s.
async fn world() -> (World, ServedTulip) {
    let sandbox = start(config()).await;
    let url = sandbox.url();
    let world = World::start(
        ProtegerSandboxConfig::default(),
        |settings: &mut Settings| {
            settings.set_vendor("tulip", "base_url", url);
            settings.set_vendor("tulip", "timeout_ms", 1_000);
            settings.secrets.set_vendor("tulip", "api_key", KEY);
        },
    )
    .await;
    (world, sandbox)
}

fn request(uid: &str) -> ContractRequest {
    ContractRequest::parse(&lcd(uid), &Rules::new(Mode::Create, Utc::now())).expect("valid")
}

async fn submit_create(world: &World, uid: &str) -> JobId {
    let submission = Submission::new(CreateContract(request(uid)));
    world
        .producer
        .submit(
            &underwrite::queue::AppName::default_app(),
            vec![submission],
            None,
        )
        .await
        .expect("submit")
        .job_ids[0]
}

async fn finished(world: &World, id: &JobId) -> JobRecord {
    wait_for(&world.store, id, WITHIN, |r| r.state.is_final()).await
}

#[tokio::test]
async fn tulip_a_quote_prices_without_creating_and_a_creation_creates() {
    let (world, sandbox) = world().await;
    let quote = Submission::new(QuoteContract(request("renter-qc")));
    let quote = world
        .producer
        .submit(
            &underwrite::queue::AppName::default_app(),
            vec![quote],
            None,
        )
        .await
        .expect("submit")
        .job_ids[0];
    let quote = finished(&world, &quote).await;
    assert_eq!(quote.state, JobState::Succeeded, "{quote:?}");
    let result = quote.result.as_ref().expect("the quote");
    assert_eq!(result["price"], json!(4.0), "{result}");
    assert!(result["quote"].get("cid").is_none());
    assert_eq!(
        sandbox.tulip.count(Some("renter-qc"), None),
        0,
        "a quote creates nothing"
    );

    let created = submit_create(&world, "renter-qc").await;
    let record = finished(&world, &created).await;
    assert_eq!(record.state, JobState::Succeeded, "{record:?}");
    let result = record.result.as_ref().expect("the contract");
    assert!(result["cid"].as_str().is_some(), "{result}");
    assert_eq!(result["status"], "open");
    assert_eq!(result["price"], json!(4.0));
    assert_eq!(result["adopted"], json!(false));
    // The job's reference went into the product's internal_id.
    let stamped = reference(&created, 0);
    assert_eq!(sandbox.tulip.count(Some("renter-qc"), Some(&stamped)), 1);
    assert!(
        !serde_json::to_string(&record).expect("json").contains(KEY),
        "the key is in no record"
    );
    let effects = sandbox.tulip.effects();
    assert_eq!(
        (effects.quotes, effects.contracts_created, effects.lists),
        (1, 1, 0)
    );
    world.stop().await;
}

#[tokio::test]
async fn tulip_a_cancellation_within_four_hours_cancels_and_after_terminates() {
    let (world, sandbox) = world().await;
    let first = submit_create(&world, "renter-ct").await;
    let second = submit_create(&world, "renter-ct").await;
    let mut cids = Vec::new();
    for id in [first, second] {
        let record = finished(&world, &id).await;
        cids.push(
            record.result.expect("contract")["cid"]
                .as_str()
                .expect("cid")
                .to_string(),
        );
    }
    sandbox.tulip.backdate(&cids[1], 6).expect("backdated");
    let mut outcomes = Vec::new();
    for cid in &cids {
        let cancel = Submission::new(CancelContract {
            cid: cid.clone(),
            reason: "returned early".into(),
            end_date: None,
        });
        let id = world
            .producer
            .submit(
                &underwrite::queue::AppName::default_app(),
                vec![cancel],
                None,
            )
            .await
            .expect("submit")
            .job_ids[0];
        let record = finished(&world, &id).await;
        assert_eq!(record.state, JobState::Succeeded, "{record:?}");
        outcomes.push(record.result.expect("result")["outcome"].clone());
    }
    assert_eq!(outcomes, [json!("cancelled"), json!("terminated")]);

    // Ending it again is a success that says so, not a failure.
    let again = Submission::new(CancelContract {
        cid: cids[0].clone(),
        reason: "again".into(),
        end_date: None,
    });
    let id = world
        .producer
        .submit(
            &underwrite::queue::AppName::default_app(),
            vec![again],
            None,
        )
        .await
        .expect("submit")
        .job_ids[0];
    let record = finished(&world, &id).await;
    assert_eq!(record.state, JobState::Succeeded, "{record:?}");
    assert_eq!(
        record.result.as_ref().expect("result")["already_ended"],
        json!(true)
    );

    // An unknown contract is 1051: failed at once, with Tulip's code.
    let unknown = Submission::new(CancelContract {
        cid: "CNOSUCHTHING1".into(),
        reason: "x".into(),
        end_date: None,
    });
    let id = world
        .producer
        .submit(
            &underwrite::queue::AppName::default_app(),
            vec![unknown],
            None,
        )
        .await
        .expect("submit")
        .job_ids[0];
    let record = finished(&world, &id).await;
    assert_eq!(
        (record.state, record.attempts),
        (JobState::Failed, 1),
        "{record:?}"
    );
    assert!(record.last_error.expect("error").message.contains("1051"));
    world.stop().await;
}

#[tokio::test]
async fn tulip_a_creation_that_stalls_after_the_contract_was_stored_adopts_it() {
    let (world, sandbox) = world().await;
    // The first creation is stored, then answered after the client gave up (1 s); the
    // second is stored, then its connection drops; the third is stored, then a 503.
    sandbox.tulip.push_faults([Fault::Stall {
        ms: 2_500,
        then: StallThen::Answer,
    }]);
    let stalled = submit_create(&world, "renter-st").await;
    let record = finished(&world, &stalled).await;
    assert_eq!(record.state, JobState::Succeeded, "{record:?}");
    assert_eq!(record.attempts, 2, "{record:?}");
    let result = record.result.as_ref().expect("the contract");
    assert_eq!(result["adopted"], json!(true), "{result}");
    assert_eq!(
        sandbox.tulip.count(Some("renter-st"), None),
        1,
        "created once"
    );
    let adopted = result["cid"].as_str().expect("cid");
    assert_eq!(sandbox.tulip.contracts()[0].cid(), adopted);

    for fault in [
        Fault::Stall {
            ms: 50,
            then: StallThen::Drop,
        },
        Fault::Error {
            status: 503,
            phase: Phase::After,
        },
    ] {
        sandbox.tulip.reset();
        sandbox.tulip.push_faults([fault]);
        let id = submit_create(&world, "renter-st").await;
        let record = finished(&world, &id).await;
        assert_eq!(record.state, JobState::Succeeded, "{fault:?}: {record:?}");
        assert_eq!(
            record.result.as_ref().expect("r")["adopted"],
            json!(true),
            "{fault:?}"
        );
        assert_eq!(
            sandbox.tulip.count(None, None),
            1,
            "{fault:?}: created once"
        );
    }

    // A failure before anything was stored: the retry finds nothing and sends again.
    sandbox.tulip.reset();
    sandbox.tulip.push_faults([Fault::Error {
        status: 502,
        phase: Phase::Before,
    }]);
    let id = submit_create(&world, "renter-st").await;
    let record = finished(&world, &id).await;
    assert_eq!(record.state, JobState::Succeeded, "{record:?}");
    assert_eq!(record.result.as_ref().expect("r")["adopted"], json!(false));
    assert_eq!(sandbox.tulip.count(None, None), 1);
    assert_eq!(
        sandbox.tulip.effects().lists,
        1,
        "looked before sending again"
    );
    world.stop().await;
}

#[tokio::test]
async fn tulip_sent_marks_are_per_job_and_another_job_creates_its_own_contract() {
    let (world, sandbox) = world().await;
    // As if a run had sent the creation and died before recording anything: the contract
    // exists at Tulip with the job's reference, the mark is set, the attempt is still 1.
    let id = JobId::new();
    let stamped = request("renter-kill").with_internal_ids(|line| reference(&id, line));
    let client = reqwest::Client::new();
    let answer = client
        .post(format!("{}/contracts", sandbox.url()))
        .header("key", KEY)
        .json(&stamped)
        .send()
        .await
        .expect("answered");
    assert!(answer.status().is_success());
    let marks = SentMarks::new(&world.store);
    marks.mark(&id).await.expect("marked");
    assert!(marks.was_sent(&id).await.expect("read"));
    let other = JobId::new();
    assert!(!marks.was_sent(&other).await.expect("read"));
    assert!(marks.key(&id).contains("vendor:tulip:sent:"));
    // A job with another id carries other references: it creates its own contract.
    let fresh = submit_create(&world, "renter-kill").await;
    let record = finished(&world, &fresh).await;
    assert_eq!(record.result.as_ref().expect("r")["adopted"], json!(false));
    assert_eq!(sandbox.tulip.count(Some("renter-kill"), None), 2);
    world.stop().await;
}

#[tokio::test]
async fn tulip_a_spent_quota_and_a_429_are_retried_after_their_retry_after() {
    let (world, sandbox) = world().await;
    sandbox.tulip.set_switches(Switches {
        quota_exceeded: true,
        quota_retry_after_secs: Some(1),
        ..Switches::default()
    });
    let started = std::time::Instant::now();
    let id = submit_create(&world, "renter-q").await;
    let refused = wait_for(&world.store, &id, WITHIN, |r| r.attempts >= 1).await;
    let error = refused.last_error.clone().expect("the refusal");
    assert!(error.message.contains("99888"), "{error:?}");
    assert_eq!(refused.state, JobState::Retrying, "{refused:?}");
    sandbox.tulip.set_switches(Switches::default());
    let record = finished(&world, &id).await;
    assert_eq!(record.state, JobState::Succeeded, "{record:?}");
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "Retry-After honoured: {:?}",
        started.elapsed()
    );
    assert!(sandbox.tulip.effects().quota_refusals >= 1);
    assert_eq!(sandbox.tulip.count(Some("renter-q"), None), 1);

    sandbox.tulip.push_faults([Fault::RateLimited {
        retry_after_secs: Some(1),
    }]);
    let started = std::time::Instant::now();
    let id = submit_create(&world, "renter-429").await;
    let record = finished(&world, &id).await;
    assert_eq!(record.state, JobState::Succeeded, "{record:?}");
    assert_eq!(record.attempts, 2, "{record:?}");
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "waited {:?}",
        started.elapsed()
    );
    assert_eq!(sandbox.tulip.effects().rate_limited, 1);
    assert_eq!(sandbox.tulip.count(Some("renter-429"), None), 1);
    world.stop().await;
}
