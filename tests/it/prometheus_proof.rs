//! The dashboards and alert rules proven on a real Prometheus: a workload with successes,
//! retries, failures and dead jobs runs through the real workers against the sandbox; a
//! real Prometheus (Debian's package) scrapes the process every second and evaluates the
//! rules of `config/prometheus/alerts.yml`; then every PromQL expression of
//! `dashboards/*.json`, its template variables substituted, is run through Prometheus's
//! HTTP API. None may error; each must return series unless listed in
//! `dashboards/allow-empty.txt` (one expression per line: what only a rarer event fills, a
//! 429 or a disabled endpoint). Every rule must evaluate without error.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;
use underwrite::producer::Submission;
use underwrite::queue::{JobKind, JobState, NewJob};
use underwrite::vendors::proteger::jobs::CreateContract;
use underwrite::vendors::proteger::sandbox::{ProtegerSandboxConfig, sample_contract};

use crate::helpers::redis::free_port;
use crate::helpers::worker::{Scripted, TestWorker, WorkerOptions, wait_for};
use crate::helpers::world::World;
use crate::prometheus::tool;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// A Prometheus server of the test's own, stopped when dropped.
struct Prometheus {
    child: tokio::process::Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    async fn start(binary: &Path, target: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let rules = repo("config/prometheus/alerts.yml");
        let config = format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             rule_files:\n  - {}\n\
             scrape_configs:\n  - job_name: underwrite\n    static_configs:\n      - targets: ['{target}']\n",
            rules.display()
        );
        let config_file = dir.path().join("prometheus.yml");
        std::fs::write(&config_file, config).expect("config");
        let port = free_port();
        let child = tokio::process::Command::new(binary)
            .arg(format!("--config.file={}", config_file.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("prometheus starts");
        Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        }
    }

    /// `query` evaluated now: its result vector, or Prometheus's error.
    async fn query(&self, query: &str) -> Result<Vec<Value>, String> {
        let url = reqwest::Url::parse_with_params(
            &format!("{}/api/v1/query", self.url),
            &[("query", query)],
        )
        .map_err(|e| e.to_string())?;
        let answer: Value = reqwest::Client::new()
            .get(url)
            .send()
            .await
            .map_err(|e| e.to_string())?
            .json()
            .await
            .map_err(|e| e.to_string())?;
        if answer["status"] != "success" {
            return Err(answer["error"].as_str().unwrap_or("?").to_string());
        }
        Ok(answer["data"]["result"]
            .as_array()
            .cloned()
            .unwrap_or_default())
    }

    async fn until(&self, what: &str, query: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if matches!(self.query(query).await, Ok(series) if !series.is_empty()) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "Prometheus never saw {what} ({query})"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

/// Every `expr` of a dashboard, wherever it sits (panels, rows, targets).
fn expressions(value: &Value, into: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                match (key.as_str(), inner) {
                    ("expr", Value::String(expr)) if !expr.trim().is_empty() => {
                        into.push(expr.clone())
                    }
                    _ => expressions(inner, into),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| expressions(item, into)),
        _ => {}
    }
}

/// The template variables Grafana would fill in: every instance, kind and vendor.
fn substitute(expr: &str) -> String {
    let mut out = expr
        .replace("$__rate_interval", "1m")
        .replace("$__interval", "15s")
        .replace("$__range", "5m");
    for variable in ["instance", "kind", "vendor", "job", "endpoint", "operation"] {
        out = out
            .replace(&format!("${{{variable}:regex}}"), ".*")
            .replace(&format!("${{{variable}}}"), ".*")
            .replace(&format!("${variable}"), ".*");
    }
    out
}

/// A workload of successes, retries, failures and a dead job.
async fn workload(world: &World) {
    let mut submissions: Vec<Submission<CreateContract>> = (0..6)
        .map(|i| Submission::new(CreateContract(sample_contract(&format!("prom-{i}")))))
        .collect();
    submissions[5].payload.0.product.reference_id = "no-such-product".into();
    let ids = world
        .producer
        .submit(
            &underwrite::queue::AppName::default_app(),
            submissions,
            None,
        )
        .await
        .expect("submit")
        .job_ids;
    for id in &ids {
        wait_for(&world.store, id, Duration::from_secs(30), |r| {
            r.state.is_final()
        })
        .await;
    }
    // A job that fails twice (retried) and then dies (two attempts).
    let dying = NewJob::new(
        Scripted::KIND,
        serde_json::to_value(Scripted {
            fail_times: 10,
            ..Scripted::default()
        })
        .expect("payload"),
    );
    let id = dying.id;
    world.store.enqueue(&[dying], None).await.expect("enqueue");
    let mut options = WorkerOptions::default();
    options.policy.max_attempts = 2;
    let worker = TestWorker::start(&world.store, &world_redis(world), options);
    wait_for(&world.store, &id, Duration::from_secs(30), |r| {
        r.state == JobState::Dead
    })
    .await;
    worker.stop().await;
}

fn world_redis(world: &World) -> underwrite::queue::Redis {
    underwrite::queue::Redis::open(&world.settings.redis.url).expect("redis")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_dashboard_and_rule_expression_evaluates_on_a_real_prometheus() {
    let Some(binary) = tool("prometheus") else {
        return;
    };
    let world = World::start(ProtegerSandboxConfig::default(), |_| {}).await;
    // The served process runs on the workload's queue, so that its sampler sees the depth.
    let app = underwrite::startup::spawn_for_tests(world.settings.clone())
        .await
        .expect("app starts");
    let target = app.base_url().trim_start_matches("http://").to_string();
    let prometheus = Prometheus::start(&binary, &target).await;
    prometheus.until("the process", "up == 1").await;
    workload(&world).await;
    prometheus
        .until(
            "the workload",
            "underwrite_jobs_finished_total{outcome=\"dead\"} > 0",
        )
        .await;
    // A few more scrapes, so that rates over a minute have their two points.
    tokio::time::sleep(Duration::from_secs(4)).await;

    let allowed: HashSet<String> = std::fs::read_to_string(repo("dashboards/allow-empty.txt"))
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(String::from)
        .collect();
    let mut checked = 0;
    let mut problems = Vec::new();
    let mut dashboards: Vec<PathBuf> = std::fs::read_dir(repo("dashboards"))
        .expect("dashboards/")
        .filter_map(|entry| Some(entry.ok()?.path()))
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .collect();
    dashboards.sort();
    for dashboard in &dashboards {
        let json: Value = serde_json::from_str(&std::fs::read_to_string(dashboard).expect("read"))
            .expect("a dashboard is JSON");
        let mut exprs = Vec::new();
        expressions(&json, &mut exprs);
        for expr in exprs {
            checked += 1;
            let name = dashboard.file_name().unwrap_or_default().to_string_lossy();
            match prometheus.query(&substitute(&expr)).await {
                Err(error) => problems.push(format!("{name}: `{expr}` errs: {error}")),
                Ok(series) if series.is_empty() && !allowed.contains(expr.trim()) => {
                    problems.push(format!("{name}: `{expr}` is empty after the workload"))
                }
                Ok(_) => {}
            }
        }
    }
    assert!(checked >= 20, "only {checked} dashboard expressions found");

    // Every rule evaluated at least once, without error.
    let deadline = Instant::now() + Duration::from_secs(30);
    let rules = loop {
        let answer: Value = reqwest::get(format!("{}/api/v1/rules", prometheus.url))
            .await
            .expect("rules")
            .json()
            .await
            .expect("json");
        let rules: Vec<Value> = answer["data"]["groups"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|group| group["rules"].as_array().cloned().unwrap_or_default())
            .collect();
        let evaluated = rules.iter().all(|rule| {
            rule["lastEvaluation"]
                .as_str()
                .is_some_and(|t| !t.starts_with("0001"))
        });
        if (!rules.is_empty() && evaluated) || Instant::now() > deadline {
            break rules;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert!(rules.len() >= 12, "only {} rules loaded", rules.len());
    for rule in &rules {
        if rule["health"] != "ok" {
            problems.push(format!(
                "rule {}: {} ({})",
                rule["name"], rule["health"], rule["lastError"]
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    world.stop().await;
    app.stop().await.expect("stops");
}
