//! The TLS and ACME settings: `OP_TLS_DOMAIN` turns the HTTPS listener on; the rest refine it.
//! Every error names the setting; the CA bundle is read here so a bad one stops start-up.

use std::{path::PathBuf, time::Duration};

use base64::{
    engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD},
    Engine,
};
use rustls::pki_types::{pem::PemObject, CertificateDer};

use super::{
    parse::{boolean, duration, get, invalid, non_empty, port, Values},
    ConfigError,
};
use crate::edge::AllowList;

/// The default HTTPS port.
pub const DEFAULT_HTTPS_PORT: u16 = 443;
/// Let's Encrypt's production directory (the default).
pub const LETS_ENCRYPT_PRODUCTION: &str = "https://acme-v02.api.letsencrypt.org/directory";
/// Let's Encrypt's staging directory (`OP_ACME_STAGING=1`).
pub const LETS_ENCRYPT_STAGING: &str = "https://acme-staging-v02.api.letsencrypt.org/directory";

/// The HTTPS listener's settings.
#[derive(Clone, Debug)]
pub struct TlsSettings {
    /// The one DNS name served (lower-case).
    pub domain: String,
    /// The HTTPS port.
    pub https_port: u16,
    /// The limit on one TLS handshake.
    pub handshake_timeout: Duration,
    /// `OP_ALLOW_CIDRS`: the client networks admitted (empty: everyone); TLS-ALPN-01
    /// validations for the domain are admitted from anywhere.
    pub allow: AllowList,
    /// Where the certificate comes from.
    pub source: CertSource,
}

/// Where the certificate comes from.
#[derive(Clone, Debug)]
pub enum CertSource {
    /// Obtained and renewed through ACME (TLS-ALPN-01).
    Acme(AcmeSettings),
    /// Self-managed PEM files, reloaded when they change.
    Files {
        /// `OP_TLS_CERT_FILE`: the full chain, leaf first.
        cert: PathBuf,
        /// `OP_TLS_KEY_FILE`: the private key.
        key: PathBuf,
    },
}

/// How to reach the ACME CA.
#[derive(Clone, Debug)]
pub struct AcmeSettings {
    /// The directory URL.
    pub directory_url: String,
    /// Extra roots for the CA's own HTTPS (`OP_ACME_CA_ROOTS`), already read.
    pub ca_roots: Vec<rustls::pki_types::CertificateDer<'static>>,
    /// The account contact address, if any.
    pub email: Option<String>,
    /// External Account Binding: key id and the decoded HMAC key.
    pub eab: Option<(String, SecretBytes)>,
}

/// Secret bytes whose `Debug` output is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretBytes(pub Vec<u8>);

impl std::fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBytes(<redacted>)")
    }
}

/// A DNS name we can get a certificate for: LDH labels (RFC 1123 §2.1), at least two labels,
/// at most 253 characters, not an IP address, no wildcard (TLS-ALPN-01 cannot prove one).
pub(super) fn dns_name(text: &str) -> Result<String, String> {
    let name = text.trim_end_matches('.').to_ascii_lowercase();
    let why = "expected a DNS name such as scim.example.com";
    if name.is_empty() || name.len() > 253 || name.parse::<std::net::IpAddr>().is_ok() {
        return Err(why.into());
    }
    let labels: Vec<&str> = name.split('.').collect();
    let ok = labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
        && !labels
            .last()
            .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()));
    if ok {
        Ok(name)
    } else {
        Err(why.into())
    }
}

fn https_url(text: &str) -> Result<String, String> {
    let uri: http::Uri = text
        .parse()
        .map_err(|_| "expected an https:// URL of an ACME directory".to_owned())?;
    match (uri.scheme_str(), uri.host()) {
        (Some("https"), Some(h)) if !h.is_empty() => Ok(text.to_owned()),
        _ => Err("expected an https:// URL of an ACME directory".into()),
    }
}

fn ca_bundle(text: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let bytes = std::fs::read(text).map_err(|e| format!("cannot read the CA bundle: {e}"))?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| "the CA bundle is not valid PEM".to_owned())?;
    if certs.is_empty() {
        return Err("the CA bundle holds no PEM certificate".into());
    }
    Ok(certs)
}

fn hmac_key(text: &str) -> Result<SecretBytes, String> {
    [URL_SAFE_NO_PAD, URL_SAFE, STANDARD]
        .iter()
        .find_map(|engine| engine.decode(text).ok())
        .filter(|k| !k.is_empty())
        .map(SecretBytes)
        .ok_or_else(|| "expected the base64url HMAC key your CA gave you".into())
}

fn email(text: &str) -> Result<String, String> {
    match text.split_once('@') {
        Some((local, domain)) if !local.is_empty() && dns_name(domain).is_ok() => {
            Ok(text.to_owned())
        }
        _ => Err("expected an e-mail address".into()),
    }
}

fn conflict(reason: &str) -> ConfigError {
    ConfigError::Conflict {
        reason: reason.into(),
    }
}

/// The TLS settings, or `None` when `OP_TLS_DOMAIN` is unset (plain HTTP only).
pub(super) fn settings(
    values: &Values,
    http_port: u16,
) -> Result<Option<TlsSettings>, ConfigError> {
    let cert = get(values, "tls_cert_file", non_empty)?;
    let key = get(values, "tls_key_file", non_empty)?;
    let allow = get(values, "allow_cidrs", AllowList::parse)?.unwrap_or_default();
    let Some(domain) = get(values, "tls_domain", dns_name)? else {
        if !allow.is_empty() {
            return Err(conflict(
                "OP_ALLOW_CIDRS filters the HTTPS listener and needs OP_TLS_DOMAIN (plain HTTP is never filtered)",
            ));
        }
        if cert.is_some() || key.is_some() {
            return Err(conflict(
                "OP_TLS_CERT_FILE and OP_TLS_KEY_FILE need OP_TLS_DOMAIN",
            ));
        }
        return Ok(None);
    };
    let https_port = get(values, "https_port", port)?.unwrap_or(DEFAULT_HTTPS_PORT);
    if https_port == http_port && https_port != 0 {
        return Err(conflict(&format!(
            "OP_HTTPS_PORT must differ from OP_PORT ({http_port})"
        )));
    }
    let handshake_timeout = get(values, "tls_handshake_timeout", duration)?
        .unwrap_or(Duration::from_secs(10))
        .max(Duration::from_millis(100));
    let source = match (cert, key) {
        (Some(cert), Some(key)) => CertSource::Files {
            cert: PathBuf::from(cert),
            key: PathBuf::from(key),
        },
        (Some(_), None) => {
            return Err(conflict(
                "OP_TLS_CERT_FILE is set but OP_TLS_KEY_FILE is not; set both",
            ))
        }
        (None, Some(_)) => {
            return Err(conflict(
                "OP_TLS_KEY_FILE is set but OP_TLS_CERT_FILE is not; set both",
            ))
        }
        (None, None) => CertSource::Acme(acme(values)?),
    };
    Ok(Some(TlsSettings {
        domain,
        https_port,
        handshake_timeout,
        allow,
        source,
    }))
}

fn acme(values: &Values) -> Result<AcmeSettings, ConfigError> {
    let staging = get(values, "acme_staging", boolean)?.unwrap_or(false);
    let directory_url = match (get(values, "acme_directory_url", https_url)?, staging) {
        (Some(_), true) => {
            return Err(conflict(
                "set OP_ACME_DIRECTORY_URL or OP_ACME_STAGING, not both",
            ))
        }
        (Some(url), false) => url,
        (None, true) => LETS_ENCRYPT_STAGING.into(),
        (None, false) => LETS_ENCRYPT_PRODUCTION.into(),
    };
    let kid = get(values, "acme_eab_kid", non_empty)?;
    let hmac = get(values, "acme_eab_hmac_key", hmac_key)?;
    let eab = match (kid, hmac) {
        (Some(kid), Some(hmac)) => Some((kid, hmac)),
        (None, None) => None,
        _ => {
            return Err(conflict(
                "OP_ACME_EAB_KID and OP_ACME_EAB_HMAC_KEY go together; set both",
            ))
        }
    };
    let ca_roots = match values.get("acme_ca_roots") {
        None => Vec::new(),
        Some(raw) => {
            ca_bundle(raw.text.trim()).map_err(|reason| invalid("acme_ca_roots", raw, reason))?
        }
    };
    Ok(AcmeSettings {
        directory_url,
        ca_roots,
        email: get(values, "letsencrypt_email", email)?,
        eab,
    })
}

#[cfg(test)]
mod tests;
