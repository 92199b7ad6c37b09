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
//! unless a CIDR of the allowlist (`webhooks.allow_cidrs`, or
//! `UNDERWRITE_WEBHOOKS_ALLOW_CIDRS` in the environment) admits the address: the demo and
//! the tests admit `127.0.0.0/8` to reach a local receiver. An entry admits everything it
//! contains, cloud metadata included: keep entries as narrow as the receiver needs. Every
//! refusal names the range and the allowlist, so that whoever runs a receiver on their own
//! machine learns what to set instead of watching deliveries fail.
//!
//! ## Twice: when a URL is written, and when it is sent to
//!
//! An endpoint's URL is judged when the API or the config file writes it
//! ([`SsrfPolicy::check_endpoint_url`]): the scheme, an IP-literal host, and `localhost`
//! and every name under `.localhost` (they always mean this machine, RFC 6761). The
//! producer hears it at once, as a 422 naming `url`. That cannot be the only check: any
//! other name may resolve to a refused address, then or later, so every delivery is judged
//! again when it connects (below).
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
//! - `mod.rs` (here): [`SsrfPolicy`], what it refuses ([`Refusal`]) and its allowlist;
//!   the checks of a URL, when written and when sent to.
//! - `ranges.rs`: the refused ranges and the IPv6 forms that embed an IPv4 address
//!   ([`special_range`]).
//! - `cidr.rs`: [`IpCidr`], the blocks both the ranges and the allowlist are made of.
//! - `resolver.rs`: the lookup that keeps only admitted addresses, and [`SsrfResolver`].

mod advice;
mod cidr;
mod ranges;
mod resolver;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use reqwest::Url;

use crate::config::WebhookSettings;

pub use cidr::{CidrError, IpCidr};
pub use ranges::special_range;
pub use resolver::{ResolveError, SsrfResolver};

/// Where the allowlist is set, as every refusal of an address names it: a receiver on the
/// operator's own machine is refused until they set one of these, so the message says which.
const ALLOWLIST: &str = "webhooks.allow_cidrs (or UNDERWRITE_WEBHOOKS_ALLOW_CIDRS)";

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
    #[error("{ip} is {range}: webhooks may not reach it unless a CIDR in {ALLOWLIST} admits it")]
    Address { ip: IpAddr, range: String },
    /// `localhost` or a name under `.localhost`: this machine, whatever DNS would say.
    #[error(
        "`{host}` names this machine (loopback): webhooks may not reach it unless a CIDR in \
         {ALLOWLIST} admits 127.0.0.1 or ::1"
    )]
    LoopbackName { host: String },
    #[error(
        "`{host}` resolves only to addresses webhooks may not reach: {}; a CIDR in \
         {ALLOWLIST} can admit them",
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
    /// resolver). The check before sending; an endpoint's URL is judged when written by
    /// [`SsrfPolicy::check_endpoint_url`].
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

    /// [`SsrfPolicy::check_url`], and a host named `localhost` or under `.localhost`: the
    /// check of an endpoint's URL when the API or the config file writes it. Such a name
    /// is admitted when the allowlist admits loopback (`127.0.0.1` or `::1`), which is
    /// what the resolver would then keep.
    ///
    /// Not used when sending: there the resolver sees what `localhost` really resolves to,
    /// and names those addresses.
    pub fn check_endpoint_url(&self, url: &str) -> Result<Url, Refusal> {
        let url = self.check_url(url)?;
        let host = url.host_str().unwrap_or_default();
        // A fully qualified name may end in a dot: `localhost.` is `localhost`.
        let name = host.strip_suffix('.').unwrap_or(host);
        if name == "localhost" || name.ends_with(".localhost") {
            let loopback = [
                IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V6(Ipv6Addr::LOCALHOST),
            ];
            if !loopback.into_iter().any(|ip| self.check_ip(ip).is_ok()) {
                return Err(Refusal::LoopbackName {
                    host: host.to_string(),
                });
            }
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

    #[test]
    fn localhost_names_are_refused_when_written_unless_loopback_is_admitted() {
        let refused = [
            "http://localhost/",
            "http://localhost:6379/",
            "http://LOCALHOST:8080/hook",
            "http://localhost./",
            "https://api.localhost/",
            "http://a.b.localhost./",
        ];
        for url in refused {
            assert!(
                matches!(
                    strict().check_endpoint_url(url),
                    Err(Refusal::LoopbackName { .. })
                ),
                "{url}: {:?}",
                strict().check_endpoint_url(url)
            );
        }
        // Names that merely contain the word are ordinary names, left to the resolver.
        for url in [
            "http://localhost.example.com/",
            "http://mylocalhost/",
            "http://localhostx/",
        ] {
            assert!(strict().check_endpoint_url(url).is_ok(), "{url}");
        }
        // When sending, the resolver judges `localhost` by what it resolves to.
        assert!(strict().check_url("http://localhost/").is_ok());
        // The rest of `check_url` applies when written too.
        assert!(matches!(
            strict().check_endpoint_url("http://169.254.169.254/latest/meta-data"),
            Err(Refusal::Address { .. })
        ));
        let https_only = SsrfPolicy::new::<&str>(&[], true).expect("policy");
        assert_eq!(
            https_only.check_endpoint_url("http://example.com/"),
            Err(Refusal::NotHttps)
        );

        for allow in ["127.0.0.0/8", "127.0.0.1", "::1/128"] {
            let policy = SsrfPolicy::new(&[allow], false).expect("policy");
            for url in refused {
                assert!(policy.check_endpoint_url(url).is_ok(), "{allow}: {url}");
            }
        }
        let elsewhere = SsrfPolicy::new(&["10.0.0.0/8", "127.0.0.2/32"], false).expect("policy");
        assert!(elsewhere.check_endpoint_url("http://localhost/").is_err());
    }

    #[test]
    fn refusals_name_the_range_and_where_the_allowlist_is_set() {
        let messages = [
            refusal_text(&strict(), "http://169.254.169.254/latest/meta-data"),
            refusal_text(&strict(), "http://[::1]:8080/"),
            refusal_text(&strict(), "http://localhost:9000/"),
            Refusal::Host {
                host: "receiver.internal".into(),
                refused: vec![(ip("10.1.2.3"), "private".into())],
            }
            .to_string(),
        ];
        for (message, range) in messages.iter().zip([
            "cloud metadata",
            "loopback",
            "loopback",
            "10.1.2.3 (private)",
        ]) {
            assert!(message.contains(range), "{message}");
            assert!(message.contains("webhooks.allow_cidrs"), "{message}");
            assert!(
                message.contains("UNDERWRITE_WEBHOOKS_ALLOW_CIDRS"),
                "{message}"
            );
        }
        assert_eq!(
            messages[0],
            "169.254.169.254 is cloud metadata: webhooks may not reach it unless a CIDR in \
             webhooks.allow_cidrs (or UNDERWRITE_WEBHOOKS_ALLOW_CIDRS) admits it"
        );
    }

    fn refusal_text(policy: &SsrfPolicy, url: &str) -> String {
        policy
            .check_endpoint_url(url)
            .expect_err("refused")
            .to_string()
    }
}
