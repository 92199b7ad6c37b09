//! Every setting docs/configuration.md's table documents can be set from the variable
//! it names, as written. The environment overrides only keys that `config/default.toml`
//! holds (that is how it knows a value's type), so a documented key missing there would
//! refuse its own variable and stop the process from starting.

use std::path::Path;

use underwrite::config::Settings;

/// `(key, variable)` for each row of docs/configuration.md's table.
fn documented_settings() -> Vec<(String, String)> {
    let readme = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/configuration.md"),
    )
    .expect("docs/configuration.md");
    readme
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            // | `key` | default | `VARIABLE` | meaning |
            let key = cells.get(1)?.strip_prefix('`')?.strip_suffix('`')?;
            let var = cells.get(3)?.strip_prefix('`')?.strip_suffix('`')?;
            (key.contains('.') && var.starts_with("UNDERWRITE_"))
                .then(|| (key.to_string(), var.to_string()))
        })
        .collect()
}

/// The default of `key` (`section.key` or `vendors.<vendor>.key`) as an environment
/// variable would spell it.
fn default_as_env_value(defaults: &toml::Table, key: &str) -> Option<String> {
    let mut table = defaults;
    let mut parts = key.split('.').peekable();
    while let Some(part) = parts.next() {
        let value = table.get(part)?;
        if parts.peek().is_none() {
            return Some(match value {
                toml::Value::String(s) => s.clone(),
                toml::Value::Array(items) => items
                    .iter()
                    .map(|i| match i {
                        toml::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    })
                    .collect::<Vec<_>>()
                    .join(","),
                other => other.to_string(),
            });
        }
        table = value.as_table()?;
    }
    None
}

#[test]
fn every_documented_setting_is_accepted_from_its_variable() {
    let defaults: toml::Table =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("config/default.toml"))
            .expect("config/default.toml")
            .parse()
            .expect("config/default.toml parses");
    let documented = documented_settings();
    assert!(
        documented.len() > 50,
        "docs/configuration.md's table was not found ({} rows)",
        documented.len()
    );
    let mut refused = Vec::new();
    for (key, var) in &documented {
        let expected_var = format!("UNDERWRITE_{}", key.replace('.', "_").to_uppercase());
        assert_eq!(
            var, &expected_var,
            "docs/configuration.md names the wrong variable for {key}"
        );
        let Some(value) = default_as_env_value(&defaults, key) else {
            refused.push(format!("{key}: not in config/default.toml"));
            continue;
        };
        if let Err(e) = Settings::load_from(None, [(var.clone(), value.clone())]) {
            refused.push(format!("{var}={value}: {e}"));
        }
    }
    assert!(refused.is_empty(), "refused: {refused:#?}");
}

#[test]
fn worker_metrics_listen_is_empty_by_default_and_set_from_the_environment() {
    let settings = Settings::load_from(None, []).expect("defaults load");
    assert_eq!(settings.worker.metrics_listen, None);
    let settings = Settings::load_from(
        None,
        [(
            "UNDERWRITE_WORKER_METRICS_LISTEN".to_string(),
            "0.0.0.0:9464".to_string(),
        )],
    )
    .expect("an address loads");
    assert_eq!(
        settings.worker.metrics_listen,
        Some("0.0.0.0:9464".parse().expect("address"))
    );
    let error = Settings::load_from(
        None,
        [(
            "UNDERWRITE_WORKER_METRICS_LISTEN".to_string(),
            "localhost:9464".to_string(),
        )],
    )
    .expect_err("a name is not an address");
    assert!(error.to_string().contains("localhost:9464"), "{error}");
}
