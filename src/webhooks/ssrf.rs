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

use std::collections::BTreeSet;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;

use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::config::WebhookSettings;

/// A block of addresses: `10.0.0.0/8`, `::1/128`. A bare address is a block of one.
/// Host bits must be zero (`10.0.0.1/8` is refused as ambiguous).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpCidr {
    network: IpAddr,
    prefix: u8,
}

/// Why a CIDR did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CidrError {
    #[error("`{0}` is not an IP address (expected a CIDR such as 10.0.0.0/8 or ::1/128)")]
    Address(String),
    #[error("`{0}` is not a prefix length (expected a number after the `/`)")]
    Prefix(String),
    #[error("prefix length {prefix} is too long for an {family} address (at most {max})")]
    PrefixTooLong {
        prefix: u8,
        family: &'static str,
        max: u8,
    },
    #[error("{given} has bits set past the prefix: did you mean {suggested}?")]
    HostBits { given: String, suggested: IpCidr },
}

impl IpCidr {
    /// The block of `prefix` leading bits of `network`, whose other bits must be zero.
    pub fn new(network: IpAddr, prefix: u8) -> Result<Self, CidrError> {
        let (family, max) = match network {
            IpAddr::V4(_) => ("IPv4", 32),
            IpAddr::V6(_) => ("IPv6", 128),
        };
        if prefix > max {
            return Err(CidrError::PrefixTooLong {
                prefix,
                family,
                max,
            });
        }
        let cidr = Self { network, prefix };
        let masked = Self {
            network: cidr.mask(network),
            prefix,
        };
        if masked.network != network {
            return Err(CidrError::HostBits {
                given: format!("{network}/{prefix}"),
                suggested: masked,
            });
        }
        Ok(cidr)
    }

    /// The block's first address.
    pub fn network(&self) -> IpAddr {
        self.network
    }

    /// How many leading bits the block fixes.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// Whether `ip` is in the block. An address of the other family never is (the policy
    /// judges an IPv4-mapped IPv6 address as its IPv4 address, see [`SsrfPolicy::check_ip`]).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, ip) {
            (IpAddr::V4(_), IpAddr::V4(_)) | (IpAddr::V6(_), IpAddr::V6(_)) => {
                self.mask(ip) == self.network
            }
            _ => false,
        }
    }

    /// `ip` with the bits past the prefix cleared (same family as `ip`).
    fn mask(&self, ip: IpAddr) -> IpAddr {
        match ip {
            IpAddr::V4(v4) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                IpAddr::V4(Ipv4Addr::from_bits(v4.to_bits() & mask))
            }
            IpAddr::V6(v6) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                IpAddr::V6(Ipv6Addr::from_bits(v6.to_bits() & mask))
            }
        }
    }

    /// For the constant tables below, which are right by construction.
    const fn v4(a: u8, b: u8, c: u8, d: u8, prefix: u8) -> Self {
        Self {
            network: IpAddr::V4(Ipv4Addr::new(a, b, c, d)),
            prefix,
        }
    }

    const fn v6(segments: [u16; 8], prefix: u8) -> Self {
        let [a, b, c, d, e, f, g, h] = segments;
        Self {
            network: IpAddr::V6(Ipv6Addr::new(a, b, c, d, e, f, g, h)),
            prefix,
        }
    }
}

impl FromStr for IpCidr {
    type Err = CidrError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address.trim(), Some(prefix.trim())),
            None => (text, None),
        };
        let network: IpAddr = address
            .parse()
            .map_err(|_| CidrError::Address(address.to_string()))?;
        let prefix = match prefix {
            Some(prefix) => prefix
                .parse::<u8>()
                .map_err(|_| CidrError::Prefix(prefix.to_string()))?,
            None if network.is_ipv4() => 32,
            None => 128,
        };
        Self::new(network, prefix)
    }
}

impl fmt::Display for IpCidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

/// IPv4 blocks webhooks may not reach, most specific first so that the reason given is the
/// most telling one.
const REFUSED_V4: &[(IpCidr, &str)] = &[
    // AWS, GCP, Azure, OpenStack, DigitalOcean, ...; ECS task metadata; Alibaba Cloud.
    (IpCidr::v4(169, 254, 169, 254, 32), "cloud metadata"),
    (IpCidr::v4(169, 254, 170, 2, 32), "cloud metadata"),
    (IpCidr::v4(100, 100, 100, 200, 32), "cloud metadata"),
    (IpCidr::v4(255, 255, 255, 255, 32), "broadcast"),
    (IpCidr::v4(0, 0, 0, 0, 32), "unspecified"),
    (IpCidr::v4(0, 0, 0, 0, 8), "\"this network\""),
    (IpCidr::v4(10, 0, 0, 0, 8), "private"),
    (IpCidr::v4(100, 64, 0, 0, 10), "carrier-grade NAT"),
    (IpCidr::v4(127, 0, 0, 0, 8), "loopback"),
    (IpCidr::v4(169, 254, 0, 0, 16), "link-local"),
    (IpCidr::v4(172, 16, 0, 0, 12), "private"),
    (IpCidr::v4(192, 0, 0, 0, 24), "IETF protocol assignments"),
    (IpCidr::v4(192, 0, 2, 0, 24), "documentation (TEST-NET-1)"),
    (IpCidr::v4(192, 88, 99, 0, 24), "6to4 relay anycast"),
    (IpCidr::v4(192, 168, 0, 0, 16), "private"),
    (IpCidr::v4(198, 18, 0, 0, 15), "benchmarking"),
    (
        IpCidr::v4(198, 51, 100, 0, 24),
        "documentation (TEST-NET-2)",
    ),
    (IpCidr::v4(203, 0, 113, 0, 24), "documentation (TEST-NET-3)"),
    (IpCidr::v4(224, 0, 0, 0, 4), "multicast"),
    (IpCidr::v4(240, 0, 0, 0, 4), "reserved"),
];

/// IPv6 blocks webhooks may not reach, most specific first. The forms that embed an IPv4
/// address are handled before this table (see [`embedded_v4`]).
const REFUSED_V6: &[(IpCidr, &str)] = &[
    (
        IpCidr::v6([0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254], 128),
        "cloud metadata",
    ),
    (IpCidr::v6([0, 0, 0, 0, 0, 0, 0, 0], 128), "unspecified"),
    (IpCidr::v6([0, 0, 0, 0, 0, 0, 0, 1], 128), "loopback"),
    (
        IpCidr::v6([0, 0, 0, 0, 0, 0, 0, 0], 96),
        "IPv4-compatible (deprecated)",
    ),
    (
        IpCidr::v6([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48),
        "local-use NAT64",
    ),
    (IpCidr::v6([0x100, 0, 0, 0, 0, 0, 0, 0], 64), "discard-only"),
    (
        IpCidr::v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32),
        "documentation",
    ),
    (
        IpCidr::v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 23),
        "IETF protocol assignments (Teredo, benchmarking, ORCHID)",
    ),
    (
        IpCidr::v6([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20),
        "documentation",
    ),
    (
        IpCidr::v6([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7),
        "private (unique local)",
    ),
    (IpCidr::v6([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10), "link-local"),
    (
        IpCidr::v6([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10),
        "site-local (deprecated)",
    ),
    (IpCidr::v6([0xff00, 0, 0, 0, 0, 0, 0, 0], 8), "multicast"),
];

/// IPv6 forms that carry an IPv4 address another hop turns back into IPv4: judged by the
/// address inside. (IPv4-mapped `::ffff:a.b.c.d` is not here: it *is* the IPv4 address.)
fn embedded_v4(v6: Ipv6Addr) -> Option<(&'static str, Ipv4Addr)> {
    let bits = v6.to_bits();
    let low = Ipv4Addr::from_bits(bits as u32);
    let forms: [(IpCidr, &str, Ipv4Addr); 3] = [
        (
            IpCidr::v6([0, 0, 0, 0, 0xffff, 0, 0, 0], 96),
            "IPv4-translated",
            low,
        ),
        (
            IpCidr::v6([0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96),
            "NAT64",
            low,
        ),
        (
            IpCidr::v6([0x2002, 0, 0, 0, 0, 0, 0, 0], 16),
            "6to4",
            Ipv4Addr::from_bits((bits >> 80) as u32),
        ),
    ];
    forms
        .into_iter()
        .find(|(block, _, _)| block.contains(IpAddr::V6(v6)))
        .map(|(_, form, inner)| (form, inner))
}

/// What kind of address `ip` is when webhooks may not reach it ("loopback", "private",
/// "IPv4-mapped form of 10.0.0.1: private", ...); `None` for a public address. The
/// allowlist plays no part here: see [`SsrfPolicy::check_ip`].
pub fn special_range(ip: IpAddr) -> Option<String> {
    match ip {
        IpAddr::V4(v4) => special_v4(v4).map(str::to_string),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return special_v4(v4).map(|what| format!("IPv4-mapped form of {v4}: {what}"));
            }
            if let Some((form, v4)) = embedded_v4(v6) {
                return special_v4(v4).map(|what| format!("{form} form of {v4}: {what}"));
            }
            REFUSED_V6
                .iter()
                .find(|(block, _)| block.contains(IpAddr::V6(v6)))
                .map(|(_, what)| (*what).to_string())
        }
    }
}

fn special_v4(v4: Ipv4Addr) -> Option<&'static str> {
    REFUSED_V4
        .iter()
        .find(|(block, _)| block.contains(IpAddr::V4(v4)))
        .map(|(_, what)| *what)
}

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

/// A lookup that did not give an address to connect to.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// Every address the name resolved to is refused.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// The lookup itself failed (no such name, no DNS server, ...), or found nothing.
    #[error("DNS lookup of `{host}` failed: {source}")]
    Lookup {
        host: String,
        source: std::io::Error,
    },
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

    /// Looks `host` up and keeps the addresses this policy admits (port 0: the caller sets
    /// it). Refused when none is left; the refused ones are named.
    pub async fn resolve(&self, host: &str) -> Result<Vec<SocketAddr>, ResolveError> {
        let lookup_error = |source| ResolveError::Lookup {
            host: host.to_string(),
            source,
        };
        let found: BTreeSet<IpAddr> = tokio::net::lookup_host((host, 0))
            .await
            .map_err(lookup_error)?
            .map(|addr| addr.ip())
            .collect();
        if found.is_empty() {
            return Err(lookup_error(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no addresses",
            )));
        }
        let mut admitted = Vec::new();
        let mut refused = Vec::new();
        for ip in found {
            match self.check_ip(ip) {
                Ok(()) => admitted.push(SocketAddr::new(ip, 0)),
                Err(Refusal::Address { ip, range }) => refused.push((ip, range)),
                Err(other) => return Err(other.into()),
            }
        }
        if admitted.is_empty() {
            return Err(Refusal::Host {
                host: host.to_string(),
                refused,
            }
            .into());
        }
        if !refused.is_empty() {
            tracing::warn!(
                host,
                refused = %list(&refused),
                "webhook host resolves to refused addresses too; connecting to the others only"
            );
        }
        Ok(admitted)
    }
}

/// The resolver the webhook HTTP client uses: it looks up and checks in one step, so the
/// client only ever connects to an address the policy admitted. A refusal reaches the
/// caller as a [`Refusal`] in the request error's source chain.
#[derive(Debug, Clone)]
pub struct SsrfResolver {
    policy: Arc<SsrfPolicy>,
}

impl SsrfResolver {
    pub fn new(policy: Arc<SsrfPolicy>) -> Self {
        Self { policy }
    }
}

impl Resolve for SsrfResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = Arc::clone(&self.policy);
        let host = name.as_str().to_string();
        Box::pin(async move {
            match policy.resolve(&host).await {
                Ok(addrs) => Ok(Box::new(addrs.into_iter()) as Addrs),
                Err(ResolveError::Refused(refusal)) => {
                    tracing::warn!(host, "webhook host refused by the SSRF guard");
                    Err(Box::new(refusal) as _)
                }
                Err(lookup) => Err(Box::new(lookup) as _),
            }
        })
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
    fn every_special_ipv4_range_is_refused() {
        let cases = [
            ("127.0.0.1", "loopback"),
            ("127.255.255.254", "loopback"),
            ("10.0.0.1", "private"),
            ("10.255.255.255", "private"),
            ("172.16.0.1", "private"),
            ("172.31.255.255", "private"),
            ("192.168.1.1", "private"),
            ("169.254.0.1", "link-local"),
            ("169.254.169.254", "cloud metadata"),
            ("169.254.170.2", "cloud metadata"),
            ("100.100.100.200", "cloud metadata"),
            ("100.64.0.1", "carrier-grade NAT"),
            ("100.127.255.255", "carrier-grade NAT"),
            ("224.0.0.1", "multicast"),
            ("239.255.255.250", "multicast"),
            ("0.0.0.0", "unspecified"),
            ("0.1.2.3", "\"this network\""),
            ("255.255.255.255", "broadcast"),
            ("240.0.0.1", "reserved"),
            ("192.0.2.10", "documentation (TEST-NET-1)"),
            ("198.51.100.10", "documentation (TEST-NET-2)"),
            ("203.0.113.10", "documentation (TEST-NET-3)"),
            ("198.18.0.1", "benchmarking"),
            ("192.0.0.8", "IETF protocol assignments"),
            ("192.88.99.1", "6to4 relay anycast"),
        ];
        for (address, range) in cases {
            assert_eq!(refused_as(&strict(), address), range, "{address}");
        }
    }

    #[test]
    fn public_addresses_and_the_edges_of_ranges_pass() {
        for address in [
            "8.8.8.8",
            "1.1.1.1",
            "9.255.255.255",
            "11.0.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.167.255.255",
            "192.169.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "169.253.255.255",
            "223.255.255.255",
            "2606:4700:4700::1111",
            "2001:4860:4860::8888",
            "2a00:1450:4001::1",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert_eq!(strict().check_ip(ip(address)), Ok(()), "{address}");
        }
    }

    #[test]
    fn every_special_ipv6_range_is_refused() {
        let cases = [
            ("::1", "loopback"),
            ("::", "unspecified"),
            ("fc00::1", "private (unique local)"),
            ("fd12:3456::1", "private (unique local)"),
            ("fd00:ec2::254", "cloud metadata"),
            ("fe80::1", "link-local"),
            ("febf::1", "link-local"),
            ("fec0::1", "site-local (deprecated)"),
            ("ff02::1", "multicast"),
            ("ff0e::1", "multicast"),
            ("2001:db8::1", "documentation"),
            ("3fff::1", "documentation"),
            (
                "2001::1",
                "IETF protocol assignments (Teredo, benchmarking, ORCHID)",
            ),
            ("100::1", "discard-only"),
            ("64:ff9b:1::1", "local-use NAT64"),
            ("::7f00:1", "IPv4-compatible (deprecated)"),
        ];
        for (address, range) in cases {
            assert_eq!(refused_as(&strict(), address), range, "{address}");
        }
    }

    #[test]
    fn ipv4_mapped_and_embedded_forms_are_judged_by_their_ipv4_address() {
        let v4_cases = [
            "127.0.0.1",
            "10.0.0.1",
            "172.16.0.1",
            "192.168.0.1",
            "169.254.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "224.0.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "192.0.2.1",
            "198.51.100.1",
            "203.0.113.1",
            "198.18.0.1",
            "240.0.0.1",
        ];
        for v4 in v4_cases {
            let expected = refused_as(&strict(), v4);
            let bits = v4.parse::<Ipv4Addr>().expect("v4").to_bits();
            let mapped = format!("::ffff:{v4}");
            assert_eq!(
                refused_as(&strict(), &mapped),
                format!("IPv4-mapped form of {v4}: {expected}"),
            );
            // The same address in hex groups, as a resolver might print it.
            let hex = format!("::ffff:{:x}:{:x}", bits >> 16, bits & 0xffff);
            assert!(strict().check_ip(ip(&hex)).is_err(), "{hex}");
            let translated = format!("::ffff:0:{v4}");
            assert_eq!(
                refused_as(&strict(), &translated),
                format!("IPv4-translated form of {v4}: {expected}"),
            );
            let nat64 = format!("64:ff9b::{v4}");
            assert_eq!(
                refused_as(&strict(), &nat64),
                format!("NAT64 form of {v4}: {expected}"),
            );
            let six_to_four = format!("2002:{:x}:{:x}::1", bits >> 16, bits & 0xffff);
            assert_eq!(
                refused_as(&strict(), &six_to_four),
                format!("6to4 form of {v4}: {expected}"),
            );
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
    fn cidrs_parse_and_contain() {
        let block: IpCidr = "10.0.0.0/8".parse().expect("cidr");
        assert_eq!(block.prefix(), 8);
        assert_eq!(block.to_string(), "10.0.0.0/8");
        assert!(block.contains(ip("10.200.0.1")));
        assert!(!block.contains(ip("11.0.0.0")));
        assert!(!block.contains(ip("::ffff:10.0.0.1")));

        let one: IpCidr = "::1/128".parse().expect("cidr");
        assert!(one.contains(ip("::1")));
        assert!(!one.contains(ip("::2")));
        assert!(!one.contains(ip("127.0.0.1")));

        let bare: IpCidr = " 192.0.2.7 ".parse().expect("cidr");
        assert_eq!(bare.to_string(), "192.0.2.7/32");
        let all: IpCidr = "0.0.0.0/0".parse().expect("cidr");
        assert!(all.contains(ip("203.0.113.9")));
        let all6: IpCidr = "::/0".parse().expect("cidr");
        assert!(all6.contains(ip("2001:db8::1")));
        let ula: IpCidr = "fc00::/7".parse().expect("cidr");
        assert!(ula.contains(ip("fdff::1")));
        assert!(!ula.contains(ip("fe00::1")));
    }

    #[test]
    fn bad_cidrs_say_what_is_wrong() {
        let cases = [
            ("10.0.0/8", "`10.0.0` is not an IP address"),
            ("localhost/8", "`localhost` is not an IP address"),
            ("10.0.0.0/", "`` is not a prefix length"),
            ("10.0.0.0/x", "`x` is not a prefix length"),
            (
                "10.0.0.0/33",
                "prefix length 33 is too long for an IPv4 address (at most 32)",
            ),
            (
                "::/129",
                "prefix length 129 is too long for an IPv6 address (at most 128)",
            ),
            (
                "10.0.0.1/8",
                "10.0.0.1/8 has bits set past the prefix: did you mean 10.0.0.0/8?",
            ),
            (
                "fe80::1/10",
                "fe80::1/10 has bits set past the prefix: did you mean fe80::/10?",
            ),
        ];
        for (text, message) in cases {
            let error = text.parse::<IpCidr>().expect_err(text);
            assert!(error.to_string().starts_with(message), "{text}: {error}");
        }
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

    #[tokio::test]
    async fn a_name_is_refused_when_all_its_addresses_are() {
        let error = strict().resolve("localhost").await.expect_err("refused");
        let ResolveError::Refused(Refusal::Host { host, refused }) = &error else {
            panic!("expected a refusal, got {error:?}");
        };
        assert_eq!(host, "localhost");
        assert!(
            refused.iter().any(|(ip, _)| ip.is_loopback()),
            "{refused:?}"
        );
        assert!(error.to_string().contains("loopback"), "{error}");

        let allowed = SsrfPolicy::new(&["127.0.0.0/8"], false).expect("policy");
        let addrs = allowed.resolve("localhost").await.expect("admitted");
        // Whatever else `localhost` resolves to (`::1`), only the admitted ones are kept.
        assert!(!addrs.is_empty());
        assert!(
            addrs
                .iter()
                .all(|a| a.ip().is_ipv4() && a.ip().is_loopback()),
            "{addrs:?}"
        );
    }

    #[tokio::test]
    async fn ip_literals_resolve_through_the_same_check() {
        assert!(matches!(
            strict().resolve("10.0.0.1").await,
            Err(ResolveError::Refused(_))
        ));
        let addrs = strict().resolve("8.8.8.8").await.expect("public");
        assert_eq!(addrs, vec![SocketAddr::new(ip("8.8.8.8"), 0)]);
    }
}
