//! Ordering under the store lease, and what a failure does: count it, back off (capped,
//! jittered; at least [`RATE_LIMIT_WAIT`] after `rateLimited`), report it, keep serving.

use std::time::Duration;

use instant_acme::CertificateIdentifier;
use rand::Rng;
use time::OffsetDateTime;

use super::{chain, challenge, CertManager, State, LEASE_BUSY_RETRY, LEASE_TTL, ORDER_TIMEOUT};
use crate::store::guard::within;
use crate::tls::{
    acme::{self, AcmeError},
    files::publish,
    pem, schedule,
    storage::StoredCert,
    CertReport, TlsError,
};

/// The least wait after the CA said we are rate limited.
const RATE_LIMIT_WAIT: Duration = Duration::from_secs(900);

impl CertManager {
    /// Takes the lease and orders, unless another replica is at it or has just finished.
    pub(super) async fn attempt(&self, st: &mut State) {
        let lease = self.storage.lease_name();
        let taken = within(
            self.store_timeout,
            || "taking the order lease".into(),
            self.store.acquire_lease(&lease, &self.holder, LEASE_TTL),
        )
        .await;
        match taken {
            Ok(true) => {}
            Ok(false) => {
                tracing::debug!(acme.domain = %self.domain, "another replica is ordering");
                st.next = OffsetDateTime::now_utc() + LEASE_BUSY_RETRY;
                return;
            }
            Err(e) => return self.failed(st, &TlsError::Store(e)).await,
        }
        // Another replica may have stored a fresh certificate just before we got the lease.
        if self.refresh(st).await {
            self.plan(st).await;
        }
        if OffsetDateTime::now_utc() >= st.next {
            match self.order(st).await {
                Ok(()) => self.plan(st).await,
                Err(e) => self.failed(st, &e).await,
            }
        }
        let _ = within(
            self.store_timeout,
            || "giving up the order lease".into(),
            self.store.release_lease(&lease, &self.holder),
        )
        .await;
    }

    async fn order(&self, st: &mut State) -> Result<(), TlsError> {
        let started = std::time::Instant::now();
        let account = self
            .account(st, true)
            .await?
            .expect("create=true always yields an account");
        let replaces = match (&st.current, st.ari_supported) {
            (Some((_, leaf)), Some(true)) => CertificateIdentifier::try_from(leaf)
                .ok()
                .map(|i| i.into_owned()),
            _ => None,
        };
        tracing::info!(acme.domain = %self.domain, directory = %self.acme.directory_url, "ordering a certificate");
        let issued = tokio::time::timeout(
            ORDER_TIMEOUT,
            acme::order(
                &account,
                &self.domain,
                &challenge::Shared { manager: self },
                replaces,
            ),
        )
        .await
        .map_err(|_| AcmeError::Timeout { step: "order" })??;
        for _ in 0..issued.validations {
            self.metrics.acme_challenge("valid");
        }
        let loaded = pem::load_pem(
            issued.chain_pem.as_bytes(),
            issued.key_pem.as_bytes(),
            &self.domain,
        )
        .map_err(|source| TlsError::Certificate {
            domain: self.domain.clone(),
            source,
        })?;
        publish(&loaded, &self.resolver, &self.report, &self.metrics, None);
        self.metrics.acme_order("issued");
        tracing::info!(acme.domain = %self.domain, not_after = %loaded.meta.not_after, took_ms = started.elapsed().as_millis() as u64, "certificate issued and served");
        st.current = Some((loaded.meta, loaded.key.cert[0].clone()));
        st.failures = 0;
        st.unsaved = Some(StoredCert {
            chain_pem: issued.chain_pem,
            key_pem: issued.key_pem,
        });
        self.persist_unsaved(st).await;
        Ok(())
    }

    async fn failed(&self, st: &mut State, e: &TlsError) {
        st.failures += 1;
        let (outcome, least) = match e {
            TlsError::Acme(a) if a.is_rate_limited() => (
                "rate_limited",
                Some(
                    a.retry_after()
                        .unwrap_or(RATE_LIMIT_WAIT)
                        .max(RATE_LIMIT_WAIT),
                ),
            ),
            TlsError::Acme(AcmeError::Timeout { .. }) => ("timeout", None),
            TlsError::Acme(AcmeError::Invalid { .. }) => {
                self.metrics.acme_challenge("invalid");
                ("invalid", None)
            }
            TlsError::Store(_) => ("store_error", None),
            _ => ("failed", None),
        };
        self.metrics.acme_order(outcome);
        let msg = chain(e);
        if msg.contains("accountDoesNotExist") {
            st.account = None;
            let _ = self
                .bounded("forgetting the account", self.storage.delete_account())
                .await;
        }
        let delay = schedule::backoff(st.failures, rand::thread_rng().gen_range(0.8..1.2), least);
        st.next = OffsetDateTime::now_utc() + delay;
        tracing::warn!(error = %msg, acme.domain = %self.domain, failures = st.failures, retry_in_s = delay.as_secs(), "certificate renewal failed; the current certificate stays in service");
        self.report.rcu(|s| CertReport {
            failure: Some(msg.clone()),
            failures: st.failures,
            next_renewal: Some(st.next),
            ..(**s).clone()
        });
    }
}
