//! `docker-compose.yml` and what it mounts, checked without a Docker engine: the file
//! parses; every file it mounts exists; the services and ports agree; the workers can be
//! scaled; Prometheus's targets are the compose file's services and ports; Grafana gets the
//! dashboards; and every dashboard has a stable uid, and every panel a unit and a
//! description.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;
use yaml_rust2::{Yaml, YamlLoader};

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn load_yaml(path: &str) -> Yaml {
    let text = std::fs::read_to_string(repo(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
    YamlLoader::load_from_str(&text)
        .unwrap_or_else(|e| panic!("{path} does not parse: {e}"))
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("{path} is empty"))
}

fn strings(yaml: &Yaml) -> Vec<String> {
    yaml.as_vec()
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// The compose file's services, by name.
fn services(compose: &Yaml) -> BTreeMap<String, Yaml> {
    compose["services"]
        .as_hash()
        .expect("services")
        .iter()
        .filter_map(|(name, service)| Some((name.as_str()?.to_string(), service.clone())))
        .collect()
}

/// The ports a service listens on inside the network: its `ports` targets, `expose`, and
/// the ports its own listen variables name.
fn listening(service: &Yaml) -> BTreeSet<u16> {
    let mut ports = BTreeSet::new();
    for mapping in strings(&service["ports"]) {
        if let Some(port) = mapping.rsplit(':').next().and_then(|p| p.parse().ok()) {
            ports.insert(port);
        }
    }
    for exposed in strings(&service["expose"]) {
        if let Ok(port) = exposed.parse() {
            ports.insert(port);
        }
    }
    if let Some(env) = service["environment"].as_hash() {
        for (key, value) in env {
            let (Some(key), Some(value)) = (key.as_str(), value.as_str()) else {
                continue;
            };
            if key.ends_with("_LISTEN")
                && let Some(port) = value.rsplit(':').next().and_then(|p| p.parse().ok())
            {
                ports.insert(port);
            }
        }
    }
    ports
}

#[test]
fn the_compose_file_parses_and_everything_it_mounts_exists() {
    let compose = load_yaml("docker-compose.yml");
    let services = services(&compose);
    for wanted in [
        "redis",
        "sandbox",
        "api",
        "worker",
        "webhook-sink",
        "prometheus",
        "grafana",
    ] {
        assert!(services.contains_key(wanted), "no `{wanted}` service");
    }
    for (name, service) in &services {
        for volume in strings(&service["volumes"]) {
            let source = volume.split(':').next().unwrap_or_default();
            if source.starts_with("./") {
                assert!(
                    repo(source).exists(),
                    "{name} mounts {source}, which does not exist"
                );
            }
        }
        for dependency in service["depends_on"]
            .as_hash()
            .map(|deps| {
                deps.keys()
                    .filter_map(|k| k.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_else(|| strings(&service["depends_on"]))
        {
            assert!(
                services.contains_key(&dependency),
                "{name} depends on unknown {dependency}"
            );
        }
    }
    // Scalable workers: no fixed name, no host port.
    let worker = &services["worker"];
    assert!(
        worker["container_name"].is_badvalue(),
        "a fixed container_name stops --scale"
    );
    assert!(
        strings(&worker["ports"]).is_empty(),
        "a host port stops --scale"
    );
    // Host ports are not taken twice.
    let mut host_ports = BTreeSet::new();
    for service in services.values() {
        for mapping in strings(&service["ports"]) {
            let host = mapping.split(':').next().unwrap_or_default().to_string();
            assert!(
                host_ports.insert(host.clone()),
                "host port {host} taken twice"
            );
        }
    }
}

#[test]
fn prometheus_scrapes_the_compose_services_on_their_ports() {
    let compose = load_yaml("docker-compose.yml");
    let services = services(&compose);
    let prometheus = load_yaml("config/prometheus/prometheus.yml");
    let mut targets = Vec::new();
    for job in prometheus["scrape_configs"]
        .as_vec()
        .expect("scrape_configs")
    {
        for config in job["static_configs"].as_vec().into_iter().flatten() {
            for target in strings(&config["targets"]) {
                let (host, port) = target.split_once(':').expect("host:port");
                targets.push((host.to_string(), port.parse::<u16>().expect("port")));
            }
        }
        for config in job["dns_sd_configs"].as_vec().into_iter().flatten() {
            let port = config["port"].as_i64().expect("port") as u16;
            for name in strings(&config["names"]) {
                targets.push((name, port));
            }
        }
    }
    let hosts: BTreeSet<&str> = targets.iter().map(|(h, _)| h.as_str()).collect();
    assert!(
        hosts.contains("api") && hosts.contains("worker"),
        "{targets:?}"
    );
    for (host, port) in &targets {
        let service = services
            .get(host)
            .unwrap_or_else(|| panic!("Prometheus scrapes {host}, which is not a service"));
        assert!(
            listening(service).contains(port),
            "Prometheus scrapes {host}:{port}, but {host} listens on {:?}",
            listening(service)
        );
    }
    for rules in strings(&prometheus["rule_files"]) {
        assert!(
            repo(&format!("config/prometheus/{rules}")).exists(),
            "{rules} missing"
        );
    }
    // Workers serve their metrics where Prometheus looks.
    let worker_env = &services["worker"]["environment"];
    assert_eq!(
        worker_env["UNDERWRITE_WORKER_METRICS_LISTEN"].as_str(),
        Some("0.0.0.0:9464")
    );
}

#[test]
fn every_dashboard_has_a_uid_and_every_panel_a_unit_and_a_description() {
    let mut uids = BTreeSet::new();
    let mut count = 0;
    for entry in std::fs::read_dir(repo("dashboards")).expect("dashboards/") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        count += 1;
        let dashboard: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("JSON");
        let uid = dashboard["uid"].as_str().expect("uid").to_string();
        assert!(uids.insert(uid.clone()), "uid {uid} twice");
        let variables: Vec<&str> = dashboard["templating"]["list"]
            .as_array()
            .expect("variables")
            .iter()
            .filter_map(|v| v["name"].as_str())
            .collect();
        assert!(variables.contains(&"datasource") && variables.contains(&"instance"));
        for panel in dashboard["panels"].as_array().expect("panels") {
            let title = panel["title"].as_str().unwrap_or("?");
            assert!(
                panel["fieldConfig"]["defaults"]["unit"].is_string(),
                "{uid} / {title}: no unit"
            );
            assert!(
                panel["description"].as_str().is_some_and(|d| d.len() > 20),
                "{uid} / {title}: no description of what to do"
            );
            for target in panel["targets"].as_array().into_iter().flatten() {
                let expr = target["expr"].as_str().unwrap_or_default();
                // A rate's window follows the scrape interval; a fixed `increase` window
                // (the vendor's 5 minutes, a day) is meant.
                assert!(
                    !expr.contains("rate(") || expr.contains("$__rate_interval"),
                    "{uid} / {title}: a rate over a fixed window; use $__rate_interval"
                );
            }
        }
    }
    assert_eq!(
        count, 4,
        "four dashboards: overview, vendors, credit, webhooks"
    );
    // Grafana is given them.
    let provider = load_yaml("config/grafana/provisioning/dashboards/underwrite.yml");
    assert_eq!(
        provider["providers"][0]["options"]["path"].as_str(),
        Some("/var/lib/grafana/dashboards")
    );
}

/// A service's environment as the container sees it: `<<:` merges expanded, and
/// `${VAR:-default}` / `${VAR:?message}` given their default or a stand-in value.
fn environment(service: &Yaml) -> Vec<(String, String)> {
    fn collect(env: &Yaml, into: &mut BTreeMap<String, String>) {
        let Some(hash) = env.as_hash() else { return };
        for (key, value) in hash {
            let Some(key) = key.as_str() else { continue };
            if key == "<<" {
                collect(value, into);
                continue;
            }
            let value = match value {
                Yaml::String(s) => s.clone(),
                Yaml::Integer(i) => i.to_string(),
                Yaml::Boolean(b) => b.to_string(),
                _ => continue,
            };
            into.insert(key.to_string(), substitute(&value));
        }
    }
    fn substitute(value: &str) -> String {
        let Some(inner) = value.strip_prefix("${").and_then(|v| v.strip_suffix('}')) else {
            return value.to_string();
        };
        match inner.split_once(":-") {
            Some((_, default)) => default.to_string(),
            // `${VAR:?...}`: required from the user; any plausible value will do here.
            None => "stand-in-value".to_string(),
        }
    }
    let mut env = BTreeMap::new();
    collect(&service["environment"], &mut env);
    env.into_iter().collect()
}

#[test]
fn every_serving_service_loads_its_settings_from_its_environment() {
    let compose = load_yaml("docker-compose.yml");
    let mut checked = 0;
    for (name, service) in services(&compose) {
        let command = strings(&service["command"]);
        if !matches!(
            command.first().map(String::as_str),
            Some("serve" | "sandbox")
        ) {
            continue;
        }
        let env = environment(&service);
        let settings = underwrite::config::Settings::load_from(None, env.clone())
            .unwrap_or_else(|e| panic!("service {name} would not start: {e}\n{env:#?}"));
        if name == "worker" {
            assert!(
                settings.worker.metrics_listen.is_some(),
                "a worker-only process without metrics_listen serves no metrics"
            );
        }
        checked += 1;
    }
    assert!(checked >= 3, "only {checked} serving services found");
}

/// A service's key, its own or from the `<<:` it merges (YAML merge keys, which the parser
/// leaves as they are written).
fn field<'y>(service: &'y Yaml, key: &str) -> &'y Yaml {
    let own = &service[key];
    if own.is_badvalue() {
        &service["<<"][key]
    } else {
        own
    }
}

#[test]
fn the_image_is_built_once_and_the_api_has_a_healthcheck() {
    let compose = load_yaml("docker-compose.yml");
    let services = services(&compose);
    let ours: Vec<(&String, &Yaml)> = services
        .iter()
        .filter(|(_, s)| field(s, "image").as_str() == Some("underwrite:local"))
        .collect();
    assert!(
        ours.len() >= 4,
        "{:?}",
        ours.iter().map(|(n, _)| n).collect::<Vec<_>>()
    );
    let builders: Vec<&String> = ours
        .iter()
        .filter(|(_, s)| !field(s, "build").is_badvalue())
        .map(|(n, _)| *n)
        .collect();
    assert_eq!(builders, ["api"], "one service builds the image");
    for (name, service) in &ours {
        let policy = field(service, "pull_policy").as_str();
        let expected = if *name == "api" { "build" } else { "never" };
        assert_eq!(
            policy,
            Some(expected),
            "{name}: the image is ours, never pulled"
        );
    }
    let check = strings(&services["api"]["healthcheck"]["test"]);
    assert_eq!(check, ["CMD", "/usr/local/bin/underwrite", "ready"]);
}
