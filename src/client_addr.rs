//! Client addresses as the per-client rules see them (the connection cap, the bearer-failure
//! throttle, the allowlist, trusted proxies): an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`,
//! seen on a dual-stack `[::]` listener) is the IPv4 address it is, and an IPv6 client is
//! counted by its /64 (one host or subscriber usually holds a whole /64, so a per-address key
//! would not bind).

use std::net::{IpAddr, Ipv6Addr};

/// `ip` with an IPv4-mapped IPv6 address written as IPv4; anything else unchanged.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The key one client is counted under: its IPv4 address, or the /64 of its IPv6 address.
pub fn key(ip: IpAddr) -> IpAddr {
    match canonical(ip) {
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & (u128::MAX << 64))),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn mapped_ipv4_is_ipv4_and_ipv6_is_keyed_by_its_64() {
        assert_eq!(canonical(ip("::ffff:192.0.2.7")), ip("192.0.2.7"));
        assert_eq!(canonical(ip("2001:db8::1")), ip("2001:db8::1"));
        assert_eq!(key(ip("2001:db8:1:2:aaaa::1")), ip("2001:db8:1:2::"));
        assert_eq!(key(ip("::ffff:192.0.2.7")), ip("192.0.2.7"));
        assert_eq!(key(ip("192.0.2.7")), ip("192.0.2.7"));
    }
}
