//! The SSRF guard: webhook URLs come from users, so underwrite must not become their way
//! into our own network (the Redis next door, the cloud metadata service, an admin port on
//! loopback).
//!
//! [`SsrfPolicy`] refuses
//! - schemes other than `http` and `https`, and `http` when `https_only` is set;
//! - every address that is not plainly on the public internet: loopback, private
//!   (10/8, 172.16/12, 192.168/16, fc00::/7), link-local (169.254/16, fe80::/10), CGNAT
//!   (100.64/10), multicast, unspecified, broadcast, "this network" (0/8), reserved
//!   (240/4), documentation and benchmarking ranges, the deprecated IPv6 forms, and cloud
//!   metadata (169.254.169.254, fd00:ec2::254, and a few more) by name;
//! - the IPv6 forms that carry one of those IPv4 addresses: IPv4-mapped (`::ffff:127.0.0.1`,
//!   judged exactly as the IPv4 address, allowlist included), IPv4-translated, NAT64
//!   (`64:ff9b::/96`) and 6to4 (`2002::/16`) with a refused address inside;
//!
//! unless a CIDR of the allowlist (`webhooks.allow_cidrs`) admits the address: the demo and
//! the tests admit `127.0.0.0/8` to reach a local receiver. An entry admits everything it
//! contains, cloud metadata included: keep entries as narrow as the receiver needs.
//!
//! ## Connecting to the address that was checked
//!
//! Checking a name and then letting the HTTP client look it up again is not enough: the
//! second answer may differ (DNS rebinding, a TTL of 0). Two ways to pin the address were
//! on the table: resolve first and build a client per request with
//! `ClientBuilder::resolve_to_addrs`, or give the one client a resolver that looks up *and*
//! checks. We use the resolver, [`SsrfResolver`] (a `reqwest::dns::Resolve`):
//! - reqwest (hyper's connector) connects only to what a resolver returns, so every
//!   connection it ever opens, including a new one after a pooled connection closed, is to
//!   an address this guard admitted; there is no path around it to forget;
//! - one client is built once and keeps its connection pool and TLS state; a client per
//!   request (which `resolve_to_addrs` needs, it is a builder setting) would pay for a new
//!   TLS configuration and a new connection on every delivery;
//! - a name that resolves to a mix keeps only its admitted addresses, so a record that adds
//!   `127.0.0.1` to a public address gains nothing; a name with none left is refused.
//!
//! What a resolver does not see, the caller checks: hyper connects to an IP-literal host
//! without asking the resolver, so [`SsrfPolicy::check_url`] judges literals (and the
//! scheme) before the request is sent; and the client must not use a proxy (a resolver
//! would then vet the proxy, not the receiver), which `WebhookHttp` makes sure of.
//!
//! ## Files
//!
//! - `mod.rs` (here): [`SsrfPolicy`], what it refuses ([`Refusal`]) and its allowlist.
//! - `ranges.rs`: the refused ranges and the IPv6 forms that embed an IPv4 address
//!   ([`special_range`]).
//! - `cidr.rs`: [`IpCidr`], the blocks both the ranges and the allowlist are made of.
//! - `resolver.rs`: the lookup that keeps only admitted addresses, and [`SsrfResolver`].

mod cidr;
mod ranges;
mod resolver;

use std::net::IpAddr;

use reqwest::Url;

use crate::config::WebhookSettings;

pub use cidr::{CidrError, IpCidr};
pub use ranges::special_range;
pub use resolver::{ResolveError, SsrfResolver};

/// Why the guard refused a URL. Every refusal stands until the URL or the configuration
/// (`webhooks.allow_cidrs`, `webhooks.https_only`) changes: retrying will not help.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("not a valid URL: {0}")]
    InvalidUrl(String),
    #[error("scheme `{0}` is not allowed: webhooks use http or https")]
    Scheme(String),
    #[error("plain http is not allowed (webhooks.https_only is set): use https")]
    NotHttps,
    #[error("the URL has no host")]
    NoHost,
    #[error("{ip} is {range}: webhooks may not reach it (webhooks.allow_cidrs can admit it)")]
    Address { ip: IpAddr, range: String },
    #[error(
        "`{host}` resolves only to addresses webhooks may not reach: {} \
         (webhooks.allow_cidrs can admit them)",
        list(.refused)
    )]
    Host {
        host: String,
        refused: Vec<(IpAddr, String)>,
    },
}

fn list(refused: &[(IpAddr, String)]) -> String {
    refused
        .iter()
        .map(|(ip, range)| format!("{ip} ({range})"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A bad `webhooks.allow_cidrs` entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("webhooks.allow_cidrs[{index}] = \"{value}\": {error}")]
pub struct SsrfConfigError {
    pub index: usize,
    pub value: String,
    pub error: CidrError,
}

/// What webhook URLs may reach. See the module docs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SsrfPolicy {
    /// Blocks admitted although special (private, loopback, ...).
    pub allow: Vec<IpCidr>,
    /// Refuse plain `http`.
    pub https_only: bool,
}

impl SsrfPolicy {
    /// Parses the allowlist; an error names the entry and says what is wrong with it.
    pub fn new<S: AsRef<str>>(
        allow_cidrs: &[S],
        https_only: bool,
    ) -> Result<Self, SsrfConfigError> {
        let allow = allow_cidrs
            .iter()
            .enumerate()
            .map(|(index, value)| {
                value.as_ref().parse().map_err(|error| SsrfConfigError {
                    index,
                    value: value.as_ref().to_string(),
                    error,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { allow, https_only })
    }

    /// The policy of `webhooks.allow_cidrs` and `webhooks.https_only`.
    pub fn from_settings(settings: &WebhookSettings) -> Result<Self, SsrfConfigError> {
        Self::new(&settings.allow_cidrs, settings.https_only)
    }

    /// Whether webhooks may connect to `ip`. An IPv4-mapped IPv6 address is judged as its
    /// IPv4 address, by the ranges and by the allowlist alike.
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), Refusal> {
        let canonical = ip.to_canonical();
        if self
            .allow
            .iter()
            .any(|block| block.contains(ip) || block.contains(canonical))
        {
            return Ok(());
        }
        match special_range(ip) {
            Some(range) => Err(Refusal::Address { ip, range }),
            None => Ok(()),
        }
    }

    /// Parses `url` and judges what can be judged without a lookup: the scheme, and the
    /// host when it is an IP literal (which the HTTP client connects to without asking a
    /// resolver). Also fit for validating an endpoint's URL when it is configured.
    pub fn check_url(&self, url: &str) -> Result<Url, Refusal> {
        let url = Url::parse(url).map_err(|e| Refusal::InvalidUrl(e.to_string()))?;
        match url.scheme() {
            "https" => {}
            "http" if self.https_only => return Err(Refusal::NotHttps),
            "http" => {}
            other => return Err(Refusal::Scheme(other.to_string())),
        }
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or(Refusal::NoHost)?;
        // The URL parser has already turned `2130706433`, `0x7f.1` and the like into
        // dotted IPv4, and IPv6 literals keep their brackets.
        let literal = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        if let Ok(ip) = literal.parse::<IpAddr>() {
            self.check_ip(ip)?;
        }
        Ok(url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("ip")
    }

    fn strict() -> SsrfPolicy {
        SsrfPolicy::default()
    }

    fn refused_as(policy: &SsrfPolicy, text: &str) -> String {
        match policy.check_ip(ip(text)) {
            Err(Refusal::Address { range, .. }) => range,
            other => panic!("{text} should be refused, got {other:?}"),
        }
    }

    #[test]
    fn the_allowlist_admits_what_it_contains_and_nothing_else() {
        let policy = SsrfPolicy::new(&["127.0.0.0/8"], false).expect("policy");
        assert_eq!(policy.check_ip(ip("127.0.0.1")), Ok(()));
        assert_eq!(policy.check_ip(ip("127.1.2.3")), Ok(()));
        assert_eq!(policy.check_ip(ip("::ffff:127.0.0.1")), Ok(()));
        assert_eq!(refused_as(&policy, "::1"), "loopback");
        assert_eq!(refused_as(&policy, "10.0.0.1"), "private");
        assert_eq!(refused_as(&policy, "169.254.169.254"), "cloud metadata");
        assert_eq!(
            refused_as(&policy, "64:ff9b::127.0.0.1"),
            "NAT64 form of 127.0.0.1: loopback"
        );

        let policy = SsrfPolicy::new(&["::1/128", "10.1.0.0/16"], false).expect("policy");
        assert_eq!(policy.check_ip(ip("::1")), Ok(()));
        assert_eq!(policy.check_ip(ip("10.1.2.3")), Ok(()));
        assert_eq!(refused_as(&policy, "10.2.0.1"), "private");
        assert_eq!(refused_as(&policy, "127.0.0.1"), "loopback");
    }

    #[test]
    fn a_bad_allowlist_entry_is_named() {
        let error = SsrfPolicy::new(&["127.0.0.0/8", "10.0.0.0/33"], false).expect_err("bad");
        assert_eq!(error.index, 1);
        assert_eq!(
            error.to_string(),
            "webhooks.allow_cidrs[1] = \"10.0.0.0/33\": prefix length 33 is too long for an \
             IPv4 address (at most 32)"
        );
    }

    #[test]
    fn schemes_and_https_only() {
        let open = SsrfPolicy::default();
        assert!(open.check_url("http://example.com/hook").is_ok());
        assert!(open.check_url("https://example.com/hook").is_ok());
        for (url, scheme) in [
            ("ftp://example.com/", "ftp"),
            ("file:///etc/passwd", "file"),
            ("gopher://example.com/", "gopher"),
            ("ws://example.com/", "ws"),
        ] {
            assert_eq!(
                open.check_url(url),
                Err(Refusal::Scheme(scheme.into())),
                "{url}"
            );
        }
        assert!(matches!(
            open.check_url("not a url"),
            Err(Refusal::InvalidUrl(_))
        ));

        let https_only = SsrfPolicy::new::<&str>(&[], true).expect("policy");
        assert_eq!(
            https_only.check_url("http://example.com/hook"),
            Err(Refusal::NotHttps)
        );
        assert!(https_only.check_url("https://example.com/hook").is_ok());
    }

    #[test]
    fn ip_literal_urls_are_checked_in_every_spelling() {
        let policy = strict();
        for url in [
            "http://127.0.0.1/",
            "http://127.0.0.1:8080/x",
            "http://2130706433/",
            "http://0x7f.1/",
            "http://0177.0.0.1/",
            "http://127.1/",
            "http://[::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::ffff:a9fe:a9fe]/latest/meta-data",
            "http://169.254.169.254/latest/meta-data",
            "http://[fd00:ec2::254]/",
            "http://0.0.0.0:6379/",
            "https://10.0.0.1/",
        ] {
            assert!(
                matches!(policy.check_url(url), Err(Refusal::Address { .. })),
                "{url}: {:?}",
                policy.check_url(url)
            );
        }
        let allowed = SsrfPolicy::new(&["127.0.0.0/8"], false).expect("policy");
        assert!(allowed.check_url("http://127.0.0.1:8080/x").is_ok());
        assert!(allowed.check_url("http://2130706433/").is_ok());
        assert!(allowed.check_url("http://[::ffff:127.0.0.1]/").is_ok());
    }
}
