//! The ACME account and ACME Renewal Information (RFC 9773) for the manager: the account is
//! cached, restored from the store or registered; ARI is asked only while the CA offers it.

use std::time::Duration;

use instant_acme::{Account, CertificateIdentifier};
use rand::Rng;
use rustls::pki_types::CertificateDer;
use time::OffsetDateTime;

use super::{chain, CertManager, State};
use crate::tls::{schedule, TlsError};

impl CertManager {
    /// The ARI renewal time (RFC 9773 §4.2), when the CA offers `renewalInfo`.
    pub(super) async fn ari(
        &self,
        st: &mut State,
        leaf: &CertificateDer<'static>,
    ) -> Option<OffsetDateTime> {
        if st.ari_supported == Some(false) {
            return None;
        }
        let account = match self.account(st, false).await {
            Ok(Some(a)) => a,
            _ => return None,
        };
        let id = CertificateIdentifier::try_from(leaf).ok()?;
        match tokio::time::timeout(Duration::from_secs(30), account.renewal_info(&id)).await {
            Ok(Ok((info, retry))) => {
                st.ari_supported = Some(true);
                let retry = retry.clamp(Duration::from_secs(60), Duration::from_secs(6 * 3600));
                st.ari_recheck = Some(tokio::time::Instant::now() + retry);
                let w = info.suggested_window;
                Some(schedule::ari_time(w.start, w.end, rand::thread_rng().gen()))
            }
            Ok(Err(instant_acme::Error::Unsupported(_))) => {
                tracing::debug!(acme.domain = %self.domain, "the CA offers no renewal information; using our own schedule");
                st.ari_supported = Some(false);
                st.ari_recheck = None;
                None
            }
            Ok(Err(e)) => {
                tracing::debug!(error = %chain(&e), "renewal information unavailable");
                st.ari_recheck = Some(tokio::time::Instant::now() + Duration::from_secs(3600));
                None
            }
            Err(_) => None,
        }
    }

    /// The account: cached, restored from the store, or (when `create`) registered.
    pub(super) async fn account(
        &self,
        st: &mut State,
        create: bool,
    ) -> Result<Option<Account>, TlsError> {
        if let Some(a) = &st.account {
            return Ok(Some(a.clone()));
        }
        let stored = match self
            .bounded("loading the account", self.storage.load_account())
            .await
        {
            Ok(s) => s,
            Err(TlsError::Seal(_)) | Err(TlsError::Corrupt { .. }) => {
                tracing::warn!("stored ACME account cannot be opened (session key changed?); registering a new one");
                None
            }
            Err(e) => return Err(e),
        };
        if stored.is_none() && !create {
            return Ok(None);
        }
        let (account, created) = self.acme.account(stored).await?;
        if let Some(creds) = created {
            tracing::info!(acme.domain = %self.domain, "registered an ACME account");
            if let Err(e) = self
                .bounded("saving the account", self.storage.save_account(&creds))
                .await
            {
                tracing::warn!(error = %chain(&e), "ACME account not stored; a restart registers another");
            }
        }
        st.account = Some(account.clone());
        Ok(Some(account))
    }
}
