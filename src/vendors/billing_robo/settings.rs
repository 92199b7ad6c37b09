//! `[vendors.billing_robo]`: where Billing-Robo is, which version of its API it speaks, how
//! long a call may take, how credit applications are batched, how fast we may call it, how
//! often and how long we poll for decisions, and the sandbox's knobs.
//!
//! The credentials are secrets: `UNDERWRITE_BILLING_ROBO_USER_ID` (the login e-mail of the
//! vendor's console) and `UNDERWRITE_BILLING_ROBO_ACCESS_KEY`, never in a file.

use std::time::Duration;

use serde::Deserialize;

use super::types::{ApiVersion, MAX_REGISTER_ITEMS};
use crate::config::{ConfigError, Settings};

/// The vendor's name in the registry, its settings section and its secrets' prefix.
pub const NAME: &str = "billing_robo";
/// The secret holding the login id (an e-mail): `UNDERWRITE_BILLING_ROBO_USER_ID`.
pub const USER_ID_SECRET: &str = "user_id";
/// The secret holding the API access key: `UNDERWRITE_BILLING_ROBO_ACCESS_KEY`.
pub const ACCESS_KEY_SECRET: &str = "access_key";

/// The vendor's documented limit: 300 requests per 5 minutes per source IP (index.md,
/// リクエスト数の制限). Our own budget must stay within it.
pub const VENDOR_RATE_LIMIT: u32 = 300;
pub const VENDOR_RATE_WINDOW_SECS: u64 = 300;
/// The lag the vendor documents before its limit starts and lifts ("2分程度").
pub const VENDOR_RATE_LAG_SECS: u64 = 120;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BillingRoboSettings {
    /// `https://billing-robo.jp`, `https://demo.billing-robo.jp`, or our sandbox; the client
    /// appends `/api/v1.0/...`. The `:10443` hosts are deprecated by the vendor.
    pub base_url: String,
    /// Which shape of the credit calls the vendor speaks: `seed` (seeds 002 and 003, the
    /// contract we were given) or `current` (the vendor's published pages): see
    /// [`ApiVersion`]. `underwrite sandbox` speaks the same one.
    #[serde(default)]
    pub api_version: ApiVersion,
    pub connect_timeout_ms: u64,
    pub timeout_ms: u64,
    /// Applications per `bulk_register` call: 1 to 3000 (the vendor's ceiling).
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    /// How long the batcher waits for more applications before it sends a short batch.
    #[serde(default = "default_linger_ms")]
    pub linger_ms: u64,
    /// Our budget of calls per `rate_limit_window_secs`, shared by every process: at most
    /// the vendor's 300 per 300 s, less a margin for its lag and for other tools on the
    /// same IP.
    #[serde(default = "default_rate_limit")]
    pub rate_limit: u32,
    #[serde(default = "default_rate_limit_window_secs")]
    pub rate_limit_window_secs: u64,
    /// After a 429, no call for at least this long (the vendor's limit lifts about two
    /// minutes after the count drops, and calls made meanwhile still count).
    #[serde(default = "default_pause_on_429_secs")]
    pub pause_on_429_secs: u64,
    /// How often pending applications are looked up (nothing at the vendor notifies us).
    #[serde(default = "default_poll_interval_secs")]
    pub poll_interval_secs: u64,
    /// An application still pending after this many days is given up on and reported
    /// (`expired`).
    #[serde(default = "default_expiry_days")]
    pub expiry_days: u64,
    /// The same in seconds, when not 0 (tests and demos that cannot wait days).
    #[serde(default)]
    pub expiry_secs: u64,
    /// Each poll reads the changes since the previous one began, less this margin: for
    /// clock skew between us and the vendor, and for the vendor's lag before a change
    /// shows in its search.
    #[serde(default = "default_poll_margin_secs")]
    pub poll_margin_secs: u64,
    /// How far our clock may be from the vendor's: an application whose registration
    /// answered no time of its own counts as waiting since our start less this.
    #[serde(default = "default_clock_skew_secs")]
    pub clock_skew_secs: u64,
    /// A waiting application that no poll decided searches its own billing code this
    /// often (a fallback for a change the polls missed). One call per application each
    /// time: keep it long.
    #[serde(default = "default_straggler_check_secs")]
    pub straggler_check_secs: u64,
    /// Requests of each window kept for applications: polls and searches may use only
    /// `rate_limit` less this many.
    #[serde(default = "default_high_priority_reserve")]
    pub high_priority_reserve: u32,
    /// Sandbox only: billing codes of the billing customers that exist (others get 5401).
    /// An entry ending in `*` is a prefix: `demo-*` admits every code starting `demo-`.
    #[serde(default = "default_sandbox_customers")]
    pub sandbox_known_customers: Vec<String>,
    /// Sandbox only: a pending application is decided this long after it was made
    /// (rejected if its billing code contains `reject`, else approved); `0` leaves every
    /// decision to the admin endpoint.
    #[serde(default = "default_sandbox_decide_after_secs")]
    pub sandbox_decide_after_secs: u64,
    /// Sandbox only: its rate limit (the vendor's 300 requests per 300 s, with a lag of
    /// about 120 s before the limit starts and lifts).
    #[serde(default = "default_sandbox_rate_limit")]
    pub sandbox_rate_limit: u32,
    #[serde(default = "default_sandbox_rate_window_secs")]
    pub sandbox_rate_window_secs: u64,
    #[serde(default = "default_sandbox_rate_lag_secs")]
    pub sandbox_rate_lag_secs: u64,
}

/// 200: one search page (`limit_count` at most 200) then covers a whole batch, so after a
/// timeout one `request_marunage_credit/search` call can tell what a batch registered,
/// where a search per billing code would spend the whole rate budget.
fn default_batch_size() -> usize {
    200
}

fn default_linger_ms() -> u64 {
    5_000
}

fn default_rate_limit() -> u32 {
    240
}

fn default_rate_limit_window_secs() -> u64 {
    VENDOR_RATE_WINDOW_SECS
}

fn default_pause_on_429_secs() -> u64 {
    300
}

fn default_poll_interval_secs() -> u64 {
    300
}

fn default_expiry_days() -> u64 {
    30
}

fn default_poll_margin_secs() -> u64 {
    600
}

fn default_clock_skew_secs() -> u64 {
    120
}

fn default_straggler_check_secs() -> u64 {
    86_400
}

fn default_high_priority_reserve() -> u32 {
    40
}

fn default_sandbox_customers() -> Vec<String> {
    vec!["demo-*".into()]
}

fn default_sandbox_decide_after_secs() -> u64 {
    60
}

fn default_sandbox_rate_limit() -> u32 {
    VENDOR_RATE_LIMIT
}

fn default_sandbox_rate_window_secs() -> u64 {
    VENDOR_RATE_WINDOW_SECS
}

fn default_sandbox_rate_lag_secs() -> u64 {
    VENDOR_RATE_LAG_SECS
}

impl Default for BillingRoboSettings {
    /// The values `config/default.toml` ships (tests and tools set the base URL they need).
    fn default() -> Self {
        Self {
            base_url: "http://127.0.0.1:8090/billing-robo".into(),
            api_version: ApiVersion::default(),
            connect_timeout_ms: 5_000,
            timeout_ms: 60_000,
            batch_size: default_batch_size(),
            linger_ms: default_linger_ms(),
            rate_limit: default_rate_limit(),
            rate_limit_window_secs: default_rate_limit_window_secs(),
            pause_on_429_secs: default_pause_on_429_secs(),
            poll_interval_secs: default_poll_interval_secs(),
            expiry_days: default_expiry_days(),
            expiry_secs: 0,
            poll_margin_secs: default_poll_margin_secs(),
            clock_skew_secs: default_clock_skew_secs(),
            straggler_check_secs: default_straggler_check_secs(),
            high_priority_reserve: default_high_priority_reserve(),
            sandbox_known_customers: default_sandbox_customers(),
            sandbox_decide_after_secs: default_sandbox_decide_after_secs(),
            sandbox_rate_limit: default_sandbox_rate_limit(),
            sandbox_rate_window_secs: default_sandbox_rate_window_secs(),
            sandbox_rate_lag_secs: default_sandbox_rate_lag_secs(),
        }
    }
}

impl BillingRoboSettings {
    /// Reads and checks `[vendors.billing_robo]`.
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
                "vendors.billing_robo.base_url `{}` is not a URL: {e}",
                self.base_url
            ));
        }
        if !(1..=MAX_REGISTER_ITEMS).contains(&self.batch_size) {
            return invalid(format!(
                "vendors.billing_robo.batch_size must be between 1 and {MAX_REGISTER_ITEMS}"
            ));
        }
        if self.connect_timeout_ms == 0 || self.timeout_ms == 0 {
            return invalid("vendors.billing_robo timeouts must be above 0".into());
        }
        if self.rate_limit_window_secs == 0 || self.rate_limit == 0 {
            return invalid(
                "vendors.billing_robo.rate_limit and rate_limit_window_secs must be above 0".into(),
            );
        }
        // At most one call a second on average, and never more than the vendor's 300 in
        // any window: then no 300-second stretch can hold more than 300 of our calls.
        let ceiling = u64::from(VENDOR_RATE_LIMIT).min(self.rate_limit_window_secs);
        if u64::from(self.rate_limit) > ceiling {
            return invalid(format!(
                "vendors.billing_robo.rate_limit must be at most {ceiling} per \
                 {} s: Billing-Robo allows {VENDOR_RATE_LIMIT} requests per \
                 {VENDOR_RATE_WINDOW_SECS} s",
                self.rate_limit_window_secs
            ));
        }
        if self.poll_interval_secs == 0 || self.expiry_days == 0 || self.straggler_check_secs == 0 {
            return invalid(
                "vendors.billing_robo.poll_interval_secs, expiry_days and straggler_check_secs \
                 must be above 0"
                    .into(),
            );
        }
        if self.high_priority_reserve >= self.rate_limit {
            return invalid(format!(
                "vendors.billing_robo.high_priority_reserve ({}) must be below rate_limit ({}): \
                 polls need some of the budget",
                self.high_priority_reserve, self.rate_limit
            ));
        }
        if self.sandbox_rate_limit == 0 || self.sandbox_rate_window_secs == 0 {
            return invalid(
                "vendors.billing_robo.sandbox_rate_limit and sandbox_rate_window_secs must \
                 be above 0"
                    .into(),
            );
        }
        Ok(())
    }

    pub fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.connect_timeout_ms)
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }

    pub fn linger(&self) -> Duration {
        Duration::from_millis(self.linger_ms)
    }

    pub fn rate_limit_window(&self) -> Duration {
        Duration::from_secs(self.rate_limit_window_secs)
    }

    pub fn pause_on_429(&self) -> Duration {
        Duration::from_secs(self.pause_on_429_secs)
    }

    pub fn poll_interval(&self) -> Duration {
        Duration::from_secs(self.poll_interval_secs)
    }

    pub fn expiry(&self) -> Duration {
        Duration::from_secs(match self.expiry_secs {
            0 => self.expiry_days.saturating_mul(24 * 3600),
            secs => secs,
        })
    }

    pub fn poll_margin(&self) -> Duration {
        Duration::from_secs(self.poll_margin_secs)
    }

    pub fn clock_skew(&self) -> Duration {
        Duration::from_secs(self.clock_skew_secs)
    }

    pub fn straggler_check(&self) -> Duration {
        Duration::from_secs(self.straggler_check_secs)
    }

    pub fn high_priority_reserve(&self) -> u32 {
        self.high_priority_reserve
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(change: impl FnOnce(&mut BillingRoboSettings)) -> Result<(), ConfigError> {
        let mut settings = BillingRoboSettings::default();
        change(&mut settings);
        settings.check()
    }

    #[test]
    fn the_defaults_pass() {
        assert!(with(|_| {}).is_ok());
    }

    #[test]
    fn batch_size_is_one_to_three_thousand() {
        assert!(with(|s| s.batch_size = 3000).is_ok());
        for bad in [0, 3001] {
            let err = with(|s| s.batch_size = bad).expect_err("refused");
            assert!(err.to_string().contains("batch_size"), "{err}");
        }
    }

    #[test]
    fn the_rate_budget_stays_within_the_vendors_limit() {
        assert!(with(|s| s.rate_limit = 300).is_ok());
        let err = with(|s| s.rate_limit = 301).expect_err("over 300 per 300 s");
        assert!(err.to_string().contains("rate_limit"), "{err}");
        // 100 per 60 s would be 500 per 300 s.
        assert!(
            with(|s| {
                s.rate_limit = 100;
                s.rate_limit_window_secs = 60;
            })
            .is_err()
        );
        assert!(
            with(|s| {
                s.rate_limit = 60;
                s.rate_limit_window_secs = 60;
            })
            .is_ok()
        );
        // A long window cannot hide a burst of more than 300.
        assert!(
            with(|s| {
                s.rate_limit = 400;
                s.rate_limit_window_secs = 3600;
            })
            .is_err()
        );
    }

    #[test]
    fn the_section_and_the_secrets_come_from_the_environment() {
        let env = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<Vec<_>>()
        };
        let settings = Settings::load_from(
            None,
            env(&[
                ("UNDERWRITE_BILLING_ROBO_USER_ID", "owner@example.co.jp"),
                ("UNDERWRITE_BILLING_ROBO_ACCESS_KEY", "key123"),
                ("UNDERWRITE_VENDORS_BILLING_ROBO_API_VERSION", "current"),
                ("UNDERWRITE_VENDORS_BILLING_ROBO_BATCH_SIZE", "3000"),
            ]),
        )
        .expect("settings");
        let ours = BillingRoboSettings::from_settings(&settings).expect("ours");
        assert_eq!(ours.api_version, ApiVersion::Current);
        assert_eq!(ours.batch_size, 3000);
        assert_eq!(ours.rate_limit, 240);
        assert_eq!(
            settings.secrets.vendor(NAME, USER_ID_SECRET),
            Some("owner@example.co.jp")
        );
        assert_eq!(
            settings.secrets.vendor(NAME, ACCESS_KEY_SECRET),
            Some("key123")
        );
        assert!(!format!("{settings:?}").contains("key123"));
        crate::vendors::all()
            .check(&settings)
            .expect("declared secrets");

        let settings = Settings::load_from(
            None,
            env(&[("UNDERWRITE_VENDORS_BILLING_ROBO_BATCH_SIZE", "3001")]),
        )
        .expect("settings");
        let err = crate::vendors::all().check(&settings).expect_err("too big");
        assert!(err.to_string().contains("batch_size"), "{err}");
        let settings = Settings::load_from(None, env(&[("UNDERWRITE_BILLING_ROBO_TOKEN", "x")]))
            .expect("settings");
        let err = crate::vendors::all()
            .check(&settings)
            .expect_err("not a secret");
        assert!(
            err.to_string()
                .contains("UNDERWRITE_BILLING_ROBO_ACCESS_KEY"),
            "{err}"
        );
    }

    #[test]
    fn the_shipped_defaults_are_the_types_defaults() {
        let settings = Settings::load_from(None, Vec::<(String, String)>::new()).expect("settings");
        let shipped = BillingRoboSettings::from_settings(&settings).expect("ours");
        let typed = BillingRoboSettings::default();
        assert_eq!(format!("{shipped:?}"), format!("{typed:?}"));
    }

    #[test]
    fn a_bad_url_is_named() {
        let err = with(|s| s.base_url = "not a url".into()).expect_err("refused");
        assert!(err.to_string().contains("base_url"), "{err}");
    }
}
