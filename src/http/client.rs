//! Who the client is: its address and whether it reached a proxy over HTTPS.
//!
//! The address is the socket peer ([`crate::edge::ClientAddr`]). Forwarded headers are believed
//! only from peers in `OP_TRUSTED_PROXIES` (none by default): then `X-Forwarded-For` is read
//! from the right, each hop believed only while the hop that appended it is trusted, so the
//! client is the rightmost address not in the list, and `X-Forwarded-Proto: https` marks the
//! request as HTTPS. From anyone else both headers are ignored.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use http::HeaderMap;
use ipnet::IpNet;

use crate::client_addr::canonical;

/// The client of one request, as [`Proxies::resolve`] decided; a request extension set by
/// [`super::handle`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Client {
    /// The client's address (the peer, or the forwarded address behind trusted proxies).
    pub addr: IpAddr,
    /// True when a trusted proxy said the client used HTTPS (`X-Forwarded-Proto: https`).
    pub forwarded_https: bool,
}

/// The trusted proxies.
#[derive(Clone, Debug, Default)]
pub struct Proxies {
    trusted: Vec<IpNet>,
}

/// The most `X-Forwarded-For` hops read (a longer chain is cut at the trusted end).
const MAX_HOPS: usize = 32;

impl Proxies {
    /// Trusts these addresses and ranges.
    pub fn new(trusted: Vec<IpNet>) -> Self {
        Self { trusted }
    }

    /// Whether `addr` is a trusted proxy.
    pub fn trusts(&self, addr: IpAddr) -> bool {
        let addr = canonical(addr);
        self.trusted.iter().any(|net| net.contains(&addr))
    }

    /// The client behind `peer` given the request headers (`peer` is `None` when the request
    /// did not come through a listener, as in tests: then it is the unspecified address).
    pub fn resolve(&self, peer: Option<SocketAddr>, headers: &HeaderMap) -> Client {
        let peer = peer.map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |p| canonical(p.ip()));
        if !self.trusts(peer) {
            return Client {
                addr: peer,
                forwarded_https: false,
            };
        }
        let forwarded_https = headers
            .get_all("x-forwarded-proto")
            .iter()
            .next_back()
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"));
        let hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .collect();
        let mut addr = peer;
        for hop in hops.iter().rev().take(MAX_HOPS) {
            if !self.trusts(addr) {
                break;
            }
            match hop_addr(hop) {
                Some(next) => addr = next,
                // A garbled hop: believe nothing beyond it.
                None => break,
            }
        }
        Client {
            addr,
            forwarded_https,
        }
    }
}

/// One `X-Forwarded-For` item: `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1` or `[2001:db8::1]:80`.
fn hop_addr(text: &str) -> Option<IpAddr> {
    let text = text.trim();
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    text.parse::<SocketAddr>().ok().map(|s| canonical(s.ip()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxies(list: &str) -> Proxies {
        Proxies::new(
            list.split(',')
                .filter(|s| !s.is_empty())
                .map(|s| s.parse().unwrap())
                .collect(),
        )
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    fn peer(text: &str) -> Option<SocketAddr> {
        Some(SocketAddr::new(text.parse().unwrap(), 40000))
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn without_trusted_proxies_forwarded_headers_are_ignored() {
        let h = headers(&[
            ("x-forwarded-for", "198.51.100.7"),
            ("x-forwarded-proto", "https"),
        ]);
        let c = Proxies::default().resolve(peer("203.0.113.9"), &h);
        assert_eq!(
            c,
            Client {
                addr: ip("203.0.113.9"),
                forwarded_https: false
            }
        );
        let c = proxies("10.0.0.0/8").resolve(peer("203.0.113.9"), &h);
        assert_eq!(c.addr, ip("203.0.113.9"), "an untrusted peer is the client");
        assert!(!c.forwarded_https);
    }

    #[test]
    fn the_rightmost_untrusted_hop_is_the_client() {
        let p = proxies("10.0.0.0/8,192.0.2.1/32");
        // The client forged the leftmost entry; the proxies appended the rest.
        let h = headers(&[
            ("x-forwarded-for", "1.1.1.1, 198.51.100.7"),
            ("x-forwarded-for", "10.1.2.3"),
            ("x-forwarded-proto", "https"),
        ]);
        let c = p.resolve(peer("192.0.2.1"), &h);
        assert_eq!(c.addr, ip("198.51.100.7"));
        assert!(c.forwarded_https);
        // Every hop trusted: the leftmost is the best we know.
        let h = headers(&[("x-forwarded-for", "10.0.0.5, 10.0.0.6")]);
        assert_eq!(p.resolve(peer("10.9.9.9"), &h).addr, ip("10.0.0.5"));
        // No header: the proxy itself.
        assert_eq!(
            p.resolve(peer("10.9.9.9"), &HeaderMap::new()).addr,
            ip("10.9.9.9")
        );
    }

    #[test]
    fn hop_spellings_and_garbage() {
        let p = proxies("10.0.0.0/8");
        for (xff, expected) in [
            ("198.51.100.7:5555", "198.51.100.7"),
            ("[2001:db8::1]:443", "2001:db8::1"),
            ("2001:db8::1", "2001:db8::1"),
            ("::ffff:198.51.100.7", "198.51.100.7"),
            // Garbage stops the walk at the last trusted hop.
            ("198.51.100.7, unknown", "10.0.0.1"),
            ("", "10.0.0.1"),
        ] {
            let mut h = HeaderMap::new();
            h.insert("x-forwarded-for", xff.parse().unwrap());
            assert_eq!(p.resolve(peer("10.0.0.1"), &h).addr, ip(expected), "{xff}");
        }
        // A mapped peer matches an IPv4 range.
        assert!(p.trusts(ip("::ffff:10.0.0.1")));
    }

    #[test]
    fn forwarded_proto_is_the_last_value() {
        let p = proxies("10.0.0.1/32");
        let h = headers(&[("x-forwarded-proto", "http, https")]);
        assert!(p.resolve(peer("10.0.0.1"), &h).forwarded_https);
        let h = headers(&[("x-forwarded-proto", "https, http")]);
        assert!(!p.resolve(peer("10.0.0.1"), &h).forwarded_https);
        assert_eq!(p.resolve(None, &h).addr, IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    }
}
