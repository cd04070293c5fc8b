//! Builds the certificate side of the HTTPS edge from settings: the resolver, the certificate
//! report read by `/health`, and the one background task (ACME manager or PEM file watcher).
//!
//! Start-up order matters: self-managed files are loaded (and refused with an error naming the
//! file) and a stored ACME certificate is published before the listener binds, so a restart
//! serves at once. Must not know about the listener or HTTP.

use std::{future::Future, pin::Pin, sync::Arc, time::Duration};

use tokio_util::sync::CancellationToken;

use super::{
    acme::AcmeConfig, cert_report_cell, files::CertFiles, pem, schedule, storage::CertStorage,
    CertManager, CertReport, CertReportCell, CertResolver, TlsError,
};
use crate::{
    config::{CertSource, TlsSettings},
    metrics::Metrics,
    session::EncryptionKey,
    store::SharedStore,
};

/// How often self-managed files are checked for changes.
pub const FILE_CHECK_EVERY: Duration = Duration::from_secs(5);

type Task = Pin<Box<dyn Future<Output = ()> + Send>>;

/// The certificate side, ready to serve.
pub struct Certificates {
    /// The resolver the handshake reads.
    pub resolver: Arc<CertResolver>,
    /// What `/health` reports about the certificate.
    pub report: CertReportCell,
    task: Box<dyn FnOnce(CancellationToken) -> Task + Send>,
}

impl Certificates {
    /// Prepares certificates for `settings`; errors on unusable self-managed files.
    pub async fn prepare(
        settings: &TlsSettings,
        store: SharedStore,
        key: EncryptionKey,
        metrics: Metrics,
        store_timeout: Duration,
    ) -> Result<Self, TlsError> {
        super::install_crypto_provider();
        let resolver = Arc::new(CertResolver::new(&settings.domain));
        match &settings.source {
            CertSource::Files {
                cert,
                key: key_file,
            } => {
                let report = cert_report_cell(&settings.domain, "files");
                let files = CertFiles {
                    cert: cert.clone(),
                    key: key_file.clone(),
                    domain: settings.domain.clone(),
                };
                let fingerprint = files.publish_initial(&resolver, &report, &metrics)?;
                let (r, s) = (Arc::clone(&resolver), Arc::clone(&report));
                Ok(Self {
                    resolver,
                    report,
                    task: Box::new(move |cancel| {
                        Box::pin(files.watch(fingerprint, FILE_CHECK_EVERY, r, s, metrics, cancel))
                    }),
                })
            }
            CertSource::Acme(acme) => {
                let report = cert_report_cell(&settings.domain, "acme");
                let storage = CertStorage::new(
                    Arc::clone(&store),
                    key,
                    &acme.directory_url,
                    &settings.domain,
                );
                let config = AcmeConfig {
                    directory_url: acme.directory_url.clone(),
                    email: acme.email.clone(),
                    derived_email: acme
                        .email
                        .is_none()
                        .then(|| derived_contact(&settings.domain)),
                    eab: acme.eab.as_ref().map(|(kid, k)| (kid.clone(), k.0.clone())),
                    extra_roots: acme.ca_roots.clone(),
                };
                let manager = CertManager::new(
                    Arc::clone(&resolver),
                    storage,
                    config,
                    store,
                    Arc::clone(&report),
                    metrics,
                    store_timeout,
                );
                let serving = manager.publish_stored().await;
                Ok(Self {
                    resolver,
                    report,
                    task: Box::new(move |cancel| Box::pin(serving.run(cancel))),
                })
            }
        }
    }

    /// What the store (or the files) hold now, for `scim-bridge cert status`; no CA contact.
    pub async fn stored_report(
        settings: &TlsSettings,
        store: SharedStore,
        key: EncryptionKey,
    ) -> Result<CertReport, TlsError> {
        let (source, loaded) = match &settings.source {
            CertSource::Files {
                cert,
                key: key_file,
            } => {
                let files = CertFiles {
                    cert: cert.clone(),
                    key: key_file.clone(),
                    domain: settings.domain.clone(),
                };
                ("files", Some(files.load()?.0))
            }
            CertSource::Acme(acme) => {
                let storage = CertStorage::new(store, key, &acme.directory_url, &settings.domain);
                let loaded = match storage.load_cert().await? {
                    None => None,
                    Some(c) => Some(
                        pem::load_pem(
                            c.chain_pem.as_bytes(),
                            c.key_pem.as_bytes(),
                            &settings.domain,
                        )
                        .map_err(|source| TlsError::Certificate {
                            domain: settings.domain.clone(),
                            source,
                        })?,
                    ),
                };
                ("acme", loaded)
            }
        };
        Ok(CertReport {
            domain: settings.domain.clone(),
            source,
            issuer: loaded.as_ref().map(|l| l.meta.issuer.clone()),
            not_after: loaded.as_ref().map(|l| l.meta.not_after),
            // The latest planned time; the running manager jitters it earlier by up to 5 %.
            next_renewal: loaded
                .as_ref()
                .filter(|_| source == "acme")
                .map(|l| schedule::renewal_time(&l.meta, 0.0)),
            failure: None,
            failures: 0,
        })
    }

    /// The background task (renewal or file reload); stops when `cancel` fires.
    pub fn task(self, cancel: CancellationToken) -> (Arc<CertResolver>, CertReportCell, Task) {
        let task = (self.task)(cancel);
        (self.resolver, self.report, task)
    }
}

/// The contact used when `OP_LETSENCRYPT_EMAIL` is unset: `admin@` the parent domain
/// (`scim.example.com` → `admin@example.com`), or the domain itself when it has two labels.
pub(crate) fn derived_contact(domain: &str) -> String {
    let labels: Vec<&str> = domain.trim_end_matches('.').split('.').collect();
    let parent = if labels.len() > 2 {
        labels[1..].join(".")
    } else {
        labels.join(".")
    };
    format!("admin@{parent}")
}

#[cfg(test)]
mod contact_tests {
    use super::derived_contact;

    #[test]
    fn the_default_contact_is_admin_at_the_parent_domain() {
        assert_eq!(derived_contact("scim.example.com"), "admin@example.com");
        assert_eq!(
            derived_contact("scim.corp.example.co.uk"),
            "admin@corp.example.co.uk"
        );
        assert_eq!(derived_contact("example.com"), "admin@example.com");
        assert_eq!(derived_contact("scim.example.com."), "admin@example.com");
    }
}
