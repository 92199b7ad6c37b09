//! [`IpCidr`], a block of addresses: how `webhooks.allow_cidrs` entries are parsed (with
//! errors that say what is wrong and suggest the fix) and how the refused ranges of
//! `ranges.rs` are written.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

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
    /// judges an IPv4-mapped IPv6 address as its IPv4 address, see
    /// [`SsrfPolicy::check_ip`](super::SsrfPolicy::check_ip)).
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

    /// For the constant tables of `ranges.rs`, which are right by construction.
    pub(super) const fn v4(a: u8, b: u8, c: u8, d: u8, prefix: u8) -> Self {
        Self {
            network: IpAddr::V4(Ipv4Addr::new(a, b, c, d)),
            prefix,
        }
    }

    pub(super) const fn v6(segments: [u16; 8], prefix: u8) -> Self {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("ip")
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
    }
}
