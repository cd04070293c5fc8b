//! Certificates for the HTTPS edge: where they come from, where they are kept, how they are
//! chosen during a handshake.
//!
//! * [`certificates`]: what the composition root builds from the settings ([`Certificates`]):
//!   the resolver, what `/health` reports, and the one background task.
//! * [`resolver`]: the synchronous rustls resolver over an atomically swapped snapshot, plus
//!   pending TLS-ALPN-01 challenge certificates (RFC 8737).
//! * [`acme`]: one ACME order (RFC 8555) through instant-acme, answered by TLS-ALPN-01.
//! * [`manager`]: the lifecycle — load from the store, publish, renew when a third of the
//!   lifetime remains (or when ACME Renewal Information says, RFC 9773), store lease so one
//!   replica orders, capped exponential backoff, pick up other replicas' certificates.
//! * [`files`]: self-managed PEM files, reloaded when they change.
//! * [`storage`]: the record layout in the store; secrets sealed by [`seal`].
//! * [`pem`]: pure parsing and checks; [`schedule`]: pure renewal timing and backoff.
//!
//! Must not know about HTTP routing, SCIM, or which store backend is in use.

pub mod acme;
pub mod certificates;
pub mod files;
pub mod manager;
pub mod pem;
pub mod resolver;
pub mod schedule;
pub mod seal;
pub mod storage;
#[cfg(test)]
pub(crate) mod test_certs;

use std::{path::PathBuf, sync::Arc};

use arc_swap::ArcSwap;
use time::OffsetDateTime;

pub use certificates::Certificates;
pub use manager::CertManager;
pub use resolver::CertResolver;

/// Everything that can go wrong with certificates, as the composition root sees it.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A self-managed certificate or key file could not be read.
    #[error("cannot read {setting} file {path}")]
    FileRead {
        /// `OP_TLS_CERT_FILE` or `OP_TLS_KEY_FILE`.
        setting: &'static str,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A self-managed certificate or key file is unusable.
    #[error("{setting} file {path} is unusable")]
    FileInvalid {
        /// `OP_TLS_CERT_FILE` or `OP_TLS_KEY_FILE`.
        setting: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        #[source]
        source: pem::PemError,
    },
    /// A certificate obtained or stored is unusable.
    #[error("certificate for {domain} is unusable")]
    Certificate {
        /// The domain.
        domain: String,
        /// What is wrong with it.
        #[source]
        source: pem::PemError,
    },
    /// The CA failed.
    #[error(transparent)]
    Acme(#[from] acme::AcmeError),
    /// The store failed.
    #[error("certificate store access failed")]
    Store(#[from] crate::store::StoreError),
    /// A sealed record could not be opened.
    #[error("stored certificate secrets cannot be opened")]
    Seal(#[from] seal::SealError),
    /// A stored record is not in the shape we write.
    #[error("stored certificate record {key} is corrupt: {reason}")]
    Corrupt {
        /// The record.
        key: String,
        /// What is wrong.
        reason: String,
    },
}

impl TlsError {
    /// True for problems the operator must fix in the configuration (exit code 64).
    pub fn is_config(&self) -> bool {
        matches!(
            self,
            TlsError::FileRead { .. } | TlsError::FileInvalid { .. }
        )
    }
}

/// What `/health` and `cert status` say about the certificate.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CertReport {
    /// The domain served.
    pub domain: String,
    /// `acme` or `files`.
    pub source: &'static str,
    /// The issuer of the certificate served, if any.
    pub issuer: Option<String>,
    /// When the certificate served expires.
    pub not_after: Option<OffsetDateTime>,
    /// When the next renewal (or file check) is planned.
    pub next_renewal: Option<OffsetDateTime>,
    /// The last failure, while failures go on (never a secret).
    pub failure: Option<String>,
    /// Consecutive failures.
    pub failures: u32,
}

/// The cell holding the current [`CertReport`]: shared, replaced atomically by whoever
/// publishes a certificate or a failure, read by `/health`.
pub type CertReportCell = Arc<ArcSwap<CertReport>>;

/// A new cell for `domain`, with nothing served yet.
pub fn cert_report_cell(domain: &str, source: &'static str) -> CertReportCell {
    Arc::new(ArcSwap::from_pointee(CertReport {
        domain: domain.to_owned(),
        source,
        ..CertReport::default()
    }))
}

/// Installs ring as the process's rustls provider (the only one compiled in); idempotent.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
