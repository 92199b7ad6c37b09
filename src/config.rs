//! Typed settings: `config/default.toml`, then an optional file of the operator's, then
//! environment variables.
//!
//! Every key of the file can be overridden by `UNDERWRITE_<SECTION>_<KEY>`, for example
//! `UNDERWRITE_REDIS_URL` or `UNDERWRITE_WORKER_CONCURRENCY` (section names have no
//! underscore, so the first `_` after the section ends it).
//!
//! ## Vendors
//!
//! Each vendor owns a section `[vendors.<vendor>]` that this file does not interpret: the
//! vendor reads it into its own typed settings with [`Settings::vendor`]. Its keys are
//! overridden by `UNDERWRITE_VENDORS_<VENDOR>_<KEY>` (a vendor name may hold `_`: the
//! longest vendor name that fits wins). Which vendors exist is the registry's business
//! (`vendors/mod.rs`), which checks at startup that every section belongs to one.
//!
//! ## Secrets
//!
//! Secrets are never read from a file. API tokens come from `UNDERWRITE_API_TOKENS`
//! (comma-separated `app:token`, or a bare token of the app `default`) and
//! `UNDERWRITE_API_OPERATOR_TOKENS` (the operator's), read by `config_tokens.rs`; a vendor's credentials from `UNDERWRITE_<VENDOR>_<SECRET>`, for
//! example `UNDERWRITE_PROTEGER_TOKEN`, for any vendor with a `[vendors.<vendor>]`
//! section. The registry refuses a secret its vendor does not declare, so a misspelt
//! setting cannot hide there.

mod env;

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use serde::de::DeserializeOwned;

use self::env::{apply_env, merge, secret_env_names, vendor_secret};
use crate::config_tokens::{self, AppToken};
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
    pub sandbox: SandboxSettings,
    pub webhooks: WebhookSettings,
    /// `[vendors.<vendor>]`, one raw section per vendor; see [`Settings::vendor`].
    #[serde(default)]
    pub vendors: BTreeMap<String, toml::Table>,
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
    /// A request's head must be complete this long after its first byte.
    pub header_read_timeout_secs: u64,
    /// A request's body must arrive this long after its reading began (408 past it).
    pub body_timeout_secs: u64,
    /// A connection without a request under way is closed after this long.
    pub idle_timeout_secs: u64,
    /// Connections served at once; more wait to be accepted.
    pub max_connections: usize,
    /// The largest request line and headers answered (431 past it).
    pub max_header_bytes: usize,
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
    /// Where a process without the API (`serve --no-api`) serves `GET /metrics`, for
    /// Prometheus; empty: it serves none (a process with the API serves them there).
    #[serde(default, deserialize_with = "empty_is_none")]
    pub metrics_listen: Option<SocketAddr>,
}

/// An optional setting read from a string where `""` means unset. Every key has a value in
/// `config/default.toml`, because the environment can only override keys that exist there
/// (that is how it knows a value's type); an optional one's default is the empty string.
fn empty_is_none<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    let text = String::deserialize(deserializer)?;
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    text.parse()
        .map(Some)
        .map_err(|e| serde::de::Error::custom(format!("`{text}`: {e}")))
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionSettings {
    /// Records of succeeded jobs are kept this long.
    pub finished_secs: u64,
    pub dead_max_entries: u64,
    pub dead_max_age_secs: u64,
}

/// The sandbox server's own settings; each vendor's fake reads its knobs from its vendor
/// section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SandboxSettings {
    pub listen: SocketAddr,
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
    /// After a rotation, the old secret keeps signing this long (one old secret at most:
    /// a rotation during a grace period replaces it).
    pub rotation_grace_secs: u64,
    /// The API rotates an endpoint's secret at most this many times per
    /// `rotation_limit_window_secs` (429 past it); 0: no limit.
    pub rotation_limit: u32,
    pub rotation_limit_window_secs: u64,
    /// CIDRs the SSRF guard admits although they are private or loopback.
    pub allow_cidrs: Vec<String>,
    pub https_only: bool,
    /// Endpoints from the config file (the API adds more, stored in Redis).
    #[serde(default)]
    pub endpoints: Vec<ConfiguredEndpoint>,
}

/// An endpoint declared in the config file. Its secret comes from the environment variable
/// named by `secret_env`, never from the file. Its `Debug` shows the names of `headers`,
/// not their values (receiver credentials).
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfiguredEndpoint {
    pub id: String,
    /// The upstream app whose events it receives (`default` when left out).
    #[serde(default)]
    pub app: Option<String>,
    pub url: String,
    pub secret_env: String,
    #[serde(default = "all_events")]
    pub events: Vec<String>,
    #[serde(default)]
    pub ordered: bool,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

impl fmt::Debug for ConfiguredEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfiguredEndpoint")
            .field("id", &self.id)
            .field("app", &self.app)
            .field("url", &self.url)
            .field("secret_env", &self.secret_env)
            .field("events", &self.events)
            .field("ordered", &self.ordered)
            .field("header_names", &self.headers.keys().collect::<Vec<_>>())
            .finish()
    }
}

fn all_events() -> Vec<String> {
    vec!["*".into()]
}

/// Credentials. `Debug` never shows them.
#[derive(Clone, Default)]
pub struct Secrets {
    /// Each app's tokens (`UNDERWRITE_API_TOKENS`).
    pub api_tokens: Vec<AppToken>,
    /// The operator's tokens (`UNDERWRITE_API_OPERATOR_TOKENS`): every app's records.
    pub operator_tokens: Vec<String>,
    /// Vendor credentials by vendor, then by secret name (`token` for
    /// `UNDERWRITE_PROTEGER_TOKEN`).
    vendors: BTreeMap<String, BTreeMap<String, String>>,
}

impl Secrets {
    /// The secret `name` of `vendor`, if it was given (an empty value counts as absent).
    pub fn vendor(&self, vendor: &str, name: &str) -> Option<&str> {
        self.vendors
            .get(vendor)?
            .get(name)
            .map(String::as_str)
            .filter(|value| !value.is_empty())
    }

    /// Sets a vendor secret (the demo and tests set theirs in code).
    pub fn set_vendor(&mut self, vendor: &str, name: &str, value: impl Into<String>) {
        self.vendors
            .entry(vendor.to_string())
            .or_default()
            .insert(name.to_string(), value.into());
    }

    /// The names of the secrets given for `vendor`, so the registry can refuse unknown ones.
    pub fn vendor_names(&self, vendor: &str) -> impl Iterator<Item = &str> {
        self.vendors
            .get(vendor)
            .into_iter()
            .flat_map(|secrets| secrets.keys().map(String::as_str))
    }
}

/// The environment variable of a vendor secret: `UNDERWRITE_PROTEGER_TOKEN` for
/// (`proteger`, `token`).
pub fn vendor_secret_var(vendor: &str, name: &str) -> String {
    format!("{ENV_PREFIX}{vendor}_{name}").to_ascii_uppercase()
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let vendors: BTreeMap<&str, Vec<&str>> = self
            .vendors
            .iter()
            .map(|(vendor, secrets)| {
                (
                    vendor.as_str(),
                    secrets.keys().map(String::as_str).collect(),
                )
            })
            .collect();
        f.debug_struct("Secrets")
            .field("api_tokens", &self.api_tokens)
            .field(
                "operator_tokens",
                &format_args!("[{} redacted]", self.operator_tokens.len()),
            )
            .field("vendors (names only)", &vendors)
            .finish()
    }
}

/// A Redis URL without its password, for messages and logs (also one written without its
/// scheme: everything before an `@` goes).
pub fn redacted_redis_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            format!("{}://***@{}", &url[..scheme_end], &url[at + 1..])
        }
        (None, Some(at)) => format!("***@{}", &url[at + 1..]),
        _ => url.to_string(),
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
        // Variables a setting names as the place of a secret (an endpoint's `secret_env`)
        // belong to whoever reads that secret, not to the settings, whatever their prefix.
        let named = secret_env_names(&table);
        for (var, value) in env {
            let Some(rest) = var.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            if named.contains(&var) {
                continue;
            }
            match rest {
                "API_TOKENS" => {
                    secrets.api_tokens = config_tokens::parse_app_tokens(&value)
                        .map_err(|e| ConfigError::Invalid(e.to_string()))?;
                }
                "API_OPERATOR_TOKENS" => {
                    secrets.operator_tokens = config_tokens::parse_operator_tokens(&value);
                }
                "CONFIG" | "LOG" | "LOG_FORMAT" => {}
                _ => match vendor_secret(&table, rest) {
                    Some((vendor, name)) => secrets.set_vendor(&vendor, &name, value),
                    None => apply_env(&mut table, &var, rest, &value)?,
                },
            }
        }
        let mut settings: Settings =
            toml::Value::Table(table)
                .try_into()
                .map_err(|e: toml::de::Error| {
                    ConfigError::Invalid(crate::config_hints::explain(&e.to_string()))
                })?;
        config_tokens::check_distinct(&secrets.api_tokens, &secrets.operator_tokens)
            .map_err(|e| ConfigError::Invalid(e.to_string()))?;
        settings.secrets = secrets;
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |m: &str| Err(ConfigError::Invalid(m.into()));
        for (name, value) in [
            (
                "api.header_read_timeout_secs",
                self.api.header_read_timeout_secs,
            ),
            ("api.body_timeout_secs", self.api.body_timeout_secs),
            ("api.idle_timeout_secs", self.api.idle_timeout_secs),
        ] {
            if value == 0 {
                return Err(ConfigError::Invalid(format!("{name} must be at least 1")));
            }
        }
        if self.api.max_connections == 0 {
            return invalid("api.max_connections must be at least 1");
        }
        if self.api.max_header_bytes < 1024 {
            return invalid("api.max_header_bytes must be at least 1024");
        }
        if self.worker.concurrency == 0 {
            return invalid("worker.concurrency must be at least 1");
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
        let scheme = self.redis.url.split_once("://").map(|(scheme, _)| scheme);
        if !matches!(scheme, Some("redis" | "rediss" | "unix" | "redis+unix")) {
            return Err(ConfigError::Invalid(format!(
                "redis.url `{}` is not a Redis URL: write it with its scheme, such as \
                 `redis://127.0.0.1:6379` (`rediss://` for TLS, `redis://:password@host:6379/0` \
                 with a password and a database)",
                redacted_redis_url(&self.redis.url)
            )));
        }
        if !(0.0..=1.0).contains(&self.webhooks.jitter) {
            return Err(ConfigError::Invalid(format!(
                "webhooks.jitter must be between 0 and 1 (a share of each wait), not {}",
                self.webhooks.jitter
            )));
        }
        if self.webhooks.schedule_secs.is_empty() {
            return invalid(
                "webhooks.schedule_secs is empty: it lists the wait before each delivery \
                 attempt, so at least one is needed (the default: [0, 5, 300, 1800, 7200, \
                 18000, 36000, 36000]; UNDERWRITE_WEBHOOKS_SCHEDULE_SECS=0,5,300)",
            );
        }
        for (kind, policy) in &self.retry {
            if policy.max_attempts == 0 {
                return Err(ConfigError::Invalid(format!(
                    "retry.\"{kind}\".max_attempts must be at least 1"
                )));
            }
            if policy.snooze_deadline_secs == Some(0) {
                return Err(ConfigError::Invalid(format!(
                    "retry.\"{kind}\".snooze_deadline_secs must be at least 1 (leave it out for no deadline)"
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

    /// The section `[vendors.<vendor>]` read into the vendor's own settings type. A vendor
    /// without a section reads an empty one (its type's defaults decide).
    pub fn vendor<T: DeserializeOwned>(&self, vendor: &str) -> Result<T, ConfigError> {
        let table = self.vendors.get(vendor).cloned().unwrap_or_default();
        toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Invalid(format!("vendors.{vendor}: {e}")))
    }

    /// Sets one key of a vendor's section (tests, the demo and the benchmarks point a
    /// vendor at their own sandbox this way).
    pub fn set_vendor(&mut self, vendor: &str, key: &str, value: impl Into<toml::Value>) {
        self.vendors
            .entry(vendor.to_string())
            .or_default()
            .insert(key.to_string(), value.into());
    }
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
        assert_eq!(
            settings.secrets.api_tokens,
            vec![AppToken::default_app("a"), AppToken::default_app("b")]
        );
        assert_eq!(settings.worker.lease_secs, 30);
        assert_eq!(settings.retention.finished_secs, 7 * 24 * 3600);
    }

    #[test]
    fn an_empty_delivery_schedule_is_refused_with_an_example() {
        let err = Settings::load_from(None, env(&[("UNDERWRITE_WEBHOOKS_SCHEDULE_SECS", "")]))
            .expect_err("no attempt at all");
        let text = err.to_string();
        assert!(text.contains("webhooks.schedule_secs is empty"), "{text}");
        assert!(
            text.contains("UNDERWRITE_WEBHOOKS_SCHEDULE_SECS=0,5,300"),
            "{text}"
        );
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
        let file = tempfile_with("[vendors.acme]\nbase_url = \"http://acme\"\n");
        let settings = Settings::load_from(
            Some(file.path()),
            env(&[("UNDERWRITE_ACME_TOKEN", "sk_live_very_secret")]),
        )
        .expect("settings");
        assert_eq!(
            settings.secrets.vendor("acme", "token"),
            Some("sk_live_very_secret")
        );
        assert!(!format!("{settings:?}").contains("sk_live_very_secret"));
    }

    #[test]
    fn api_tokens_belong_to_apps_and_operator_tokens_are_apart() {
        let settings = Settings::load_from(
            None,
            env(&[
                (
                    "UNDERWRITE_API_TOKENS",
                    "shop-a:tok_a1,shop-a:tok_a2,legacy_tok",
                ),
                ("UNDERWRITE_API_OPERATOR_TOKENS", "op_tok1, op_tok2"),
            ]),
        )
        .expect("settings");
        let apps: Vec<&str> = settings
            .secrets
            .api_tokens
            .iter()
            .map(|t| t.app.as_str())
            .collect();
        assert_eq!(apps, ["shop-a", "shop-a", "default"]);
        assert_eq!(settings.secrets.operator_tokens, ["op_tok1", "op_tok2"]);
        let shown = format!("{settings:?}");
        for token in ["tok_a1", "tok_a2", "legacy_tok", "op_tok1", "op_tok2"] {
            assert!(!shown.contains(token), "{token} in {shown}");
        }
    }

    #[test]
    fn malformed_api_tokens_stop_the_start_without_being_echoed() {
        for (var, value) in [
            ("UNDERWRITE_API_TOKENS", "Shop:hunter2"),
            ("UNDERWRITE_API_TOKENS", "shop:"),
            ("UNDERWRITE_API_TOKENS", "a:hunter2,b:hunter2"),
            ("UNDERWRITE_API_OPERATOR_TOKENS", "hunter2"),
        ] {
            let mut vars = vec![(var, value)];
            if var == "UNDERWRITE_API_OPERATOR_TOKENS" {
                vars.push(("UNDERWRITE_API_TOKENS", "shop:hunter2"));
            }
            let error = Settings::load_from(None, env(&vars)).expect_err(value);
            let text = error.to_string();
            assert!(text.contains("UNDERWRITE_API_"), "{text}");
            assert!(!text.contains("hunter2"), "{text}");
        }
    }

    #[test]
    fn vendor_sections_take_their_own_variables() {
        let mut table: toml::Table = DEFAULT_TOML.parse().expect("defaults");
        let vendors = table
            .get_mut("vendors")
            .and_then(toml::Value::as_table_mut)
            .expect("a [vendors] table");
        // Two vendors whose names share a prefix: the longest name wins.
        let mut two = toml::Table::new();
        two.insert("base_url".into(), toml::Value::String("x".into()));
        vendors.insert("acme_two".into(), toml::Value::Table(two.clone()));
        vendors.insert("acme".into(), toml::Value::Table(two));
        let file = tempfile_with(&toml::to_string(&table).expect("toml"));
        let settings = Settings::load_from(
            Some(file.path()),
            env(&[
                ("UNDERWRITE_VENDORS_ACME_TWO_BASE_URL", "http://two"),
                ("UNDERWRITE_VENDORS_ACME_BASE_URL", "http://one"),
                ("UNDERWRITE_ACME_TWO_TOKEN", "t2"),
            ]),
        )
        .expect("settings");
        assert_eq!(
            settings.vendors["acme_two"]["base_url"].as_str(),
            Some("http://two")
        );
        assert_eq!(
            settings.vendors["acme"]["base_url"].as_str(),
            Some("http://one")
        );
        assert_eq!(settings.secrets.vendor("acme_two", "token"), Some("t2"));
        assert_eq!(settings.secrets.vendor("acme", "two_token"), None);

        let err = Settings::load_from(None, env(&[("UNDERWRITE_VENDORS_NOBODY_X", "1")]))
            .expect_err("must fail");
        assert!(
            err.to_string().contains("UNDERWRITE_VENDORS_NOBODY_X"),
            "{err}"
        );
    }

    #[test]
    fn a_variable_named_by_secret_env_is_no_setting() {
        // The README's example: the endpoint's secret in an UNDERWRITE_* variable.
        let file = tempfile_with(
            "[[webhooks.endpoints]]\nid = \"shop\"\nurl = \"https://shop.example/hooks\"\n\
             secret_env = \"UNDERWRITE_WEBHOOK_SECRET_SHOP\"\n",
        );
        let settings = Settings::load_from(
            Some(file.path()),
            env(&[("UNDERWRITE_WEBHOOK_SECRET_SHOP", "whsec_c2VjcmV0")]),
        )
        .expect("the variable is the endpoint's, not a setting");
        assert_eq!(
            settings.webhooks.endpoints[0].secret_env,
            "UNDERWRITE_WEBHOOK_SECRET_SHOP"
        );
        assert!(!format!("{settings:?}").contains("whsec_c2VjcmV0"));
        // Without the endpoint naming it, the same variable is a misspelt setting.
        let err = Settings::load_from(None, env(&[("UNDERWRITE_WEBHOOK_SECRET_SHOP", "x")]))
            .expect_err("unknown section");
        assert!(
            err.to_string().contains("UNDERWRITE_WEBHOOK_SECRET_SHOP"),
            "{err}"
        );
    }

    fn tempfile_with(text: &str) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().expect("temp file");
        std::fs::write(file.path(), text).expect("write");
        file
    }

    #[test]
    fn retry_policy_falls_back_to_default() {
        let settings = Settings::load_from(None, env(&[])).expect("settings");
        assert_eq!(
            settings.retry_policy("no.such.kind"),
            settings.retry["default"]
        );
    }

    #[test]
    fn a_kind_may_bound_its_snoozes_but_not_to_nothing() {
        let policy = "[retry.\"acme.poll\"]\nmax_attempts = 3\nbase_ms = 10\ncap_ms = 20\n";
        let file = tempfile_with(&format!("{policy}snooze_deadline_secs = 86400\n"));
        let settings = Settings::load_from(Some(file.path()), env(&[])).expect("settings");
        assert_eq!(
            settings.retry_policy("acme.poll").snooze_deadline(),
            Some(Duration::from_secs(86_400))
        );
        assert_eq!(settings.retry_policy("other").snooze_deadline(), None);
        let file = tempfile_with(&format!("{policy}snooze_deadline_secs = 0\n"));
        let err = Settings::load_from(Some(file.path()), env(&[])).expect_err("must fail");
        assert!(err.to_string().contains("snooze_deadline_secs"), "{err}");
    }
}
