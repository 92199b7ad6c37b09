//! The README's "Run it for real", run as written: its environment block
//! (`docs/quickstart/env.sh`), its three terminals (`underwrite sandbox`, `underwrite
//! webhook-sink`, `underwrite serve`) and its requests (`docs/quickstart/requests.sh`), with
//! curl, against a private redis-server. Only the addresses change (free ports, the test's
//! Redis and queue). Every event the requests cause reaches the sink verified, the credit
//! decision included; nothing ends in the dead set. The README must show the files as they
//! are, so neither can rot alone.

use std::path::Path;
use std::process::Command;

use crate::helpers::redis::{TestRedis, free_port, unique_queue};

fn repo(path: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The three terminals, as the README writes them.
const TERMINALS: [&str; 3] = [
    "underwrite sandbox",
    r#"underwrite webhook-sink --secret "$SECRET" --show-requests"#,
    "underwrite serve",
];

#[test]
fn the_readme_shows_the_quickstart_files_as_they_are() {
    let readme = repo("README.md");
    for file in ["docs/quickstart/env.sh", "docs/quickstart/requests.sh"] {
        assert!(
            readme.contains(repo(file).trim_end()),
            "the README does not show {file} as it is"
        );
    }
    for line in TERMINALS
        .iter()
        .chain(&[". docs/quickstart/env.sh", "sh docs/quickstart/requests.sh"])
    {
        assert!(readme.contains(line), "the README does not say `{line}`");
    }
}

#[tokio::test]
async fn the_quickstart_runs_as_written() {
    let redis = TestRedis::shared();
    let dir = tempfile::tempdir().expect("tempdir");
    let (api, sandbox, sink) = (free_port(), free_port(), free_port());
    let bin = Path::new(env!("CARGO_BIN_EXE_underwrite"))
        .parent()
        .expect("the binary's folder")
        .display()
        .to_string();
    let logs = dir.path().display().to_string();
    let [sandbox_cmd, sink_cmd, serve_cmd] = TERMINALS;
    let script = format!(
        r#"set -eu
cd "{root}"
export PATH="{bin}:$PATH"
. docs/quickstart/env.sh
# The test's addresses instead of the usual ones.
export UNDERWRITE_REDIS_URL="{redis}" UNDERWRITE_REDIS_QUEUE="{queue}"
export UNDERWRITE_API_LISTEN=127.0.0.1:{api} API=http://127.0.0.1:{api}
export UNDERWRITE_SANDBOX_LISTEN=127.0.0.1:{sandbox}
export UNDERWRITE_VENDORS_PROTEGER_BASE_URL=http://127.0.0.1:{sandbox}/proteger
export UNDERWRITE_VENDORS_BILLING_ROBO_BASE_URL=http://127.0.0.1:{sandbox}/billing-robo
export UNDERWRITE_VENDORS_TULIP_BASE_URL=http://127.0.0.1:{sandbox}/tulip/v2
export SINK=http://127.0.0.1:{sink}/webhooks
trap 'kill $(jobs -p) 2>/dev/null || true' EXIT
{sandbox_cmd} > "{logs}/sandbox.log" 2>&1 &
{sink_cmd} --listen 127.0.0.1:{sink} > "{logs}/sink.log" 2>&1 &
{serve_cmd} > "{logs}/serve.log" 2>&1 &
tries=0
until underwrite ready > /dev/null 2>&1; do
  tries=$((tries + 1)); [ $tries -lt 300 ] || {{ echo "serve never got ready"; exit 1; }}; sleep 0.1
done
sh docs/quickstart/requests.sh
# Five events: the Tulip quote and contract, the Proteger contract, the credit
# application and its decision (the sandbox decides in 5 s, polled every 10 s).
tries=0
until [ "$(grep -c ' verified$' "{logs}/sink.log")" -ge 5 ]; do
  tries=$((tries + 1)); [ $tries -lt 600 ] || {{ echo "the events did not all arrive"; exit 1; }}; sleep 0.1
done
"#,
        root = env!("CARGO_MANIFEST_DIR"),
        redis = redis.url(),
        queue = unique_queue(),
    );
    let output = tokio::task::spawn_blocking(move || {
        let mut cmd = Command::new("bash");
        for (var, _) in std::env::vars() {
            if var.starts_with("UNDERWRITE_") {
                cmd.env_remove(var);
            }
        }
        cmd.args(["-c", &script]).output().expect("bash runs")
    })
    .await
    .expect("ran");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap_or_default();
    let sink_log = read("sink.log");
    assert!(
        output.status.success(),
        "stdout:\n{stdout}\nstderr:\n{}\nsink:\n{sink_log}\nserve:\n{}",
        String::from_utf8_lossy(&output.stderr),
        read("serve.log")
    );
    for event in [
        "proteger.contract.created",
        "tulip.contract.quoted",
        "tulip.contract.created",
        "billing_robo.credit.applied",
        "billing_robo.credit.approved",
    ] {
        assert!(
            sink_log.contains(&format!("{event} verified")),
            "no verified {event}:\n{sink_log}"
        );
    }
    assert!(!sink_log.contains("NOT VERIFIED"), "{sink_log}");
    // The watch step ran: the dead set is empty, both ways.
    assert!(
        stdout.contains(r#"{"jobs":[],"next_cursor":null}"#),
        "{stdout}"
    );
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("the dead set is empty"),
        "{stdout}"
    );
}
