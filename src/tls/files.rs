//! Self-managed certificates: a full chain and a key from PEM files (`OP_TLS_CERT_FILE`,
//! `OP_TLS_KEY_FILE`), checked before serving and reloaded when either file changes.
//!
//! A change that does not load (half-written file, mismatched pair, wrong domain) is logged and
//! reported as degraded health; the previous certificate stays in service.
//! Must not know about ACME, the store or the listener.

use std::{path::PathBuf, sync::Arc, time::Duration};

use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

use super::{
    pem::{self, Loaded, PemError},
    CertReport, CertReportCell, CertResolver, TlsError,
};
use crate::metrics::Metrics;

/// The two files and the domain they must cover.
#[derive(Clone, Debug)]
pub struct CertFiles {
    /// The chain file, leaf first.
    pub cert: PathBuf,
    /// The private key file.
    pub key: PathBuf,
    /// The domain served.
    pub domain: String,
}

type Fingerprint = [u8; 32];

impl CertFiles {
    fn read(&self, setting: &'static str, path: &PathBuf) -> Result<Vec<u8>, TlsError> {
        std::fs::read(path).map_err(|source| TlsError::FileRead {
            setting,
            path: path.clone(),
            source,
        })
    }

    /// Reads and checks both files; every error names the file at fault.
    pub fn load(&self) -> Result<(Loaded, Fingerprint), TlsError> {
        let cert_pem = self.read("OP_TLS_CERT_FILE", &self.cert)?;
        let key_pem = self.read("OP_TLS_KEY_FILE", &self.key)?;
        let fingerprint: Fingerprint = Sha256::new()
            .chain_update(&cert_pem)
            .chain_update(&key_pem)
            .finalize()
            .into();
        let bad = |setting, path: &PathBuf, source| TlsError::FileInvalid {
            setting,
            path: path.clone(),
            source,
        };
        let chain =
            pem::parse_chain(&cert_pem).map_err(|e| bad("OP_TLS_CERT_FILE", &self.cert, e))?;
        let key = pem::parse_key(&key_pem).map_err(|e| bad("OP_TLS_KEY_FILE", &self.key, e))?;
        let loaded = pem::load(chain, key, &self.domain).map_err(|e| match e {
            PemError::KeyMismatch(_) => bad("OP_TLS_KEY_FILE", &self.key, e),
            other => bad("OP_TLS_CERT_FILE", &self.cert, other),
        })?;
        Ok((loaded, fingerprint))
    }

    /// Loads the files and publishes them; used at start-up, where an error stops the bridge.
    pub fn publish_initial(
        &self,
        resolver: &CertResolver,
        report: &CertReportCell,
        metrics: &Metrics,
    ) -> Result<Fingerprint, TlsError> {
        let (loaded, fingerprint) = self.load()?;
        publish(&loaded, resolver, report, metrics, None);
        Ok(fingerprint)
    }

    /// Re-reads the files every `interval` until `cancel`, publishing changes that load.
    pub async fn watch(
        self,
        mut fingerprint: Fingerprint,
        interval: Duration,
        resolver: Arc<CertResolver>,
        report: CertReportCell,
        metrics: Metrics,
        cancel: CancellationToken,
    ) {
        let mut last: Option<Loaded> = None;
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(interval) => {}
            }
            let files = self.clone();
            let result = tokio::task::spawn_blocking(move || files.load()).await;
            match result {
                Ok(Ok((loaded, fp))) if fp != fingerprint => {
                    fingerprint = fp;
                    tracing::info!(acme.domain = %self.domain, not_after = %loaded.meta.not_after, "certificate files changed; reloaded");
                    publish(&loaded, &resolver, &report, &metrics, None);
                    last = Some(loaded);
                }
                Ok(Ok(_)) => {
                    if let Some(l) = &last {
                        set_expiry(l, &metrics);
                    }
                    if report.load().failure.is_some() {
                        report.rcu(|s| CertReport {
                            failure: None,
                            failures: 0,
                            ..(**s).clone()
                        });
                    }
                }
                Ok(Err(e)) => {
                    let msg = crate::error_chain::chain(&e);
                    tracing::warn!(error = %msg, "certificate files not reloaded; the previous certificate stays in service");
                    report.rcu(|s| CertReport {
                        failure: Some(msg.clone()),
                        failures: s.failures + 1,
                        ..(**s).clone()
                    });
                }
                Err(e) => tracing::error!(error = %e, "certificate file reload task failed"),
            }
        }
    }
}

fn set_expiry(loaded: &Loaded, metrics: &Metrics) {
    metrics.set_cert_expiry((loaded.meta.not_after - OffsetDateTime::now_utc()).whole_seconds());
}

/// Publishes a loaded certificate to the resolver, the certificate report and the expiry gauge.
pub(crate) fn publish(
    loaded: &Loaded,
    resolver: &CertResolver,
    report: &CertReportCell,
    metrics: &Metrics,
    next_renewal: Option<OffsetDateTime>,
) {
    resolver.publish(Arc::clone(&loaded.key));
    set_expiry(loaded, metrics);
    report.rcu(|s| CertReport {
        issuer: Some(loaded.meta.issuer.clone()),
        not_after: Some(loaded.meta.not_after),
        next_renewal,
        failure: None,
        failures: 0,
        ..(**s).clone()
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::test_certs::{issue, Validity};

    #[test]
    fn errors_name_the_file_at_fault() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
        let files = CertFiles {
            cert: cert.clone(),
            key: key.clone(),
            domain: "a.test".into(),
        };
        let err = files.load().unwrap_err();
        assert!(
            err.is_config() && err.to_string().contains("c.pem"),
            "{err}"
        );
        let a = issue(&["a.test"], Validity::days(-1, 10));
        let b = issue(&["a.test"], Validity::days(-1, 10));
        std::fs::write(&cert, &a.chain_pem).unwrap();
        std::fs::write(&key, &b.key_pem).unwrap();
        let err = files.load().unwrap_err();
        assert!(
            err.to_string().contains("OP_TLS_KEY_FILE") && err.to_string().contains("k.pem"),
            "{err}"
        );
        std::fs::write(&key, &a.key_pem).unwrap();
        assert!(files.load().is_ok());
        let other = CertFiles {
            domain: "b.test".into(),
            ..files
        };
        let err = other.load().unwrap_err();
        assert!(err.to_string().contains("OP_TLS_CERT_FILE"), "{err}");
    }
}
