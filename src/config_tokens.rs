//! API tokens from the environment: which app each belongs to, and which are the operator's.
//!
//! - `UNDERWRITE_API_TOKENS`: comma-separated entries, each `app:token` (the token of the
//!   upstream app `app`) or a bare `token` (the app `default`). So a deployment that had one
//!   flat list keeps working as one app, `default`, and a token that holds a `:` of its own
//!   must be written with its app (`default:to:ken`: the first `:` ends the app's name).
//!   An app may have several tokens (for rotation): they are the same tenant, and share
//!   its records and its idempotency keys.
//! - `UNDERWRITE_API_OPERATOR_TOKENS`: comma-separated tokens of the operator, who sees and
//!   acts on every app's records and alone may use the dead set's bulk routes.
//!
//! Both are read at start and refused there when malformed: an app name that is not one
//! (`queue/app.rs`), an empty token, the same token twice (in two apps, or for an app and
//! the operator: which role would it be?). A refusal names the variable and the entry's
//! position, never the entry: a bare token written with a `:` in it would otherwise be
//! printed half.

use std::collections::HashSet;
use std::fmt;

use crate::queue::AppName;

/// One app token. Its `Debug` shows the app, never the token.
#[derive(Clone, PartialEq, Eq)]
pub struct AppToken {
    pub app: AppName,
    pub token: String,
}

impl AppToken {
    /// A token of the default app (a bare token of `UNDERWRITE_API_TOKENS`).
    pub fn default_app(token: impl Into<String>) -> Self {
        Self {
            app: AppName::default_app(),
            token: token.into(),
        }
    }
}

impl fmt::Debug for AppToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AppToken({}, [redacted])", self.app)
    }
}

pub const APP_TOKENS_VAR: &str = "UNDERWRITE_API_TOKENS";
pub const OPERATOR_TOKENS_VAR: &str = "UNDERWRITE_API_OPERATOR_TOKENS";

/// Why a token variable was refused. Never quotes a token, nor part of one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("environment variable {var}: entry {position} (of {count}) {reason}")]
pub struct TokenError {
    pub var: &'static str,
    /// 1-based, among the non-empty entries.
    pub position: usize,
    pub count: usize,
    pub reason: String,
}

/// The non-empty, trimmed, comma-separated entries of a variable.
fn entries(value: &str) -> Vec<&str> {
    value
        .split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .collect()
}

/// `UNDERWRITE_API_TOKENS`: `app:token` or a bare `token` per entry.
pub fn parse_app_tokens(value: &str) -> Result<Vec<AppToken>, TokenError> {
    let entries = entries(value);
    let count = entries.len();
    entries
        .into_iter()
        .enumerate()
        .map(|(i, entry)| {
            let refuse = |reason: String| TokenError {
                var: APP_TOKENS_VAR,
                position: i + 1,
                count,
                reason,
            };
            match entry.split_once(':') {
                None => Ok(AppToken::default_app(entry)),
                Some((app, token)) => {
                    let app = AppName::parse(app.trim()).map_err(|e| {
                        refuse(format!(
                            "is `app:token` with a malformed app before the first `:` ({e}); \
                             a token holding a `:` of its own is written `default:<token>`"
                        ))
                    })?;
                    let token = token.trim();
                    if token.is_empty() {
                        return Err(refuse("has no token after its app's `:`".into()));
                    }
                    Ok(AppToken {
                        app,
                        token: token.to_string(),
                    })
                }
            }
        })
        .collect()
}

/// `UNDERWRITE_API_OPERATOR_TOKENS`: bare tokens.
pub fn parse_operator_tokens(value: &str) -> Vec<String> {
    entries(value).into_iter().map(String::from).collect()
}

/// Refuses a token given twice: two apps, or an app and the operator, cannot share one
/// (the server could not tell which role a request has).
pub fn check_distinct(apps: &[AppToken], operators: &[String]) -> Result<(), TokenError> {
    let mut seen = HashSet::new();
    let lists = [
        (
            APP_TOKENS_VAR,
            apps.iter().map(|t| t.token.as_str()).collect::<Vec<_>>(),
        ),
        (
            OPERATOR_TOKENS_VAR,
            operators.iter().map(String::as_str).collect(),
        ),
    ];
    for (var, tokens) in &lists {
        for (i, token) in tokens.iter().enumerate() {
            if !seen.insert(*token) {
                return Err(TokenError {
                    var,
                    position: i + 1,
                    count: tokens.len(),
                    reason: format!(
                        "repeats a token given before (in {APP_TOKENS_VAR} or \
                         {OPERATOR_TOKENS_VAR}): each token has one role"
                    ),
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(name: &str) -> AppName {
        AppName::parse(name).expect("name")
    }

    #[test]
    fn entries_are_app_token_pairs_or_bare_default_tokens() {
        let tokens = parse_app_tokens(" shop-a:tok-a , legacy,, shop_b: tok-b ,default:to:ken")
            .expect("tokens");
        let read: Vec<(AppName, &str)> = tokens
            .iter()
            .map(|t| (t.app.clone(), t.token.as_str()))
            .collect();
        assert_eq!(
            read,
            vec![
                (app("shop-a"), "tok-a"),
                (app("default"), "legacy"),
                (app("shop_b"), "tok-b"),
                (app("default"), "to:ken"),
            ]
        );
        assert!(parse_app_tokens("").expect("empty").is_empty());
    }

    #[test]
    fn malformed_entries_are_refused_without_quoting_them() {
        for (value, position) in [
            ("ok:fine,Shop:s3cr3t-one", 2),
            ("s3cr3t:", 1),
            ("a:b, :s3cr3t", 2),
            ("shop a:s3cr3t", 1),
        ] {
            let error = parse_app_tokens(value).expect_err(value);
            assert_eq!(error.position, position, "{value}");
            assert_eq!(error.var, APP_TOKENS_VAR);
            let text = error.to_string();
            assert!(!text.contains("s3cr3t"), "{text}");
        }
    }

    #[test]
    fn one_token_has_one_role() {
        let apps = parse_app_tokens("a:t1,b:t2").expect("tokens");
        assert!(check_distinct(&apps, &["op".into()]).is_ok());
        let twice = parse_app_tokens("a:t1,b:t1").expect("tokens");
        let error = check_distinct(&twice, &[]).expect_err("twice");
        assert_eq!((error.var, error.position), (APP_TOKENS_VAR, 2));
        let error = check_distinct(&apps, &["t2".into()]).expect_err("app and operator");
        assert_eq!((error.var, error.position), (OPERATOR_TOKENS_VAR, 1));
        assert!(!error.to_string().contains("t2"));
    }

    #[test]
    fn debug_shows_the_app_not_the_token() {
        let token = AppToken {
            app: app("shop"),
            token: "s3cr3t".into(),
        };
        let shown = format!("{token:?}");
        assert!(
            shown.contains("shop") && !shown.contains("s3cr3t"),
            "{shown}"
        );
    }
}
