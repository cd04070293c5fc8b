//! The ACME client's side of the conversation before any order: its own HTTPS (system roots
//! plus every certificate of `OP_ACME_CA_ROOTS`) and the account (restored from stored
//! credentials, or registered with optional External Account Binding, RFC 8555 §7.3.4).

use std::{sync::Arc, time::Duration};

use bytes::Bytes;
use hyper_util::{client::legacy::connect::HttpConnector, rt::TokioExecutor};
use instant_acme::{
    Account, AccountCredentials, BodyWrapper, ExternalAccountKey, HttpClient, NewAccount,
};
use rustls::{crypto::ring::default_provider, pki_types::CertificateDer};

use super::{step, AcmeError};

/// How to reach and register with the CA.
#[derive(Clone)]
pub struct AcmeConfig {
    /// The directory URL.
    pub directory_url: String,
    /// The account contact, as an e-mail address (without `mailto:`).
    pub email: Option<String>,
    /// The contact derived from the domain when none was set; dropped if the CA refuses it.
    pub derived_email: Option<String>,
    /// External Account Binding: key id and HMAC key bytes.
    pub eab: Option<(String, Vec<u8>)>,
    /// Roots trusted for the CA's HTTPS besides the system's.
    pub extra_roots: Vec<CertificateDer<'static>>,
}

impl std::fmt::Debug for AcmeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AcmeConfig")
            .field("directory_url", &self.directory_url)
            .field("email", &self.email)
            .field("derived_email", &self.derived_email)
            .field("eab", &self.eab.as_ref().map(|(kid, _)| kid))
            .field("extra_roots", &self.extra_roots.len())
            .finish()
    }
}

impl AcmeConfig {
    /// An HTTPS client trusting the system roots plus every certificate of `extra_roots`
    /// (instant-acme's `builder_with_root` would trust only the first one).
    fn http_client(&self) -> Result<Box<dyn HttpClient>, AcmeError> {
        let mut roots = rustls::RootCertStore::empty();
        let native = rustls_native_certs::load_native_certs();
        roots.add_parsable_certificates(native.certs);
        for root in &self.extra_roots {
            roots
                .add(root.clone())
                .map_err(|e| AcmeError::Client(format!("a CA root was refused: {e}")))?;
        }
        if roots.is_empty() {
            return Err(AcmeError::Client(
                "no trusted roots (install ca-certificates or set OP_ACME_CA_ROOTS)".into(),
            ));
        }
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| AcmeError::Client(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(Duration::from_secs(10)));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_only()
            .enable_http1()
            .enable_http2()
            .wrap_connector(http);
        let client: hyper_util::client::legacy::Client<_, BodyWrapper<Bytes>> =
            hyper_util::client::legacy::Client::builder(TokioExecutor::new()).build(https);
        Ok(Box::new(client))
    }

    /// Restores the stored account, or registers a new one (returning its credentials to keep).
    pub async fn account(
        &self,
        stored: Option<AccountCredentials>,
    ) -> Result<(Account, Option<AccountCredentials>), AcmeError> {
        let builder = Account::builder_with_http(self.http_client()?);
        if let Some(creds) = stored {
            let account = step("account restore", builder.from_credentials(creds)).await?;
            return Ok((account, None));
        }
        let mut builder_slot = Some(builder);
        let eab = self
            .eab
            .as_ref()
            .map(|(kid, key)| ExternalAccountKey::new(kid.clone(), key));
        // An address the operator set is always used. One derived from the domain is a guess
        // (as the reference bridge makes); if the CA refuses it, register without a contact
        // rather than never getting a certificate.
        let attempts: Vec<Option<&String>> = match (&self.email, &self.derived_email) {
            (Some(e), _) => vec![Some(e)],
            (None, Some(d)) => vec![Some(d), None],
            (None, None) => vec![None],
        };
        let mut last = None;
        for (i, email) in attempts.iter().enumerate() {
            let contact = email.map(|e| format!("mailto:{e}"));
            let contact: Vec<&str> = contact.iter().map(String::as_str).collect();
            let new = NewAccount {
                contact: &contact,
                terms_of_service_agreed: true,
                only_return_existing: false,
            };
            let builder = if i == 0 {
                builder_slot
                    .take()
                    .expect("the first attempt uses the first builder")
            } else {
                Account::builder_with_http(self.http_client()?)
            };
            match step(
                "account registration",
                builder.create(&new, self.directory_url.clone(), eab.as_ref()),
            )
            .await
            {
                Ok((account, creds)) => return Ok((account, Some(creds))),
                Err(e) if i + 1 < attempts.len() && refuses_contact(&e) => {
                    tracing::warn!(error = %e, "the CA refused the contact derived from the domain; registering without one (set OP_LETSENCRYPT_EMAIL)");
                    last = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
        Err(last.expect("at least one registration attempt ran"))
    }
}

/// Whether the CA refused the account's contact (RFC 8555 §7.3: `invalidContact`,
/// `unsupportedContact`), as opposed to failing for another reason.
fn refuses_contact(e: &AcmeError) -> bool {
    // instant-acme keeps the problem document in its error; its type names the reason.
    let text = format!("{e:?}");
    text.contains("invalidContact") || text.contains("unsupportedContact")
}
