//! Webhook signing and the sink, from the outside: the library signs what the Standard
//! Webhooks spec says (checked by an HMAC written here, not the library's), the sink
//! answers real HTTP requests as documented, and `underwrite webhooks verify` /
//! `underwrite webhook-sink` behave as the README shows.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use underwrite::webhooks::signing::{Secret, Verifier, VerifyError, sign, signature_header};
use underwrite::webhooks::sink::{self, Sink, SinkConfig};

/// The spec's vectors: (secret, id, timestamp, body, signature).
const VECTORS: [(&str, &str, i64, &str, &str); 2] = [
    (
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        1614265330,
        r#"{"test": 2432232314}"#,
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    ),
    (
        "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
        "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
        1649367553,
        r#"{"email":"test@example.com","username":"test_user"}"#,
        "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=",
    ),
];

const WITHIN: Duration = Duration::from_secs(10);

/// The spec, written out independently of the library: HMAC-SHA256 keyed by the base64
/// part of `whsec_...`, over `id.timestamp.body`, base64, prefixed `v1,`.
fn spec_signature(secret: &str, id: &str, timestamp: &str, body: &[u8]) -> String {
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").expect("whsec_ prefix"))
        .expect("base64 key");
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("any key length");
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// Independent verification: any space-separated signature equal to the spec's.
fn spec_verifies(secret: &str, id: &str, timestamp: &str, header: &str, body: &[u8]) -> bool {
    let expected = spec_signature(secret, id, timestamp, body);
    header.split(' ').any(|signature| signature == expected)
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(WITHIN)
        .build()
        .expect("client")
}

async fn post(
    url: &str,
    id: &str,
    timestamp: &str,
    signature: &str,
    body: &str,
) -> reqwest::Response {
    client()
        .post(url)
        .header("content-type", "application/json")
        .header("webhook-id", id)
        .header("webhook-timestamp", timestamp)
        .header("webhook-signature", signature)
        .body(body.to_string())
        .send()
        .await
        .expect("the sink answers")
}

async fn start_sink(config: SinkConfig) -> Sink {
    sink::spawn("127.0.0.1:0".parse().expect("addr"), config)
        .await
        .expect("sink starts")
}

#[test]
fn the_library_signs_what_the_spec_says() {
    for (secret, id, ts, body, expected) in VECTORS {
        // The independent implementation reproduces the spec's vectors...
        assert_eq!(
            spec_signature(secret, id, &ts.to_string(), body.as_bytes()),
            expected
        );
        // ...and so does the library, and its verifier accepts them.
        let parsed = Secret::parse(secret).expect("secret");
        assert_eq!(sign(&parsed, id, ts, body.as_bytes()), expected);
        let verifier = Verifier::new(vec![parsed]);
        assert_eq!(
            verifier.verify_parts(id, &ts.to_string(), expected, body.as_bytes(), ts),
            Ok(())
        );
    }
    // Fresh secrets and bodies: the library's rotation header holds exactly the signatures
    // the spec gives for each secret, and each verifies independently.
    for n in 0..20 {
        let old = Secret::generate();
        let new = Secret::generate();
        let id = format!("msg_{n}");
        let ts = now() + n;
        let body = format!(r#"{{"type":"proteger.contract.created","data":{{"n":{n}}}}}"#);
        let header = signature_header(&[old.clone(), new.clone()], &id, ts, body.as_bytes());
        let expected = [&old, &new]
            .map(|s| spec_signature(&s.expose(), &id, &ts.to_string(), body.as_bytes()))
            .join(" ");
        assert_eq!(header, expected);
        for secret in [&old, &new] {
            assert!(spec_verifies(
                &secret.expose(),
                &id,
                &ts.to_string(),
                &header,
                body.as_bytes()
            ));
        }
    }
}

#[tokio::test]
async fn a_correctly_signed_delivery_is_204_and_recorded_verified() {
    let secret = Secret::generate();
    let sink = start_sink(SinkConfig::new(vec![secret.clone()])).await;
    let ts = now().to_string();
    let body = r#"{"type":"proteger.contract.created","timestamp":"2026-01-01T00:00:00Z","data":{"job_id":"j1"}}"#;
    // Signed by the test's own implementation of the spec, not the library's.
    let signature = spec_signature(&secret.expose(), "msg_one", &ts, body.as_bytes());

    let response = post(&sink.url(), "msg_one", &ts, &signature, body).await;
    assert_eq!(response.status(), 204);
    // Any path is a receiver.
    let other = format!("http://{}/some/hook", sink.addr);
    assert_eq!(
        post(&other, "msg_one", &ts, &signature, body)
            .await
            .status(),
        204
    );

    assert!(sink.wait_for_verified(2, WITHIN).await);
    let received = sink.received();
    assert_eq!(received.len(), 2);
    let first = &received[0];
    assert_eq!(first.id, "msg_one");
    assert_eq!(first.timestamp.map(|t| t.to_string()), Some(ts));
    assert_eq!(
        first.event_type.as_deref(),
        Some("proteger.contract.created")
    );
    assert_eq!(first.body["data"]["job_id"], "j1");
    assert!(first.verified);
    assert_eq!(first.error, None);
    assert_eq!(first.status, 204);
    let counts = sink.counts();
    assert_eq!(
        (
            counts.received,
            counts.verified,
            counts.accepted,
            counts.distinct_ids
        ),
        (2, 2, 2, 1)
    );
    sink.shutdown().await;
}

#[tokio::test]
async fn a_bad_signature_is_400_and_recorded_with_the_reason() {
    let secret = Secret::generate();
    let sink = start_sink(SinkConfig::new(vec![secret.clone()])).await;
    let ts = now().to_string();
    let body = r#"{"type":"proteger.contract.failed"}"#;
    let good = spec_signature(&secret.expose(), "msg_two", &ts, body.as_bytes());

    // Signed by another secret; the body changed after signing; a stale timestamp.
    let stranger = spec_signature(
        &Secret::generate().expose(),
        "msg_two",
        &ts,
        body.as_bytes(),
    );
    let response = post(&sink.url(), "msg_two", &ts, &stranger, body).await;
    assert_eq!(response.status(), 400);
    let reason = response.text().await.expect("body");
    assert!(reason.contains("no `v1,` signature"), "{reason}");
    let tampered = r#"{"type":"proteger.contract.created"}"#;
    assert_eq!(
        post(&sink.url(), "msg_two", &ts, &good, tampered)
            .await
            .status(),
        400
    );
    let stale = (now() - 3600).to_string();
    let stale_signature = spec_signature(&secret.expose(), "msg_two", &stale, body.as_bytes());
    assert_eq!(
        post(&sink.url(), "msg_two", &stale, &stale_signature, body)
            .await
            .status(),
        400
    );
    let unsigned = client()
        .post(sink.url())
        .body(body)
        .send()
        .await
        .expect("answer");
    assert_eq!(unsigned.status(), 400);

    assert!(
        sink.wait_until(WITHIN, |c| c.received == 4).await,
        "{:?}",
        sink.counts()
    );
    let received = sink.received();
    assert!(received.iter().all(|r| !r.verified && r.status == 400));
    let reasons: Vec<&str> = received
        .iter()
        .map(|r| r.error.as_deref().unwrap_or_default())
        .collect();
    assert!(reasons[0].contains("no `v1,` signature"), "{reasons:?}");
    assert!(reasons[1].contains("no `v1,` signature"), "{reasons:?}");
    assert!(reasons[2].contains("in the past"), "{reasons:?}");
    assert!(
        reasons[3].contains("`webhook-id` header is missing"),
        "{reasons:?}"
    );
    assert_eq!(sink.counts().rejected, 4);
    assert_eq!(sink.counts().verified, 0);
}

#[tokio::test]
async fn a_rotation_header_verifies_with_either_secret() {
    let old = Secret::generate();
    let new = Secret::generate();
    let ts = now();
    let body = r#"{"type":"proteger.contract.cancelled"}"#;
    let header = signature_header(&[old.clone(), new.clone()], "msg_rot", ts, body.as_bytes());
    for secret in [old, new] {
        let sink = start_sink(SinkConfig::new(vec![secret])).await;
        let response = post(&sink.url(), "msg_rot", &ts.to_string(), &header, body).await;
        assert_eq!(response.status(), 204);
    }
}

#[tokio::test]
async fn always_and_fail_share_answer_what_they_are_told() {
    let secret = Secret::generate();
    let ts = now().to_string();
    let body = r#"{"type":"proteger.contract.created"}"#;
    let signature = spec_signature(&secret.expose(), "msg_3", &ts, body.as_bytes());

    let gone = start_sink(SinkConfig {
        always: Some(410),
        ..SinkConfig::new(vec![secret.clone()])
    })
    .await;
    assert_eq!(
        post(&gone.url(), "msg_3", &ts, &signature, body)
            .await
            .status(),
        410
    );
    assert!(gone.received()[0].verified, "recorded, and verified");

    let busy = start_sink(SinkConfig {
        always: Some(429),
        retry_after_secs: Some(7),
        ..SinkConfig::new(vec![secret.clone()])
    })
    .await;
    let response = post(&busy.url(), "msg_3", &ts, &signature, body).await;
    assert_eq!(response.status(), 429);
    assert_eq!(
        response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("7")
    );
    // Back to normal while running.
    busy.set_always(None).expect("no status is fine");
    assert_eq!(
        post(&busy.url(), "msg_3", &ts, &signature, body)
            .await
            .status(),
        204
    );

    let flaky = start_sink(SinkConfig {
        fail_share: 1.0,
        ..SinkConfig::new(vec![secret.clone()])
    })
    .await;
    assert_eq!(
        post(&flaky.url(), "msg_3", &ts, &signature, body)
            .await
            .status(),
        500
    );
    // A bad signature is still a 400: the dice only roll for verified deliveries.
    assert_eq!(
        post(&flaky.url(), "msg_3", &ts, "v1,AAAA", body)
            .await
            .status(),
        400
    );
    flaky.set_fail_share(0.0).expect("a share");
    assert_eq!(
        post(&flaky.url(), "msg_3", &ts, &signature, body)
            .await
            .status(),
        204
    );
    assert!(flaky.set_fail_share(2.0).is_err());
    assert!(flaky.set_always(Some(99)).is_err());

    let refused = sink::spawn(
        "127.0.0.1:0".parse().expect("addr"),
        SinkConfig {
            fail_share: -0.5,
            ..SinkConfig::default()
        },
    )
    .await;
    assert!(refused.is_err());
}

/// The binary with a clean `UNDERWRITE_*` environment.
fn underwrite() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_underwrite"));
    for (var, _) in std::env::vars() {
        if var.starts_with("UNDERWRITE_") {
            cmd.env_remove(var);
        }
    }
    cmd.env("UNDERWRITE_LOG", "warn");
    cmd
}

fn verify_command(vector: usize, body_file: &std::path::Path) -> Command {
    let (secret, id, ts, _, signature) = VECTORS[vector];
    let mut cmd = underwrite();
    cmd.args(["webhooks", "verify", "--secret", secret, "--id", id])
        .args(["--timestamp", &ts.to_string(), "--signature", signature])
        .args(["--now", &ts.to_string()])
        .arg("--body-file")
        .arg(body_file)
        .stdin(Stdio::null());
    cmd
}

#[test]
fn the_verify_command_accepts_the_spec_vectors_and_refuses_tampering() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (n, (_, _, _, body, _)) in VECTORS.iter().enumerate() {
        let file = dir.path().join(format!("body{n}.json"));
        std::fs::write(&file, body).expect("write body");
        let output = verify_command(n, &file).output().expect("run");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "valid");

        // One byte more (an editor's trailing newline) is another body.
        std::fs::write(&file, format!("{body}\n")).expect("write body");
        let output = verify_command(n, &file).output().expect("run");
        assert_eq!(output.status.code(), Some(1));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("no `v1,` signature"), "{stderr}");
        assert!(output.stdout.is_empty());
    }

    // The body on stdin; without --now the 2021 timestamp is far too old.
    let (secret, id, ts, body, signature) = VECTORS[0];
    let mut child = underwrite()
        .args(["webhooks", "verify", "--secret", secret, "--id", id])
        .args(["--timestamp", &ts.to_string(), "--signature", signature])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(body.as_bytes()).expect("write stdin");
    }
    let output = child.wait_with_output().expect("run");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("in the past"), "{stderr}");

    // A malformed secret is named without being echoed.
    let output = underwrite()
        .args([
            "webhooks",
            "verify",
            "--secret",
            "whsec_%%secret%%",
            "--id",
            id,
        ])
        .args(["--timestamp", "1", "--signature", signature, "--body-file"])
        .arg(dir.path().join("body0.json"))
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--secret number 1"), "{stderr}");
    assert!(!stderr.contains("%%secret%%"), "{stderr}");
}

/// `underwrite webhook-sink` as a child process, stopped (SIGTERM) when dropped.
struct SinkProcess {
    child: Child,
    stdout: BufReader<ChildStdout>,
    url: String,
}

impl SinkProcess {
    fn start(extra: &[&str], secret: &Secret) -> Self {
        let mut cmd = underwrite();
        cmd.args(["webhook-sink", "--listen", "127.0.0.1:0", "--secret"])
            .arg(secret.expose())
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // SAFETY: prctl only affects the child being spawned; it dies with this test.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let mut child = cmd.spawn().expect("spawn webhook-sink");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut first = String::new();
        stdout.read_line(&mut first).expect("first line");
        let url = first
            .split_once("listening on ")
            .and_then(|(_, rest)| rest.split(';').next())
            .unwrap_or_else(|| panic!("no address in {first:?}"))
            .to_string();
        Self { child, stdout, url }
    }

    fn next_line(&mut self) -> String {
        let mut line = String::new();
        self.stdout.read_line(&mut line).expect("a line");
        line.trim_end().to_string()
    }

    /// SIGTERM, then the exit status and the summary on stderr.
    fn stop(mut self) -> (Option<i32>, String) {
        // SAFETY: a signal to our own child.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let mut stderr = String::new();
        if let Some(mut pipe) = self.child.stderr.take() {
            use std::io::Read;
            let _ = pipe.read_to_string(&mut stderr);
        }
        let status = self.child.wait().expect("wait");
        (status.code(), stderr)
    }
}

impl Drop for SinkProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn the_sink_command_verifies_prints_and_fails_on_request() {
    let secret = Secret::generate();
    let ts = now().to_string();
    let body = r#"{"type":"proteger.contract.refund_quoted","data":{}}"#;
    let signature = spec_signature(&secret.expose(), "msg_cli", &ts, body.as_bytes());

    let mut gone = SinkProcess::start(&["--always", "410"], &secret);
    assert_eq!(
        post(&gone.url, "msg_cli", &ts, &signature, body)
            .await
            .status(),
        410
    );
    assert_eq!(
        gone.next_line(),
        "410 msg_cli proteger.contract.refund_quoted verified"
    );
    let (code, summary) = gone.stop();
    assert_eq!(code, Some(0));
    assert!(summary.contains("1 received, 1 verified"), "{summary}");

    let mut normal = SinkProcess::start(&[], &secret);
    assert_eq!(
        post(&normal.url, "msg_cli", &ts, &signature, body)
            .await
            .status(),
        204
    );
    assert_eq!(
        normal.next_line(),
        "204 msg_cli proteger.contract.refund_quoted verified"
    );
    assert_eq!(
        post(&normal.url, "msg_cli", &ts, "v1,bm9wZQ==", body)
            .await
            .status(),
        400
    );
    let line = normal.next_line();
    assert!(
        line.starts_with("400 msg_cli proteger.contract.refund_quoted NOT VERIFIED: no `v1,`"),
        "{line}"
    );
    let (code, _) = normal.stop();
    assert_eq!(code, Some(0));
}

#[test]
fn verify_errors_are_distinct_kinds() {
    // The kinds a receiver may want to tell apart (log a replay differently from a forgery).
    let verifier = Verifier::new(vec![Secret::generate()]);
    let kinds = [
        verifier.verify_parts("id", "x", "v1,AAAA", b"{}", 0),
        verifier.verify_parts("id", "0", "v1,AAAA", b"{}", 1000),
        verifier.verify_parts("id", "1000", "v1,AAAA", b"{}", 0),
        verifier.verify_parts("id", "0", "v1,AAAA", b"{}", 0),
    ];
    assert!(matches!(kinds[0], Err(VerifyError::BadTimestamp(_))));
    assert!(matches!(kinds[1], Err(VerifyError::TooOld { .. })));
    assert!(matches!(kinds[2], Err(VerifyError::TooNew { .. })));
    assert!(matches!(kinds[3], Err(VerifyError::NoMatchingSignature)));
}

/// `webhook-sink --show-requests` prints a delivery as it came, and what it prints is enough
/// to check the delivery by hand with `underwrite webhooks verify`.
#[tokio::test]
async fn a_delivery_the_sink_shows_verifies_by_hand() {
    let secret = Secret::generate();
    let ts = now().to_string();
    let body = r#"{"type":"tulip.contract.created","data":{"note":"é"}}"#;
    let signature = spec_signature(&secret.expose(), "msg_shown", &ts, body.as_bytes());
    let mut sink = SinkProcess::start(&["--show-requests"], &secret);
    assert_eq!(
        post(&sink.url, "msg_shown", &ts, &signature, body)
            .await
            .status(),
        204
    );
    assert_eq!(
        sink.next_line(),
        "204 msg_shown tulip.contract.created verified"
    );
    assert_eq!(sink.next_line(), "--- request");
    let mut headers = std::collections::HashMap::new();
    loop {
        let line = sink.next_line();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(": ").expect("a header line");
        headers.insert(name.to_string(), value.to_string());
    }
    let shown_body = sink.next_line();
    assert_eq!(shown_body, body);
    assert_eq!(sink.next_line(), "--- end");

    let mut verify = underwrite();
    verify
        .args(["webhooks", "verify", "--secret"])
        .arg(secret.expose())
        .args(["--id", &headers["webhook-id"]])
        .args(["--timestamp", &headers["webhook-timestamp"]])
        .args(["--signature", &headers["webhook-signature"]])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = verify.spawn().expect("verify runs");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(shown_body.as_bytes()).expect("body");
    }
    let output = child.wait_with_output().expect("verify ends");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "valid");
    sink.stop();
}
