//! Apps: the upstream tenants that jobs, webhook endpoints and deliveries belong to.
//!
//! Each API token belongs to a named app (`config.rs` reads `app:token`; a bare token is
//! the app [`AppName::DEFAULT`]). What an app enqueues is stamped with its name, and the
//! API shows an app its own records only (`api/auth.rs` says who calls, `api/routes/`
//! checks). This file only says what a name is and how a record stores it.
//!
//! ## Names
//!
//! `[a-z0-9][a-z0-9_-]{0,63}`: short, lowercase, safe in a log line, a Redis value and a
//! metric label, and never mistaken for a token (`:` cannot occur in one). An [`AppName`]
//! exists only once parsed, so the rest of the code never checks one again.
//!
//! ## In a job record
//!
//! The hash field `app` holds the name, or `""` for a job of no app: an internal one (a
//! vendor batch, which may carry members of several apps; a scheduled poll), which only
//! the operator sees and whose events go to no endpoint. A record with no `app` field at
//! all was written before apps existed (or by something other than underwrite): it belongs
//! to [`AppName::DEFAULT`], so a single-token setup keeps seeing every job it made.
//! A value that is not a name (hand-written) is read as no app: shown to the operator
//! only, rather than to an app it may not belong to.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The longest app name.
pub const MAX_APP_LEN: usize = 64;

/// An app's name, checked (see the module doc).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AppName(String);

/// Why a text is not an app name. The text itself is never quoted: it may be part of a
/// token that was written without its app.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "an app name is 1 to {MAX_APP_LEN} lowercase letters, digits, `_` or `-`, starting with a letter or digit"
)]
pub struct BadAppName;

impl AppName {
    /// The app of bare tokens, of config-file endpoints without `app`, and of records
    /// written before apps existed.
    pub const DEFAULT: &'static str = "default";

    /// [`AppName::DEFAULT`].
    pub fn default_app() -> Self {
        Self(Self::DEFAULT.to_string())
    }

    pub fn parse(text: &str) -> Result<Self, BadAppName> {
        let mut chars = text.chars();
        let first_ok = chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        let rest_ok =
            chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
        if first_ok && rest_ok && text.len() <= MAX_APP_LEN {
            Ok(Self(text.to_string()))
        } else {
            Err(BadAppName)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The owner a record's `app` field says (see the module doc): `None` (the field is
    /// absent) is the default app; `""` (or a value that is no name) is no app.
    pub fn of_record(field: Option<&str>) -> Option<Self> {
        match field {
            None => Some(Self::default_app()),
            Some(value) => Self::parse(value).ok(),
        }
    }

    /// What a record's `app` field holds for this owner: the name, or `""` for none.
    pub fn to_record(owner: Option<&Self>) -> &str {
        owner.map_or("", Self::as_str)
    }
}

impl fmt::Display for AppName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for AppName {
    type Err = BadAppName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for AppName {
    type Error = BadAppName;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<AppName> for String {
    fn from(name: AppName) -> Self {
        name.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_short_lowercase_words() {
        for good in [
            "default",
            "shop-a",
            "shop_b",
            "0",
            "a1",
            &"a".repeat(MAX_APP_LEN),
        ] {
            assert!(AppName::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "Shop",
            "-shop",
            "_shop",
            "shop a",
            "shop:a",
            "shöp",
            &"a".repeat(MAX_APP_LEN + 1),
        ] {
            assert_eq!(AppName::parse(bad), Err(BadAppName), "{bad}");
        }
    }

    #[test]
    fn records_without_the_field_are_the_default_apps() {
        assert_eq!(AppName::of_record(None), Some(AppName::default_app()));
        assert_eq!(AppName::of_record(Some("")), None);
        assert_eq!(AppName::of_record(Some("Not A Name")), None);
        let shop = AppName::parse("shop").expect("name");
        assert_eq!(AppName::of_record(Some("shop")), Some(shop.clone()));
        assert_eq!(AppName::to_record(Some(&shop)), "shop");
        assert_eq!(AppName::to_record(None), "");
    }

    #[test]
    fn the_error_never_quotes_the_text() {
        let text = "s3cr3t-Token:part";
        let error = AppName::parse(text).expect_err("bad");
        assert!(!error.to_string().contains(text));
    }
}
