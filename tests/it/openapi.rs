//! The OpenAPI document (`GET /openapi.json`) against the router it describes: every route
//! the API serves is in the document, and everything in the document is served.
//!
//! Router and document are built from the same `OpenApiRouter`s, but a route can still slip
//! past the document (`OpenApiRouter::route`, a plain `Router` converted with `into()`, two
//! paths in one `routes!`). So the two are compared from the outside, on a running API,
//! both ways:
//!
//! - **document → router**: each method and path of the document, called with a token, is
//!   answered by a handler, not by the router's fallback;
//! - **router → document**: the router is asked for its paths (its `Debug` output lists
//!   every path its matcher holds; axum offers no other list), each path is called with
//!   every method, and whatever a handler answers must be in the document.
//!
//! The fallback is told apart by its answers: any 405 (no handler answers 405), and the
//! very 404 that a path which cannot exist gets. The last two tests show that each
//! direction does catch what it is meant to.

use std::collections::BTreeSet;

use axum::routing::get;
use reqwest::{Client, Method, StatusCode};
use serde_json::Value;
use tokio::net::TcpListener;
use underwrite::api::{self, ApiState};
use underwrite::config::Settings;
use underwrite::startup::{self, App, Roles};
use utoipa::openapi::path::{HttpMethod, OperationBuilder, PathItem, PathsBuilder};
use utoipa::openapi::{OpenApiBuilder, ResponseBuilder};
use utoipa_axum::router::OpenApiRouter;

use crate::helpers::api::{TOKEN, TestApi, settings};
use crate::helpers::redis::{TestRedis, unique_queue};

/// The methods every path is tried with. Not HEAD: axum answers it on every GET route, as
/// HTTP wants, and the document lists the GET.
const METHODS: [Method; 7] = [
    Method::GET,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
    Method::OPTIONS,
    Method::TRACE,
];

/// An operation: an upper-case method and a path as the router spells it (`/v1/jobs/{id}`).
type Operation = (String, String);

/// What a comparison found.
#[derive(Debug, Default)]
struct Mismatch {
    /// In the document, answered by the fallback.
    unserved: Vec<Operation>,
    /// Answered by a handler, missing from the document.
    undocumented: Vec<Operation>,
}

/// Settings for an app on the shared redis-server, with a queue of its own.
fn app_settings() -> Settings {
    let mut settings = settings(TOKEN);
    settings.redis.url = TestRedis::shared().url();
    settings.redis.queue = unique_queue();
    settings
}

/// Compares the document served at `url` with the routes of `router`, which serves there.
async fn compare(url: &str, router: &axum::Router) -> Mismatch {
    let client = Client::new();
    let call = |method: Method, path: &str| {
        client
            .request(method, format!("{url}{path}"))
            .bearer_auth(TOKEN)
            .send()
    };
    let document: Value = call(Method::GET, "/openapi.json")
        .await
        .expect("the document")
        .json()
        .await
        .expect("JSON");
    let not_found = call(Method::GET, &concrete("/v1/no-such-route/{id}"))
        .await
        .expect("the fallback");
    assert_eq!(not_found.status(), StatusCode::NOT_FOUND);
    let fallback = not_found.text().await.expect("its body");
    let served = async |method: &Method, template: &str| {
        let response = call(method.clone(), &concrete(template))
            .await
            .expect("request");
        let status = response.status();
        let body = response.text().await.expect("body");
        status != StatusCode::METHOD_NOT_ALLOWED
            && !(status == StatusCode::NOT_FOUND && body == fallback)
    };

    let documented = documented(&document);
    let paths = router_paths(router);
    // A listing that lost its paths (a new axum formats `Debug` differently) must fail
    // here, not pass for want of anything to compare: it holds at least the route that
    // just served the document.
    assert!(
        paths.contains("/openapi.json"),
        "the router's listing has lost its paths: {paths:?}"
    );
    let mut mismatch = Mismatch::default();
    for (method, path) in &documented {
        let method = Method::from_bytes(method.as_bytes()).expect("a method");
        if !served(&method, path).await {
            mismatch.unserved.push((method.to_string(), path.clone()));
        }
    }
    for path in &paths {
        for method in &METHODS {
            let operation = (method.to_string(), path.clone());
            if !documented.contains(&operation) && served(method, path).await {
                mismatch.undocumented.push(operation);
            }
        }
    }
    mismatch
}

/// The operations of a document.
fn documented(document: &Value) -> BTreeSet<Operation> {
    // A path item also holds `parameters`, `summary`, ...: only these keys are operations.
    const OPERATIONS: [&str; 8] = [
        "get", "put", "post", "delete", "options", "head", "patch", "trace",
    ];
    let paths = document["paths"].as_object().expect("paths");
    let mut operations = BTreeSet::new();
    for (path, item) in paths {
        for method in item.as_object().expect("a path item").keys() {
            if OPERATIONS.contains(&method.as_str()) {
                operations.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    operations
}

/// The paths of `router`'s routes, from its `Debug` output. Those that name
/// `__private__axum` are how axum mounts fallbacks and nested routers.
fn router_paths(router: &axum::Router) -> BTreeSet<String> {
    let listing = format!("{router:?}");
    listing
        .match_indices("\"/")
        .filter_map(|(at, _)| {
            let rest = &listing[at + 1..];
            rest.find('"').map(|end| rest[..end].to_string())
        })
        .filter(|path| !path.contains("__private__axum"))
        .collect()
}

/// `template` with a value in each `{parameter}`: a UUID, which every parameter accepts
/// (job ids must be one), and `x` for a catch-all `{*rest}`.
fn concrete(template: &str) -> String {
    template
        .split('/')
        .map(|segment| match segment.strip_prefix('{') {
            Some(name) if name.starts_with('*') => "x",
            Some(_) => "0190a8f4-4b2e-7000-8000-000000000001",
            None => segment,
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// `router` on a free port of 127.0.0.1; its URL.
async fn serve(router: axum::Router) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, router).await });
    url
}

/// The API with the app's state and these vendor routes.
fn router_with(vendor_routes: Vec<OpenApiRouter<ApiState>>) -> axum::Router {
    let app = App::build(app_settings(), underwrite::vendors::all()).expect("app");
    api::router(
        ApiState::new(app.producer, &app.settings, app.vendors.job_kinds()),
        vendor_routes,
    )
}

#[tokio::test]
async fn the_document_and_the_router_list_the_same_routes() {
    let running = startup::spawn_for_tests_with(
        app_settings(),
        Roles {
            api: true,
            worker: false,
        },
    )
    .await
    .expect("the app starts");
    let mismatch = compare(&running.base_url(), &running.app.router()).await;
    assert!(
        mismatch.unserved.is_empty(),
        "in the document but not routed: {:?}",
        mismatch.unserved
    );
    assert!(
        mismatch.undocumented.is_empty(),
        "routed but not in the document: {:?}",
        mismatch.undocumented
    );
    running.stop().await.expect("a clean stop");
}

#[tokio::test]
async fn a_route_that_bypasses_the_document_is_caught() {
    let bypass = OpenApiRouter::new().route("/bypass", get(async || "served, undocumented"));
    let router = router_with(vec![bypass]);
    let mismatch = compare(&serve(router.clone()).await, &router).await;
    assert_eq!(
        mismatch.undocumented,
        [("GET".to_string(), "/v1/bypass".to_string())]
    );
    assert_eq!(mismatch.unserved, []);
}

#[tokio::test]
async fn an_operation_without_a_route_is_caught() {
    let operation = OperationBuilder::new()
        .response("200", ResponseBuilder::new().description("never"))
        .build();
    let document = OpenApiBuilder::new()
        .paths(PathsBuilder::new().path("/ghost", PathItem::new(HttpMethod::Get, operation)))
        .build();
    let router = router_with(vec![OpenApiRouter::with_openapi(document)]);
    let mismatch = compare(&serve(router.clone()).await, &router).await;
    assert_eq!(
        mismatch.unserved,
        [("GET".to_string(), "/v1/ghost".to_string())]
    );
    assert_eq!(mismatch.undocumented, []);
}

#[tokio::test]
async fn the_document_is_openapi_3_1_served_without_a_token() {
    let api = TestApi::spawn().await;
    let response = api
        .anonymous(Method::GET, "/openapi.json")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"].to_str().ok(),
        Some("application/json")
    );
    let document: Value = response.json().await.expect("JSON");
    let version = document["openapi"].as_str().expect("openapi");
    assert!(version.starts_with("3.1."), "{version}");
    let bearer = &document["components"]["securitySchemes"]["bearer"];
    assert_eq!(bearer["type"], "http");
    assert_eq!(bearer["scheme"], "bearer");
    let said = bearer["description"].as_str().unwrap_or_default();
    assert!(
        said.contains("UNDERWRITE_API_TOKENS") && said.contains("UNDERWRITE_API_OPERATOR_TOKENS"),
        "the scheme names both roles' tokens: {said}"
    );
    // Every route that enqueues says the operator's token is refused there.
    let create = &document["paths"]["/v1/proteger/contracts"]["post"]["responses"]["403"];
    assert!(create.is_object(), "{create}");

    for (path, item) in document["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("a path item") {
            let name = format!("{method} {path}");
            let security = &operation["security"];
            if path.starts_with("/v1/") {
                assert_eq!(security, &serde_json::json!([{"bearer": []}]), "{name}");
                assert!(operation["responses"]["401"].is_object(), "{name}: no 401");
            } else {
                assert_eq!(security, &serde_json::json!([]), "{name} is open");
            }
            // Every refusal has the shape of `error.rs`.
            for (status, answer) in operation["responses"].as_object().expect("responses") {
                if status.starts_with('4') || status.starts_with('5') {
                    let answer = resolve(&document, answer);
                    assert_eq!(
                        answer["content"]["application/json"]["schema"]["$ref"],
                        "#/components/schemas/ErrorBody",
                        "{name}: {status}"
                    );
                }
            }
        }
    }
}

/// `value`, or what its `$ref` points to in the same document.
fn resolve<'a>(document: &'a Value, value: &'a Value) -> &'a Value {
    match value["$ref"].as_str().and_then(|r| r.strip_prefix('#')) {
        Some(pointer) => document.pointer(pointer).expect("the $ref resolves"),
        None => value,
    }
}
