//! The tracing subscriber, set up once per process.
//!
//! - `UNDERWRITE_LOG`: an `EnvFilter` directive (`info`, `underwrite=debug,apalis=warn`, ...);
//!   without it, the default the caller passes (`info` for `serve`, quieter for the CLI).
//! - `UNDERWRITE_LOG_FORMAT`: `json` (one object per line, for log shippers) or `pretty`
//!   (for people). Without it: `pretty` when stderr is a terminal, `json` otherwise.
//!
//! Logs go to stderr, so commands that print data (`jobs show`) keep stdout clean.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

const FILTER_VAR: &str = "UNDERWRITE_LOG";
const FORMAT_VAR: &str = "UNDERWRITE_LOG_FORMAT";

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Pretty,
}

impl LogFormat {
    /// `UNDERWRITE_LOG_FORMAT`, else `pretty` on a terminal and `json` elsewhere. Another
    /// value is refused with the two that exist: a typo would otherwise switch the format
    /// silently and break a log shipper.
    pub fn from_env() -> Result<Self, String> {
        match std::env::var(FORMAT_VAR).ok().as_deref().map(str::trim) {
            Some("json") => Ok(Self::Json),
            Some("pretty") => Ok(Self::Pretty),
            None | Some("") if std::io::stderr().is_terminal() => Ok(Self::Pretty),
            None | Some("") => Ok(Self::Json),
            Some(other) => Err(format!(
                "{FORMAT_VAR}=`{}` is not a log format: use `json` or `pretty` (or leave it \
                 unset: pretty on a terminal, json elsewhere)",
                other.escape_debug()
            )),
        }
    }
}

/// Installs the global subscriber. `default_filter` applies when `UNDERWRITE_LOG` is unset.
///
/// Calling it again (tests, or a command that starts the app twice) does nothing: the first
/// subscriber stays. A malformed `UNDERWRITE_LOG` falls back to the default and says so.
pub fn init(default_filter: &str) -> Result<(), String> {
    let format = LogFormat::from_env()?;
    let (filter, bad_directive) = match std::env::var(FILTER_VAR) {
        Ok(directives) if !directives.trim().is_empty() => match EnvFilter::try_new(&directives) {
            Ok(filter) => (filter, None),
            Err(e) => (EnvFilter::new(default_filter), Some((directives, e))),
        },
        _ => (EnvFilter::new(default_filter), None),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let installed = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
        LogFormat::Pretty => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
    };
    if installed.is_ok()
        && let Some((directives, error)) = bad_directive
    {
        tracing::warn!(%directives, %error, "{FILTER_VAR} is not a valid filter; using `{default_filter}`");
    }
    Ok(())
}
