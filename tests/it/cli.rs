//! The `underwrite` binary and the app `startup` builds: CLI commands against a private
//! redis-server, graceful shutdown on signals, the start-up durability warning, and
//! readiness across a Redis restart.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use underwrite::config::Settings;
use underwrite::queue::{JobId, RetryPolicy};
use underwrite::startup;
use underwrite::vendors::proteger::sandbox::sample_contract;

use crate::helpers::redis::{TestRedis, free_port, unique_queue};

const WITHIN: Duration = Duration::from_secs(15);
/// The bearer token of the apps these tests start.
const TOKEN: &str = "cli-test-token";

/// The binary, with an environment of its own: no `UNDERWRITE_*` of the caller leaks in.
pub(crate) fn underwrite(redis_url: &str, queue: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_underwrite"));
    for (var, _) in std::env::vars() {
        if var.starts_with("UNDERWRITE_") {
            cmd.env_remove(var);
        }
    }
    cmd.env("UNDERWRITE_REDIS_URL", redis_url)
        .env("UNDERWRITE_REDIS_QUEUE", queue)
        .env("UNDERWRITE_LOG_FORMAT", "json")
        .env("UNDERWRITE_API_TOKENS", TOKEN)
        .env("UNDERWRITE_PROTEGER_TOKEN", "cli-test-proteger-token")
        .stdin(Stdio::null());
    cmd
}

pub(crate) struct Output {
    pub(crate) status: ExitStatus,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

pub(crate) fn run(mut cmd: Command) -> Output {
    let output = cmd.output().expect("run underwrite");
    Output {
        status: output.status,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// A running `underwrite serve`, its stderr collected as it comes.
struct Serve {
    child: Child,
    stderr: Arc<Mutex<String>>,
}

impl Serve {
    fn start(mut cmd: Command) -> Self {
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn underwrite serve");
        let stderr = Arc::new(Mutex::new(String::new()));
        let pipe = child.stderr.take().expect("stderr pipe");
        let sink = Arc::clone(&stderr);
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                if let Ok(mut text) = sink.lock() {
                    text.push_str(&line);
                    text.push('\n');
                }
            }
        });
        Self { child, stderr }
    }

    fn stderr(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Waits until stderr contains `needle`.
    fn wait_for_log(&mut self, needle: &str) {
        let deadline = Instant::now() + WITHIN;
        while !self.stderr().contains(needle) {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "serve exited ({status}) before logging `{needle}`:\n{}",
                    self.stderr()
                );
            }
            assert!(
                Instant::now() < deadline,
                "serve did not log `{needle}` within {WITHIN:?}:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn signal(&self, signal: libc::c_int) {
        let pid = libc::pid_t::try_from(self.child.id()).expect("pid");
        // SAFETY: kill(2) on our own child's pid.
        let rc = unsafe { libc::kill(pid, signal) };
        assert_eq!(rc, 0, "kill failed");
    }

    /// Waits for the process to exit.
    fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + WITHIN;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "serve did not exit within {WITHIN:?}:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn jobs_show_of_an_unknown_id_exits_1_with_a_clear_message() {
    let redis = TestRedis::shared();
    let id = JobId::new();
    let mut cmd = underwrite(&redis.url(), &unique_queue());
    cmd.args(["jobs", "show", &id.to_string()]);
    let out = run(cmd);
    assert_eq!(out.status.code(), Some(1), "stderr: {}", out.stderr);
    assert!(out.stdout.is_empty(), "stdout: {}", out.stdout);
    assert!(
        out.stderr
            .starts_with(&format!("error: job {id} not found")),
        "stderr: {}",
        out.stderr
    );

    let mut cmd = underwrite(&redis.url(), &unique_queue());
    cmd.args(["jobs", "show", "not-a-job"]);
    let out = run(cmd);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stderr.contains("`not-a-job` is not a job id"),
        "{}",
        out.stderr
    );
}

#[test]
fn dead_list_of_a_fresh_queue_is_empty() {
    let redis = TestRedis::shared();
    let queue = unique_queue();
    let mut cmd = underwrite(&redis.url(), &queue);
    cmd.args(["dead", "list"]);
    let out = run(cmd);
    assert!(out.status.success(), "stderr: {}", out.stderr);
    assert!(out.stdout.is_empty(), "stdout: {}", out.stdout);
    assert!(
        out.stderr.contains("the dead set is empty"),
        "{}",
        out.stderr
    );

    let mut cmd = underwrite(&redis.url(), &queue);
    cmd.args(["dead", "list", "--json"]);
    let out = run(cmd);
    assert!(out.status.success(), "stderr: {}", out.stderr);
    let page: serde_json::Value = serde_json::from_str(&out.stdout).expect("JSON page");
    assert_eq!(page["jobs"], serde_json::json!([]));
    assert!(page["next_cursor"].is_null());

    let mut cmd = underwrite(&redis.url(), &queue);
    cmd.args(["dead", "retry", &JobId::new().to_string()]);
    let out = run(cmd);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stderr.contains("not found"), "{}", out.stderr);
}

#[test]
fn cli_commands_fail_fast_when_redis_is_unreachable() {
    let nobody = format!("redis://127.0.0.1:{}/", free_port());
    let mut cmd = underwrite(&nobody, &unique_queue());
    cmd.args(["dead", "list"]);
    let started = Instant::now();
    let out = run(cmd);
    assert_eq!(out.status.code(), Some(1));
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(
        out.stderr
            .starts_with("error: cannot reach redis at redis://127.0.0.1:"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
}

#[test]
fn serve_exits_0_on_sigterm() {
    let redis = TestRedis::shared();
    let mut cmd = underwrite(&redis.url(), &unique_queue());
    cmd.env("UNDERWRITE_API_LISTEN", "127.0.0.1:0").arg("serve");
    let mut serve = Serve::start(cmd);
    serve.wait_for_log("producer API listening");
    serve.wait_for_log("underwrite is running");
    serve.signal(libc::SIGTERM);
    let status = serve.wait_exit();
    assert_eq!(status.code(), Some(0), "stderr:\n{}", serve.stderr());
    assert!(
        serve.stderr().contains("stopped cleanly"),
        "{}",
        serve.stderr()
    );
}

#[test]
fn a_worker_only_serve_exits_0_on_sigint() {
    let redis = TestRedis::shared();
    let mut cmd = underwrite(&redis.url(), &unique_queue());
    cmd.args(["serve", "--no-api"]);
    let mut serve = Serve::start(cmd);
    serve.wait_for_log("underwrite is running");
    serve.signal(libc::SIGINT);
    let status = serve.wait_exit();
    assert_eq!(status.code(), Some(0), "stderr:\n{}", serve.stderr());
    assert!(!serve.stderr().contains("producer API listening"));
}

#[test]
fn serve_warns_when_redis_may_evict_jobs() {
    let redis = TestRedis::start(&["--maxmemory-policy", "allkeys-lru"]);
    let mut cmd = underwrite(&redis.url(), &unique_queue());
    cmd.env("UNDERWRITE_API_LISTEN", "127.0.0.1:0")
        .args(["serve", "--no-worker"]);
    let mut serve = Serve::start(cmd);
    serve.wait_for_log("underwrite is running");
    serve.wait_for_log("set maxmemory-policy noeviction");
    assert!(serve.stderr().contains("allkeys-lru"), "{}", serve.stderr());
    serve.signal(libc::SIGTERM);
    assert_eq!(serve.wait_exit().code(), Some(0), "{}", serve.stderr());
}

/// Settings for an in-process app on `redis`, its worker calling the sandbox at
/// `proteger_url`.
fn settings_on(redis: &TestRedis, proteger_url: &str) -> Settings {
    let env = [
        ("UNDERWRITE_REDIS_URL", redis.url()),
        ("UNDERWRITE_REDIS_QUEUE", unique_queue()),
        ("UNDERWRITE_API_TOKENS", TOKEN.to_string()),
        (
            "UNDERWRITE_PROTEGER_TOKEN",
            "cli-test-proteger-token".to_string(),
        ),
        (
            "UNDERWRITE_VENDORS_PROTEGER_BASE_URL",
            proteger_url.to_string(),
        ),
    ];
    let mut settings =
        Settings::load_from(None, env.map(|(k, v)| (k.to_string(), v))).expect("settings");
    let fast = RetryPolicy {
        max_attempts: 20,
        base_ms: 50,
        cap_ms: 500,
        snooze_deadline_secs: None,
    };
    for kind in [
        "default",
        "proteger.contract.batch",
        "proteger.contract.cancel",
    ] {
        settings.retry.insert(kind.to_string(), fast);
    }
    settings
}

/// Polls `url` until it answers `status`.
async fn wait_for_status(client: &reqwest::Client, url: &str, status: u16) {
    let deadline = Instant::now() + WITHIN;
    loop {
        let answer = client
            .get(url)
            .timeout(Duration::from_secs(3))
            .send()
            .await
            .map(|r| r.status().as_u16());
        if let Ok(code) = answer
            && code == status
        {
            return;
        }
        let last = answer.map_err(|e| e.to_string());
        assert!(
            Instant::now() < deadline,
            "{url} did not answer {status} within {WITHIN:?}; last: {last:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Posts one contract to the API (202 expected) and returns its job record once final.
async fn create_contract(client: &reqwest::Client, base: &str, transaction_id: &str) -> Value {
    let answer = client
        .post(format!("{base}/v1/proteger/contracts"))
        .bearer_auth(TOKEN)
        .json(&sample_contract(transaction_id))
        .send()
        .await
        .expect("POST");
    assert_eq!(answer.status().as_u16(), 202);
    let accepted: Value = answer.json().await.expect("202 JSON");
    let job_id = accepted["job_id"].as_str().expect("job_id");
    wait_until_final(client, base, job_id).await
}

/// Polls a job over the API until it is final.
async fn wait_until_final(client: &reqwest::Client, base: &str, job_id: &str) -> Value {
    let deadline = Instant::now() + WITHIN;
    loop {
        let record: Value = client
            .get(format!("{base}/v1/jobs/{job_id}"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("GET job")
            .json()
            .await
            .expect("job JSON");
        if matches!(
            record["state"].as_str(),
            Some("succeeded" | "failed" | "dead")
        ) {
            return record;
        }
        assert!(
            Instant::now() < deadline,
            "job {job_id} not final within {WITHIN:?}: {record}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_follows_redis_and_the_app_works_again_after_a_restart() {
    let mut redis = TestRedis::start(&[]);
    let sandbox = underwrite::vendors::proteger::sandbox::serve(
        "127.0.0.1:0".parse().expect("addr"),
        underwrite::vendors::proteger::sandbox::ProtegerSandboxConfig::default(),
    )
    .await
    .expect("sandbox");
    let app = startup::spawn_for_tests(settings_on(&redis, &sandbox.proteger_url()))
        .await
        .expect("app starts");
    let client = reqwest::Client::new();
    let base = app.base_url();
    let readyz = format!("{base}/readyz");
    wait_for_status(&client, &readyz, 200).await;

    redis.kill();
    wait_for_status(&client, &readyz, 503).await;
    // Liveness does not depend on Redis: restarting the process would not bring it back.
    wait_for_status(&client, &format!("{base}/healthz"), 200).await;
    // An enqueue meanwhile is refused as "try again", with nothing done.
    let refused = client
        .post(format!("{base}/v1/proteger/contracts"))
        .bearer_auth(TOKEN)
        .json(&sample_contract("while-redis-is-away"))
        .send()
        .await
        .expect("POST");
    assert_eq!(refused.status().as_u16(), 503);
    let body: Value = refused.json().await.expect("error JSON");
    assert_eq!(body["error"]["code"], "unavailable", "{body}");

    redis.restart();
    wait_for_status(&client, &readyz, 200).await;

    // The API enqueues again, and the workers, which lost their consumer groups with the
    // data of a Redis without persistence, carry the job to the vendor.
    let record = create_contract(&client, &base, "after-the-restart").await;
    assert_eq!(record["state"], "succeeded", "{record}");
    assert_eq!(sandbox.proteger.effects().contracts_created, 1);

    app.stop()
        .await
        .expect("a clean stop: nothing died while redis was away");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_started_while_redis_is_down_works_once_it_is_back() {
    let mut redis = TestRedis::start(&[]);
    let sandbox = underwrite::vendors::proteger::sandbox::serve(
        "127.0.0.1:0".parse().expect("addr"),
        underwrite::vendors::proteger::sandbox::ProtegerSandboxConfig::default(),
    )
    .await
    .expect("sandbox");
    let settings = settings_on(&redis, &sandbox.proteger_url());
    redis.kill();
    // Nothing answers: the workers' setup (the config file's webhook endpoints) must wait
    // for Redis, not stop the process.
    let app = startup::spawn_for_tests(settings)
        .await
        .expect("app starts without redis");
    let client = reqwest::Client::new();
    let base = app.base_url();
    wait_for_status(&client, &format!("{base}/readyz"), 503).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    redis.restart();
    wait_for_status(&client, &format!("{base}/readyz"), 200).await;

    let record = create_contract(&client, &base, "after-a-cold-start").await;
    assert_eq!(record["state"], "succeeded", "{record}");
    app.stop().await.expect("a clean stop");
}

/// Runs the binary off the async runtime's threads.
async fn run_async(cmd: Command) -> Output {
    tokio::task::spawn_blocking(move || run(cmd))
        .await
        .expect("CLI run")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_commands_show_retry_and_purge_a_failed_job() {
    let redis = TestRedis::shared();
    let sandbox = underwrite::vendors::proteger::sandbox::serve(
        "127.0.0.1:0".parse().expect("addr"),
        underwrite::vendors::proteger::sandbox::ProtegerSandboxConfig::default(),
    )
    .await
    .expect("sandbox");
    let settings = settings_on(redis, &sandbox.proteger_url());
    let queue = settings.redis.queue.clone();
    let app = startup::spawn_for_tests(settings)
        .await
        .expect("app starts");
    let client = reqwest::Client::new();
    let base = app.base_url();

    // A product the vendor does not know: a permanent refusal, straight to the dead set.
    let mut contract = serde_json::to_value(sample_contract("cli-dead")).expect("JSON");
    contract["product"]["referenceId"] = "no-such-product".into();
    let accepted: Value = client
        .post(format!("{base}/v1/proteger/contracts"))
        .bearer_auth(TOKEN)
        .json(&contract)
        .send()
        .await
        .expect("POST")
        .json()
        .await
        .expect("202 JSON");
    let id = accepted["job_id"].as_str().expect("job_id").to_string();
    let record = wait_until_final(&client, &base, &id).await;
    assert_eq!(record["state"], "failed", "{record}");

    let cli = |args: &[&str]| {
        let mut cmd = underwrite(&redis.url(), &queue);
        cmd.args(args);
        run_async(cmd)
    };
    let out = cli(&["dead", "list"]).await;
    assert!(out.status.success(), "{}", out.stderr);
    assert!(out.stdout.contains(&id), "{}", out.stdout);
    assert!(out.stdout.contains("failed"), "{}", out.stdout);

    let out = cli(&["dead", "show", &id]).await;
    assert!(out.status.success(), "{}", out.stderr);
    let shown: Value = serde_json::from_str(&out.stdout).expect("JSON record");
    assert_eq!(shown["id"], id.as_str());
    assert_eq!(shown["last_error"]["vendor_status"], 400);

    // (Its batch, the one vendor call that carried it, failed too: filter by kind.)
    let out = cli(&[
        "jobs",
        "list",
        "--state",
        "failed",
        "--kind",
        "proteger.contract.create",
        "--json",
    ])
    .await;
    assert!(out.status.success(), "{}", out.stderr);
    let page: Value = serde_json::from_str(&out.stdout).expect("JSON page");
    assert_eq!(page["jobs"][0]["id"], id.as_str());
    assert_eq!(page["jobs"].as_array().map(Vec::len), Some(1));

    // Retried, it runs again (and fails again: the product is still unknown).
    let out = cli(&["dead", "retry", &id]).await;
    assert!(out.status.success(), "{}", out.stderr);
    assert_eq!(out.stdout.trim(), format!("requeued {id}"));
    let deadline = Instant::now() + WITHIN;
    loop {
        let record = wait_until_final(&client, &base, &id).await;
        if record["finished_at"] != shown["finished_at"] {
            assert_eq!(record["state"], "failed", "{record}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the retried job did not run again"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let out = cli(&["dead", "purge", "--all"]).await;
    assert!(out.status.success(), "{}", out.stderr);
    // The contract's job and the batches that carried it to the vendor.
    assert!(out.stdout.starts_with("purged "), "{}", out.stdout);
    let out = cli(&["dead", "list", "--json"]).await;
    let page: Value = serde_json::from_str(&out.stdout).expect("JSON page");
    assert_eq!(page["jobs"], serde_json::json!([]));
    let out = cli(&["jobs", "show", &id]).await;
    assert_eq!(out.status.code(), Some(1), "{}", out.stdout);
    let out = cli(&["dead", "purge", &id]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stderr.contains("is not in the dead set"),
        "{}",
        out.stderr
    );

    app.stop().await.expect("clean stop");
}

/// A setting that cannot work stops every command at once, and the message says what to
/// write instead (issue 14's list).
#[test]
fn a_wrong_setting_is_refused_with_what_to_write_instead() {
    let redis = TestRedis::shared();
    let cases: [(&str, &str, &str); 6] = [
        ("UNDERWRITE_WEBHOOKS_JITER", "0.5", "did you mean `jitter`?"),
        (
            "UNDERWRITE_WEBHOOK_JITTER",
            "0.5",
            "did you mean `webhooks`?",
        ),
        ("UNDERWRITE_WEBHOOKS_JITTER", "3", "between 0 and 1"),
        (
            "UNDERWRITE_API_LISTEN",
            "localhost:8181",
            "`127.0.0.1:8181`",
        ),
        ("UNDERWRITE_LOG_FORMAT", "xml", "use `json` or `pretty`"),
        (
            "UNDERWRITE_REDIS_URL",
            "127.0.0.1:6379",
            "`redis://127.0.0.1:6379`",
        ),
    ];
    for (var, value, hint) in cases {
        let mut cmd = underwrite(&redis.url(), &unique_queue());
        cmd.env(var, value).arg("schedules");
        let out = run(cmd);
        assert!(!out.status.success(), "{var}={value} was accepted");
        assert!(out.stderr.contains(hint), "{var}={value}: {}", out.stderr);
    }
}
