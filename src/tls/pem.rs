//! Pure certificate handling: PEM ↔ a rustls [`CertifiedKey`], and the facts the manager needs
//! from a leaf certificate (validity window, names, issuer).
//!
//! Owns parsing and the checks made before a certificate is served: the chain parses, the key
//! matches the leaf (SubjectPublicKeyInfo comparison), and the leaf covers the domain
//! (RFC 6125 §6.4: exact name, or a `*.` wildcard for exactly one left-most label).
//! Must not know about async, I/O, the store or ACME. Never puts key material in an error.

use std::sync::Arc;

use rustls::{
    crypto::ring::default_provider,
    pki_types::{pem::PemObject, CertificateDer, PrivateKeyDer},
    sign::CertifiedKey,
};
use time::OffsetDateTime;
use x509_parser::{extensions::GeneralName, prelude::FromDer};

/// Why a certificate or key was refused.
#[derive(Debug, thiserror::Error)]
pub enum PemError {
    /// No `CERTIFICATE` block, or one that does not decode.
    #[error("no valid PEM certificate found")]
    NoCertificate,
    /// No private key block (PKCS#8, SEC1 or PKCS#1), or one that does not decode.
    #[error("no valid PEM private key found")]
    NoKey,
    /// The leaf is not a parsable X.509 certificate.
    #[error("the leaf certificate is not valid X.509")]
    BadCertificate,
    /// The key is of an unsupported kind or does not match the leaf certificate.
    #[error("the private key does not match the certificate")]
    KeyMismatch(#[source] rustls::Error),
    /// The leaf's names do not include the domain.
    #[error("the certificate does not cover {domain} (it names: {names})")]
    NotCovering {
        /// The domain we must serve.
        domain: String,
        /// The names the certificate carries.
        names: String,
    },
}

/// What the manager needs to know about a leaf certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertMeta {
    /// The start of validity.
    pub not_before: OffsetDateTime,
    /// The end of validity.
    pub not_after: OffsetDateTime,
    /// The DNS names of the subjectAltName extension, else the subject CN.
    pub names: Vec<String>,
    /// The issuer's distinguished name, for operators.
    pub issuer: String,
}

impl CertMeta {
    /// Reads the leaf certificate.
    pub fn read(leaf: &CertificateDer<'_>) -> Result<Self, PemError> {
        let (_, cert) = x509_parser::certificate::X509Certificate::from_der(leaf.as_ref())
            .map_err(|_| PemError::BadCertificate)?;
        let time = |t: x509_parser::time::ASN1Time| {
            OffsetDateTime::from_unix_timestamp(t.timestamp()).map_err(|_| PemError::BadCertificate)
        };
        let mut names: Vec<String> = match cert.subject_alternative_name() {
            Ok(Some(san)) => san
                .value
                .general_names
                .iter()
                .filter_map(|n| match n {
                    GeneralName::DNSName(d) => Some(d.to_ascii_lowercase()),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        if names.is_empty() {
            names.extend(
                cert.subject()
                    .iter_common_name()
                    .filter_map(|cn| cn.as_str().ok())
                    .map(str::to_ascii_lowercase),
            );
        }
        Ok(Self {
            not_before: time(cert.validity().not_before)?,
            not_after: time(cert.validity().not_after)?,
            names,
            issuer: cert.issuer().to_string(),
        })
    }

    /// Whether the certificate is valid for `domain` (already lower-case).
    pub fn covers(&self, domain: &str) -> bool {
        self.names.iter().any(|n| name_matches(n, domain))
    }

    /// The whole validity period.
    pub fn lifetime(&self) -> time::Duration {
        self.not_after - self.not_before
    }

    /// Whether the certificate has expired at `now`.
    pub fn is_expired(&self, now: OffsetDateTime) -> bool {
        now >= self.not_after
    }
}

/// RFC 6125 §6.4.3: exact match, or `*.rest` matching exactly one extra left-most label.
pub fn name_matches(pattern: &str, domain: &str) -> bool {
    let pattern = pattern.trim_end_matches('.');
    let domain = domain.trim_end_matches('.');
    if pattern.eq_ignore_ascii_case(domain) {
        return true;
    }
    match (pattern.strip_prefix("*."), domain.split_once('.')) {
        (Some(rest), Some((label, parent))) => {
            !label.is_empty() && rest.eq_ignore_ascii_case(parent)
        }
        _ => false,
    }
}

/// A served certificate: the rustls key plus what we know about it.
#[derive(Clone, Debug)]
pub struct Loaded {
    /// The chain and signing key for rustls.
    pub key: Arc<CertifiedKey>,
    /// The leaf's facts.
    pub meta: CertMeta,
}

/// Parses every `CERTIFICATE` block, leaf first.
pub fn parse_chain(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, PemError> {
    let chain = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| PemError::NoCertificate)?;
    if chain.is_empty() {
        return Err(PemError::NoCertificate);
    }
    Ok(chain)
}

/// Parses the first private key block.
pub fn parse_key(pem: &[u8]) -> Result<PrivateKeyDer<'static>, PemError> {
    PrivateKeyDer::from_pem_slice(pem).map_err(|_| PemError::NoKey)
}

/// Builds a servable certificate, checking that the key matches and the leaf covers `domain`.
pub fn load(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    domain: &str,
) -> Result<Loaded, PemError> {
    let meta = CertMeta::read(chain.first().ok_or(PemError::NoCertificate)?)?;
    if !meta.covers(domain) {
        return Err(PemError::NotCovering {
            domain: domain.to_owned(),
            names: meta.names.join(", "),
        });
    }
    let key =
        CertifiedKey::from_der(chain, key, &default_provider()).map_err(PemError::KeyMismatch)?;
    Ok(Loaded {
        key: Arc::new(key),
        meta,
    })
}

/// Parses a chain PEM and a key PEM and builds a servable certificate for `domain`.
pub fn load_pem(chain_pem: &[u8], key_pem: &[u8], domain: &str) -> Result<Loaded, PemError> {
    load(parse_chain(chain_pem)?, parse_key(key_pem)?, domain)
}

#[cfg(test)]
mod tests;
