//! The HTTPS listener's allowlist (`OP_ALLOW_CIDRS`): IPv4 and IPv6 networks in CIDR notation.
//!
//! Pure: parsing and matching only. The handshake applies it after reading the ClientHello, so
//! that ACME validations (`acme-tls/1` for the served domain) get in from any address.

use std::{fmt, net::IpAddr};

use ipnet::IpNet;

use crate::client_addr::canonical;

/// One network (ipnet's, as `OP_TRUSTED_PROXIES` uses), parsed strictly: no host bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr(IpNet);

impl Cidr {
    /// Parses `192.0.2.0/24`, `2001:db8::/32`, or a bare address (a /32 or /128). Host bits
    /// must be zero, so a typo such as `10.0.0.1/8` is refused rather than widened silently.
    pub fn parse(text: &str) -> Result<Self, String> {
        let net = match text.split_once('/') {
            Some((_, p)) if p.starts_with('+') || p.is_empty() => None,
            Some(_) => text.parse::<IpNet>().ok(),
            None => text.parse::<IpAddr>().ok().map(IpNet::from),
        };
        let Some(net) = net else {
            return Err(match text.split_once('/') {
                Some((a, _)) if a.parse::<IpAddr>().is_ok() => {
                    let width = if a.contains(':') { 128 } else { 32 };
                    format!("`{text}`: the prefix length must be 0 to {width}")
                }
                _ => format!("`{text}` is not an IP address or CIDR network"),
            });
        };
        if net.trunc() != net {
            return Err(format!(
                "`{text}` has host bits set; write the network address"
            ));
        }
        Ok(Self(net))
    }

    /// Whether `ip` is in this network (IPv4-mapped IPv6 addresses count as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.contains(&canonical(ip))
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.0.addr(), self.0.prefix_len())
    }
}

/// The admitted networks; empty admits everyone.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AllowList(Vec<Cidr>);

impl AllowList {
    /// Parses a comma-separated list (spaces allowed); an empty text is the empty list.
    pub fn parse(text: &str) -> Result<Self, String> {
        text.split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(Cidr::parse)
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }

    /// True when no network is listed (everyone is admitted).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `ip` is admitted: the list is empty or a network contains it.
    pub fn admits(&self, ip: IpAddr) -> bool {
        self.0.is_empty() || self.0.iter().any(|c| c.contains(ip))
    }
}

impl fmt::Display for AllowList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("everyone");
        }
        for (i, c) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{c}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn networks_match_their_addresses_only() {
        let list = AllowList::parse("127.0.0.2, 10.0.0.0/8,2001:db8::/32").unwrap();
        assert!(list.admits(ip("127.0.0.2")));
        assert!(!list.admits(ip("127.0.0.3")));
        assert!(list.admits(ip("10.255.1.2")));
        assert!(!list.admits(ip("11.0.0.1")));
        assert!(list.admits(ip("2001:db8:ffff::1")));
        assert!(!list.admits(ip("2001:db9::1")));
        // A dual-stack listener reports IPv4 clients as IPv4-mapped IPv6.
        assert!(list.admits(ip("::ffff:10.1.2.3")));
        assert!(!list.admits(ip("::ffff:11.1.2.3")));
        assert_eq!(list.to_string(), "127.0.0.2/32,10.0.0.0/8,2001:db8::/32");
    }

    #[test]
    fn empty_admits_everyone_and_zero_prefixes_admit_a_family() {
        let empty = AllowList::parse(" ").unwrap();
        assert!(empty.is_empty() && empty.admits(ip("192.0.2.1")));
        let v4 = AllowList::parse("0.0.0.0/0").unwrap();
        assert!(v4.admits(ip("192.0.2.1")));
        assert!(!v4.admits(ip("2001:db8::1")));
        let v6 = AllowList::parse("::/0").unwrap();
        assert!(v6.admits(ip("2001:db8::1")) && !v6.admits(ip("192.0.2.1")));
    }

    #[test]
    fn mistakes_are_refused_with_the_entry() {
        for bad in [
            "10.0.0.1/8",
            "10.0.0.0/33",
            "2001:db8::/129",
            "example.com",
            "10.0.0.0/",
            "10.0.0.0/+8",
            "1.2.3.4/x",
        ] {
            let err = AllowList::parse(&format!("127.0.0.1,{bad}")).unwrap_err();
            assert!(err.contains(bad), "{bad}: {err}");
        }
    }
}
