//! The raw layer of configuration: every setting's name, and where its text came from.
//!
//! A setting has one name in two spellings: `port` in the TOML file, `OP_PORT` in the environment
//! (the reference deployment's names). This module collects the text of each known setting from
//! the file and the environment (the environment wins) and rejects unknown file keys. It does not
//! interpret values; `config::mod` turns them into typed [`super::Settings`].

use std::collections::BTreeMap;

use super::ConfigError;

/// Every setting the bridge understands, by its TOML key. The environment name is `OP_` + the
/// key in upper case.
pub(crate) const KEYS: &[&str] = &[
    "session",
    "data_dir",
    "store_cache_bytes",
    "bind_address",
    "port",
    "ping_server",
    "ping_port",
    "redis_url",
    "redis_host",
    "redis_port",
    "redis_username",
    "redis_password",
    "redis_enable_ssl",
    "redis_insecure_ssl",
    "redis_key_prefix",
    "redis_wait_replicas",
    "redis_wait_timeout",
    "json_logs",
    "pretty_logs",
    "debug",
    "trace",
    "shutdown_grace",
    "session_reload_interval",
    "token_usage_flush",
    "request_timeout",
    "header_read_timeout",
    "max_body_bytes",
    "max_inflight_body_bytes",
    "max_connections",
    "max_connections_per_client",
    "first_byte_timeout",
    "idle_timeout",
    "write_timeout",
    "store_timeout",
    "events_data",
    "events_retention",
    "events_max",
    "deprovision_limit",
    "deprovision_window",
    "webhook_url",
    "webhook_secret",
    "webhook_timeout",
    "webhook_max_attempts",
    "webhook_max_age",
    "webhook_backoff",
    "webhook_backoff_max",
    "tls_domain",
    "https_port",
    "tls_handshake_timeout",
    "allow_cidrs",
    "tls_cert_file",
    "tls_key_file",
    "acme_directory_url",
    "acme_staging",
    "acme_ca_roots",
    "acme_eab_kid",
    "acme_eab_hmac_key",
    "letsencrypt_email",
    "plain_http",
    "hsts_max_age",
    "public_url",
    "metrics_token",
    "trusted_proxies",
    "auth_failure_limit",
    "auth_failure_window",
    "workspace_credentials",
    "workspace_settings",
    "workspace_api_url",
    "workspace_sync_interval",
    "workspace_groups",
    "workspace_leave",
    "workspace_backoff",
];

/// Settings whose values are secret: never echoed in errors or `check-config` output.
pub(crate) const SECRET_KEYS: &[&str] = &[
    "redis_password",
    "redis_url",
    "acme_eab_hmac_key",
    "metrics_token",
    "webhook_secret",
];

/// Where a setting's text came from; errors name it the way the operator wrote it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// The TOML file, by key.
    File(String),
    /// The environment, by variable name.
    Env(String),
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::File(key) => write!(f, "config key `{key}`"),
            Origin::Env(var) => write!(f, "environment variable {var}"),
        }
    }
}

/// One setting's text and where it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawValue {
    /// The value as text (TOML numbers and booleans are rendered as text).
    pub text: String,
    /// Where it came from.
    pub origin: Origin,
}

/// The environment variable name for a TOML key.
pub(crate) fn env_name(key: &str) -> String {
    format!("OP_{}", key.to_ascii_uppercase())
}

/// What the file and the environment hold, from one parse of the file.
#[derive(Debug, Default)]
pub(crate) struct Collected {
    /// The known settings, the environment's over the file's.
    pub values: BTreeMap<&'static str, RawValue>,
    /// The file's `webhooks` key as written (`[[webhooks]]` tables), read by `config::webhooks`.
    pub webhooks: Option<toml::Value>,
}

/// Collects the known settings from the file text and the environment lookup.
pub(crate) fn collect(
    file_text: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Collected, ConfigError> {
    let mut values = BTreeMap::new();
    let mut webhooks = None;
    if let Some(text) = file_text {
        let table: toml::Table =
            text.parse()
                .map_err(|e: toml::de::Error| ConfigError::FileSyntax {
                    message: e.message().to_owned(),
                })?;
        for (key, value) in table {
            if key == "webhooks" {
                webhooks = Some(value);
                continue;
            }
            let Some(known) = KEYS.iter().find(|k| **k == key) else {
                return Err(ConfigError::UnknownKey { key });
            };
            let text = match value {
                toml::Value::String(s) => s,
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                toml::Value::Float(f) => f.to_string(),
                other => {
                    return Err(ConfigError::Invalid {
                        origin: Origin::File(key),
                        value: other.to_string(),
                        reason: "expected a string, number or boolean".into(),
                    })
                }
            };
            values.insert(
                *known,
                RawValue {
                    text,
                    origin: Origin::File(key),
                },
            );
        }
    }
    for key in KEYS {
        let var = env_name(key);
        if let Some(text) = env(&var) {
            values.insert(
                *key,
                RawValue {
                    text,
                    origin: Origin::Env(var),
                },
            );
        }
    }
    Ok(Collected { values, webhooks })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn environment_overrides_file() {
        let env = |k: &str| (k == "OP_PORT").then(|| "4000".to_owned());
        let values = collect(Some("port = 3000\ndebug = true"), &env)
            .unwrap()
            .values;
        assert_eq!(values["port"].text, "4000");
        assert_eq!(values["port"].origin, Origin::Env("OP_PORT".into()));
        assert_eq!(values["debug"].text, "true");
        assert_eq!(values["debug"].origin, Origin::File("debug".into()));
    }

    #[test]
    fn unknown_file_key_is_named() {
        let err = collect(Some("prot = 3000"), &no_env).unwrap_err();
        assert!(err.to_string().contains("prot"), "{err}");
    }

    #[test]
    fn tables_are_rejected_with_the_key() {
        let err = collect(Some("[port]\nx = 1"), &no_env).unwrap_err();
        assert!(err.to_string().contains("port"), "{err}");
    }

    #[test]
    fn syntax_errors_are_reported() {
        assert!(matches!(
            collect(Some("port = "), &no_env),
            Err(ConfigError::FileSyntax { .. })
        ));
    }
}
