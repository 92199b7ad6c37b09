//! `[vendors.tulip]`: where Tulip is, how long a call may take, how fast every process
//! together may call it, how long to hold off after a 429 or a spent quota, how far back
//! a retried creation looks for a contract it may already have made, and the sandbox's
//! knobs.
//!
//! The API key is a secret: `UNDERWRITE_TULIP_API_KEY` (sent in the `key` header), never
//! in a file. The key alone decides development or production at Tulip: the URL is the
//! same (`environments.mdx`).

use std::time::Duration;

use serde::Deserialize;

use crate::config::{ConfigError, Settings};

/// The vendor's name in the registry, its settings section and its secrets' prefix.
pub const NAME: &str = "tulip";
/// The secret holding the API key: `UNDERWRITE_TULIP_API_KEY`.
pub const API_KEY_SECRET: &str = "api_key";
/// Tulip's most contracts per list page (`conventions.mdx`: "max : 100").
pub const MAX_PAGE: u32 = 100;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TulipSettings {
    /// `https://api.mytulip.io/v2`, or our sandbox (`http://127.0.0.1:8090/tulip/v2`); the
    /// client appends `/contracts...`.
    pub base_url: String,
    pub connect_timeout_ms: u64,
    pub timeout_ms: u64,
    /// Our budget of calls per `rate_limit_window_secs`, shared by every process. Tulip sets
    /// a limit per key without publishing it (`rate-limits.mdx`): ask them, and set it here.
    #[serde(default = "default_rate_limit")]
    pub rate_limit: u32,
    #[serde(default = "default_rate_limit_window_secs")]
    pub rate_limit_window_secs: u64,
    /// After a 429 without `Retry-After`, no call for this long (from every process).
    #[serde(default = "default_pause_on_429_secs")]
    pub pause_on_429_secs: u64,
    /// After a 99888 (quota reached) without `Retry-After`, no call for this long. Tulip
    /// says a quota is lifted by its support, not by waiting: the jobs keep retrying until
    /// their attempts run out, then wait in the dead set.
    #[serde(default = "default_quota_pause_secs")]
    pub quota_pause_secs: u64,
    /// A retried creation adopts a contract created at most this long before its job was
    /// enqueued (clocks differ; see `jobs/adopt.rs`).
    #[serde(default = "default_adopt_clock_skew_secs")]
    pub adopt_clock_skew_secs: u64,
    /// How many list pages (of 100) a retried creation reads to find its contract before
    /// it gives up and asks an operator.
    #[serde(default = "default_adopt_max_pages")]
    pub adopt_max_pages: u32,
    /// Sandbox only: an LCD under 24 h is refused (1002), the seed's strict reading.
    #[serde(default)]
    pub sandbox_lcd_min_one_day: bool,
}

fn default_rate_limit() -> u32 {
    600
}

fn default_rate_limit_window_secs() -> u64 {
    60
}

fn default_pause_on_429_secs() -> u64 {
    30
}

fn default_quota_pause_secs() -> u64 {
    300
}

fn default_adopt_clock_skew_secs() -> u64 {
    300
}

fn default_adopt_max_pages() -> u32 {
    20
}

impl Default for TulipSettings {
    /// The values `config/default.toml` ships (tests and tools set the base URL they need).
    fn default() -> Self {
        Self {
            base_url: "http://127.0.0.1:8090/tulip/v2".into(),
            connect_timeout_ms: 5_000,
            timeout_ms: 30_000,
            rate_limit: default_rate_limit(),
            rate_limit_window_secs: default_rate_limit_window_secs(),
            pause_on_429_secs: default_pause_on_429_secs(),
            quota_pause_secs: default_quota_pause_secs(),
            adopt_clock_skew_secs: default_adopt_clock_skew_secs(),
            adopt_max_pages: default_adopt_max_pages(),
            sandbox_lcd_min_one_day: false,
        }
    }
}

impl TulipSettings {
    /// Reads and checks `[vendors.tulip]`.
    pub fn from_settings(settings: &Settings) -> Result<Self, ConfigError> {
        let parsed: Self = settings.vendor(NAME)?;
        parsed.check()?;
        Ok(parsed)
    }

    /// The rules a section must meet; each message names the key.
    pub fn check(&self) -> Result<(), ConfigError> {
        let invalid = |message: String| Err(ConfigError::Invalid(message));
        if let Err(e) = reqwest::Url::parse(&self.base_url) {
            return invalid(format!(
                "vendors.tulip.base_url `{}` is not a URL: {e}",
                self.base_url
            ));
        }
        if self.connect_timeout_ms == 0 || self.timeout_ms == 0 {
            return invalid("vendors.tulip timeouts must be above 0".into());
        }
        if self.rate_limit == 0 || self.rate_limit_window_secs == 0 {
            return invalid(
                "vendors.tulip.rate_limit and rate_limit_window_secs must be above 0".into(),
            );
        }
        if self.adopt_max_pages == 0 {
            return invalid("vendors.tulip.adopt_max_pages must be above 0".into());
        }
        Ok(())
    }

    pub fn rate_limit_window(&self) -> Duration {
        Duration::from_secs(self.rate_limit_window_secs)
    }

    pub fn pause_on_429(&self) -> Duration {
        Duration::from_secs(self.pause_on_429_secs)
    }

    pub fn quota_pause(&self) -> Duration {
        Duration::from_secs(self.quota_pause_secs)
    }

    pub fn adopt_clock_skew(&self) -> Duration {
        Duration::from_secs(self.adopt_clock_skew_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_sections_are_refused_naming_the_key() {
        assert!(TulipSettings::default().check().is_ok());
        let bad = TulipSettings {
            base_url: "not a url".into(),
            ..TulipSettings::default()
        };
        assert!(
            bad.check()
                .expect_err("refused")
                .to_string()
                .contains("base_url")
        );
        let bad = TulipSettings {
            rate_limit: 0,
            ..TulipSettings::default()
        };
        assert!(
            bad.check()
                .expect_err("refused")
                .to_string()
                .contains("rate_limit")
        );
    }
}
