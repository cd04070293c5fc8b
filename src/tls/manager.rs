//! The certificate lifecycle for ACME: load from the store, publish, renew, persist.
//!
//! [`CertManager::publish_stored`] serves a valid stored certificate before the listener binds
//! and returns a [`Serving`] manager; [`Serving::run`] is then the one task per process (the
//! renewal loop, `CertManager::renew_loop`). It wakes when the planned renewal time comes,
//! when the store's change feed says another replica stored a certificate, and at least every
//! [`RELOAD_EVERY`] (in case a notice was lost). Before ordering it takes a store lease, so one
//! replica orders while the others pick the result up from the store. A failing CA only delays
//! the next attempt (capped exponential backoff, [`super::schedule`]); the current certificate
//! stays in service. A new certificate is published to the resolver first and persisted second:
//! a store outage never stops us serving it (the write is retried on the next wake).
//! Must not know the backend kind or the listener.

use std::{sync::Arc, time::Duration};

use instant_acme::Account;
use rand::Rng;
use rustls::pki_types::CertificateDer;
use time::OffsetDateTime;
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

use super::{
    acme::AcmeConfig,
    files::publish,
    pem::{self, CertMeta},
    schedule,
    storage::{CertStorage, StoredCert},
    CertReport, CertReportCell, CertResolver, TlsError,
};
use crate::{
    metrics::Metrics,
    store::{Change, SharedStore},
};

mod account;
mod challenge;
mod order;

/// The longest sleep between two looks at the store.
pub const RELOAD_EVERY: Duration = Duration::from_secs(60);
/// The limit on one whole order, validation and download included.
const ORDER_TIMEOUT: Duration = Duration::from_secs(180);
/// The ordering lease outlives the order's time limit.
const LEASE_TTL: Duration = Duration::from_secs(240);
/// How soon to look again while another replica holds the lease.
const LEASE_BUSY_RETRY: Duration = Duration::from_secs(15);

pub(crate) use crate::error_chain::chain;

/// Owns the ACME certificate of one domain.
pub struct CertManager {
    domain: String,
    resolver: Arc<CertResolver>,
    storage: CertStorage,
    acme: AcmeConfig,
    store: SharedStore,
    holder: String,
    report: CertReportCell,
    metrics: Metrics,
    store_timeout: Duration,
}

/// A manager whose stored certificate, if any, is already served; [`Serving::run`] renews it.
pub struct Serving {
    manager: CertManager,
    state: State,
}

impl Serving {
    /// Runs the lifecycle (the renewal loop) until `cancel`.
    pub async fn run(self, cancel: CancellationToken) {
        self.manager.renew_loop(self.state, cancel).await
    }
}

/// What the loop knows between wakes.
struct State {
    current: Option<(CertMeta, CertificateDer<'static>)>,
    next: OffsetDateTime,
    jitter: f64,
    account: Option<Account>,
    ari_supported: Option<bool>,
    ari_recheck: Option<tokio::time::Instant>,
    failures: u32,
    unsaved: Option<StoredCert>,
}

impl CertManager {
    /// A manager for the resolver's domain, keeping its records through `storage`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        resolver: Arc<CertResolver>,
        storage: CertStorage,
        acme: AcmeConfig,
        store: SharedStore,
        report: CertReportCell,
        metrics: Metrics,
        store_timeout: Duration,
    ) -> Self {
        Self {
            domain: resolver.domain().to_owned(),
            resolver,
            storage,
            acme,
            store,
            holder: uuid::Uuid::new_v4().to_string(),
            report,
            metrics,
            store_timeout,
        }
    }

    async fn bounded<T>(
        &self,
        what: &'static str,
        fut: impl std::future::Future<Output = Result<T, TlsError>>,
    ) -> Result<T, TlsError> {
        crate::store::guard::within(self.store_timeout, || what.into(), fut).await
    }

    /// The renewal loop's first state, after publishing a valid stored certificate if there is
    /// one (so a restart serves at once).
    async fn initial_state(&self) -> State {
        let mut st = State {
            current: None,
            next: OffsetDateTime::now_utc(),
            jitter: rand::thread_rng().gen(),
            account: None,
            ari_supported: None,
            ari_recheck: None,
            failures: 0,
            unsaved: None,
        };
        self.refresh(&mut st).await;
        st
    }

    /// Publishes the stored certificate (if valid) and returns the manager serving it, ready to
    /// run; call before listening.
    pub async fn publish_stored(self) -> Serving {
        let state = self.initial_state().await;
        Serving {
            manager: self,
            state,
        }
    }

    /// The renewal loop: wakes, picks up stored certificates, renews when due, until `cancel`.
    async fn renew_loop(self, mut st: State, cancel: CancellationToken) {
        let mut changes = Some(self.store.watch());
        let cert_key = self.storage.cert_key();
        let challenge_key = self.storage.challenge_key();
        self.plan(&mut st).await;
        loop {
            let now = OffsetDateTime::now_utc();
            let until = (st.next - now).max(time::Duration::ZERO);
            let cap = if st.unsaved.is_some() {
                Duration::from_secs(5)
            } else {
                RELOAD_EVERY
            };
            let sleep = Duration::try_from(until).unwrap_or(Duration::ZERO).min(cap);
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(sleep) => {}
                change = async { changes.as_mut().expect("guarded by the if").recv().await }, if changes.is_some() => {
                    match change {
                        Ok(Change::Record(k)) if k == challenge_key => {
                            self.sync_challenge().await;
                            continue;
                        }
                        Ok(Change::Record(k)) if k == cert_key => {}
                        Ok(_) => continue,
                        Err(RecvError::Lagged(_)) => {}
                        Err(RecvError::Closed) => { changes = None; continue; }
                    }
                }
            }
            self.persist_unsaved(&mut st).await;
            if self.refresh(&mut st).await {
                self.plan(&mut st).await;
            }
            if let Some((meta, _)) = &st.current {
                self.metrics.set_cert_expiry(schedule::seconds_until(
                    OffsetDateTime::now_utc(),
                    meta.not_after,
                ));
            }
            if st
                .ari_recheck
                .is_some_and(|t| tokio::time::Instant::now() >= t)
                && st.failures == 0
            {
                self.plan(&mut st).await;
            }
            if OffsetDateTime::now_utc() >= st.next {
                self.attempt(&mut st).await;
            }
        }
    }

    /// Publishes the stored certificate when it is newer than ours; returns whether it did.
    async fn refresh(&self, st: &mut State) -> bool {
        let stored = match self
            .bounded("loading the certificate", self.storage.load_cert())
            .await
        {
            Ok(Some(s)) => s,
            Ok(None) => return false,
            Err(e) => {
                tracing::warn!(error = %chain(&e), acme.domain = %self.domain, "stored certificate not loaded");
                return false;
            }
        };
        let loaded = match pem::load_pem(
            stored.chain_pem.as_bytes(),
            stored.key_pem.as_bytes(),
            &self.domain,
        ) {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %chain(&e), acme.domain = %self.domain, "stored certificate unusable; ignoring it");
                return false;
            }
        };
        let newer = st
            .current
            .as_ref()
            .is_none_or(|(m, _)| loaded.meta.not_after > m.not_after);
        if !newer || loaded.meta.is_expired(OffsetDateTime::now_utc()) {
            return false;
        }
        tracing::info!(acme.domain = %self.domain, not_after = %loaded.meta.not_after, "serving the stored certificate");
        publish(&loaded, &self.resolver, &self.report, &self.metrics, None);
        st.current = Some((loaded.meta, loaded.key.cert[0].clone()));
        st.failures = 0;
        true
    }

    /// Sets the next renewal time from the certificate (and ARI when the CA offers it).
    async fn plan(&self, st: &mut State) {
        let Some((meta, leaf)) = st.current.clone() else {
            st.next = OffsetDateTime::now_utc();
            return;
        };
        let mut at = schedule::renewal_time(&meta, st.jitter);
        if let Some(ari) = self.ari(st, &leaf).await {
            at = ari.min(meta.not_after);
        }
        st.next = at;
        self.report.rcu(|s| CertReport {
            next_renewal: Some(at),
            ..(**s).clone()
        });
        tracing::info!(acme.domain = %self.domain, next_renewal = %at, "renewal planned");
    }

    async fn persist_unsaved(&self, st: &mut State) {
        let Some(cert) = st.unsaved.take() else {
            return;
        };
        match self
            .bounded("saving the certificate", self.storage.save_cert(&cert))
            .await
        {
            Ok(()) => tracing::info!(acme.domain = %self.domain, "certificate stored"),
            Err(e) => {
                tracing::warn!(error = %chain(&e), "certificate not stored yet; serving it and retrying");
                st.unsaved = Some(cert);
            }
        }
    }
}
