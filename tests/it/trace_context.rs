//! W3C `traceparent`: sent with an enqueue, kept with the job, and passed on to the vendor
//! call and the webhook it causes (same trace, a parent id of ours), through the real app
//! (API and workers), the Tulip sandbox and a webhook receiver, over HTTP.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use underwrite::queue::trace_context::TraceParent;
use underwrite::queue::{JobRecord, JobState};

use crate::helpers::receiver::Receiver;
use crate::helpers::redis::{TestRedis, unique_queue};
use crate::tulip_sandbox::{KEY, config, lcd, start};

const TOKEN: &str = "trace-token";
const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const SENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

async fn job(client: &reqwest::Client, base: &str, id: &str) -> JobRecord {
    client
        .get(format!("{base}/v1/jobs/{id}"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("answered")
        .json()
        .await
        .expect("a job record")
}

#[tokio::test]
async fn a_producers_trace_reaches_the_vendor_and_the_webhook() {
    let sandbox = start(config()).await;
    let receiver = Receiver::start("127.0.0.1:0".parse().expect("addr")).await;
    let mut settings = crate::helpers::api::settings(TOKEN);
    settings.redis.url = TestRedis::shared().url();
    settings.redis.queue = unique_queue();
    settings.set_vendor("tulip", "base_url", sandbox.url());
    settings.secrets.set_vendor("tulip", "api_key", KEY);
    settings.webhooks.allow_cidrs = vec!["127.0.0.0/8".into()];
    let app = underwrite::startup::spawn_for_tests(settings)
        .await
        .expect("app starts");
    let base = app.base_url();
    let client = reqwest::Client::new();
    let created = client
        .post(format!("{base}/v1/webhook-endpoints"))
        .bearer_auth(TOKEN)
        .json(&json!({"url": receiver.url(), "events": ["tulip.*"]}))
        .send()
        .await
        .expect("answered");
    assert_eq!(created.status(), 201, "{:?}", created.text().await);

    // One creation with a trace, one without, and one with a malformed trace (ignored).
    let mut ids = Vec::new();
    for (uid, traceparent) in [
        ("renter-traced", Some(SENT)),
        ("renter-untraced", None),
        ("renter-malformed", Some("00-not-a-trace-01")),
    ] {
        let mut request = client
            .post(format!("{base}/v1/tulip/contracts"))
            .bearer_auth(TOKEN)
            .json(&lcd(uid));
        if let Some(traceparent) = traceparent {
            request = request.header("traceparent", traceparent);
        }
        let answer = request.send().await.expect("answered");
        assert_eq!(answer.status(), 202);
        let accepted: Value = answer.json().await.expect("json");
        ids.push(accepted["job_id"].as_str().expect("job id").to_string());
    }

    let deadline = Instant::now() + Duration::from_secs(30);
    let mut records = Vec::new();
    for id in &ids {
        loop {
            let record = job(&client, &base, id).await;
            if record.state.is_final() {
                assert_eq!(record.state, JobState::Succeeded, "{record:?}");
                records.push(record);
                break;
            }
            assert!(Instant::now() < deadline, "{id} did not finish: {record:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    assert_eq!(
        records[0].traceparent.as_deref(),
        Some(SENT),
        "kept with the job"
    );
    assert_eq!(records[1].traceparent, None);
    assert_eq!(records[2].traceparent, None, "a malformed trace is ignored");

    // The vendor saw one traced call: our own parent id in the producer's trace.
    let at_vendor = sandbox.tulip.traceparents();
    assert_eq!(at_vendor.len(), 1, "{at_vendor:?}");
    let seen: TraceParent = at_vendor[0].parse().expect("a valid traceparent");
    assert_eq!(seen.trace_id(), TRACE_ID);
    assert_ne!(at_vendor[0], SENT, "sent on with a parent id of ours");
    assert!(
        at_vendor[0].ends_with("-01"),
        "flags kept: {}",
        at_vendor[0]
    );

    // Each job's `created` webhook: the traced one carries the trace, the others none.
    let deadline = Instant::now() + Duration::from_secs(30);
    while receiver.received().len() < 3 {
        assert!(Instant::now() < deadline, "{:?}", receiver.received());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for delivery in receiver.received() {
        let event = delivery.json();
        let subject = event["data"]["job_id"].as_str().unwrap_or_default();
        if subject == ids[0] {
            let seen: TraceParent = delivery.traceparent.parse().expect("a traceparent");
            assert_eq!(seen.trace_id(), TRACE_ID);
            assert_ne!(delivery.traceparent, SENT);
        } else {
            assert_eq!(delivery.traceparent, "", "{event}");
        }
    }
    app.stop().await.expect("stops");
}

/// A batch's vendor call can carry one trace: its first member's that has one. Members keep
/// their own.
#[tokio::test]
async fn a_batch_carries_the_trace_of_its_first_traced_member() {
    use underwrite::producer::Submission;
    use underwrite::vendors::proteger::jobs::CreateContract;
    use underwrite::vendors::proteger::sandbox::{ProtegerSandboxConfig, sample_contract};

    let world = crate::helpers::world::World::start(ProtegerSandboxConfig::default(), |s| {
        // Long enough for the three to share one bulk call.
        s.set_vendor("proteger", "linger_ms", 1_000);
    })
    .await;
    let submit = |transaction: &'static str| {
        let producer = world.producer.clone();
        async move {
            producer
                .submit(
                    &underwrite::queue::AppName::default_app(),
                    vec![Submission::new(CreateContract(sample_contract(
                        transaction,
                    )))],
                    None,
                )
                .await
                .expect("submit")
                .job_ids[0]
        }
    };
    let untraced = submit("trace-batch-1").await;
    let parent: TraceParent = SENT.parse().expect("valid");
    let traced =
        underwrite::queue::trace_context::scope(Some(parent), submit("trace-batch-2")).await;
    let other: TraceParent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"
        .parse()
        .expect("valid");
    let traced_later =
        underwrite::queue::trace_context::scope(Some(other), submit("trace-batch-3")).await;

    let mut batches = Vec::new();
    for id in [untraced, traced, traced_later] {
        let record =
            crate::helpers::worker::wait_for(&world.store, &id, Duration::from_secs(30), |r| {
                r.state.is_final()
            })
            .await;
        assert_eq!(record.state, JobState::Succeeded, "{record:?}");
        batches.push(record.batch.expect("carried by a batch"));
    }
    assert_eq!(
        world
            .store
            .job(&traced_later)
            .await
            .expect("read")
            .expect("record")
            .traceparent
            .as_deref(),
        Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"),
        "members keep their own"
    );
    batches.dedup();
    assert_eq!(batches.len(), 1, "one bulk call for the three: {batches:?}");
    let batch = world
        .store
        .job(&batches[0])
        .await
        .expect("read")
        .expect("batch record");
    assert_eq!(batch.traceparent.as_deref(), Some(SENT), "{batch:?}");
    world.stop().await;
}
