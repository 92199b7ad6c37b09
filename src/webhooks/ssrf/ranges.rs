//! The addresses webhooks may not reach, and why: the refused IPv4 and IPv6 blocks, and
//! the IPv6 forms that carry an IPv4 address inside. [`special_range`] names the range;
//! whether the allowlist admits the address anyway is the policy's call (`mod.rs`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::IpCidr;

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
/// allowlist plays no part here: see [`SsrfPolicy::check_ip`](super::SsrfPolicy::check_ip).
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

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("ip")
    }

    fn refused_as(text: &str) -> String {
        special_range(ip(text)).unwrap_or_else(|| panic!("{text} should be refused"))
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
            assert_eq!(refused_as(address), range, "{address}");
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
            assert_eq!(special_range(ip(address)), None, "{address}");
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
            assert_eq!(refused_as(address), range, "{address}");
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
            let expected = refused_as(v4);
            let bits = v4.parse::<Ipv4Addr>().expect("v4").to_bits();
            let mapped = format!("::ffff:{v4}");
            assert_eq!(
                refused_as(&mapped),
                format!("IPv4-mapped form of {v4}: {expected}"),
            );
            // The same address in hex groups, as a resolver might print it.
            let hex = format!("::ffff:{:x}:{:x}", bits >> 16, bits & 0xffff);
            assert!(special_range(ip(&hex)).is_some(), "{hex}");
            let translated = format!("::ffff:0:{v4}");
            assert_eq!(
                refused_as(&translated),
                format!("IPv4-translated form of {v4}: {expected}"),
            );
            let nat64 = format!("64:ff9b::{v4}");
            assert_eq!(
                refused_as(&nat64),
                format!("NAT64 form of {v4}: {expected}"),
            );
            let six_to_four = format!("2002:{:x}:{:x}::1", bits >> 16, bits & 0xffff);
            assert_eq!(
                refused_as(&six_to_four),
                format!("6to4 form of {v4}: {expected}"),
            );
        }
    }
}
