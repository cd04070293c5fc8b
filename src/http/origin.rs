//! The origin that `Location` and `meta.location` start with.
//!
//! `OP_PUBLIC_URL` wins when set. Otherwise the request's host (its URI authority or `Host`
//! header) is used, with two guards: a host that is not a plain `host[:port]` becomes
//! `localhost`, and on a TLS connection a host that does not name `OP_TLS_DOMAIN` is replaced
//! by the domain, keeping the client's port, so a forged `Host` cannot point links elsewhere.

use http::uri::Authority;

/// What the origin of one request is built from.
#[derive(Clone, Copy, Debug)]
pub struct OriginParts<'a> {
    /// `OP_PUBLIC_URL`, without a trailing slash.
    pub public_url: Option<&'a str>,
    /// The request's host (URI authority or `Host` header), untrusted.
    pub host: Option<&'a str>,
    /// The request arrived over the bridge's own TLS listener.
    pub over_tls: bool,
    /// The client used HTTPS in front of a trusted proxy, or the URI said `https`.
    pub https: bool,
    /// `OP_TLS_DOMAIN`, when set.
    pub tls_domain: Option<&'a str>,
}

/// `scheme://host[:port]` (plus the path of `OP_PUBLIC_URL`, if it has one).
pub fn origin(parts: OriginParts<'_>) -> String {
    if let Some(url) = parts.public_url {
        return url.to_owned();
    }
    let scheme = if parts.over_tls || parts.https {
        "https"
    } else {
        "http"
    };
    let authority = parts
        .host
        .and_then(|h| h.parse::<Authority>().ok())
        .filter(|a| !a.as_str().contains('@') && !a.host().is_empty());
    let host = match (
        authority,
        parts.over_tls.then_some(parts.tls_domain).flatten(),
    ) {
        (Some(a), Some(domain)) if !names(a.host(), domain) => match a.port_u16() {
            Some(port) => format!("{domain}:{port}"),
            None => domain.to_owned(),
        },
        (Some(a), _) => a.as_str().to_owned(),
        (None, Some(domain)) => domain.to_owned(),
        (None, None) => "localhost".to_owned(),
    };
    format!("{scheme}://{host}")
}

/// Whether `host` (from a `Host` header) names `domain`: case-insensitive, trailing dot ignored.
fn names(host: &str, domain: &str) -> bool {
    host.trim_end_matches('.').eq_ignore_ascii_case(domain)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOMAIN: &str = "scim.example.com";

    fn tls(host: Option<&str>) -> String {
        origin(OriginParts {
            public_url: None,
            host,
            over_tls: true,
            https: false,
            tls_domain: Some(DOMAIN),
        })
    }

    #[test]
    fn the_public_url_wins() {
        let o = origin(OriginParts {
            public_url: Some("https://idp-facing.example.org/bridge"),
            host: Some("evil.test"),
            over_tls: false,
            https: false,
            tls_domain: None,
        });
        assert_eq!(o, "https://idp-facing.example.org/bridge");
    }

    #[test]
    fn over_tls_a_foreign_host_becomes_the_domain_with_the_clients_port() {
        assert_eq!(tls(Some("evil.test")), "https://scim.example.com");
        assert_eq!(tls(Some("evil.test:8443")), "https://scim.example.com:8443");
        assert_eq!(tls(Some("[::1]:8443")), "https://scim.example.com:8443");
        assert_eq!(tls(Some("127.0.0.1")), "https://scim.example.com");
        assert_eq!(tls(None), "https://scim.example.com");
        assert_eq!(tls(Some("a/b")), "https://scim.example.com");
        assert_eq!(
            tls(Some("SCIM.example.com.:443")),
            "https://SCIM.example.com.:443"
        );
        assert_eq!(
            tls(Some("scim.example.com:5001")),
            "https://scim.example.com:5001"
        );
    }

    #[test]
    fn plain_http_keeps_a_well_formed_host() {
        let plain = |host, https| {
            origin(OriginParts {
                public_url: None,
                host,
                over_tls: false,
                https,
                tls_domain: Some(DOMAIN),
            })
        };
        assert_eq!(plain(Some("10.0.0.5:3002"), false), "http://10.0.0.5:3002");
        assert_eq!(
            plain(Some("bridge.internal"), true),
            "https://bridge.internal"
        );
        assert_eq!(plain(Some("x@evil.test"), false), "http://localhost");
        assert_eq!(plain(Some("evil.test/path"), false), "http://localhost");
        assert_eq!(plain(None, false), "http://localhost");
    }
}
