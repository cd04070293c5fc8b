//! The two files of the reference deployment: the service-account key
//! (`workspace-credentials.json`, Google's JSON key format) and `workspace-settings.json`
//! (`actor`, the administrator the service account acts as; `bridgeAddress`).
//!
//! The connector reads both files before each sync and parses them here. The private key is
//! parsed into a signer and never kept as text; no `Debug` output or error message holds it.

use ring::{rand::SystemRandom, signature::RsaKeyPair};
use rustls::pki_types::{pem::PemObject, PrivatePkcs8KeyDer};

/// A service account's key: who it is, where to exchange assertions, and the signer.
pub struct ServiceAccount {
    /// `client_email`: the JWT's issuer.
    pub client_email: String,
    /// `private_key_id`: the JWT header's `kid`, so Google knows which key signed.
    pub key_id: Option<String>,
    /// `token_uri`: where the assertion is exchanged, and its audience.
    pub token_uri: http::Uri,
    signer: RsaKeyPair,
}

impl std::fmt::Debug for ServiceAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccount")
            .field("client_email", &self.client_email)
            .field("key_id", &self.key_id)
            .field("token_uri", &self.token_uri)
            .finish_non_exhaustive()
    }
}

#[derive(serde::Deserialize)]
struct KeyJson {
    #[serde(rename = "type")]
    kind: Option<String>,
    client_email: Option<String>,
    private_key_id: Option<String>,
    private_key: Option<String>,
    token_uri: Option<String>,
}

/// `https`, or `http` to a loopback address only (a test's stand-in of Google).
pub fn checked_url(text: &str) -> Result<http::Uri, String> {
    let uri: http::Uri = text.trim().parse().map_err(|_| "is not a URL".to_owned())?;
    crate::outbound::allowed(&uri)?;
    Ok(uri)
}

impl ServiceAccount {
    /// Parses a key file's bytes; the error names what is wrong, never a value.
    pub fn parse(text: &[u8]) -> Result<Self, String> {
        let file: KeyJson = serde_json::from_slice(text)
            .map_err(|e| format!("invalid JSON at line {}", e.line()))?;
        if file.kind.as_deref() != Some("service_account") {
            return Err("`type` is not \"service_account\"".into());
        }
        let field = |v: Option<String>, name: &str| {
            v.filter(|s| !s.trim().is_empty())
                .ok_or_else(|| format!("`{name}` is missing"))
        };
        let client_email = field(file.client_email, "client_email")?;
        let pem = field(file.private_key, "private_key")?;
        let token_uri = field(file.token_uri, "token_uri")?;
        let token_uri = checked_url(&token_uri).map_err(|why| format!("`token_uri` {why}"))?;
        let der = PrivatePkcs8KeyDer::from_pem_slice(pem.as_bytes())
            .map_err(|_| "`private_key` is not a PEM PKCS#8 private key".to_owned())?;
        let signer = RsaKeyPair::from_pkcs8(der.secret_pkcs8_der())
            .map_err(|_| "`private_key` is not an RSA key of 2048 bits or more".to_owned())?;
        Ok(Self {
            client_email,
            key_id: file.private_key_id.filter(|s| !s.is_empty()),
            token_uri,
            signer,
        })
    }

    /// An RS256 (RSASSA-PKCS1-v1_5 with SHA-256) signature of `message`.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        let mut signature = vec![0; self.signer.public().modulus_len()];
        self.signer
            .sign(
                &ring::signature::RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                message,
                &mut signature,
            )
            .expect("RSA PKCS#1 signing fails only on a wrong buffer length");
        signature
    }
}

/// `workspace-settings.json`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SettingsFile {
    /// The administrator the service account acts as (the JWT's `sub`).
    pub actor: String,
    /// The bridge's address: the base of `meta.location` in the events a sync writes.
    pub bridge_address: Option<String>,
}

#[derive(serde::Deserialize)]
struct SettingsJson {
    actor: Option<String>,
    #[serde(rename = "bridgeAddress")]
    bridge_address: Option<String>,
}

impl SettingsFile {
    /// Parses a settings file's bytes.
    pub fn parse(text: &[u8]) -> Result<Self, String> {
        let file: SettingsJson = serde_json::from_slice(text)
            .map_err(|e| format!("invalid JSON at line {}", e.line()))?;
        let actor = file
            .actor
            .map(|a| a.trim().to_owned())
            .filter(|a| a.contains('@'))
            .ok_or("`actor` must be the email address of a Workspace administrator")?;
        Ok(Self {
            actor,
            bridge_address: file.bridge_address.filter(|b| !b.is_empty()),
        })
    }
}
