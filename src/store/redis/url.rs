//! The forms of `OP_REDIS_URL`: which topology a URL names, whether it is well formed, and how
//! it is shown without its secrets.
//!
//! fred's `Config::from_url` does the parsing proper; this module owns what the bridge needs
//! before and around it: a clear error at start-up for a URL fred would take but cannot work
//! (a sentinel URL without the master's name), the topology (the key layout depends on it) and
//! redaction of the password and `sentinelPassword`. Must not open connections.

/// How the bridge reaches Redis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Topology {
    /// One node (`redis://`, `rediss://`).
    Single,
    /// A Redis Cluster through seed nodes (`redis-cluster://host?node=host2…`).
    Cluster,
    /// The master that sentinels name (`redis-sentinel://sentinel?sentinelServiceName=…`).
    Sentinel,
}

impl Topology {
    /// The topology of `url`, from its scheme; `None` for a scheme that is not Redis's.
    pub fn of(url: &str) -> Option<Topology> {
        let (scheme, _) = url.split_once("://")?;
        match scheme {
            "redis" | "rediss" => Some(Topology::Single),
            "redis-cluster" | "rediss-cluster" => Some(Topology::Cluster),
            "redis-sentinel" | "rediss-sentinel" => Some(Topology::Sentinel),
            _ => None,
        }
    }

    /// Its name in logs, `/health` and the status page.
    pub fn as_str(self) -> &'static str {
        match self {
            Topology::Single => "single",
            Topology::Cluster => "cluster",
            Topology::Sentinel => "sentinel",
        }
    }
}

/// Checks that `url` names a topology and carries what it needs; the error says what to write.
pub fn check(url: &str) -> Result<Topology, String> {
    let rest = url.split_once("://").map_or("", |(_, rest)| rest);
    match Topology::of(url) {
        Some(_) if rest.is_empty() || rest.starts_with(['?', '/']) => {
            Err("the URL names no host, as in redis://host:6379".into())
        }
        Some(Topology::Sentinel) if query_value(rest, "sentinelServiceName").is_none() => Err(
            "a redis-sentinel:// URL names the master the sentinels watch: \
             add ?sentinelServiceName=mymaster"
                .into(),
        ),
        Some(topology) => Ok(topology),
        None => Err(
            "expected a URL such as redis://host:6379, rediss://host:6380, \
                     redis-cluster://node1:6379?node=node2:6379 or \
                     redis-sentinel://sentinel1:26379?sentinelServiceName=mymaster"
                .into(),
        ),
    }
}

/// `url` in its TLS form (`redis…` becomes `rediss…`), for `OP_REDIS_ENABLE_SSL`.
pub fn with_tls(url: &str) -> String {
    match url.strip_prefix("redis") {
        Some(rest) if rest.starts_with("://") || rest.starts_with('-') => format!("rediss{rest}"),
        _ => url.to_owned(),
    }
}

/// Whether `url` asks for TLS.
pub fn is_tls(url: &str) -> bool {
    url.starts_with("rediss")
}

/// The value of query parameter `name` in `rest` (what follows `scheme://`), when non-empty.
fn query_value<'a>(rest: &'a str, name: &str) -> Option<&'a str> {
    let (_, query) = rest.split_once('?')?;
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, v)| *k == name && !v.is_empty())
        .map(|(_, v)| v)
}

/// `url` with its password and any `sentinelPassword` shown as `***` (the user stays, so an
/// operator can tell which ACL user is configured).
pub fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "<redacted>".into();
    };
    let (authority, query) = match rest.split_once('?') {
        Some((a, q)) => (a, Some(q)),
        None => (rest, None),
    };
    let authority = match authority.rsplit_once('@') {
        Some((user, host)) => {
            let user = user.split(':').next().unwrap_or("");
            format!("{user}:***@{host}")
        }
        None => authority.to_owned(),
    };
    let query = query.map(|q| {
        q.split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, _)) if k.eq_ignore_ascii_case("sentinelPassword") => format!("{k}=***"),
                _ => pair.to_owned(),
            })
            .collect::<Vec<_>>()
            .join("&")
    });
    match query {
        Some(q) => format!("{scheme}://{authority}?{q}"),
        None => format!("{scheme}://{authority}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_scheme_names_its_topology() {
        assert_eq!(check("redis://h:6379"), Ok(Topology::Single));
        assert_eq!(check("rediss://u:p@h:6380/2"), Ok(Topology::Single));
        assert_eq!(
            check("redis-cluster://h1:7000?node=h2:7001&node=h3:7002"),
            Ok(Topology::Cluster)
        );
        assert_eq!(
            check("rediss-sentinel://s1:26379?sentinelServiceName=mymaster&node=s2:26379"),
            Ok(Topology::Sentinel)
        );
    }

    #[test]
    fn a_bad_url_says_what_to_write() {
        for (url, says) in [
            ("http://h:6379", "redis-cluster://"),
            ("h:6379", "redis://host"),
            ("redis://", "no host"),
            ("redis-cluster://?node=h", "no host"),
            ("redis-sentinel://s1:26379", "sentinelServiceName"),
            (
                "redis-sentinel://s1:26379?sentinelServiceName=",
                "sentinelServiceName",
            ),
        ] {
            let err = check(url).expect_err(url);
            assert!(err.contains(says), "{url}: {err}");
        }
    }

    #[test]
    fn tls_is_the_same_url_with_rediss() {
        assert_eq!(with_tls("redis://h:1"), "rediss://h:1");
        assert_eq!(with_tls("redis-cluster://h:1"), "rediss-cluster://h:1");
        assert_eq!(
            with_tls("redis-sentinel://h:1?x=y"),
            "rediss-sentinel://h:1?x=y"
        );
        assert_eq!(with_tls("rediss://h:1"), "rediss://h:1");
        assert!(is_tls("rediss-cluster://h") && !is_tls("redis-cluster://h"));
    }

    #[test]
    fn secrets_are_redacted_and_the_rest_kept() {
        assert_eq!(redacted("redis://u:secret@h:1"), "redis://u:***@h:1");
        assert_eq!(redacted("redis://h:1"), "redis://h:1");
        assert_eq!(redacted("redis://:secret@h:1/0"), "redis://:***@h:1/0");
        let sentinel = redacted(
            "redis-sentinel://u:pw1@s1:26379?sentinelServiceName=m&sentinelUsername=su\
             &sentinelPassword=pw2&node=s2:26379",
        );
        assert!(
            !sentinel.contains("pw1") && !sentinel.contains("pw2"),
            "{sentinel}"
        );
        assert_eq!(
            sentinel,
            "redis-sentinel://u:***@s1:26379?sentinelServiceName=m&sentinelUsername=su\
             &sentinelPassword=***&node=s2:26379"
        );
        assert_eq!(redacted("no scheme"), "<redacted>");
    }
}
