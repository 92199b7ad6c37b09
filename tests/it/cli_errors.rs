//! The command line's refusals say what to do: an unknown kind or benchmark is refused
//! when the arguments are read (before any Redis is touched), with the known names and a
//! "did you mean"; `dead retry` without an id names `--all`; `serve --help` names its ports
//! and the variables a first run needs.

use crate::cli::{run, underwrite};

/// A Redis URL nobody listens on: a command that reached for it would say so.
const NOWHERE: &str = "redis://127.0.0.1:1";

#[test]
fn an_unknown_kind_is_refused_with_the_kinds_there_are() {
    let mut cmd = underwrite(NOWHERE, "q");
    cmd.args(["jobs", "list", "--kind", "proteger.contract.creat"]);
    let out = run(cmd);
    assert!(!out.status.success());
    assert!(
        out.stderr
            .contains("did you mean `proteger.contract.create`"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("tulip.contract.create"),
        "{}",
        out.stderr
    );
    assert!(
        !out.stderr.contains("127.0.0.1:1"),
        "Redis was reached for: {}",
        out.stderr
    );
}

#[test]
fn an_unknown_benchmark_is_refused_before_any_redis() {
    let mut cmd = underwrite(NOWHERE, "q");
    cmd.args(["bench", "e2 e"]);
    let out = run(cmd);
    assert!(!out.status.success());
    assert!(
        out.stderr.contains("unknown benchmark `e2 e`"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("credit-poll"), "{}", out.stderr);
    // Nothing was started: no private redis-server, no connection attempt.
    assert!(!out.stderr.contains("redis:"), "{}", out.stderr);
}

#[test]
fn dead_retry_without_an_id_names_all() {
    for action in ["retry", "purge"] {
        let mut cmd = underwrite(NOWHERE, "q");
        cmd.args(["dead", action]);
        let out = run(cmd);
        assert!(!out.status.success());
        assert!(out.stderr.contains("<ID|--all>"), "{}", out.stderr);
    }
}

#[test]
fn serve_help_names_its_ports_and_key_variables() {
    let mut cmd = underwrite(NOWHERE, "q");
    cmd.args(["serve", "--help"]);
    let out = run(cmd);
    assert!(out.status.success(), "{}", out.stderr);
    for needle in [
        "127.0.0.1:8080",
        "UNDERWRITE_WORKER_METRICS_LISTEN",
        "UNDERWRITE_REDIS_URL",
        "UNDERWRITE_API_TOKENS",
        "UNDERWRITE_WEBHOOKS_ALLOW_CIDRS",
    ] {
        assert!(
            out.stdout.contains(needle),
            "no {needle} in:\n{}",
            out.stdout
        );
    }
}

/// `underwrite ready`, the containers' healthcheck: 0 against a ready API, 1 (with the URL
/// and why) against none.
#[tokio::test]
async fn ready_answers_for_a_running_api_and_fails_without_one() {
    let api = crate::helpers::api::TestApi::spawn().await;
    let url = format!("{}/readyz", api.url);
    let ready = tokio::task::spawn_blocking(move || {
        let mut cmd = underwrite(NOWHERE, "q");
        cmd.args(["ready", "--url", &url]);
        run(cmd)
    })
    .await
    .expect("ran");
    assert!(ready.status.success(), "{}", ready.stderr);
    assert_eq!(ready.stdout.trim(), "ready");

    let port = crate::helpers::redis::free_port();
    let mut cmd = underwrite(NOWHERE, "q");
    cmd.env("UNDERWRITE_API_LISTEN", format!("0.0.0.0:{port}"))
        .args(["ready", "--timeout-secs", "1"]);
    let none = run(cmd);
    assert_eq!(none.status.code(), Some(1));
    assert!(
        none.stderr
            .contains(&format!("http://127.0.0.1:{port}/readyz: no answer")),
        "{}",
        none.stderr
    );
}
