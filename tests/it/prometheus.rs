//! Proof against a real Prometheus: Debian's `prometheus` package (`promtool` and the
//! server), which `.ci/run` installs. On a machine without it these tests say so and pass,
//! unless `REQUIRE_PROMETHEUS_TESTS` is set (`.ci/run` sets it), when its absence fails.

use std::path::PathBuf;
use std::process::Stdio;

use tokio::io::AsyncWriteExt;

use crate::helpers::redis::{TestRedis, unique_queue};

/// `name` on the `PATH`, or `None` (a failure when Prometheus is required).
pub fn tool(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|path| path.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var_os("REQUIRE_PROMETHEUS_TESTS").is_none(),
            "`{name}` is required (REQUIRE_PROMETHEUS_TESTS is set): install Debian's \
             `prometheus` package"
        );
        eprintln!("skipped: `{name}` is not installed (Debian's `prometheus` package)");
    }
    found
}

/// A running app (API and workers) on the shared redis-server.
pub async fn app() -> underwrite::startup::RunningApp {
    let mut settings = crate::helpers::api::settings("prometheus-token");
    settings.redis.url = TestRedis::shared().url();
    settings.redis.queue = unique_queue();
    underwrite::startup::spawn_for_tests(settings)
        .await
        .expect("app starts")
}

#[tokio::test]
async fn promtool_finds_nothing_to_fix_in_our_metrics() {
    let Some(promtool) = tool("promtool") else {
        return;
    };
    let app = app().await;
    let text = reqwest::get(format!("{}/metrics", app.base_url()))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    let mut check = tokio::process::Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool runs");
    let mut stdin = check.stdin.take().expect("stdin");
    stdin.write_all(text.as_bytes()).await.expect("write");
    drop(stdin);
    let output = check.wait_with_output().await.expect("promtool ends");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success() && said.trim().is_empty(),
        "promtool check metrics: {said}"
    );
    app.stop().await.expect("stops");
}
