//! The `underwrite` binary and the app `startup` builds: CLI commands against a private
//! redis-server, graceful shutdown on signals, the start-up durability warning, and
//! readiness across a Redis restart.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use underwrite::config::Settings;
use underwrite::queue::JobId;
use underwrite::startup;

use crate::helpers::redis::{TestRedis, free_port, unique_queue};

const WITHIN: Duration = Duration::from_secs(15);

/// The binary, with an environment of its own: no `UNDERWRITE_*` of the caller leaks in.
fn underwrite(redis_url: &str, queue: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_underwrite"));
    for (var, _) in std::env::vars() {
        if var.starts_with("UNDERWRITE_") {
            cmd.env_remove(var);
        }
    }
    cmd.env("UNDERWRITE_REDIS_URL", redis_url)
        .env("UNDERWRITE_REDIS_QUEUE", queue)
        .env("UNDERWRITE_LOG_FORMAT", "json")
        .env("UNDERWRITE_API_TOKENS", "cli-test-token")
        .env("UNDERWRITE_PROTEGER_TOKEN", "cli-test-proteger-token")
        .stdin(Stdio::null());
    cmd
}

struct Output {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

fn run(mut cmd: Command) -> Output {
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

/// Settings for an in-process app on `redis`.
fn settings_on(redis: &TestRedis) -> Settings {
    let env = [
        ("UNDERWRITE_REDIS_URL", redis.url()),
        ("UNDERWRITE_REDIS_QUEUE", unique_queue()),
        ("UNDERWRITE_API_TOKENS", "cli-test-token".to_string()),
        (
            "UNDERWRITE_PROTEGER_TOKEN",
            "cli-test-proteger-token".to_string(),
        ),
    ];
    Settings::load_from(None, env.map(|(k, v)| (k.to_string(), v))).expect("settings")
}

/// Polls `url` until it answers `status`.
async fn wait_for_status(client: &reqwest::Client, url: &str, status: u16, within: Duration) {
    let deadline = Instant::now() + within;
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
            "{url} did not answer {status} within {within:?}; last: {last:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_follows_redis_and_the_api_works_again_after_a_restart() {
    let mut redis = TestRedis::start(&[]);
    let app = startup::spawn_for_tests(settings_on(&redis))
        .await
        .expect("app starts");
    let client = reqwest::Client::new();
    let readyz = format!("{}/readyz", app.base_url());
    wait_for_status(&client, &readyz, 200, WITHIN).await;

    redis.kill();
    wait_for_status(&client, &readyz, 503, WITHIN).await;

    redis.restart();
    wait_for_status(&client, &readyz, 200, WITHIN).await;

    app.stop()
        .await
        .expect("a clean stop: nothing died while redis was away");
}
