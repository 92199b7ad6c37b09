//! The API's server under slow and greedy clients (issue 13): connections idle, stopped in
//! the middle of a head or of a body are closed within the configured time while other
//! requests keep being served; the connection bound holds; a head too large is a 431 in
//! our JSON shape. Raw TCP, so that the client is exactly as slow as the test says.
//!
//! Timing bounds are generous on the late side (a loaded machine delays timers), and the
//! early side only checks that nothing was closed before its timeout.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::api::{TOKEN, TestApi};

/// How much later than its timeout a connection may be closed on a loaded machine.
const SLACK: Duration = Duration::from_secs(10);

async fn connect(api: &TestApi) -> TcpStream {
    TcpStream::connect(api.url.trim_start_matches("http://"))
        .await
        .expect("connect")
}

/// Reads until the server closes the connection (EOF or reset); answers when, since
/// `from`, and what came. Fails if it stays open past `limit`.
async fn closed_by_server(
    mut stream: TcpStream,
    from: Instant,
    limit: Duration,
    what: &str,
) -> (Duration, String) {
    let mut received = Vec::new();
    let mut chunk = [0u8; 4096];
    let read = tokio::time::timeout(limit, async {
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "{what}: still open after {limit:?}");
    (
        from.elapsed(),
        String::from_utf8_lossy(&received).into_owned(),
    )
}

/// Requests `/healthz` every 100 ms until stopped; counts the answers and the failures.
struct Traffic {
    stop: Arc<AtomicBool>,
    served: Arc<AtomicUsize>,
    failed: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Traffic {
    fn start(api: &TestApi) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let served = Arc::new(AtomicUsize::new(0));
        let failed = Arc::new(AtomicUsize::new(0));
        let url = format!("{}/v1/jobs", api.url);
        let (s, ok, ko) = (stop.clone(), served.clone(), failed.clone());
        let task = tokio::spawn(async move {
            // A fresh connection per request: the new ones must get in too.
            while !s.load(Ordering::SeqCst) {
                let client = reqwest::Client::new();
                let answer = client
                    .get(&url)
                    .bearer_auth(TOKEN)
                    .timeout(Duration::from_secs(5))
                    .send()
                    .await;
                match answer {
                    Ok(response) if response.status() == StatusCode::OK => {
                        ok.fetch_add(1, Ordering::SeqCst)
                    }
                    _ => ko.fetch_add(1, Ordering::SeqCst),
                };
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        Self {
            stop,
            served,
            failed,
            task,
        }
    }

    async fn stop(self) -> (usize, usize) {
        self.stop.store(true, Ordering::SeqCst);
        self.task.await.expect("traffic");
        (
            self.served.load(Ordering::SeqCst),
            self.failed.load(Ordering::SeqCst),
        )
    }
}

#[tokio::test]
async fn slow_connections_are_closed_in_time_while_requests_keep_being_served() {
    let header = Duration::from_secs(2);
    let body = Duration::from_secs(2);
    let idle = Duration::from_secs(3);
    let api = TestApi::spawn_with(|s| {
        s.api.header_read_timeout_secs = header.as_secs();
        s.api.body_timeout_secs = body.as_secs();
        s.api.idle_timeout_secs = idle.as_secs();
    })
    .await;
    let traffic = Traffic::start(&api);
    let started = Instant::now();

    // Connected, and nothing sent.
    let silent = connect(&api).await;
    // Half a head.
    let mut half_head = connect(&api).await;
    half_head
        .write_all(b"GET /v1/jobs HTTP/1.1\r\nHost: test\r\nAuthor")
        .await
        .expect("write");
    // A whole head, and 10 bytes of a 1000-byte body.
    let mut half_body = connect(&api).await;
    half_body
        .write_all(
            format!(
                "POST /v1/proteger/contracts HTTP/1.1\r\nHost: test\r\n\
                 Authorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\n\
                 Content-Length: 1000\r\n\r\n{{\"transac"
            )
            .as_bytes(),
        )
        .await
        .expect("write");
    // One whole request answered, then silence on the kept-alive connection.
    let mut kept_alive = connect(&api).await;
    kept_alive
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
        .await
        .expect("write");
    let mut first = [0u8; 1024];
    let n = kept_alive.read(&mut first).await.expect("answer");
    assert!(String::from_utf8_lossy(&first[..n]).starts_with("HTTP/1.1 200"));
    let answered = Instant::now();

    let (silent, half_head, half_body, kept_alive) = tokio::join!(
        closed_by_server(silent, started, idle + SLACK, "the silent connection"),
        closed_by_server(half_head, started, header + SLACK, "half a head"),
        closed_by_server(half_body, started, body + SLACK, "half a body"),
        closed_by_server(
            kept_alive,
            answered,
            idle + SLACK,
            "the idle kept-alive one"
        ),
    );
    let (served, failed) = traffic.stop().await;

    // Each was closed by its own timeout: not before it (with 100 ms for timer rounding).
    let early = Duration::from_millis(100);
    assert!(
        silent.0 + early >= idle,
        "silent closed after {:?}",
        silent.0
    );
    assert!(
        half_head.0 + early >= header,
        "half a head closed after {:?}",
        half_head.0
    );
    assert!(
        half_body.0 + early >= body,
        "half a body closed after {:?}",
        half_body.0
    );
    assert!(
        kept_alive.0 + early >= idle,
        "kept-alive closed after {:?}",
        kept_alive.0
    );
    // Stopped heads get no answer; a stopped body gets a 408 in our shape.
    assert!(silent.1.is_empty(), "{}", silent.1);
    assert!(half_head.1.is_empty(), "{}", half_head.1);
    assert!(half_body.1.starts_with("HTTP/1.1 408"), "{}", half_body.1);
    let json = half_body.1.split("\r\n\r\n").nth(1).unwrap_or_default();
    let json: Value = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {json}"));
    assert_eq!(json["error"]["code"], "request_timeout");
    assert!(
        api.all_jobs().await.is_empty(),
        "a stopped body enqueued nothing"
    );

    // Meanwhile, every request of other clients was served.
    assert!(served >= 5, "only {served} requests served meanwhile");
    assert_eq!(failed, 0, "{failed} requests failed meanwhile");
}

#[tokio::test]
async fn the_connection_bound_holds_until_a_connection_closes() {
    let api = TestApi::spawn_with(|s| {
        s.api.max_connections = 3;
        s.api.header_read_timeout_secs = 60;
        s.api.idle_timeout_secs = 60;
    })
    .await;
    // Three silent connections take every slot (each is accepted: the slots are taken in
    // the order of accepting, so give the server a moment per connection).
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(connect(&api).await);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let client = reqwest::Client::new();
    let url = format!("{}/healthz", api.url);
    let waiting = tokio::spawn(async move {
        let response = client
            .get(&url)
            .timeout(Duration::from_secs(60))
            .send()
            .await;
        (Instant::now(), response.map(|r| r.status()))
    });
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        !waiting.is_finished(),
        "a fourth connection was served while three held every slot"
    );
    // One closes: the waiting request is served.
    let closed_at = Instant::now();
    drop(held.pop());
    let (answered_at, status) = tokio::time::timeout(SLACK, waiting)
        .await
        .expect("served once a slot freed")
        .expect("task");
    assert_eq!(status.expect("answer"), StatusCode::OK);
    assert!(answered_at >= closed_at);
}

#[tokio::test]
async fn a_head_past_the_limit_is_a_431_in_our_shape() {
    let api = TestApi::spawn_with(|s| s.api.max_header_bytes = 4096).await;
    let big = "x".repeat(6000);
    let refused = api
        .get("/v1/jobs")
        .header("x-big", &big)
        .send()
        .await
        .expect("answer");
    assert_eq!(
        refused.status(),
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
    );
    let body: Value = refused.json().await.expect("JSON");
    assert_eq!(body["error"]["code"], "headers_too_large");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("4096"),
        "{body}"
    );

    // Too many headers, however small: the same refusal, and it comes before auth.
    let mut many = api.anonymous(reqwest::Method::GET, "/v1/jobs");
    for i in 0..120 {
        many = many.header(format!("x-h{i}"), "1");
    }
    let refused = many.send().await.expect("answer");
    assert_eq!(
        refused.status(),
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
    );
    let body: Value = refused.json().await.expect("JSON");
    assert_eq!(body["error"]["code"], "headers_too_large");

    // Under the limit, all is well.
    let fine = api
        .get("/v1/jobs")
        .header("x-big", "x".repeat(1000))
        .send()
        .await
        .expect("answer");
    assert_eq!(fine.status(), StatusCode::OK);

    // Past hyper's own cap (64 KiB here), hyper refuses while parsing: a bare 431 (or the
    // connection closed), never a hang.
    let huge = api
        .get("/v1/jobs")
        .header("x-big", "x".repeat(80 * 1024))
        .send()
        .await;
    if let Ok(response) = huge {
        assert_eq!(
            response.status(),
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
        );
    }
}
