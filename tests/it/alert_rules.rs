//! `config/prometheus/alerts.yml` against the monitoring-mixin conventions and its
//! neighbours: every rule has a severity, a summary, a description, a runbook entry that
//! exists in `docs/observability.md` and a dashboard that exists in `dashboards/`; and
//! `alerts_test.yml` tests it both firing and quiet. (promtool checks the PromQL and runs
//! the tests themselves, in `.ci/run`.)

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use yaml_rust2::YamlLoader;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn dashboard_uids() -> BTreeSet<String> {
    std::fs::read_dir(repo("dashboards"))
        .expect("dashboards/")
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            (path.extension()? == "json").then_some(path)
        })
        .filter_map(|path| {
            let text = std::fs::read_to_string(&path).ok()?;
            let json: serde_json::Value = serde_json::from_str(&text).ok()?;
            json["uid"].as_str().map(String::from)
        })
        .collect()
}

#[test]
fn every_alert_has_its_annotations_runbook_dashboard_and_tests() {
    let rules = YamlLoader::load_from_str(&read("config/prometheus/alerts.yml"))
        .expect("alerts.yml parses");
    let runbooks = read("docs/observability.md");
    let tests = read("config/prometheus/alerts_test.yml");
    let uids = dashboard_uids();
    let mut problems = Vec::new();
    let mut names = Vec::new();
    for group in rules[0]["groups"].as_vec().expect("groups") {
        for rule in group["rules"].as_vec().expect("rules") {
            let Some(name) = rule["alert"].as_str() else {
                continue;
            };
            names.push(name.to_string());
            let severity = rule["labels"]["severity"].as_str().unwrap_or("");
            if !["critical", "warning", "info"].contains(&severity) {
                problems.push(format!("{name}: severity `{severity}`"));
            }
            let annotation = |key: &str| rule["annotations"][key].as_str().unwrap_or("");
            for key in ["summary", "description"] {
                if annotation(key).trim().is_empty() {
                    problems.push(format!("{name}: no {key}"));
                }
            }
            let runbook = format!("docs/observability.md#alert-{}", name.to_lowercase());
            if annotation("runbook_url") != runbook {
                problems.push(format!("{name}: runbook_url is not {runbook}"));
            }
            if !runbooks.contains(&format!("#### Alert: {name}\n")) {
                problems.push(format!(
                    "{name}: no `#### Alert: {name}` entry in docs/observability.md"
                ));
            }
            match annotation("dashboard_url").strip_prefix("/d/") {
                Some(uid) if uids.contains(uid) => {}
                _ => problems.push(format!(
                    "{name}: dashboard_url `{}` names none of {uids:?}",
                    annotation("dashboard_url")
                )),
            }
            // Each test case names its rule once; one that fires lists alerts, a quiet one
            // none.
            let cases: Vec<&str> = tests
                .split("alertname: ")
                .skip(1)
                .filter(|case| case.starts_with(&format!("{name}\n")))
                .collect();
            if !cases.iter().any(|case| case.contains("exp_labels")) {
                problems.push(format!("{name}: no test where it fires"));
            }
            let quiet = cases.iter().any(|case| {
                case.lines()
                    .nth(1)
                    .is_some_and(|l| l.contains("exp_alerts: []"))
            });
            let grouped_quiet = cases.iter().any(|case| case.contains("under"));
            if !quiet && !grouped_quiet {
                problems.push(format!("{name}: no test where it stays quiet"));
            }
        }
    }
    assert!(names.len() >= 15, "only {} alerts: {names:?}", names.len());
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
