//! Webhook endpoints: `[[webhooks]]` tables in the TOML file (`name`, `url`, `secret`, optional
//! `types`), or one endpoint named `default` from `OP_WEBHOOK_URL` and `OP_WEBHOOK_SECRET`; and
//! the delivery policy every endpoint shares (`webhook_timeout`, `webhook_max_attempts`,
//! `webhook_max_age`, `webhook_backoff`, `webhook_backoff_max`).

use std::time::Duration;

use base64::{engine::general_purpose::STANDARD, Engine};

use super::{
    parse::{duration, get, positive, Values},
    raw::Origin,
    ConfigError, SecretBytes,
};

/// The prefix of a Standard Webhooks secret.
pub const SECRET_PREFIX: &str = "whsec_";

/// One endpoint events are delivered to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookSettings {
    /// Its name: lower-case letters, digits, `-` and `_`, unique; it names the endpoint's
    /// cursor and dead letters in the store, so renaming an endpoint starts it afresh.
    pub name: String,
    /// Where each event is POSTed (`https`, or `http` to a loopback address).
    pub url: http::Uri,
    /// The signing key (the bytes of the `whsec_…` value).
    pub secret: SecretBytes,
    /// The event types delivered (`None`: every type).
    pub types: Option<Vec<String>>,
}

impl WebhookSettings {
    /// The URL without its query (which may hold a credential), for logs and the status page.
    pub fn shown_url(&self) -> String {
        let u = &self.url;
        format!(
            "{}://{}{}",
            u.scheme_str().unwrap_or("https"),
            u.authority().map_or("", |a| a.as_str()),
            u.path()
        )
    }

    /// Whether events of `kind` go to this endpoint.
    pub fn wants(&self, kind: &str) -> bool {
        self.types
            .as_ref()
            .is_none_or(|types| types.iter().any(|t| t == kind))
    }
}

/// How every endpoint is delivered to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeliverySettings {
    /// The limit on one delivery attempt (connect, send, answer).
    pub timeout: Duration,
    /// Attempts at one event before it goes to the dead letters.
    pub max_attempts: u32,
    /// An event still failing this long after it was written goes to the dead letters.
    pub max_age: Duration,
    /// The pause after a first failure; each further failure doubles it.
    pub backoff: Duration,
    /// The longest pause between attempts.
    pub backoff_max: Duration,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            max_attempts: 12,
            max_age: Duration::from_secs(24 * 3600),
            backoff: Duration::from_secs(1),
            backoff_max: Duration::from_secs(600),
        }
    }
}

/// The delivery policy from its settings.
pub(super) fn delivery(values: &Values) -> Result<DeliverySettings, ConfigError> {
    let d = DeliverySettings::default();
    let backoff = get(values, "webhook_backoff", duration)?
        .unwrap_or(d.backoff)
        .max(Duration::from_millis(10));
    Ok(DeliverySettings {
        timeout: get(values, "webhook_timeout", duration)?
            .unwrap_or(d.timeout)
            .max(Duration::from_millis(100)),
        max_attempts: get(values, "webhook_max_attempts", positive)?
            .map_or(d.max_attempts, |n| u32::try_from(n).unwrap_or(u32::MAX)),
        max_age: get(values, "webhook_max_age", duration)?.unwrap_or(d.max_age),
        backoff,
        backoff_max: get(values, "webhook_backoff_max", duration)?
            .unwrap_or(d.backoff_max)
            .max(backoff),
    })
}

/// The endpoints: the file's `[[webhooks]]` tables, then `default` from the environment.
pub(super) fn endpoints(
    file_tables: Option<&toml::Value>,
    values: &Values,
) -> Result<Vec<WebhookSettings>, ConfigError> {
    let mut out = Vec::new();
    if let Some(list) = file_tables {
        let tables = list.as_array().ok_or_else(|| ConfigError::Invalid {
            origin: Origin::File("webhooks".into()),
            value: list.to_string(),
            reason: "expected [[webhooks]] tables".into(),
        })?;
        for (i, t) in tables.iter().enumerate() {
            out.push(from_table(i, t)?);
        }
    }
    match (values.get("webhook_url"), values.get("webhook_secret")) {
        (Some(url), Some(secret)) => out.push(WebhookSettings {
            name: "default".into(),
            url: parse_url(&url.text).map_err(|reason| ConfigError::Invalid {
                origin: url.origin.clone(),
                value: url.text.clone(),
                reason,
            })?,
            secret: parse_secret(&secret.text).map_err(|reason| ConfigError::Invalid {
                origin: secret.origin.clone(),
                value: "<redacted>".into(),
                reason,
            })?,
            types: None,
        }),
        (None, None) => {}
        _ => {
            return Err(ConfigError::Conflict {
                reason: "OP_WEBHOOK_URL and OP_WEBHOOK_SECRET go together: set both or neither"
                    .into(),
            })
        }
    }
    for (i, a) in out.iter().enumerate() {
        if out[..i].iter().any(|b| b.name == a.name) {
            return Err(ConfigError::Conflict {
                reason: format!("two webhook endpoints are named {:?}", a.name),
            });
        }
    }
    Ok(out)
}

fn from_table(i: usize, value: &toml::Value) -> Result<WebhookSettings, ConfigError> {
    let origin = |field: &str| Origin::File(format!("webhooks[{i}].{field}"));
    let invalid = |field: &str, value: String, reason: String| ConfigError::Invalid {
        origin: origin(field),
        value,
        reason,
    };
    let table = value
        .as_table()
        .ok_or_else(|| invalid("", value.to_string(), "expected a table".into()))?;
    for key in table.keys() {
        if !["name", "url", "secret", "types"].contains(&key.as_str()) {
            return Err(ConfigError::UnknownKey {
                key: format!("webhooks[{i}].{key}"),
            });
        }
    }
    let text = |field: &str| -> Result<String, ConfigError> {
        match table.get(field) {
            Some(toml::Value::String(s)) => Ok(s.clone()),
            Some(other) => Err(invalid(
                field,
                other.to_string(),
                "expected a string".into(),
            )),
            None => Err(invalid(field, String::new(), "required".into())),
        }
    };
    let name = text("name")?;
    let valid_name = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if !valid_name {
        return Err(invalid(
            "name",
            name,
            "use 1 to 64 lower-case letters, digits, - and _".into(),
        ));
    }
    let url = text("url")?;
    let url = parse_url(&url).map_err(|reason| invalid("url", url, reason))?;
    let secret =
        parse_secret(&text("secret")?).map_err(|r| invalid("secret", "<redacted>".into(), r))?;
    let types = match table.get("types") {
        None => None,
        Some(toml::Value::Array(items)) => {
            let mut types = Vec::new();
            for item in items {
                match item.as_str() {
                    Some(t) if crate::scim::events::TYPES.contains(&t) => types.push(t.to_owned()),
                    _ => {
                        return Err(invalid(
                            "types",
                            item.to_string(),
                            format!(
                                "not an event type; use {}",
                                crate::scim::events::TYPES.join(", ")
                            ),
                        ))
                    }
                }
            }
            Some(types)
        }
        Some(other) => {
            return Err(invalid(
                "types",
                other.to_string(),
                "expected a list of event types".into(),
            ))
        }
    };
    Ok(WebhookSettings {
        name,
        url,
        secret,
        types,
    })
}

/// An endpoint URL: `https`, or `http` to a loopback address (a receiver on the same host).
fn parse_url(text: &str) -> Result<http::Uri, String> {
    let uri: http::Uri = text
        .trim()
        .parse()
        .map_err(|_| "expected a URL such as https://app.example.com/hooks/scim".to_owned())?;
    crate::outbound::allowed(&uri)?;
    Ok(uri)
}

/// A `whsec_` secret: base64 of 24 to 64 random bytes (the Standard Webhooks form).
fn parse_secret(text: &str) -> Result<SecretBytes, String> {
    let why = "expected whsec_ followed by base64 of 24 to 64 bytes \
               (e.g. from: echo whsec_$(openssl rand -base64 32))";
    let b64 = text.trim().strip_prefix(SECRET_PREFIX).ok_or(why)?;
    let bytes = STANDARD.decode(b64).map_err(|_| why)?;
    if !(24..=64).contains(&bytes.len()) {
        return Err(why.into());
    }
    Ok(SecretBytes(bytes))
}

#[cfg(test)]
mod tests {
    use super::super::load;
    use super::*;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    }

    #[test]
    fn tables_and_the_environment_make_endpoints() {
        let file = format!(
            "[[webhooks]]\nname = \"billing\"\nurl = \"https://billing.example.com/hooks?key=x\"\n\
             secret = \"{SECRET}\"\ntypes = [\"user.created\", \"user.deactivated\"]\n"
        );
        let s = load(
            Some(&file),
            &env(&[
                ("OP_WEBHOOK_URL", "http://127.0.0.1:9000/in"),
                ("OP_WEBHOOK_SECRET", SECRET),
            ]),
        )
        .unwrap();
        assert_eq!(s.webhooks.len(), 2);
        let billing = &s.webhooks[0];
        assert_eq!(billing.name, "billing");
        assert_eq!(billing.shown_url(), "https://billing.example.com/hooks");
        assert!(billing.wants("user.created") && !billing.wants("group.created"));
        assert_eq!(billing.secret.0.len(), 24);
        assert_eq!(s.webhooks[1].name, "default");
        assert!(s.webhooks[1].wants("group.members.added"));
        assert_eq!(s.delivery, DeliverySettings::default());
    }

    #[test]
    fn bad_endpoints_are_refused_with_their_field() {
        for (file, needle) in [
            (format!("[[webhooks]]\nname = \"a\"\nurl = \"http://example.com/x\"\nsecret = \"{SECRET}\""), "loopback"),
            (format!("[[webhooks]]\nname = \"A b\"\nurl = \"https://e.com\"\nsecret = \"{SECRET}\""), "webhooks[0].name"),
            ("[[webhooks]]\nname = \"a\"\nurl = \"https://e.com\"\nsecret = \"nope\"".to_owned(), "whsec_"),
            (format!("[[webhooks]]\nname = \"a\"\nurl = \"https://e.com\"\nsecret = \"{SECRET}\"\ntypes = [\"user.exploded\"]"), "not an event type"),
            (format!("[[webhooks]]\nname = \"a\"\nurl = \"https://e.com\"\nsecret = \"{SECRET}\"\ncolour = 1"), "webhooks[0].colour"),
            (format!("[[webhooks]]\nname = \"a\"\nurl = \"https://e.com\"\nsecret = \"{SECRET}\"\n[[webhooks]]\nname = \"a\"\nurl = \"https://f.com\"\nsecret = \"{SECRET}\""), "two webhook endpoints"),
            ("[[webhooks]]\nurl = \"https://e.com\"".to_owned(), "webhooks[0].name"),
            ("webhooks = \"https://e.com\"".to_owned(), "expected [[webhooks]] tables"),
        ] {
            let err = load(Some(&file), &env(&[])).unwrap_err().to_string();
            assert!(err.contains(needle), "{file}: {err}");
            assert!(!err.contains("MfKQ9r8G"), "the secret is never echoed: {err}");
        }
        let err = load(None, &env(&[("OP_WEBHOOK_URL", "https://e.com")])).unwrap_err();
        assert!(err.to_string().contains("go together"), "{err}");
        assert!(load(
            None,
            &env(&[
                ("OP_WEBHOOK_URL", "http://[::1]:80/x"),
                ("OP_WEBHOOK_SECRET", SECRET)
            ])
        )
        .is_ok());
        assert!(load(
            None,
            &env(&[
                ("OP_WEBHOOK_URL", "http://localhost/x"),
                ("OP_WEBHOOK_SECRET", SECRET)
            ])
        )
        .is_ok());
    }

    #[test]
    fn the_delivery_policy_has_floors() {
        let s = load(
            None,
            &env(&[
                ("OP_WEBHOOK_BACKOFF", "1ms"),
                ("OP_WEBHOOK_BACKOFF_MAX", "0ms"),
                ("OP_WEBHOOK_MAX_ATTEMPTS", "3"),
            ]),
        )
        .unwrap();
        assert_eq!(s.delivery.backoff, Duration::from_millis(10));
        assert_eq!(s.delivery.backoff_max, Duration::from_millis(10));
        assert_eq!(s.delivery.max_attempts, 3);
    }
}
