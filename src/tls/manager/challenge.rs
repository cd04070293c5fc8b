//! TLS-ALPN-01 answers shared across replicas: the replica that orders serves the challenge
//! certificate itself and writes the key-authorization digest to the store; every other replica
//! sees the change notice and serves an equivalent certificate (the CA checks only the name and
//! the acmeIdentifier digest, RFC 8737 §3), so the validation may reach any replica.

use std::time::Duration;

use crate::tls::acme::{challenge_cert, AcmeError, ChallengeResponder};

use super::{chain, CertManager};

/// How long the ordering replica gives the others to pick a shared challenge up. Only a shared
/// store has other replicas; on the embedded store there is nobody to wait for, and the wait
/// would only delay the first certificate. Redis pub/sub delivers in milliseconds.
fn share_delay(shared: bool) -> Duration {
    if shared {
        Duration::from_millis(150)
    } else {
        Duration::ZERO
    }
}

/// The responder used while this replica orders.
pub(super) struct Shared<'a> {
    pub(super) manager: &'a CertManager,
}

#[async_trait::async_trait]
impl ChallengeResponder for Shared<'_> {
    async fn publish(&self, domain: &str, digest: &[u8; 32]) -> Result<(), AcmeError> {
        let m = self.manager;
        m.resolver
            .set_challenge(domain, challenge_cert(domain, digest)?);
        match m
            .bounded("sharing the challenge", m.storage.save_challenge(digest))
            .await
        {
            Ok(()) => tokio::time::sleep(share_delay(m.store.shared())).await,
            Err(e) => {
                tracing::warn!(error = %chain(&e), "challenge not shared; only this replica can answer it")
            }
        }
        Ok(())
    }

    async fn withdraw(&self, domain: &str) {
        let m = self.manager;
        m.resolver.clear_challenge(domain);
        if let Err(e) = m
            .bounded("withdrawing the challenge", m.storage.delete_challenge())
            .await
        {
            tracing::debug!(error = %chain(&e), "shared challenge not withdrawn");
        }
    }
}

impl CertManager {
    /// Serves (or stops serving) the challenge another replica shared.
    pub(super) async fn sync_challenge(&self) {
        match self
            .bounded("loading the challenge", self.storage.load_challenge())
            .await
        {
            Ok(Some(digest)) => match challenge_cert(&self.domain, &digest) {
                Ok(key) => {
                    tracing::info!(acme.domain = %self.domain, "answering a challenge shared by another replica");
                    self.resolver.set_challenge(&self.domain, key);
                }
                Err(e) => tracing::warn!(error = %chain(&e), "shared challenge not served"),
            },
            Ok(None) => self.resolver.clear_challenge(&self.domain),
            Err(e) => tracing::debug!(error = %chain(&e), "shared challenge not loaded"),
        }
    }
}
