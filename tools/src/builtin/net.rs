//! Address screening for `http_get`: which IP addresses may be contacted.
//!
//! Every special-purpose range that reaches this machine or a private network is refused
//! (IANA's IPv4 and IPv6 special-purpose registries), including IPv6 forms that carry an
//! IPv4 address (mapped `::ffff:a.b.c.d`, compatible `::a.b.c.d`, NAT64 `64:ff9b::/96`,
//! 6to4 `2002::/16`; Teredo `2001::/32` is refused outright, its embedded addresses are
//! obfuscated). Odd IPv4 spellings (`2130706433`, `0177.0.0.1`, `0x7f.1`, `127.1`) never
//! reach here as names: the URL parser normalises them to the address they mean.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Which non-public addresses are allowed. Public unicast addresses always are.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AddressRules {
    /// Allow loopback (127.0.0.0/8, ::1).
    pub allow_loopback: bool,
    /// Allow private, shared, link-local and unique-local ranges (10/8, 172.16/12,
    /// 192.168/16, 100.64/10, 169.254/16 including the 169.254.169.254 metadata
    /// service, fc00::/7, fe80::/10).
    pub allow_private: bool,
}

impl AddressRules {
    /// Why `ip` may not be contacted, or `None` when it may.
    pub fn refusal(&self, ip: IpAddr) -> Option<&'static str> {
        let kind = classify(ip)?;
        match kind {
            Kind::Loopback if self.allow_loopback => None,
            Kind::Private | Kind::LinkLocal | Kind::Metadata if self.allow_private => None,
            other => Some(other.describe()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Loopback,
    Private,
    LinkLocal,
    Metadata,
    NotUnicast,
    Reserved,
}

impl Kind {
    fn describe(self) -> &'static str {
        match self {
            Kind::Loopback => "a loopback address",
            Kind::Private => "a private network address",
            Kind::LinkLocal => "a link-local address",
            Kind::Metadata => "a cloud metadata service address",
            Kind::NotUnicast => "not a public unicast address",
            Kind::Reserved => "a special-purpose address",
        }
    }
}

fn classify(ip: IpAddr) -> Option<Kind> {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<Kind> {
    let [a, b, ..] = ip.octets();
    if ip.is_loopback() {
        Some(Kind::Loopback)
    } else if ip == Ipv4Addr::new(169, 254, 169, 254) || ip == Ipv4Addr::new(100, 100, 100, 200) {
        Some(Kind::Metadata)
    } else if ip.is_link_local() {
        Some(Kind::LinkLocal)
    } else if ip.is_private() || (a == 100 && (64..128).contains(&b)) {
        Some(Kind::Private)
    } else if (a == 192 && b == 0 && ip.octets()[2] == 0) || (a == 198 && (b & 0xfe) == 18) {
        // 192.0.0.0/24 (IETF protocol assignments), 198.18.0.0/15 (benchmarking).
        Some(Kind::Reserved)
    } else if ip.is_unspecified()
        || a == 0
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a >= 240
    {
        Some(Kind::NotUnicast)
    } else {
        None
    }
}

fn classify_v6(ip: Ipv6Addr) -> Option<Kind> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return classify_v4(v4);
    }
    let segments = ip.segments();
    // NAT64 (64:ff9b::/96) embeds an IPv4 address in the last 32 bits.
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        let [.., hi, lo] = segments;
        let v4 = Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
        return classify_v4(v4);
    }
    // 6to4 (2002::/16) carries an IPv4 address in bits 16..48.
    if segments[0] == 0x2002 {
        let v4 = Ipv4Addr::from((u32::from(segments[1]) << 16) | u32::from(segments[2]));
        return classify_v4(v4);
    }
    if ip.is_loopback() {
        return Some(Kind::Loopback);
    }
    // IPv4-compatible (::a.b.c.d, deprecated): an IPv4 address to some stacks.
    if segments[..6] == [0; 6] && !ip.is_unspecified() {
        return Some(classify_v4(Ipv4Addr::from(ip.to_bits() as u32)).unwrap_or(Kind::Reserved));
    }
    if segments == [0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254] {
        Some(Kind::Metadata)
    } else if ip.is_unicast_link_local() {
        Some(Kind::LinkLocal)
    } else if ip.is_unique_local() {
        Some(Kind::Private)
    } else if ip.is_unspecified()
        || ip.is_multicast()
        || segments[0] == 0x2001 && segments[1] == 0x0db8
    {
        Some(Kind::NotUnicast)
    } else if segments[0] & 0xffc0 == 0xfec0
        || segments[0] == 0x2001 && segments[1] < 0x0200
        || segments[..4] == [0x0100, 0, 0, 0]
        || segments[..3] == [0x64, 0xff9b, 1]
        || segments[0] & 0xe000 != 0x2000
    {
        // Site-local fec0::/10, IETF assignments 2001::/23 (Teredo 2001::/32 among them),
        // discard 100::/64, local NAT64 64:ff9b:1::/48, and anything outside global
        // unicast 2000::/3.
        Some(Kind::Reserved)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(rules: AddressRules, ip: &str) -> bool {
        ip.parse()
            .map(|ip| rules.refusal(ip).is_some())
            .unwrap_or(false)
    }

    #[test]
    fn strict_rules_refuse_non_public_addresses() {
        let rules = AddressRules::default();
        for ip in [
            "127.0.0.1",
            "::1",
            "10.0.0.1",
            "172.16.5.4",
            "192.168.1.1",
            "100.64.0.1",
            "169.254.169.254",
            "169.254.1.1",
            "0.0.0.0",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "224.0.0.1",
            "fd00:ec2::254",
            // The rest of IANA's special-purpose registries (#17 item 9).
            "0.1.2.3",
            "192.0.0.8",
            "198.18.0.1",
            "198.19.255.255",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            "ff02::1",
            "ff0e::1",
            "::7f00:1",
            "::a00:1",
            "::808:808",
            "64:ff9b::7f00:1",
            "64:ff9b::a00:1",
            "64:ff9b:1::1",
            "2002:7f00:1::",
            "2002:a00:1::1",
            "2002:c0a8:101::",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "2001:10::1",
            "fec0::1",
            "100::1",
            "4000::1",
        ] {
            assert!(refused(rules, ip), "{ip} should be refused");
        }
        for ip in [
            "93.184.216.34",
            "2606:4700::1111",
            "1.1.1.1",
            "2002:5db8:d822::1",
            "64:ff9b::5db8:d822",
            "2001:4860:4860::8888",
            "198.20.0.1",
            "192.0.1.1",
        ] {
            assert!(!refused(rules, ip), "{ip} should be allowed");
        }
    }

    #[test]
    fn allowances_are_separate() {
        let loopback = AddressRules {
            allow_loopback: true,
            allow_private: false,
        };
        assert!(!refused(loopback, "127.0.0.1"));
        assert!(!refused(loopback, "::1"));
        assert!(refused(loopback, "10.0.0.1"));
        assert!(refused(loopback, "169.254.169.254"));
        let private = AddressRules {
            allow_loopback: false,
            allow_private: true,
        };
        assert!(refused(private, "127.0.0.1"));
        assert!(!refused(private, "10.0.0.1"));
        assert!(refused(private, "0.0.0.0"));
    }

    #[test]
    fn metadata_is_named() {
        let rules = AddressRules::default();
        let why = "169.254.169.254"
            .parse()
            .ok()
            .and_then(|ip| rules.refusal(ip));
        assert_eq!(why, Some("a cloud metadata service address"));
    }
}
