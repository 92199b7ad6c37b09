//! The vendor registry is open: a vendor defined here, outside the crate, plugs in with one
//! value and runs end to end through the real API, queue, workers, its own sandbox route
//! and a verifying webhook sink.
//!
//! The vendor, `echo`, has one job kind (`echo.message.send`), one route
//! (`POST /v1/echo/messages`), one event (`echo.message.sent`) and one sandbox route
//! (`POST /echo/v1/echo`), which its worker calls over HTTP. Another, `ticker`, has only a
//! periodic job, which the workers fire and the API lists.

use std::sync::Arc;
use std::time::Duration;

use apalis::layers::WorkerBuilderExt;
use apalis::prelude::{Data, Monitor, WorkerBuilder};
use axum::extract::State;
use axum::response::Response;
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use underwrite::api::ApiState;
use underwrite::api::accepted;
use underwrite::api::error::ApiError;
use underwrite::api::extract::JsonBody;
use underwrite::config::{ConfigError, Settings};
use underwrite::producer::Submission;
use underwrite::queue::{ErrorDetail, Finished, JobError, JobKind, JobOutput, JobState, Schedule};
use underwrite::sandbox;
use underwrite::startup;
use underwrite::vendors::{self, Vendor, VendorError, Vendors};
use underwrite::webhooks::event::{Catalogue, EventSpec};
use underwrite::webhooks::sink;
use underwrite::worker_deps::WorkerDeps;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::helpers::redis::{TestRedis, unique_queue};

const NAME: &str = "echo";

/// The one job kind.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SendMessage {
    text: String,
}

impl JobKind for SendMessage {
    const KIND: &'static str = "echo.message.send";
}

/// `[vendors.echo]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct EchoSettings {
    base_url: String,
}

#[derive(Debug, Clone)]
struct EchoDeps {
    http: reqwest::Client,
    base_url: String,
}

/// The handler: one call to the vendor (here, its sandbox route).
async fn send(job: SendMessage, deps: Data<EchoDeps>) -> Result<JobOutput, JobError> {
    let answer = deps
        .http
        .post(format!("{}/v1/echo", deps.base_url))
        .json(&job)
        .send()
        .await
        .map_err(|e| JobError::retryable(ErrorDetail::message(e.to_string())))?;
    let body: Value = answer
        .json()
        .await
        .map_err(|e| JobError::retryable(ErrorDetail::message(e.to_string())))?;
    Ok(JobOutput::new(body))
}

#[utoipa::path(
    post,
    path = "/messages",
    operation_id = "send_echo_message",
    tag = "echo",
    responses((status = 202, description = "Stored."))
)]
async fn enqueue(
    State(state): State<ApiState>,
    JsonBody(body): JsonBody<SendMessage>,
) -> Result<Response, ApiError> {
    let accepted = state
        .producer()
        .submit(
            &underwrite::queue::AppName::default_app(),
            vec![Submission::new(body)],
            None,
        )
        .await?;
    accepted::one(accepted)
}

fn sent(job: &Finished) -> Option<EventSpec> {
    (job.state == JobState::Succeeded).then(|| {
        let mut data = Map::new();
        data.insert("echo".into(), job.result.clone().unwrap_or(Value::Null));
        EventSpec {
            event_type: "echo.message.sent".into(),
            subject: job.id.to_string(),
            data,
        }
    })
}

/// The vendor's fake: answers what it was sent.
async fn echo(Json(body): Json<Value>) -> Json<Value> {
    Json(json!({ "echoed": body["text"] }))
}

struct Echo;

impl Vendor for Echo {
    fn name(&self) -> &'static str {
        NAME
    }

    fn worker_kinds(&self) -> Vec<&'static str> {
        vec![SendMessage::KIND]
    }

    fn register_workers(
        &self,
        monitor: Monitor,
        deps: &WorkerDeps,
    ) -> Result<Monitor, VendorError> {
        let settings: EchoSettings = deps
            .settings
            .vendor(NAME)
            .map_err(|e| VendorError::new(NAME, e))?;
        let data = EchoDeps {
            http: reqwest::Client::new(),
            base_url: settings.base_url,
        };
        let deps = deps.clone();
        Ok(monitor.register(move |_| {
            WorkerBuilder::new(deps.identity.consumer(SendMessage::KIND))
                .backend(deps.backend::<SendMessage>())
                .catch_panic()
                .concurrency(2)
                .data(data.clone())
                .build(send)
        }))
    }

    fn routes(&self, _settings: &Settings) -> OpenApiRouter<ApiState> {
        OpenApiRouter::new().routes(routes!(enqueue))
    }

    fn events(&self, catalogue: &mut Catalogue) {
        catalogue.register(SendMessage::KIND, sent);
    }

    fn sandbox(&self, _settings: &Settings) -> Result<Router, VendorError> {
        Ok(Router::new().route("/v1/echo", post(echo)))
    }

    fn check_settings(&self, settings: &Settings) -> Result<(), ConfigError> {
        settings.vendor::<EchoSettings>(NAME).map(|_| ())
    }
}

fn with_echo() -> Vendors {
    vendors::all().with(Arc::new(Echo))
}

fn settings(redis: &TestRedis) -> Settings {
    let env = [
        ("UNDERWRITE_REDIS_URL", redis.url()),
        ("UNDERWRITE_REDIS_QUEUE", unique_queue()),
        ("UNDERWRITE_API_TOKENS", "echo-token".to_string()),
        (
            "UNDERWRITE_API_OPERATOR_TOKENS",
            "echo-operator".to_string(),
        ),
        ("UNDERWRITE_WEBHOOKS_ALLOW_CIDRS", "127.0.0.0/8".to_string()),
    ];
    Settings::load_from(None, env.map(|(k, v)| (k.to_string(), v))).expect("settings")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vendor_defined_outside_the_crate_runs_end_to_end() {
    let redis = TestRedis::shared();
    let mut settings = settings(redis);
    let vendors = with_echo();
    let loopback = "127.0.0.1:0".parse().expect("addr");
    let fakes = sandbox::spawn(loopback, vendors.sandboxes(&settings).expect("sandboxes"))
        .await
        .expect("sandbox");
    // Every vendor's fake is mounted, ours among them.
    assert!(
        fakes.prefixes().iter().any(|p| p == "echo"),
        "{:?}",
        fakes.prefixes()
    );
    settings.set_vendor(NAME, "base_url", fakes.url("echo"));
    let app = startup::spawn_for_tests_vendors(settings, vendors)
        .await
        .expect("app starts");
    let (sink, _) = sink::spawn_as_endpoint(&app.app.store).await.expect("sink");

    let http = reqwest::Client::new();
    let answer = http
        .post(format!("{}/v1/echo/messages", app.base_url()))
        .bearer_auth("echo-token")
        .json(&json!({ "text": "こんにちは" }))
        .send()
        .await
        .expect("enqueue");
    assert_eq!(answer.status(), 202);
    let body: Value = answer.json().await.expect("json");
    let job_id = body["job_id"].as_str().expect("job id").to_string();

    assert!(
        sink.wait_for_verified(1, Duration::from_secs(20)).await,
        "no verified webhook: {:?}",
        sink.received()
    );
    let received = sink.received();
    let event = &received[0];
    assert_eq!(event.event_type.as_deref(), Some("echo.message.sent"));
    assert_eq!(event.body["data"]["job_id"], json!(job_id));
    assert_eq!(event.body["data"]["echo"]["echoed"], json!("こんにちは"));

    // The document is assembled from the registry: the route is in it.
    let document: Value = http
        .get(format!("{}/openapi.json", app.base_url()))
        .send()
        .await
        .expect("document")
        .json()
        .await
        .expect("json");
    assert!(
        document["paths"]["/v1/echo/messages"]["post"].is_object(),
        "{}",
        document["paths"]
    );

    // The job's record went through the queue and holds the vendor's answer.
    let record: Value = http
        .get(format!("{}/v1/jobs/{job_id}", app.base_url()))
        .bearer_auth("echo-token")
        .send()
        .await
        .expect("job")
        .json()
        .await
        .expect("json");
    assert_eq!(record["state"], json!("succeeded"), "{record}");
    assert_eq!(record["kind"], json!("echo.message.send"));
    app.stop().await.expect("stops");
}

#[tokio::test]
async fn settings_of_no_vendor_and_undeclared_secrets_are_refused() {
    let redis = TestRedis::shared();
    let mut settings = settings(redis);
    settings.set_vendor("nobody", "base_url", "http://x");
    let err = vendors::all()
        .check(&settings)
        .expect_err("an unknown section");
    assert!(err.to_string().contains("[vendors.nobody]"), "{err}");

    let mut settings = self::settings(redis);
    settings
        .secrets
        .set_vendor("proteger", "base_url", "http://old-style");
    let err = vendors::all().check(&settings).expect_err("not a secret");
    let text = err.to_string();
    assert!(text.contains("UNDERWRITE_PROTEGER_BASE_URL"), "{text}");
    assert!(text.contains("UNDERWRITE_PROTEGER_TOKEN"), "{text}");
    assert!(
        !text.contains("http://old-style"),
        "a value never shows: {text}"
    );

    // Our vendor's section is required by its own check.
    let settings = self::settings(redis);
    let err = with_echo().check(&settings).expect_err("no [vendors.echo]");
    assert!(err.to_string().contains("vendors.echo"), "{err}");
}

/// A vendor with nothing but a periodic job (no worker: its jobs wait in the queue).
struct Ticker;

#[derive(Debug, Serialize, Deserialize)]
struct Refresh {
    scope: String,
}

impl JobKind for Refresh {
    const KIND: &'static str = "ticker.catalogue.refresh";
}

impl Vendor for Ticker {
    fn name(&self) -> &'static str {
        "ticker"
    }

    fn schedules(&self, _settings: &Settings) -> Vec<Schedule> {
        let refresh = Refresh {
            scope: "all".into(),
        };
        vec![Schedule::new("ticker.refresh", Duration::from_millis(500), &refresh).expect("valid")]
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vendor_s_schedules_run_in_the_workers_and_show_in_the_api() {
    let redis = TestRedis::shared();
    let app =
        startup::spawn_for_tests_vendors(settings(redis), vendors::all().with(Arc::new(Ticker)))
            .await
            .expect("app starts");
    let http = reqwest::Client::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let listed = loop {
        let body: Value = http
            .get(format!("{}/v1/schedules", app.base_url()))
            .bearer_auth("echo-token")
            .send()
            .await
            .expect("schedules")
            .json()
            .await
            .expect("json");
        let listed = body["schedules"]
            .as_array()
            .and_then(|all| all.iter().find(|s| s["name"] == json!("ticker.refresh")))
            .cloned()
            .unwrap_or_default();
        if listed["last_job"].is_string() {
            break listed;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no tick fired: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(listed["name"], json!("ticker.refresh"));
    assert_eq!(listed["kind"], json!(Refresh::KIND));
    let job: Value = http
        .get(format!(
            "{}/v1/jobs/{}",
            app.base_url(),
            listed["last_job"].as_str().unwrap_or("")
        ))
        // A scheduled job belongs to no app: the operator's to see.
        .bearer_auth("echo-operator")
        .send()
        .await
        .expect("job")
        .json()
        .await
        .expect("json");
    assert_eq!(job["kind"], json!(Refresh::KIND), "{job}");
    assert_eq!(job["payload"], json!({"scope": "all"}));
    assert_eq!(job["metadata"]["schedule"], json!("ticker.refresh"));
    app.stop().await.expect("stops");
}
