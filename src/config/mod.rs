//! Configuration: one validated [`Settings`] from a TOML file and `OP_*` environment variables.
//!
//! [`load`] takes the file text and an environment lookup function, so tests never touch the
//! process environment. Each error names the setting the way the operator wrote it (TOML key or
//! environment variable) and the value it rejected (secrets are never echoed). The binary exits
//! with code 64 on any [`ConfigError`], before it binds a port.
//!
//! Must not know about sockets, tasks or SCIM.

mod exposure;
mod parse;
pub mod raw;
mod tls;
mod webhooks;
mod workspace;

pub use exposure::{
    ExposureSettings, PlainHttp, DEFAULT_AUTH_FAILURE_LIMIT, DEFAULT_AUTH_FAILURE_WINDOW,
    DEFAULT_HSTS_MAX_AGE,
};
pub use tls::{
    AcmeSettings, CertSource, SecretBytes, TlsSettings, DEFAULT_HTTPS_PORT,
    LETS_ENCRYPT_PRODUCTION, LETS_ENCRYPT_STAGING,
};
pub use webhooks::{DeliverySettings, WebhookSettings, SECRET_PREFIX as WEBHOOK_SECRET_PREFIX};
pub use workspace::WorkspaceSettings;

use std::{net::IpAddr, path::PathBuf, time::Duration};

pub use parse::duration as parse_duration;
pub use raw::Origin;

/// The default plain-HTTP port, as in the reference deployment.
pub const DEFAULT_PORT: u16 = 3002;
/// The default config file, read when it exists and no other was named.
pub const DEFAULT_CONFIG_FILE: &str = "config/scim-bridge.toml";
/// The default session file path.
pub const DEFAULT_SESSION: &str = "scimsession";
/// The default embedded-store directory.
pub const DEFAULT_DATA_DIR: &str = "data";

/// A configuration problem; the binary exits with code 64.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The TOML file is not valid TOML.
    #[error("config file is not valid TOML: {message}")]
    FileSyntax {
        /// The parser's message.
        message: String,
    },
    /// The config file could not be read.
    #[error("cannot read config file {path}")]
    FileRead {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file has a key that is not a setting.
    #[error("unknown config key `{key}`")]
    UnknownKey {
        /// The key.
        key: String,
    },
    /// A setting's value is not acceptable.
    #[error("invalid value {value:?} for {origin}: {reason}")]
    Invalid {
        /// Where the value came from.
        origin: Origin,
        /// The value, or `<redacted>` for secrets.
        value: String,
        /// Why it was rejected.
        reason: String,
    },
    /// Settings that cannot be used together.
    #[error("conflicting settings: {reason}")]
    Conflict {
        /// What conflicts.
        reason: String,
    },
}

/// A secret string whose `Debug` output is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    /// The secret itself; call only where it is used.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines without colour (the default).
    Plain,
    /// One JSON object per line (`OP_JSON_LOGS=1`).
    Json,
    /// Human-readable lines with colour (`OP_PRETTY_LOGS=1`).
    Pretty,
}

/// How much is logged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    /// Info and above (the default).
    Info,
    /// Debug (`OP_DEBUG=1`).
    Debug,
    /// Trace (`OP_TRACE=1`).
    Trace,
}

/// The session file location and whether the operator chose it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionLocation {
    /// The path.
    pub path: PathBuf,
    /// True when set by `OP_SESSION`/`session`; a missing explicit file is an error, never a
    /// silently created new session.
    pub explicit: bool,
}

/// Where state is kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreSettings {
    /// The embedded store in a data directory.
    Embedded {
        /// The directory.
        data_dir: PathBuf,
        /// The store's own page cache, bytes (`store_cache_bytes`).
        cache_bytes: usize,
    },
    /// Redis.
    Redis {
        /// The connection URL (`redis://`, `redis-cluster://`, `redis-sentinel://`, each also
        /// with TLS as `rediss…`), credentials included.
        url: Secret,
        /// Prefix of every key the bridge writes.
        key_prefix: String,
        /// Accept any server certificate (only with TLS).
        insecure_tls: bool,
        /// Replicas that must hold each write before it is acknowledged, and how long to wait.
        replication: crate::store::redis::Replication,
    },
}

/// The validated settings of `scim-bridge serve`.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The session file.
    pub session: SessionLocation,
    /// The storage backend.
    pub store: StoreSettings,
    /// The address listeners bind to.
    pub bind_address: IpAddr,
    /// The plain-HTTP port.
    pub port: u16,
    /// The separate `/ping` port, when `OP_PING_SERVER` is on.
    pub ping_port: Option<u16>,
    /// Log line format.
    pub log_format: LogFormat,
    /// Log verbosity.
    pub log_level: LogLevel,
    /// How long in-flight requests may run after SIGTERM.
    pub shutdown_grace: Duration,
    /// How often the session file is checked for changes.
    pub session_reload_interval: Duration,
    /// How often tokens' last use is persisted (when it changed), and at shutdown.
    pub token_usage_flush: Duration,
    /// The limit on one request's handling.
    pub request_timeout: Duration,
    /// The limit on reading a request's headers.
    pub header_read_timeout: Duration,
    /// The largest accepted request body.
    pub max_body_bytes: usize,
    /// How much of a resource provisioning events carry (`OP_EVENTS_DATA`: `full` or `ids`).
    pub events_data: crate::scim::events::DataMode,
    /// How long events are kept (`OP_EVENTS_RETENTION`).
    pub events_retention: Duration,
    /// The most events kept (`OP_EVENTS_MAX`).
    pub events_max: u64,
    /// The deprovisioning guard (`OP_DEPROVISION_LIMIT` within `OP_DEPROVISION_WINDOW`), off
    /// unless the limit is set.
    pub deprovision: Option<crate::scim::deprovision::Settings>,
    /// The bytes of request bodies decoded or applied at once across the process (at least
    /// `max_body_bytes`); beyond it requests queue briefly, then get `503`.
    pub max_inflight_body_bytes: usize,
    /// The most connections open at once per listener (at the cap the longest-idle one is
    /// closed for a newcomer).
    pub max_connections: usize,
    /// The most connections open at once per listener from one client address (IPv6: /64).
    pub max_connections_per_client: usize,
    /// The limit from accept (or the end of the TLS handshake) to the client's first bytes.
    pub first_byte_timeout: Duration,
    /// The longest a connection may stay without a request in flight; HTTP/2 PINGs every half.
    pub idle_timeout: Duration,
    /// The longest a response write may make no progress before the connection is closed.
    pub write_timeout: Duration,
    /// The limit on one store call.
    pub store_timeout: Duration,
    /// The HTTPS listener and its certificate, when `OP_TLS_DOMAIN` is set.
    pub tls: Option<TlsSettings>,
    /// Proxies believed, the bearer-failure throttle, HSTS, plain HTTP, public URL, metrics.
    pub exposure: ExposureSettings,
    /// The webhook endpoints events are delivered to.
    pub webhooks: Vec<WebhookSettings>,
    /// How they are delivered to.
    pub delivery: DeliverySettings,
    /// The Google Workspace connector (`OP_WORKSPACE_CREDENTIALS`), off unless set.
    pub workspace: Option<WorkspaceSettings>,
}

/// Builds [`Settings`] from the config file's text (if any) and an environment lookup.
pub fn load(
    file_text: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Settings, ConfigError> {
    let collected = raw::collect(file_text, env)?;
    let mut settings = parse::settings(&collected.values)?;
    settings.webhooks = webhooks::endpoints(collected.webhooks.as_ref(), &collected.values)?;
    Ok(settings)
}

/// Reads the config file: the named one (which must exist), or the default one if present.
pub fn read_file(named: Option<&std::path::Path>) -> Result<Option<String>, ConfigError> {
    let (path, required) = match named {
        Some(p) => (p.to_path_buf(), true),
        None => (PathBuf::from(DEFAULT_CONFIG_FILE), false),
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(ConfigError::FileRead { path, source }),
    }
}

/// The effective settings as `key = value` lines, secrets redacted (for `check-config` and the
/// start-up log).
///
/// Every setting (`raw::KEYS`) that applies has a line under its own TOML key, except those
/// that only shape another one's value: `ping_server` (shown as `ping_port`, `off` when it is
/// off), the `redis_host` family and `redis_enable_ssl` (as the redacted `redis_url`),
/// `json_logs`/`pretty_logs` (as `log_format`), `debug`/`trace` (as `log_level`) and
/// `acme_staging` (as `acme_directory_url`), `deprovision_window` (in `deprovision_limit`),
/// `webhook_url`/`webhook_secret` (as the endpoint
/// `default` in `webhooks`, its secret never shown). Without TLS the TLS settings are one line,
/// `tls = off`; the Redis settings show only with Redis, `data_dir` only without.
pub fn describe(settings: &Settings) -> Vec<(&'static str, String)> {
    let mut lines = vec![
        ("session", settings.session.path.display().to_string()),
        (
            "session_reload_interval",
            format!("{:?}", settings.session_reload_interval),
        ),
        ("bind_address", settings.bind_address.to_string()),
        ("port", settings.port.to_string()),
        (
            "ping_port",
            settings
                .ping_port
                .map_or("off".to_owned(), |p| p.to_string()),
        ),
    ];
    match &settings.store {
        StoreSettings::Embedded {
            data_dir,
            cache_bytes,
        } => {
            lines.push(("store", "embedded".into()));
            lines.push(("data_dir", data_dir.display().to_string()));
            lines.push(("store_cache_bytes", cache_bytes.to_string()));
        }
        StoreSettings::Redis {
            url,
            key_prefix,
            insecure_tls,
            replication,
        } => {
            lines.push(("store", "redis".into()));
            lines.push((
                "redis_url",
                crate::store::redis::url::redacted(url.expose()),
            ));
            lines.push(("redis_key_prefix", key_prefix.clone()));
            lines.push(("redis_insecure_ssl", insecure_tls.to_string()));
            lines.push(("redis_wait_replicas", replication.replicas.to_string()));
            lines.push(("redis_wait_timeout", format!("{:?}", replication.timeout)));
        }
    }
    lines.push(("store_timeout", format!("{:?}", settings.store_timeout)));
    lines.push(("log_format", format!("{:?}", settings.log_format)));
    lines.push(("log_level", format!("{:?}", settings.log_level)));
    lines.push(("shutdown_grace", format!("{:?}", settings.shutdown_grace)));
    lines.push(("request_timeout", format!("{:?}", settings.request_timeout)));
    lines.push((
        "header_read_timeout",
        format!("{:?}", settings.header_read_timeout),
    ));
    lines.push((
        "token_usage_flush",
        format!("{:?}", settings.token_usage_flush),
    ));
    lines.push(("max_body_bytes", settings.max_body_bytes.to_string()));
    lines.push(("events_data", settings.events_data.as_str().to_owned()));
    lines.push((
        "events_retention",
        format!("{:?}", settings.events_retention),
    ));
    lines.push(("events_max", settings.events_max.to_string()));
    lines.push((
        "deprovision_limit",
        settings.deprovision.map_or_else(
            || "off".to_owned(),
            |d| format!("{} within {:?}", d.limit, d.window),
        ),
    ));
    lines.push((
        "workspace_credentials",
        settings
            .workspace
            .as_ref()
            .map_or_else(|| "off".to_owned(), |w| w.credentials.display().to_string()),
    ));
    if let Some(w) = &settings.workspace {
        lines.push(("workspace_settings", w.settings.display().to_string()));
        lines.push(("workspace_api_url", w.api_url.to_string()));
        lines.push(("workspace_sync_interval", format!("{:?}", w.sync_interval)));
        lines.push((
            "workspace_groups",
            match &w.groups {
                None => "from the status page".to_owned(),
                Some(crate::workspace::state::Selection::All) => "*".to_owned(),
                Some(crate::workspace::state::Selection::Groups(g)) => g.join(","),
            },
        ));
        lines.push((
            "workspace_leave",
            match w.leave {
                crate::workspace::sync::Leave::Deactivate => "deactivate",
                crate::workspace::sync::Leave::Delete => "delete",
            }
            .to_owned(),
        ));
        lines.push(("workspace_backoff", format!("{:?}", w.backoff)));
    }
    let endpoints: Vec<String> = settings
        .webhooks
        .iter()
        .map(|w| match &w.types {
            None => format!("{} {}", w.name, w.shown_url()),
            Some(t) => format!("{} {} ({})", w.name, w.shown_url(), t.join(" ")),
        })
        .collect();
    lines.push((
        "webhooks",
        if endpoints.is_empty() {
            "none".to_owned()
        } else {
            endpoints.join("; ")
        },
    ));
    let d = &settings.delivery;
    lines.push(("webhook_timeout", format!("{:?}", d.timeout)));
    lines.push(("webhook_max_attempts", d.max_attempts.to_string()));
    lines.push(("webhook_max_age", format!("{:?}", d.max_age)));
    lines.push(("webhook_backoff", format!("{:?}", d.backoff)));
    lines.push(("webhook_backoff_max", format!("{:?}", d.backoff_max)));
    lines.push((
        "max_inflight_body_bytes",
        settings.max_inflight_body_bytes.to_string(),
    ));
    lines.push(("max_connections", settings.max_connections.to_string()));
    lines.push((
        "max_connections_per_client",
        settings.max_connections_per_client.to_string(),
    ));
    lines.push((
        "first_byte_timeout",
        format!("{:?}", settings.first_byte_timeout),
    ));
    lines.push(("idle_timeout", format!("{:?}", settings.idle_timeout)));
    lines.push(("write_timeout", format!("{:?}", settings.write_timeout)));
    match &settings.tls {
        None => lines.push(("tls", "off".into())),
        Some(tls) => {
            lines.push(("tls_domain", tls.domain.clone()));
            lines.push(("https_port", tls.https_port.to_string()));
            lines.push((
                "tls_handshake_timeout",
                format!("{:?}", tls.handshake_timeout),
            ));
            lines.push(("allow_cidrs", tls.allow.to_string()));
            match &tls.source {
                CertSource::Files { cert, key } => {
                    lines.push(("tls_cert_file", cert.display().to_string()));
                    lines.push(("tls_key_file", key.display().to_string()));
                }
                CertSource::Acme(acme) => {
                    lines.push(("acme_directory_url", acme.directory_url.clone()));
                    lines.push(("acme_ca_roots", format!("{} extra", acme.ca_roots.len())));
                    lines.push((
                        "letsencrypt_email",
                        acme.email.clone().unwrap_or_else(|| "none".into()),
                    ));
                    lines.push((
                        "acme_eab_kid",
                        acme.eab.as_ref().map_or("none".into(), |(k, _)| k.clone()),
                    ));
                    lines.push((
                        "acme_eab_hmac_key",
                        if acme.eab.is_some() {
                            "<redacted>".into()
                        } else {
                            "none".into()
                        },
                    ));
                }
            }
        }
    }
    let e = &settings.exposure;
    let proxies: Vec<String> = e.trusted_proxies.iter().map(ToString::to_string).collect();
    lines.push(("plain_http", format!("{:?}", e.plain_http).to_lowercase()));
    lines.push(("hsts_max_age", e.hsts_max_age.to_string()));
    lines.push((
        "public_url",
        e.public_url
            .clone()
            .unwrap_or_else(|| "from the request".into()),
    ));
    lines.push((
        "metrics_token",
        if e.metrics_token.is_some() {
            "<redacted>".into()
        } else {
            "none (/metrics is 404 over HTTPS)".into()
        },
    ));
    lines.push((
        "trusted_proxies",
        if proxies.is_empty() {
            "none".into()
        } else {
            proxies.join(",")
        },
    ));
    lines.push(("auth_failure_limit", e.auth_failure_limit.to_string()));
    lines.push((
        "auth_failure_window",
        format!("{:?}", e.auth_failure_window),
    ));
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = include_str!("../../config/example.toml");

    #[test]
    fn the_example_file_loads_and_documents_every_setting() {
        let s = load(Some(EXAMPLE), &|_| None).expect("config/example.toml must load");
        assert_eq!(s.port, DEFAULT_PORT);
        for key in raw::KEYS {
            assert!(
                EXAMPLE.contains(&format!("{key} =")),
                "config/example.toml does not document `{key}`"
            );
        }
    }

    #[test]
    fn the_readme_table_lists_every_variable() {
        let readme = include_str!("../../README.md");
        for key in raw::KEYS {
            let var = raw::env_name(key);
            assert!(
                readme.contains(&format!("| `{var}` |")),
                "README lacks {var}"
            );
        }
    }

    /// The settings `describe` folds into another line (see its doc): (setting, line).
    const SHOWN_AS: &[(&str, &str)] = &[
        ("ping_server", "ping_port"),
        ("deprovision_window", "deprovision_limit"),
        ("redis_host", "redis_url"),
        ("redis_port", "redis_url"),
        ("redis_username", "redis_url"),
        ("redis_password", "redis_url"),
        ("redis_enable_ssl", "redis_url"),
        ("json_logs", "log_format"),
        ("pretty_logs", "log_format"),
        ("debug", "log_level"),
        ("trace", "log_level"),
        ("acme_staging", "acme_directory_url"),
        ("webhook_url", "webhooks"),
        ("webhook_secret", "webhooks"),
    ];

    fn described(pairs: &[(&str, &str)]) -> Vec<(&'static str, String)> {
        let env = |k: &str| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        };
        describe(&load(None, &env).expect("the test configuration must load"))
    }

    #[test]
    fn check_config_shows_every_setting_and_no_secret() {
        let (redis_password, metrics_token, hmac_key) = (
            "hunter2-redis",
            "m3tr1cs-t0ken-abcdef",
            "c2VjcmV0LWhtYWMta2V5",
        );
        // The three shapes between them reach every branch of `describe`: the defaults
        // (embedded store, no TLS), Redis with certificate files, and ACME with EAB.
        let shapes = [
            described(&[("OP_METRICS_TOKEN", metrics_token)]),
            described(&[
                ("OP_REDIS_HOST", "cache"),
                ("OP_REDIS_USERNAME", "bridge"),
                ("OP_REDIS_PASSWORD", redis_password),
                ("OP_TLS_DOMAIN", "scim.example.com"),
                ("OP_TLS_CERT_FILE", "/etc/tls/chain.pem"),
                ("OP_TLS_KEY_FILE", "/etc/tls/key.pem"),
                (
                    "OP_WORKSPACE_CREDENTIALS",
                    "/secrets/workspace-credentials.json",
                ),
                ("OP_WORKSPACE_SETTINGS", "/secrets/workspace-settings.json"),
            ]),
            described(&[
                ("OP_TLS_DOMAIN", "scim.example.com"),
                ("OP_LETSENCRYPT_EMAIL", "ops@example.com"),
                ("OP_ACME_EAB_KID", "kid-1"),
                ("OP_ACME_EAB_HMAC_KEY", hmac_key),
            ]),
        ];
        let names: Vec<&str> = shapes.iter().flatten().map(|(name, _)| *name).collect();
        for key in raw::KEYS {
            let line = SHOWN_AS
                .iter()
                .find(|(k, _)| k == key)
                .map_or(*key, |(_, line)| *line);
            assert!(
                names.contains(&line),
                "check-config shows no `{line}` line for the setting `{key}`: add it to \
                 config::describe (or, if it only shapes another setting, to SHOWN_AS and \
                 describe's doc; if it shows only in a case not built here, add that case)"
            );
        }
        for (key, _) in SHOWN_AS {
            assert!(raw::KEYS.contains(key), "SHOWN_AS names an unknown `{key}`");
        }
        for (name, value) in shapes.iter().flatten() {
            for secret in [redis_password, metrics_token, hmac_key] {
                assert!(!value.contains(secret), "{name} = {value} shows a secret");
            }
        }
        let second: Vec<String> = shapes[1]
            .iter()
            .map(|(n, v)| format!("{n} = {v}"))
            .collect();
        assert!(second.contains(&"redis_url = redis://bridge:***@cache:6379".to_owned()));
        let third: Vec<String> = shapes[2]
            .iter()
            .map(|(n, v)| format!("{n} = {v}"))
            .collect();
        assert!(third.contains(&"acme_eab_hmac_key = <redacted>".to_owned()));
        assert!(third.contains(&"letsencrypt_email = ops@example.com".to_owned()));
    }

    #[test]
    fn the_shipped_dev_and_test_files_load() {
        load(Some(include_str!("../../config/dev.toml")), &|_| None).unwrap();
        load(Some(include_str!("../../config/test.toml")), &|_| None).unwrap();
    }
}
