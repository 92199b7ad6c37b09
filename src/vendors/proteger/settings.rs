//! `[vendors.proteger]`: where Proteger is, how long a call may take, how contracts are
//! batched, how long a contract we just created may still be unknown to the vendor, and the
//! sandbox's persistence delay. The token is a secret: `UNDERWRITE_PROTEGER_TOKEN`, never
//! in a file.

use std::time::Duration;

use serde::Deserialize;

use super::types::MAX_BULK_CONTRACTS;
use crate::config::{ConfigError, Settings};

/// The vendor's name in the registry, its settings section and its secrets' prefix.
pub const NAME: &str = "proteger";
/// The secret that holds the API key: `UNDERWRITE_PROTEGER_TOKEN`.
pub const TOKEN_SECRET: &str = "token";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProtegerSettings {
    /// `https://api.helloproteger.com`, `https://demo-api.helloproteger.com`, or our sandbox.
    pub base_url: String,
    pub connect_timeout_ms: u64,
    pub timeout_ms: u64,
    /// Contracts per bulk call: 1 to 10, the vendor's ceiling.
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    /// How long a batch that is not full waits for more contracts before it is sent: at a
    /// trickle, one bulk call per `linger_ms` instead of one per contract. 0: never waits.
    #[serde(default = "default_linger_ms")]
    pub linger_ms: u64,
    /// Sandbox only: how long a created contract stays invisible to reads.
    #[serde(default = "default_persist_delay_ms")]
    pub sandbox_persist_delay_ms: u64,
    /// For how long after *we* created a contract a 404 about it is taken for the vendor's
    /// asynchronous persistence (seed 000) and retried, rather than a contract that does not
    /// exist. The vendor's real delay is not documented; 5 minutes is far past anything
    /// plausible and still short enough that a wrong id fails the same hour.
    #[serde(default = "default_not_found_retry_secs")]
    pub not_found_retry_secs: u64,
    /// How long Proteger keeps an idempotency key: after it, the same key is a new request.
    #[serde(default = "default_key_lifetime_secs")]
    pub key_lifetime_secs: u64,
    /// A batch stops retrying this long before its key expires (clocks drift, calls take
    /// time).
    #[serde(default = "default_key_margin_secs")]
    pub key_margin_secs: u64,
}

fn default_not_found_retry_secs() -> u64 {
    300
}

fn default_key_lifetime_secs() -> u64 {
    24 * 3600
}

fn default_key_margin_secs() -> u64 {
    3600
}

fn default_batch_size() -> usize {
    MAX_BULK_CONTRACTS
}

fn default_linger_ms() -> u64 {
    250
}

fn default_persist_delay_ms() -> u64 {
    500
}

impl Default for ProtegerSettings {
    /// The values `config/default.toml` ships (tests and tools set the base URL they need).
    fn default() -> Self {
        Self {
            base_url: "http://127.0.0.1:8090/proteger".into(),
            connect_timeout_ms: 5_000,
            timeout_ms: 30_000,
            batch_size: default_batch_size(),
            linger_ms: default_linger_ms(),
            sandbox_persist_delay_ms: default_persist_delay_ms(),
            key_lifetime_secs: default_key_lifetime_secs(),
            key_margin_secs: default_key_margin_secs(),
            not_found_retry_secs: default_not_found_retry_secs(),
        }
    }
}

impl ProtegerSettings {
    /// Reads and checks `[vendors.proteger]`.
    pub fn from_settings(settings: &Settings) -> Result<Self, ConfigError> {
        let parsed: Self = settings.vendor(NAME)?;
        if !(1..=MAX_BULK_CONTRACTS).contains(&parsed.batch_size) {
            return Err(ConfigError::Invalid(format!(
                "vendors.proteger.batch_size must be between 1 and {MAX_BULK_CONTRACTS}"
            )));
        }
        if parsed.key_margin_secs >= parsed.key_lifetime_secs {
            return Err(ConfigError::Invalid(
                "vendors.proteger.key_margin_secs must be less than key_lifetime_secs".into(),
            ));
        }
        Ok(parsed)
    }

    /// How old a batch's key may be when it is sent (again): the lifetime less the margin.
    pub fn key_usable_for(&self) -> Duration {
        Duration::from_secs(self.key_lifetime_secs - self.key_margin_secs)
    }

    pub fn persist_delay(&self) -> Duration {
        Duration::from_millis(self.sandbox_persist_delay_ms)
    }

    /// [`ProtegerSettings::not_found_retry_secs`] as a duration.
    pub fn not_found_retry(&self) -> Duration {
        Duration::from_secs(self.not_found_retry_secs)
    }
}
