//! Typed settings: `config/default.toml`, then an optional file of the operator's, then
//! environment variables.
//!
//! Every key of the file can be overridden by `UNDERWRITE_<SECTION>_<KEY>`, for example
//! `UNDERWRITE_REDIS_URL` or `UNDERWRITE_WORKER_CONCURRENCY` (section names have no
//! underscore, so the first `_` after the section ends it). Secrets are never read from a
//! file: API tokens come from `UNDERWRITE_API_TOKENS` (comma-separated) and vendor
//! credentials from `UNDERWRITE_PROTEGER_TOKEN`.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::queue::RetryPolicy;

/// The defaults, compiled in so the binary runs without the `config/` folder.
pub const DEFAULT_TOML: &str = include_str!("../config/default.toml");

const ENV_PREFIX: &str = "UNDERWRITE_";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("config is not valid TOML: {0}")]
    Toml(String),
    #[error("config is invalid: {0}")]
    Invalid(String),
    #[error("environment variable {var}: {reason}")]
    Env { var: String, reason: String },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub redis: RedisSettings,
    pub api: ApiSettings,
    pub worker: WorkerSettings,
    pub retention: RetentionSettings,
    pub retry: BTreeMap<String, RetryPolicy>,
    pub proteger: ProtegerSettings,
    pub sandbox: SandboxSettings,
    pub webhooks: WebhookSettings,
    /// Secrets, from the environment only.
    #[serde(skip)]
    pub secrets: Secrets,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisSettings {
    pub url: String,
    /// The queue's name: it becomes the hash tag `{name}` shared by all its keys, so the
    /// layout also runs on Redis Cluster.
    pub queue: String,
    /// Prefix of every key, so several deployments can share one Redis.
    pub key_prefix: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiSettings {
    pub listen: SocketAddr,
    pub body_limit_bytes: usize,
    /// How long an `Idempotency-Key` answers with the first job.
    pub idempotency_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkerSettings {
    /// Jobs run at once per job kind in one process.
    pub concurrency: usize,
    /// How long a job stays with a worker that stopped heart-beating before another takes it.
    pub lease_secs: u64,
    /// On SIGTERM/SIGINT, how long running jobs may take to finish.
    pub shutdown_timeout_secs: u64,
    /// A job whose worker died this many times while running it is a poison job.
    pub max_crashes: u32,
    /// Contracts sent to Proteger per bulk call (the vendor's ceiling is 10).
    pub proteger_batch_size: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionSettings {
    /// Records of succeeded jobs are kept this long.
    pub finished_secs: u64,
    pub dead_max_entries: u64,
    pub dead_max_age_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProtegerSettings {
    pub base_url: String,
    pub connect_timeout_ms: u64,
    pub timeout_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SandboxSettings {
    pub listen: SocketAddr,
    /// How long a created Proteger contract stays invisible to GET (asynchronous persistence).
    pub proteger_persist_delay_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    /// Waits before each delivery attempt, in seconds: the first is "at once".
    pub schedule_secs: Vec<u64>,
    /// Each wait is drawn within ± this share of itself.
    pub jitter: f64,
    pub timeout_ms: u64,
    /// Deliveries in flight per endpoint, so one slow receiver cannot starve the others.
    pub endpoint_concurrency: usize,
    /// An endpoint failing without a single success for this long is disabled.
    pub disable_after_secs: u64,
    /// After a rotation, the old secret keeps signing this long.
    pub rotation_grace_secs: u64,
    /// CIDRs the SSRF guard admits although they are private or loopback.
    pub allow_cidrs: Vec<String>,
    pub https_only: bool,
    /// Endpoints from the config file (the API adds more, stored in Redis).
    #[serde(default)]
    pub endpoints: Vec<ConfiguredEndpoint>,
}

/// An endpoint declared in the config file. Its secret comes from the environment variable
/// named by `secret_env`, never from the file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfiguredEndpoint {
    pub id: String,
    pub url: String,
    pub secret_env: String,
    #[serde(default = "all_events")]
    pub events: Vec<String>,
    #[serde(default)]
    pub ordered: bool,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

fn all_events() -> Vec<String> {
    vec!["*".into()]
}

/// Credentials. `Debug` never shows them.
#[derive(Clone, Default)]
pub struct Secrets {
    pub api_tokens: Vec<String>,
    pub proteger_token: Option<String>,
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Secrets")
            .field(
                "api_tokens",
                &format_args!("[{} redacted]", self.api_tokens.len()),
            )
            .field(
                "proteger_token",
                &self.proteger_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

impl Settings {
    /// Defaults, then `file` if given, then the process environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load_from(file, std::env::vars())
    }

    /// Like [`Settings::load`] with an explicit environment (tests pass their own).
    pub fn load_from(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut table: toml::Table = DEFAULT_TOML
            .parse()
            .map_err(|e: toml::de::Error| ConfigError::Toml(e.to_string()))?;
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.display().to_string(),
                source,
            })?;
            let overlay: toml::Table = text
                .parse()
                .map_err(|e: toml::de::Error| ConfigError::Toml(e.to_string()))?;
            merge(&mut table, overlay);
        }
        let mut secrets = Secrets::default();
        for (var, value) in env {
            let Some(rest) = var.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            match rest {
                "API_TOKENS" => {
                    secrets.api_tokens = value
                        .split(',')
                        .map(str::trim)
                        .filter(|t| !t.is_empty())
                        .map(String::from)
                        .collect();
                }
                "PROTEGER_TOKEN" => secrets.proteger_token = Some(value),
                "CONFIG" | "LOG" | "LOG_FORMAT" => {}
                _ => apply_env(&mut table, &var, rest, &value)?,
            }
        }
        let mut settings: Settings = toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Invalid(e.to_string()))?;
        settings.secrets = secrets;
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |m: &str| Err(ConfigError::Invalid(m.into()));
        if self.worker.concurrency == 0 {
            return invalid("worker.concurrency must be at least 1");
        }
        if !(1..=10).contains(&self.worker.proteger_batch_size) {
            return invalid("worker.proteger_batch_size must be between 1 and 10");
        }
        if self.worker.lease_secs < 2 {
            return invalid("worker.lease_secs must be at least 2");
        }
        if self.worker.max_crashes == 0 {
            return invalid("worker.max_crashes must be at least 1");
        }
        if self.redis.queue.contains(['{', '}']) {
            return invalid("redis.queue must not contain braces");
        }
        for (kind, policy) in &self.retry {
            if policy.max_attempts == 0 {
                return Err(ConfigError::Invalid(format!(
                    "retry.\"{kind}\".max_attempts must be at least 1"
                )));
            }
        }
        Ok(())
    }

    /// The retry policy of a job kind: `[retry."<kind>"]`, else `[retry.default]`.
    pub fn retry_policy(&self, kind: &str) -> RetryPolicy {
        self.retry
            .get(kind)
            .or_else(|| self.retry.get("default"))
            .copied()
            .unwrap_or_default()
    }

    pub fn lease(&self) -> Duration {
        Duration::from_secs(self.worker.lease_secs)
    }
}

/// Deep-merges `overlay` into `base`.
fn merge(base: &mut toml::Table, overlay: toml::Table) {
    for (key, value) in overlay {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(inner)), toml::Value::Table(over)) => merge(inner, over),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

/// Applies `UNDERWRITE_<SECTION>_<KEY>=value` to the table.
fn apply_env(
    table: &mut toml::Table,
    var: &str,
    rest: &str,
    value: &str,
) -> Result<(), ConfigError> {
    let env_error = |reason: String| ConfigError::Env {
        var: var.to_string(),
        reason,
    };
    let lower = rest.to_ascii_lowercase();
    let (section, key) = lower
        .split_once('_')
        .ok_or_else(|| env_error("expected UNDERWRITE_<SECTION>_<KEY>".into()))?;
    let Some(toml::Value::Table(section_table)) = table.get_mut(section) else {
        return Err(env_error(format!("unknown section `{section}`")));
    };
    let Some(current) = section_table.get(key) else {
        return Err(env_error(format!("unknown key `{section}.{key}`")));
    };
    // Parse the value as the type the default has, so `8080` stays a string for a URL and
    // becomes an integer for a count.
    let parsed = match current {
        toml::Value::String(_) => toml::Value::String(value.to_string()),
        toml::Value::Integer(_) => toml::Value::Integer(
            value
                .trim()
                .parse()
                .map_err(|_| env_error(format!("`{value}` is not an integer")))?,
        ),
        toml::Value::Boolean(_) => toml::Value::Boolean(
            value
                .trim()
                .parse()
                .map_err(|_| env_error(format!("`{value}` is not true or false")))?,
        ),
        toml::Value::Float(_) => toml::Value::Float(
            value
                .trim()
                .parse()
                .map_err(|_| env_error(format!("`{value}` is not a number")))?,
        ),
        // Lists are comma-separated: `UNDERWRITE_WEBHOOKS_ALLOW_CIDRS=127.0.0.0/8,::1/128`.
        toml::Value::Array(items) => {
            let numeric = items.first().is_some_and(toml::Value::is_integer);
            let mut list = Vec::new();
            for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                list.push(if numeric {
                    toml::Value::Integer(
                        part.parse()
                            .map_err(|_| env_error(format!("`{part}` is not an integer")))?,
                    )
                } else {
                    toml::Value::String(part.to_string())
                });
            }
            toml::Value::Array(list)
        }
        _ => {
            return Err(env_error(
                "this key cannot be set from the environment".into(),
            ));
        }
    };
    section_table.insert(key.to_string(), parsed);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_load_and_env_overrides_them() {
        let settings = Settings::load_from(
            None,
            env(&[
                ("UNDERWRITE_REDIS_URL", "redis://example:7000"),
                ("UNDERWRITE_WORKER_CONCURRENCY", "3"),
                ("UNDERWRITE_API_TOKENS", "a, b,,"),
                ("UNRELATED", "x"),
            ]),
        )
        .expect("settings");
        assert_eq!(settings.redis.url, "redis://example:7000");
        assert_eq!(settings.worker.concurrency, 3);
        assert_eq!(settings.secrets.api_tokens, vec!["a", "b"]);
        assert_eq!(settings.worker.lease_secs, 30);
        assert_eq!(settings.retention.finished_secs, 7 * 24 * 3600);
    }

    #[test]
    fn lists_come_comma_separated() {
        let settings = Settings::load_from(
            None,
            env(&[
                ("UNDERWRITE_WEBHOOKS_ALLOW_CIDRS", "127.0.0.0/8, ::1/128"),
                ("UNDERWRITE_WEBHOOKS_SCHEDULE_SECS", "0,1,2"),
            ]),
        )
        .expect("settings");
        assert_eq!(
            settings.webhooks.allow_cidrs,
            vec!["127.0.0.0/8", "::1/128"]
        );
        assert_eq!(settings.webhooks.schedule_secs, vec![0, 1, 2]);
    }

    #[test]
    fn bad_env_names_the_variable() {
        let err = Settings::load_from(None, env(&[("UNDERWRITE_WORKER_CONCURRENCY", "many")]))
            .expect_err("must fail");
        assert!(
            err.to_string().contains("UNDERWRITE_WORKER_CONCURRENCY"),
            "{err}"
        );
        let err = Settings::load_from(None, env(&[("UNDERWRITE_WORKER_NOPE", "1")]))
            .expect_err("must fail");
        assert!(err.to_string().contains("worker.nope"), "{err}");
    }

    #[test]
    fn secrets_never_show_in_debug() {
        let settings = Settings::load_from(
            None,
            env(&[("UNDERWRITE_PROTEGER_TOKEN", "sk_live_very_secret")]),
        )
        .expect("settings");
        assert!(!format!("{settings:?}").contains("sk_live_very_secret"));
    }

    #[test]
    fn retry_policy_falls_back_to_default() {
        let settings = Settings::load_from(None, env(&[])).expect("settings");
        assert_eq!(
            settings.retry_policy("no.such.kind"),
            settings.retry["default"]
        );
    }
}
