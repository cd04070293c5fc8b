//! OAuth 2.0 for a service account (RFC 7523 JWT-bearer, as Google documents it): an RS256
//! assertion (`iss` the service account, `sub` the actor, `scope`, `aud` the key's
//! `token_uri`, valid one hour) is exchanged at `token_uri` for an access token, which is kept
//! until shortly before it expires.
//!
//! Neither the key, the assertion nor the token reaches a log line or an error message: the
//! token's `Debug` is redacted, and errors carry Google's `error` code and description only.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::Full;
use tokio::sync::Mutex;

use super::key::ServiceAccount;
use crate::outbound::{self, HttpClient};

/// The read-only scopes the connector asks for (and the README tells administrators to grant).
pub const SCOPES: [&str; 3] = [
    "https://www.googleapis.com/auth/admin.directory.user.readonly",
    "https://www.googleapis.com/auth/admin.directory.group.readonly",
    "https://www.googleapis.com/auth/admin.directory.group.member.readonly",
];

/// How long an assertion is valid: Google accepts at most an hour.
const ASSERTION_LIFETIME_SECS: i64 = 3600;
/// A token is renewed this long before it expires, so no request carries a stale one.
const EARLY: Duration = Duration::from_secs(120);
/// The largest token answer read.
const MAX_ANSWER: usize = 64 * 1024;

/// An access token; its `Debug` never shows it.
#[derive(Clone)]
pub struct AccessToken(Arc<str>);

impl AccessToken {
    /// The `Authorization` header value.
    pub fn header(&self) -> http::HeaderValue {
        let mut v = http::HeaderValue::try_from(format!("Bearer {}", self.0))
            .unwrap_or_else(|_| http::HeaderValue::from_static("Bearer invalid"));
        v.set_sensitive(true);
        v
    }
}

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AccessToken(<redacted>)")
    }
}

/// Why no token could be had.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// The token endpoint refused the assertion (a bad key, a missing delegation, a disabled
    /// account): retrying will not help until an administrator acts.
    #[error("the token endpoint refused the service account ({status} {error}: {description})")]
    Refused {
        /// Its HTTP status.
        status: u16,
        /// Its OAuth `error` code (`invalid_grant`, `unauthorized_client`, …).
        error: String,
        /// Its `error_description`.
        description: String,
    },
    /// It could not be reached or answered something else; retried later.
    #[error("the token endpoint is unavailable: {0}")]
    Unavailable(String),
}

/// The claims of an assertion.
#[derive(serde::Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    scope: String,
    aud: String,
    iat: i64,
    exp: i64,
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A signed assertion for `actor` at unix time `now`.
pub fn assertion(account: &ServiceAccount, actor: &str, now: i64) -> String {
    let mut header = serde_json::json!({"alg": "RS256", "typ": "JWT"});
    if let Some(kid) = &account.key_id {
        header["kid"] = kid.as_str().into();
    }
    let claims = Claims {
        iss: &account.client_email,
        sub: actor,
        scope: SCOPES.join(" "),
        aud: account.token_uri.to_string(),
        iat: now,
        exp: now + ASSERTION_LIFETIME_SECS,
    };
    let signed = format!(
        "{}.{}",
        b64(&serde_json::to_vec(&header).expect("a header serialises")),
        b64(&serde_json::to_vec(&claims).expect("claims serialise")),
    );
    let signature = account.sign(signed.as_bytes());
    format!("{signed}.{}", b64(&signature))
}

#[derive(serde::Deserialize)]
struct Granted {
    access_token: String,
    expires_in: Option<u64>,
}

#[derive(serde::Deserialize, Default)]
struct Refusal {
    #[serde(default)]
    error: String,
    #[serde(default)]
    error_description: String,
}

/// A cached access token and its renewal.
pub struct Tokens {
    account: ServiceAccount,
    actor: String,
    client: HttpClient,
    timeout: Duration,
    cached: Mutex<Option<(AccessToken, Instant)>>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("account", &self.account)
            .finish_non_exhaustive()
    }
}

impl Tokens {
    /// Tokens for `account` acting as `actor`, each exchange bounded by `timeout`.
    pub fn new(
        account: ServiceAccount,
        actor: String,
        client: HttpClient,
        timeout: Duration,
    ) -> Self {
        Self {
            account,
            actor,
            client,
            timeout,
            cached: Mutex::new(None),
        }
    }

    /// The service account's email (for reports).
    pub fn account_email(&self) -> &str {
        &self.account.client_email
    }

    /// A token valid for at least a little while: the cached one, or a new one.
    pub async fn get(&self) -> Result<AccessToken, TokenError> {
        let mut cached = self.cached.lock().await;
        if let Some((token, until)) = cached.as_ref() {
            if Instant::now() < *until {
                return Ok(token.clone());
            }
        }
        let (token, lifetime) = self.exchange().await?;
        let until = Instant::now() + lifetime.saturating_sub(EARLY);
        *cached = Some((token.clone(), until));
        Ok(token)
    }

    /// Drops the cached token (the API said it is no longer valid).
    pub async fn forget(&self) {
        *self.cached.lock().await = None;
    }

    async fn exchange(&self) -> Result<(AccessToken, Duration), TokenError> {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let assertion = assertion(&self.account, &self.actor, now);
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer")
            .append_pair("assertion", &assertion)
            .finish();
        let req = http::Request::post(self.account.token_uri.clone())
            .header(
                http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(http::header::ACCEPT, "application/json")
            .header(
                http::header::USER_AGENT,
                concat!("scim-bridge/", env!("CARGO_PKG_VERSION")),
            )
            .body(Full::new(Bytes::from(form)))
            .map_err(|_| TokenError::Unavailable("cannot build the token request".into()))?;
        let answer = outbound::exchange(&self.client, req, MAX_ANSWER, self.timeout)
            .await
            .map_err(TokenError::Unavailable)?;
        let status = answer.status.as_u16();
        if answer.status.is_success() {
            let granted: Granted = serde_json::from_slice(&answer.body).map_err(|_| {
                TokenError::Unavailable("the token endpoint answered no access_token".into())
            })?;
            let lifetime = Duration::from_secs(granted.expires_in.unwrap_or(3600).max(1));
            return Ok((AccessToken(granted.access_token.into()), lifetime));
        }
        let refusal: Refusal = serde_json::from_slice(&answer.body).unwrap_or_default();
        // 400 and 401 are Google's answers to a bad assertion; a 5xx or 429 passes.
        if (400..500).contains(&status) && status != 429 {
            return Err(TokenError::Refused {
                status,
                error: clean(&refusal.error),
                description: clean(&refusal.error_description),
            });
        }
        Err(TokenError::Unavailable(format!(
            "the token endpoint answered {status}"
        )))
    }
}

/// Google's words, bounded and printable (they are logged and shown).
fn clean(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = include_str!("../../tests/fixtures/workspace/test-key.pem");

    fn account() -> ServiceAccount {
        let file = serde_json::json!({
            "type": "service_account",
            "project_id": "p",
            "private_key_id": "k1",
            "private_key": KEY,
            "client_email": "sync@p.iam.gserviceaccount.com",
            "token_uri": "https://oauth2.googleapis.com/token",
        });
        ServiceAccount::parse(file.to_string().as_bytes()).expect("a valid key file")
    }

    #[test]
    fn the_assertion_has_googles_claims_and_an_rs256_signature() {
        let a = assertion(&account(), "admin@example.com", 1_700_000_000);
        let parts: Vec<&str> = a.split('.').collect();
        assert_eq!(parts.len(), 3);
        let decode = |p: &str| {
            serde_json::from_slice::<serde_json::Value>(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(p)
                    .unwrap(),
            )
            .unwrap()
        };
        assert_eq!(
            decode(parts[0]),
            serde_json::json!({"alg": "RS256", "typ": "JWT", "kid": "k1"})
        );
        let claims = decode(parts[1]);
        assert_eq!(claims["iss"], "sync@p.iam.gserviceaccount.com");
        assert_eq!(claims["sub"], "admin@example.com");
        assert_eq!(claims["aud"], "https://oauth2.googleapis.com/token");
        assert_eq!(claims["iat"], 1_700_000_000);
        assert_eq!(claims["exp"], 1_700_003_600);
        assert_eq!(claims["scope"].as_str().unwrap().split(' ').count(), 3);
        // A 2048-bit key signs 256 bytes.
        let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(parts[2])
            .unwrap();
        assert_eq!(sig.len(), 256);
    }

    #[test]
    fn a_key_file_is_checked_and_never_shown() {
        let a = account();
        let shown = format!("{a:?}");
        assert!(
            !shown.contains("PRIVATE") && !shown.contains("MII"),
            "{shown}"
        );
        let bad = |file: serde_json::Value| {
            ServiceAccount::parse(file.to_string().as_bytes()).unwrap_err()
        };
        let e = bad(serde_json::json!({"type": "authorized_user"}));
        assert!(e.contains("service_account"), "{e}");
        let e = bad(
            serde_json::json!({"type": "service_account", "client_email": "a@b",
            "private_key": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
            "token_uri": "https://oauth2.googleapis.com/token"}),
        );
        assert!(e.contains("private_key") && !e.contains("AAAA"), "{e}");
        let e = bad(
            serde_json::json!({"type": "service_account", "client_email": "a@b",
            "private_key": KEY, "token_uri": "http://oauth2.googleapis.com/token"}),
        );
        assert!(e.contains("loopback"), "{e}");
        let local = serde_json::json!({"type": "service_account", "client_email": "a@b",
            "private_key": KEY, "token_uri": "http://127.0.0.1:9/token"});
        assert!(ServiceAccount::parse(local.to_string().as_bytes()).is_ok());
        assert!(format!("{:?}", AccessToken("ya29.secret".into())).contains("redacted"));
    }
}
