//! The settings of how the bridge faces its clients: which proxies are believed, the throttle
//! on failed bearer checks, HSTS, what plain HTTP serves beside HTTPS, the public base URL and
//! the `/metrics` token on HTTPS.

use std::{net::IpAddr, time::Duration};

use ipnet::IpNet;

use super::{
    parse::{duration, get, Values},
    ConfigError, Secret, TlsSettings,
};

/// Failed bearer checks from one client address allowed per window by default. An identity
/// provider with a stale token retries a handful of times a minute; 20 leaves room for that
/// and for several tenants behind one egress address, while a guesser gets 20 answers of 401
/// per minute instead of tens of thousands per second.
pub const DEFAULT_AUTH_FAILURE_LIMIT: u32 = 20;
/// The window those failures are counted in by default.
pub const DEFAULT_AUTH_FAILURE_WINDOW: Duration = Duration::from_secs(60);
/// One year, the value HSTS preload lists ask for.
pub const DEFAULT_HSTS_MAX_AGE: u64 = 31_536_000;

/// What the plain-HTTP listener serves (`OP_PLAIN_HTTP`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlainHttp {
    /// Probes only (`/ping`, `/ready`, `/metrics`); `GET /` redirects to HTTPS and the rest is
    /// refused. The default when `OP_TLS_DOMAIN` is set.
    Probes,
    /// Everything, as over HTTPS. The default (and the only choice) without TLS.
    All,
}

/// How the bridge faces its clients.
#[derive(Clone, Debug)]
pub struct ExposureSettings {
    /// Peers whose `X-Forwarded-For` and `X-Forwarded-Proto` are believed (empty: none).
    pub trusted_proxies: Vec<IpNet>,
    /// Failed bearer checks per client address and window before `429`; 0 turns it off.
    pub auth_failure_limit: u32,
    /// The window of [`Self::auth_failure_limit`].
    pub auth_failure_window: Duration,
    /// `Strict-Transport-Security: max-age` on HTTPS answers, in seconds; 0 sends none.
    pub hsts_max_age: u64,
    /// What plain HTTP serves.
    pub plain_http: PlainHttp,
    /// The base URL of `Location` and `meta.location` (scheme, host, optional port and path;
    /// no trailing slash), when set.
    pub public_url: Option<String>,
    /// The bearer token `/metrics` needs on HTTPS; without it `/metrics` is `404` there.
    pub metrics_token: Option<Secret>,
}

/// A comma-separated list of IP addresses and CIDR ranges; empty is none.
pub(super) fn ip_list(text: &str) -> Result<Vec<IpNet>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|item| {
            item.parse::<IpNet>()
                .map(|n| n.trunc())
                .or_else(|_| item.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    format!("`{item}` is not an IP address or CIDR range such as 10.0.0.0/8")
                })
        })
        .collect()
}

/// An `http://` or `https://` URL with a host and without query, fragment or credentials;
/// returned without a trailing slash.
pub(super) fn public_url(text: &str) -> Result<String, String> {
    let why = "expected a URL such as https://scim.example.com (http or https, no query)";
    let uri: http::Uri = text.parse().map_err(|_| why.to_owned())?;
    let authority = uri.authority().ok_or_else(|| why.to_owned())?;
    let scheme_ok = matches!(uri.scheme_str(), Some("http" | "https"));
    let bad = !scheme_ok
        || authority.host().is_empty()
        || authority.as_str().contains('@')
        || uri.query().is_some()
        || text.contains('?')
        || text.contains('#');
    if bad {
        return Err(why.into());
    }
    Ok(text.trim_end_matches('/').to_owned())
}

fn plain_http(text: &str) -> Result<PlainHttp, String> {
    match text.to_ascii_lowercase().as_str() {
        "probes" => Ok(PlainHttp::Probes),
        "all" => Ok(PlainHttp::All),
        _ => Err("expected `probes` or `all`".into()),
    }
}

fn count(text: &str) -> Result<u32, String> {
    text.parse()
        .map_err(|_| "expected a whole number (0 turns it off)".into())
}

fn seconds(text: &str) -> Result<u64, String> {
    text.parse()
        .map_err(|_| "expected a number of seconds (0 turns it off)".into())
}

fn token(text: &str) -> Result<Secret, String> {
    let valid = |b: u8| b.is_ascii_alphanumeric() || b"-._~+/=".contains(&b);
    if text.len() < 16 || !text.bytes().all(valid) {
        return Err("expected at least 16 characters of A-Z a-z 0-9 - . _ ~ + / =".into());
    }
    Ok(Secret::new(text))
}

/// The exposure settings; `tls` decides the default of `OP_PLAIN_HTTP`.
pub(super) fn settings(
    values: &Values,
    tls: Option<&TlsSettings>,
) -> Result<ExposureSettings, ConfigError> {
    let plain_http = match (get(values, "plain_http", plain_http)?, tls) {
        (Some(PlainHttp::Probes), None) => {
            return Err(ConfigError::Conflict {
                reason: "OP_PLAIN_HTTP=probes needs OP_TLS_DOMAIN (without HTTPS plain HTTP \
                         serves everything)"
                    .into(),
            })
        }
        (Some(mode), _) => mode,
        (None, Some(_)) => PlainHttp::Probes,
        (None, None) => PlainHttp::All,
    };
    let window = get(values, "auth_failure_window", duration)?
        .unwrap_or(DEFAULT_AUTH_FAILURE_WINDOW)
        .max(Duration::from_secs(1));
    Ok(ExposureSettings {
        trusted_proxies: get(values, "trusted_proxies", ip_list)?.unwrap_or_default(),
        auth_failure_limit: get(values, "auth_failure_limit", count)?
            .unwrap_or(DEFAULT_AUTH_FAILURE_LIMIT),
        auth_failure_window: window,
        hsts_max_age: get(values, "hsts_max_age", seconds)?.unwrap_or(DEFAULT_HSTS_MAX_AGE),
        plain_http,
        public_url: get(values, "public_url", public_url)?,
        metrics_token: get(values, "metrics_token", token)?,
    })
}

#[cfg(test)]
mod tests {
    use super::super::load;
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    }

    #[test]
    fn defaults_are_safe() {
        let s = load(None, &env(&[])).unwrap().exposure;
        assert!(s.trusted_proxies.is_empty());
        assert_eq!(s.auth_failure_limit, 20);
        assert_eq!(s.auth_failure_window, Duration::from_secs(60));
        assert_eq!(s.hsts_max_age, 31_536_000);
        assert_eq!(
            s.plain_http,
            PlainHttp::All,
            "without TLS plain HTTP is all"
        );
        assert_eq!(s.public_url, None);
        assert!(s.metrics_token.is_none());
        let s = load(None, &env(&[("OP_TLS_DOMAIN", "scim.example.com")]))
            .unwrap()
            .exposure;
        assert_eq!(s.plain_http, PlainHttp::Probes, "with TLS probes only");
        let s = load(
            None,
            &env(&[
                ("OP_TLS_DOMAIN", "scim.example.com"),
                ("OP_PLAIN_HTTP", "ALL"),
            ]),
        )
        .unwrap()
        .exposure;
        assert_eq!(s.plain_http, PlainHttp::All);
    }

    #[test]
    fn probes_without_tls_is_a_conflict() {
        let err = load(None, &env(&[("OP_PLAIN_HTTP", "probes")])).unwrap_err();
        assert!(matches!(err, ConfigError::Conflict { .. }), "{err}");
        let err = load(None, &env(&[("OP_PLAIN_HTTP", "some")])).unwrap_err();
        assert!(err.to_string().contains("OP_PLAIN_HTTP"), "{err}");
    }

    #[test]
    fn trusted_proxies_take_addresses_and_ranges() {
        let list = ip_list(" 10.0.0.0/8, 192.168.1.7 ,::1, 172.16.5.4/12").unwrap();
        let text: Vec<String> = list.iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            ["10.0.0.0/8", "192.168.1.7/32", "::1/128", "172.16.0.0/12"]
        );
        assert!(ip_list("").unwrap().is_empty());
        let err = ip_list("10.0.0.0/8, proxy.local").unwrap_err();
        assert!(err.contains("proxy.local"), "{err}");
        assert!(ip_list("10.0.0.0/33").is_err());
    }

    #[test]
    fn public_url_is_validated() {
        assert_eq!(
            public_url("https://scim.example.com/").unwrap(),
            "https://scim.example.com"
        );
        assert_eq!(
            public_url("http://10.0.0.1:8080/bridge").unwrap(),
            "http://10.0.0.1:8080/bridge"
        );
        for bad in [
            "ftp://scim.example.com",
            "scim.example.com",
            "https://scim.example.com/?a=b",
            "https://scim.example.com/#x",
            "https://user:pw@scim.example.com",
            "/scim",
            "",
        ] {
            assert!(public_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_metrics_token_is_a_secret_never_echoed() {
        let s = load(None, &env(&[("OP_METRICS_TOKEN", "m3tr1cs-t0ken-abcdef")]))
            .unwrap()
            .exposure;
        assert_eq!(
            s.metrics_token.as_ref().map(Secret::expose),
            Some("m3tr1cs-t0ken-abcdef")
        );
        assert!(!format!("{s:?}").contains("m3tr1cs"));
        let err = load(None, &env(&[("OP_METRICS_TOKEN", "short secret")])).unwrap_err();
        assert!(!err.to_string().contains("short secret"), "{err}");
        assert!(err.to_string().contains("OP_METRICS_TOKEN"), "{err}");
    }

    #[test]
    fn zero_turns_the_throttle_and_hsts_off() {
        let s = load(
            None,
            &env(&[("OP_AUTH_FAILURE_LIMIT", "0"), ("OP_HSTS_MAX_AGE", "0")]),
        )
        .unwrap()
        .exposure;
        assert_eq!((s.auth_failure_limit, s.hsts_max_age), (0, 0));
        let s = load(None, &env(&[("OP_AUTH_FAILURE_WINDOW", "5m")]))
            .unwrap()
            .exposure;
        assert_eq!(s.auth_failure_window, Duration::from_secs(300));
    }
}
