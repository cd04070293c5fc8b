//! Turns the raw text of each setting into typed values; every error names its origin.

use std::{collections::BTreeMap, net::IpAddr, path::PathBuf, str::FromStr, time::Duration};

use crate::store::redis::{self, Replication};

use super::{
    raw::{RawValue, SECRET_KEYS},
    ConfigError, LogFormat, LogLevel, Secret, SessionLocation, Settings, StoreSettings,
    DEFAULT_DATA_DIR, DEFAULT_PORT, DEFAULT_SESSION,
};

pub(super) type Values = BTreeMap<&'static str, RawValue>;

pub(super) fn invalid(key: &str, raw: &RawValue, reason: impl Into<String>) -> ConfigError {
    let value = if SECRET_KEYS.contains(&key) {
        "<redacted>".to_owned()
    } else {
        raw.text.clone()
    };
    ConfigError::Invalid {
        origin: raw.origin.clone(),
        value,
        reason: reason.into(),
    }
}

pub(super) fn get<T>(
    values: &Values,
    key: &str,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<Option<T>, ConfigError> {
    match values.get(key) {
        None => Ok(None),
        Some(raw) => parse(raw.text.trim())
            .map(Some)
            .map_err(|reason| invalid(key, raw, reason)),
    }
}

/// Parses a boolean the way operators write them: 1/0, true/false, yes/no, on/off.
pub(super) fn boolean(text: &str) -> Result<bool, String> {
    match text.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" | "" => Ok(false),
        _ => Err("expected a boolean (1/0, true/false, yes/no, on/off)".into()),
    }
}

/// Parses a duration: a number with a unit (`ms`, `s`, `m`, `h`), or bare seconds.
pub fn duration(text: &str) -> Result<Duration, String> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| "expected a duration such as 30s, 500ms, 5m or 24h".to_owned())?;
    let d = match unit.trim() {
        "" | "s" => Duration::from_secs(n),
        "ms" => Duration::from_millis(n),
        "m" => Duration::from_secs(n.saturating_mul(60)),
        "h" => Duration::from_secs(n.saturating_mul(3600)),
        other => {
            return Err(format!(
                "unknown duration unit `{other}` (use ms, s, m or h)"
            ))
        }
    };
    Ok(d)
}

/// A port; 0 asks the system for a free one (the bound address is logged at start-up).
pub(super) fn port(text: &str) -> Result<u16, String> {
    text.parse::<u16>()
        .map_err(|_| "expected a port number from 0 to 65535".into())
}

fn events_data(text: &str) -> Result<crate::scim::events::DataMode, String> {
    crate::scim::events::DataMode::parse(text).ok_or_else(|| "expected full or ids".to_owned())
}

pub(super) fn positive(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) | Err(_) => Err("expected a positive whole number".into()),
        Ok(n) => Ok(n),
    }
}

pub(super) fn non_empty(text: &str) -> Result<String, String> {
    if text.is_empty() {
        Err("must not be empty".into())
    } else {
        Ok(text.to_owned())
    }
}

fn any_text(text: &str) -> Result<String, String> {
    Ok(text.to_owned())
}

fn parsed<T: FromStr>(what: &'static str) -> impl Fn(&str) -> Result<T, String> {
    move |text| text.parse().map_err(|_| format!("expected {what}"))
}

/// Percent-encodes a URL userinfo part.
fn userinfo(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn redis_url(text: &str) -> Result<String, String> {
    redis::url::check(text).map(|_| text.to_owned())
}

fn store(values: &Values, store_timeout: Duration) -> Result<StoreSettings, ConfigError> {
    let url = get(values, "redis_url", redis_url)?;
    let host = get(values, "redis_host", non_empty)?;
    let enable_ssl = get(values, "redis_enable_ssl", boolean)?.unwrap_or(false);
    let insecure_tls = get(values, "redis_insecure_ssl", boolean)?.unwrap_or(false);
    let key_prefix = get(values, "redis_key_prefix", non_empty)?.unwrap_or("scim-bridge:".into());
    let port = get(values, "redis_port", port)?;
    let user = get(values, "redis_username", any_text)?;
    let password = get(values, "redis_password", any_text)?;
    let url = match (url, host) {
        (Some(_), Some(_)) => {
            return Err(ConfigError::Conflict {
                reason: "set either OP_REDIS_URL or OP_REDIS_HOST, not both".into(),
            })
        }
        (Some(url), None) => {
            if port.is_some() || user.is_some() || password.is_some() {
                return Err(ConfigError::Conflict {
                    reason: "OP_REDIS_PORT, OP_REDIS_USERNAME and OP_REDIS_PASSWORD go with \
                             OP_REDIS_HOST; put them in OP_REDIS_URL instead"
                        .into(),
                });
            }
            url
        }
        (None, Some(host)) => {
            let scheme = if enable_ssl { "rediss" } else { "redis" };
            let auth = match (user, password) {
                (None, None) => String::new(),
                (u, p) => format!(
                    "{}:{}@",
                    userinfo(&u.unwrap_or_default()),
                    userinfo(&p.unwrap_or_default())
                ),
            };
            let host = if host.contains(':') && !host.starts_with('[') {
                format!("[{host}]")
            } else {
                host
            };
            format!("{scheme}://{auth}{host}:{}", port.unwrap_or(6379))
        }
        (None, None) => {
            if port.is_some() || user.is_some() || password.is_some() {
                return Err(ConfigError::Conflict {
                    reason: "Redis settings are present but neither OP_REDIS_URL nor \
                             OP_REDIS_HOST says where Redis is"
                        .into(),
                });
            }
            let data_dir = get(values, "data_dir", non_empty)?.unwrap_or(DEFAULT_DATA_DIR.into());
            let cache_bytes = get(values, "store_cache_bytes", positive)?
                .unwrap_or(crate::store::embedded::DEFAULT_CACHE_BYTES);
            return Ok(StoreSettings::Embedded {
                data_dir: PathBuf::from(data_dir),
                cache_bytes,
            });
        }
    };
    let url = if enable_ssl {
        redis::url::with_tls(&url)
    } else {
        url
    };
    let replication = replication(values, &url, store_timeout)?;
    Ok(StoreSettings::Redis {
        url: Secret::new(url),
        key_prefix,
        replication,
        insecure_tls,
    })
}

/// `OP_REDIS_WAIT_REPLICAS` and `OP_REDIS_WAIT_TIMEOUT` over the topology's default. The wait
/// must end before the store's command timeout, or a slow replica would read as an outage.
fn replication(
    values: &Values,
    url: &str,
    store_timeout: Duration,
) -> Result<Replication, ConfigError> {
    let topology = redis::url::Topology::of(url).unwrap_or(redis::url::Topology::Single);
    let default = Replication::default_for(topology);
    let replicas = get(
        values,
        "redis_wait_replicas",
        parsed::<u32>("a whole number of replicas"),
    )?;
    let timeout = get(values, "redis_wait_timeout", duration)?;
    let out = Replication {
        replicas: replicas.unwrap_or(default.replicas),
        timeout: timeout.unwrap_or(default.timeout),
    };
    if out.replicas > 0 && (out.timeout.is_zero() || out.timeout >= store_timeout) {
        return Err(ConfigError::Conflict {
            reason: format!(
                "OP_REDIS_WAIT_TIMEOUT ({:?}) must be above zero and below OP_STORE_TIMEOUT \
                 ({store_timeout:?}) while OP_REDIS_WAIT_REPLICAS is {}",
                out.timeout, out.replicas
            ),
        });
    }
    Ok(out)
}

/// How long one store call may take by default.
const DEFAULT_STORE_TIMEOUT: Duration = Duration::from_secs(5);
/// The deprovisioning guard's window when only its limit is set.
const DEFAULT_DEPROVISION_WINDOW: Duration = Duration::from_secs(3600);

/// How often last use is persisted by default: coarse enough to cost nothing, fine enough
/// for "is this token still in use?".
const DEFAULT_TOKEN_USAGE_FLUSH: Duration = Duration::from_secs(30);

/// Connections one client address may hold per listener: far above what an identity
/// provider opens (a few, or one HTTP/2 connection), far below the global cap, so one address
/// cannot take the listener.
const DEFAULT_MAX_CONNECTIONS_PER_CLIENT: usize = 256;

/// How long a connection may sit without a request: longer than identity providers' pauses
/// between requests of one sync burst, in line with common load balancers' idle limits (60 s),
/// and short enough that idle connections do not pile up.
const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

fn at_least_100ms(d: Option<Duration>) -> Option<Duration> {
    d.map(|d| d.max(Duration::from_millis(100)))
}

/// Builds the typed settings.
pub(super) fn settings(values: &Values) -> Result<Settings, ConfigError> {
    let session = match get(values, "session", non_empty)? {
        Some(path) => SessionLocation {
            path: PathBuf::from(path),
            explicit: true,
        },
        None => SessionLocation {
            path: PathBuf::from(DEFAULT_SESSION),
            explicit: false,
        },
    };
    let json = get(values, "json_logs", boolean)?.unwrap_or(false);
    let pretty = get(values, "pretty_logs", boolean)?.unwrap_or(false);
    let log_format = match (json, pretty) {
        (true, _) => LogFormat::Json,
        (false, true) => LogFormat::Pretty,
        (false, false) => LogFormat::Plain,
    };
    let log_level = if get(values, "trace", boolean)?.unwrap_or(false) {
        LogLevel::Trace
    } else if get(values, "debug", boolean)?.unwrap_or(false) {
        LogLevel::Debug
    } else {
        LogLevel::Info
    };
    let port = get(values, "port", port)?.unwrap_or(DEFAULT_PORT);
    let ping_port = if get(values, "ping_server", boolean)?.unwrap_or(false) {
        let ping_port = get(values, "ping_port", self::port)?.unwrap_or(if port == 0 {
            0
        } else {
            port.checked_add(1).unwrap_or(port - 1)
        });
        if ping_port == port && port != 0 {
            return Err(ConfigError::Conflict {
                reason: format!("OP_PING_PORT must differ from OP_PORT ({port})"),
            });
        }
        Some(ping_port)
    } else {
        None
    };
    let tls = super::tls::settings(values, port)?;
    let exposure = super::exposure::settings(values, tls.as_ref())?;
    let max_body_bytes = get(values, "max_body_bytes", positive)?.unwrap_or(4 * 1024 * 1024);
    let store_timeout = get(values, "store_timeout", duration)?.unwrap_or(DEFAULT_STORE_TIMEOUT);
    let window = get(values, "deprovision_window", duration)?;
    Ok(Settings {
        session,
        store: store(values, store_timeout)?,
        bind_address: get(values, "bind_address", parsed::<IpAddr>("an IP address"))?
            .unwrap_or(IpAddr::from([0, 0, 0, 0])),
        port,
        ping_port,
        log_format,
        log_level,
        shutdown_grace: get(values, "shutdown_grace", duration)?.unwrap_or(Duration::from_secs(30)),
        session_reload_interval: get(values, "session_reload_interval", duration)?
            .unwrap_or(Duration::from_secs(5))
            .max(Duration::from_millis(100)),
        token_usage_flush: get(values, "token_usage_flush", duration)?
            .unwrap_or(DEFAULT_TOKEN_USAGE_FLUSH)
            .max(Duration::from_millis(100)),
        request_timeout: get(values, "request_timeout", duration)?
            .unwrap_or(Duration::from_secs(60)),
        header_read_timeout: get(values, "header_read_timeout", duration)?
            .unwrap_or(Duration::from_secs(10)),
        max_body_bytes,
        events_data: get(values, "events_data", events_data)?.unwrap_or_default(),
        events_retention: get(values, "events_retention", duration)?
            .unwrap_or(Duration::from_secs(30 * 24 * 3600))
            .max(Duration::from_secs(1)),
        events_max: get(values, "events_max", positive)?.map_or(1_000_000, |n| n as u64),
        deprovision: get(values, "deprovision_limit", positive)?.map(|limit| {
            crate::scim::deprovision::Settings {
                limit: limit as u64,
                window: window.unwrap_or(DEFAULT_DEPROVISION_WINDOW),
            }
        }),
        max_inflight_body_bytes: get(values, "max_inflight_body_bytes", positive)?
            // Two maximum-size bodies at once (or one and many small ones): 551 MB peak under
            // 16 concurrent 4 MiB PATCHes against 778 MB at four (BENCHMARKS.md, issue 9).
            .unwrap_or(2 * max_body_bytes)
            .max(max_body_bytes),
        max_connections: get(values, "max_connections", positive)?.unwrap_or(10_000),
        max_connections_per_client: get(values, "max_connections_per_client", positive)?
            .unwrap_or(DEFAULT_MAX_CONNECTIONS_PER_CLIENT),
        first_byte_timeout: at_least_100ms(get(values, "first_byte_timeout", duration)?)
            .unwrap_or(Duration::from_secs(10)),
        idle_timeout: at_least_100ms(get(values, "idle_timeout", duration)?)
            .unwrap_or(DEFAULT_IDLE_TIMEOUT),
        write_timeout: at_least_100ms(get(values, "write_timeout", duration)?)
            .unwrap_or(Duration::from_secs(30)),
        store_timeout,
        tls,
        exposure,
        webhooks: Vec::new(),
        delivery: super::webhooks::delivery(values)?,
        workspace: super::workspace::settings(values)?,
    })
}

#[cfg(test)]
mod tests {
    use super::super::load;
    use super::*;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn defaults_use_the_embedded_store_on_3002() {
        let s = load(None, &env_of(&[])).unwrap();
        assert_eq!(s.port, 3002);
        assert_eq!(
            s.store,
            StoreSettings::Embedded {
                data_dir: "data".into(),
                cache_bytes: crate::store::embedded::DEFAULT_CACHE_BYTES,
            }
        );
        assert!(!s.session.explicit);
        assert_eq!(s.log_format, LogFormat::Plain);
        assert_eq!(s.log_level, LogLevel::Info);
        assert_eq!(s.ping_port, None);
    }

    #[test]
    fn redis_url_selects_redis() {
        let s = load(None, &env_of(&[("OP_REDIS_URL", "redis://r:6379")])).unwrap();
        assert!(
            matches!(s.store, StoreSettings::Redis { ref url, .. } if url.expose() == "redis://r:6379")
        );
    }

    #[test]
    fn redis_host_parts_build_an_encoded_url() {
        let env = env_of(&[
            ("OP_REDIS_HOST", "cache"),
            ("OP_REDIS_PORT", "6380"),
            ("OP_REDIS_USERNAME", "bridge"),
            ("OP_REDIS_PASSWORD", "p@ss:w/rd"),
            ("OP_REDIS_ENABLE_SSL", "true"),
        ]);
        let s = load(None, &env).unwrap();
        let StoreSettings::Redis { url, .. } = s.store else {
            panic!("expected redis")
        };
        assert_eq!(url.expose(), "rediss://bridge:p%40ss%3Aw%2Frd@cache:6380");
    }

    #[test]
    fn invalid_values_name_setting_and_value() {
        let err = load(None, &env_of(&[("OP_PORT", "eighty")])).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("OP_PORT") && msg.contains("eighty"), "{msg}");
        let err = load(Some("port = 70000"), &env_of(&[])).unwrap_err();
        assert!(err.to_string().contains("`port`"), "{err}");
        let err = load(None, &env_of(&[("OP_DEBUG", "maybe")])).unwrap_err();
        assert!(err.to_string().contains("OP_DEBUG"), "{err}");
    }

    #[test]
    fn secrets_are_not_echoed_in_errors() {
        let err = load(None, &env_of(&[("OP_REDIS_URL", "http://hunter2@x")])).unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
        assert!(err.to_string().contains("OP_REDIS_URL"), "{err}");
    }

    #[test]
    fn durations_take_units() {
        assert_eq!(duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(duration("24h"), Ok(Duration::from_secs(86_400)));
        assert_eq!(duration("7"), Ok(Duration::from_secs(7)));
        assert!(duration("7d").is_err());
        assert!(duration("soon").is_err());
    }

    #[test]
    fn log_switches() {
        let s = load(
            None,
            &env_of(&[("OP_JSON_LOGS", "1"), ("OP_TRACE", "1"), ("OP_DEBUG", "1")]),
        )
        .unwrap();
        assert_eq!(s.log_format, LogFormat::Json);
        assert_eq!(s.log_level, LogLevel::Trace);
        let s = load(None, &env_of(&[("OP_PRETTY_LOGS", "yes")])).unwrap();
        assert_eq!(s.log_format, LogFormat::Pretty);
    }

    #[test]
    fn ping_server_defaults_next_to_the_main_port() {
        let s = load(
            None,
            &env_of(&[("OP_PING_SERVER", "1"), ("OP_PORT", "8080")]),
        )
        .unwrap();
        assert_eq!(s.ping_port, Some(8081));
        let err = load(
            None,
            &env_of(&[("OP_PING_SERVER", "1"), ("OP_PING_PORT", "3002")]),
        )
        .unwrap_err();
        assert!(matches!(err, ConfigError::Conflict { .. }));
    }

    #[test]
    fn explicit_session_is_marked() {
        let s = load(Some("session = \"/run/secrets/scimsession\""), &env_of(&[])).unwrap();
        assert!(s.session.explicit);
        assert_eq!(s.session.path, PathBuf::from("/run/secrets/scimsession"));
    }

    #[test]
    fn conflicting_redis_settings_are_refused() {
        let env = env_of(&[("OP_REDIS_URL", "redis://a"), ("OP_REDIS_HOST", "b")]);
        assert!(matches!(
            load(None, &env),
            Err(ConfigError::Conflict { .. })
        ));
        let env = env_of(&[("OP_REDIS_PASSWORD", "x")]);
        assert!(matches!(
            load(None, &env),
            Err(ConfigError::Conflict { .. })
        ));
    }

    #[test]
    fn replicas_are_awaited_by_default_only_where_they_exist_to_fail_over() {
        let replication = |pairs: &'static [(&'static str, &'static str)]| {
            load(None, &env_of(pairs)).map(|s| match s.store {
                StoreSettings::Redis { replication, .. } => replication,
                other => panic!("expected redis, got {other:?}"),
            })
        };
        let one = Duration::from_secs(1);
        let single = replication(&[("OP_REDIS_URL", "redis://r:6379")]).unwrap();
        assert_eq!((single.replicas, single.timeout), (0, one));
        let cluster = replication(&[("OP_REDIS_URL", "redis-cluster://a:7000")]).unwrap();
        assert_eq!((cluster.replicas, cluster.timeout), (1, one));
        let set = replication(&[
            (
                "OP_REDIS_URL",
                "redis-sentinel://s:26379?sentinelServiceName=m",
            ),
            ("OP_REDIS_WAIT_REPLICAS", "2"),
            ("OP_REDIS_WAIT_TIMEOUT", "250ms"),
        ])
        .unwrap();
        assert_eq!((set.replicas, set.timeout), (2, Duration::from_millis(250)));
        // A wait as long as the store's timeout would read a slow replica as an outage.
        let err = replication(&[
            ("OP_REDIS_URL", "redis-cluster://a:7000"),
            ("OP_REDIS_WAIT_TIMEOUT", "5s"),
        ])
        .unwrap_err();
        assert!(err.to_string().contains("OP_STORE_TIMEOUT"), "{err}");
        assert!(replication(&[
            ("OP_REDIS_URL", "redis://r:6379"),
            ("OP_REDIS_WAIT_REPLICAS", "many")
        ])
        .is_err());
    }

    #[test]
    fn cluster_and_sentinel_urls_select_redis_and_tls_applies_to_them() {
        let url_of =
            |pairs: &'static [(&'static str, &'static str)]| match load(None, &env_of(pairs)) {
                Ok(s) => match s.store {
                    StoreSettings::Redis { url, .. } => Ok(url.expose().to_owned()),
                    other => panic!("expected redis, got {other:?}"),
                },
                Err(e) => Err(e.to_string()),
            };
        const CLUSTER: &str = "redis-cluster://a:7000?node=b:7001";
        const SENTINEL: &str = "redis-sentinel://s:26379?sentinelServiceName=mymaster";
        assert_eq!(url_of(&[("OP_REDIS_URL", CLUSTER)]).as_deref(), Ok(CLUSTER));
        assert_eq!(
            url_of(&[("OP_REDIS_URL", CLUSTER), ("OP_REDIS_ENABLE_SSL", "true")]).as_deref(),
            Ok("rediss-cluster://a:7000?node=b:7001")
        );
        assert_eq!(
            url_of(&[("OP_REDIS_URL", SENTINEL)]).as_deref(),
            Ok(SENTINEL)
        );
        let err = url_of(&[("OP_REDIS_URL", "redis-sentinel://s:26379")]).unwrap_err();
        assert!(
            err.contains("OP_REDIS_URL") && err.contains("sentinelServiceName"),
            "{err}"
        );
    }

    #[test]
    fn connection_limits_have_safe_defaults_and_the_allowlist_needs_https() {
        let s = load(None, &env_of(&[])).unwrap();
        assert_eq!(s.max_connections_per_client, 256);
        assert_eq!(s.first_byte_timeout, Duration::from_secs(10));
        assert_eq!(s.idle_timeout, Duration::from_secs(60));
        assert_eq!(s.write_timeout, Duration::from_secs(30));
        let s = load(
            None,
            &env_of(&[
                ("OP_TLS_DOMAIN", "scim.example.com"),
                ("OP_ALLOW_CIDRS", "203.0.113.0/24, 2001:db8::/32"),
                ("OP_WRITE_TIMEOUT", "0"),
            ]),
        )
        .unwrap();
        let allow = &s.tls.unwrap().allow;
        assert!(allow.admits("203.0.113.9".parse().unwrap()));
        assert!(!allow.admits("198.51.100.1".parse().unwrap()));
        assert_eq!(s.write_timeout, Duration::from_millis(100), "clamped");
        let err = load(None, &env_of(&[("OP_ALLOW_CIDRS", "10.0.0.0/8")])).unwrap_err();
        assert!(err.to_string().contains("OP_TLS_DOMAIN"), "{err}");
        let err = load(
            None,
            &env_of(&[
                ("OP_TLS_DOMAIN", "scim.example.com"),
                ("OP_ALLOW_CIDRS", "10.0.0.1/8"),
            ]),
        )
        .unwrap_err();
        assert!(err.to_string().contains("OP_ALLOW_CIDRS"), "{err}");
    }
}
