//! One webhook attempt against real local HTTP servers: every verdict, the excerpt cut, the
//! timeout, no redirect followed, and the SSRF guard keeping every connection away from a
//! local server unless the allowlist admits it (connections counted by the server).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{any, post};
use axum::serve::ListenerExt;
use bytes::Bytes;
use tokio::net::TcpListener;
use underwrite::webhooks::http::{
    AttemptOutcome, MAX_EXCERPT, Verdict, WebhookHttp, WebhookHttpOptions,
};
use underwrite::webhooks::ssrf::SsrfPolicy;

#[derive(Default)]
struct Seen {
    connections: AtomicUsize,
    requests: AtomicUsize,
    redirect_target: AtomicUsize,
    last: std::sync::Mutex<Option<(HeaderMap, Bytes)>>,
}

struct Receiver {
    port: u16,
    seen: Arc<Seen>,
}

impl Receiver {
    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn connections(&self) -> usize {
        self.seen.connections.load(Ordering::SeqCst)
    }

    fn requests(&self) -> usize {
        self.seen.requests.load(Ordering::SeqCst)
    }
}

async fn receiver() -> Receiver {
    let seen = Arc::new(Seen::default());
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let app = Router::new()
        .route(
            "/ok",
            post(
                |State(seen): State<Arc<Seen>>, headers: HeaderMap, body: Bytes| async move {
                    *seen.last.lock().expect("lock") = Some((headers, body));
                    (StatusCode::OK, "thanks")
                },
            ),
        )
        .route("/no-content", post(|| async { StatusCode::NO_CONTENT }))
        .route(
            "/gone",
            post(|| async { (StatusCode::GONE, "endpoint removed") }),
        )
        .route(
            "/slow-down",
            post(|| async { (StatusCode::TOO_MANY_REQUESTS, [(header::RETRY_AFTER, "3")]) }),
        )
        .route(
            "/unavailable",
            post(|| async {
                let at = chrono::Utc::now() + chrono::Duration::seconds(120);
                let date = at.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    [(header::RETRY_AFTER, date)],
                )
            }),
        )
        .route(
            "/busy-no-hint",
            post(|| async {
                (
                    StatusCode::TOO_MANY_REQUESTS,
                    [(header::RETRY_AFTER, "soon")],
                )
            }),
        )
        .route(
            "/broken",
            post(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "oops") }),
        )
        .route(
            "/redirect",
            post(move || async move {
                (
                    StatusCode::FOUND,
                    [(header::LOCATION, format!("http://127.0.0.1:{port}/target"))],
                )
            }),
        )
        .route(
            "/target",
            any(|State(seen): State<Arc<Seen>>| async move {
                seen.redirect_target.fetch_add(1, Ordering::SeqCst);
                StatusCode::OK
            }),
        )
        .route("/big", post(|| async { vec![b'x'; 1 << 20] }))
        .route("/big-euro", post(|| async { "€".repeat((1 << 20) / 3) }))
        .route(
            "/slow",
            post(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                StatusCode::OK
            }),
        )
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&seen),
            |State(seen): State<Arc<Seen>>,
             request: axum::extract::Request,
             next: axum::middleware::Next| async move {
                seen.requests.fetch_add(1, Ordering::SeqCst);
                next.run(request).await.into_response()
            },
        ))
        .with_state(Arc::clone(&seen));
    let counter = Arc::clone(&seen);
    let listener = listener.tap_io(move |_| {
        counter.connections.fetch_add(1, Ordering::SeqCst);
    });
    tokio::spawn(async move {
        axum::serve(listener, app).await.expect("serve");
    });
    Receiver { port, seen }
}

fn client_with(allow: &[&str], timeout: Duration) -> WebhookHttp {
    let options = WebhookHttpOptions {
        timeout,
        ..WebhookHttpOptions::default()
    };
    WebhookHttp::new(SsrfPolicy::new(allow, false).expect("policy"), options).expect("client")
}

/// The client of the demo and the tests: local receivers admitted.
fn local_client() -> WebhookHttp {
    client_with(&["127.0.0.0/8"], Duration::from_secs(5))
}

fn strict_client() -> WebhookHttp {
    client_with(&[], Duration::from_secs(5))
}

async fn send(http: &WebhookHttp, url: &str) -> AttemptOutcome {
    http.post(url, &[], Bytes::from_static(b"{}")).await
}

#[tokio::test]
async fn a_2xx_is_delivered_with_headers_and_body_as_given() {
    let server = receiver().await;
    let http = local_client();
    let headers = vec![
        ("webhook-id".to_string(), "msg_1".to_string()),
        ("webhook-timestamp".to_string(), "1614265330".to_string()),
        ("webhook-signature".to_string(), "v1,abc=".to_string()),
    ];
    let body = Bytes::from_static(br#"{"type":"proteger.contract.created"}"#);
    let outcome = http.post(&server.url("/ok"), &headers, body.clone()).await;
    assert_eq!(outcome.verdict, Verdict::Delivered, "{outcome:?}");
    assert_eq!(outcome.status, Some(200));
    assert_eq!(outcome.response_excerpt, "thanks");
    assert!(outcome.duration_ms < 5_000);

    let (got_headers, got_body) = server
        .seen
        .last
        .lock()
        .expect("lock")
        .clone()
        .expect("seen");
    assert_eq!(got_body, body);
    assert_eq!(got_headers["webhook-id"], "msg_1");
    assert_eq!(got_headers["webhook-timestamp"], "1614265330");
    assert_eq!(got_headers["webhook-signature"], "v1,abc=");
    assert_eq!(got_headers["content-type"], "application/json");

    let outcome = send(&http, &server.url("/no-content")).await;
    assert_eq!(outcome.verdict, Verdict::Delivered);
    assert_eq!(outcome.status, Some(204));
    assert_eq!(outcome.response_excerpt, "");
}

#[tokio::test]
async fn a_410_is_gone() {
    let server = receiver().await;
    let outcome = send(&local_client(), &server.url("/gone")).await;
    assert_eq!(outcome.verdict, Verdict::Gone);
    assert_eq!(outcome.status, Some(410));
    assert_eq!(outcome.response_excerpt, "endpoint removed");
}

#[tokio::test]
async fn retry_after_is_honoured_in_seconds_and_as_a_date() {
    let server = receiver().await;
    let http = local_client();

    let outcome = send(&http, &server.url("/slow-down")).await;
    assert_eq!(outcome.status, Some(429));
    assert_eq!(outcome.verdict, Verdict::RetryAfter(Duration::from_secs(3)));

    let outcome = send(&http, &server.url("/unavailable")).await;
    assert_eq!(outcome.status, Some(503));
    let Verdict::RetryAfter(delay) = outcome.verdict else {
        panic!("expected RetryAfter, got {outcome:?}");
    };
    // 120 s from the server's clock, at one-second resolution.
    assert!(
        (Duration::from_secs(115)..=Duration::from_secs(121)).contains(&delay),
        "{delay:?}"
    );

    let outcome = send(&http, &server.url("/busy-no-hint")).await;
    assert_eq!(
        outcome.verdict,
        Verdict::Failed("HTTP 429 without a usable Retry-After".into())
    );
}

#[tokio::test]
async fn other_statuses_fail() {
    let server = receiver().await;
    let outcome = send(&local_client(), &server.url("/broken")).await;
    assert_eq!(outcome.verdict, Verdict::Failed("HTTP 500".into()));
    assert_eq!(outcome.response_excerpt, "oops");
    let outcome = send(&local_client(), &server.url("/nowhere")).await;
    assert_eq!(outcome.verdict, Verdict::Failed("HTTP 404".into()));
}

#[tokio::test]
async fn a_redirect_fails_and_is_not_followed() {
    let server = receiver().await;
    let outcome = send(&local_client(), &server.url("/redirect")).await;
    assert_eq!(outcome.status, Some(302));
    let Verdict::Failed(why) = &outcome.verdict else {
        panic!("expected Failed, got {outcome:?}");
    };
    assert!(why.contains("302") && why.contains("redirect"), "{why}");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(server.seen.redirect_target.load(Ordering::SeqCst), 0);
    assert_eq!(server.requests(), 1);
}

#[tokio::test]
async fn a_large_answer_is_cut_to_4_kib() {
    let server = receiver().await;
    let http = local_client();
    let outcome = send(&http, &server.url("/big")).await;
    assert_eq!(outcome.verdict, Verdict::Delivered);
    assert_eq!(outcome.response_excerpt.len(), MAX_EXCERPT);
    assert_eq!(MAX_EXCERPT, 4096);
    assert!(outcome.response_excerpt.bytes().all(|b| b == b'x'));

    // 4096 is not a multiple of 3: the cut falls inside a "€", which is dropped whole.
    let outcome = send(&http, &server.url("/big-euro")).await;
    assert_eq!(outcome.verdict, Verdict::Delivered);
    assert_eq!(outcome.response_excerpt, "€".repeat(MAX_EXCERPT / 3));
}

#[tokio::test]
async fn a_slow_receiver_times_out() {
    let server = receiver().await;
    let http = client_with(&["127.0.0.0/8"], Duration::from_millis(300));
    let outcome = send(&http, &server.url("/slow")).await;
    assert_eq!(outcome.status, None);
    let Verdict::Failed(why) = &outcome.verdict else {
        panic!("expected Failed, got {outcome:?}");
    };
    assert!(why.contains("timed out"), "{why}");
    assert!(
        (250..3_000).contains(&outcome.duration_ms),
        "{}",
        outcome.duration_ms
    );
}

#[tokio::test]
async fn a_closed_port_is_a_network_failure() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let outcome = send(&local_client(), &format!("http://127.0.0.1:{port}/")).await;
    let Verdict::Failed(why) = &outcome.verdict else {
        panic!("expected Failed, got {outcome:?}");
    };
    assert!(why.starts_with("network error"), "{why}");
    assert!(!why.contains("127.0.0.1:"), "the URL stays out: {why}");
}

#[tokio::test]
async fn without_the_allowlist_nothing_local_is_reached() {
    let server = receiver().await;
    let http = strict_client();
    let urls = [
        "http://10.0.0.1/".to_string(),
        "http://169.254.169.254/latest/meta-data".to_string(),
        "http://[::ffff:169.254.169.254]/latest/meta-data".to_string(),
        server.url("/ok"),
        format!("http://2130706433:{}/ok", server.port),
        format!("http://[::ffff:127.0.0.1]:{}/ok", server.port),
        format!("http://localhost:{}/ok", server.port),
    ];
    for url in &urls {
        let outcome = send(&http, url).await;
        let Verdict::Refused(why) = &outcome.verdict else {
            panic!("{url} should be refused, got {outcome:?}");
        };
        assert_eq!(outcome.status, None);
        assert!(
            why.contains("loopback") || why.contains("private") || why.contains("cloud metadata"),
            "{url}: {why}"
        );
    }
    let outcome = send(&http, &format!("http://localhost:{}/ok", server.port)).await;
    let Verdict::Refused(why) = &outcome.verdict else {
        unreachable!()
    };
    assert!(
        why.contains("`localhost`") && why.contains("127.0.0.1"),
        "{why}"
    );

    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(server.connections(), 0);
    assert_eq!(server.requests(), 0);
}

#[tokio::test]
async fn with_the_allowlist_the_local_receiver_is_reached() {
    let server = receiver().await;
    let http = local_client();
    let outcome = send(&http, &server.url("/ok")).await;
    assert_eq!(outcome.verdict, Verdict::Delivered, "{outcome:?}");
    // By name too: `localhost` keeps only its admitted address (127.0.0.1, not ::1).
    let outcome = send(&http, &format!("http://localhost:{}/ok", server.port)).await;
    assert_eq!(outcome.verdict, Verdict::Delivered, "{outcome:?}");
    assert_eq!(server.requests(), 2);
    assert!(server.connections() >= 1);

    // The allowlist admits 127.0.0.0/8 only: the rest stays refused.
    for url in [
        "http://10.0.0.1/",
        "http://169.254.169.254/latest/meta-data",
    ] {
        let outcome = send(&http, url).await;
        assert!(
            matches!(outcome.verdict, Verdict::Refused(_)),
            "{url}: {outcome:?}"
        );
    }
}

#[tokio::test]
async fn https_only_refuses_plain_http_before_connecting() {
    let server = receiver().await;
    let http = WebhookHttp::new(
        SsrfPolicy::new(&["127.0.0.0/8"], true).expect("policy"),
        WebhookHttpOptions::default(),
    )
    .expect("client");
    let outcome = send(&http, &server.url("/ok")).await;
    assert!(
        matches!(&outcome.verdict, Verdict::Refused(why) if why.contains("https")),
        "{outcome:?}"
    );
    assert_eq!(server.connections(), 0);
}
