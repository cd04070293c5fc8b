//! One ACME order (RFC 8555 §7.4) answered by TLS-ALPN-01 (RFC 8737), through instant-acme.
//!
//! Owns: the ACME client's own HTTPS (system roots plus `OP_ACME_CA_ROOTS`, every certificate
//! of the bundle), account creation or restoration (with External Account Binding, §7.3.4),
//! the challenge certificate (rcgen, P-256, critical id-pe-acmeIdentifier holding the SHA-256
//! of the key authorization, RFC 8737 §3), and finalisation with a fresh P-256 key.
//! A time limit bounds every step. Must not know about storage, scheduling or HTTP routing.

use std::{sync::Arc, time::Duration};

use instant_acme::{
    Account, AuthorizationStatus, CertificateIdentifier, ChallengeType, Identifier, NewOrder,
    OrderStatus, RetryPolicy,
};
use rcgen::{CertificateParams, CustomExtension, KeyPair, PKCS_ECDSA_P256_SHA256};
use rustls::{
    crypto::ring::default_provider,
    pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer},
    sign::CertifiedKey,
};

mod client;

pub use client::AcmeConfig;

/// Makes TLS-ALPN-01 answers available to the CA's validation connections.
#[async_trait::async_trait]
pub trait ChallengeResponder: Send + Sync {
    /// Serves the challenge certificate for `digest` on `domain` from now on.
    async fn publish(&self, domain: &str, digest: &[u8; 32]) -> Result<(), AcmeError>;
    /// Stops serving it.
    async fn withdraw(&self, domain: &str);
}

/// The limit on one ACME request (directory, account, order, challenge, finalize, download).
const STEP_TIMEOUT: Duration = Duration::from_secs(30);
/// How long to wait for validation and for issuance. A CA validates in well under a second once
/// asked; polling starts at 25 ms and backs off by 1.3 (25, 33, 42, 55, 71, 93 ms, ...) so a
/// fast CA is not kept waiting on our sleeps (200 ms ×1.5 cost ~0.5 s per order against pebble)
/// while a slow one sees a request rate that falls off quickly.
const POLL: RetryPolicy = RetryPolicy::new()
    .initial_delay(Duration::from_millis(25))
    .backoff(1.3)
    .timeout(Duration::from_secs(90));

/// What can go wrong talking to the CA.
#[derive(Debug, thiserror::Error)]
pub enum AcmeError {
    /// A request failed (network, TLS, or a problem document from the CA).
    #[error("ACME {step} failed")]
    Request {
        /// The step (`account`, `new order`, `authorization`, `challenge`, `finalize`, ...).
        step: &'static str,
        /// instant-acme's error, with the CA's problem document when there is one.
        #[source]
        source: instant_acme::Error,
    },
    /// A step did not finish within its time limit (a silent CA).
    #[error("ACME {step} timed out")]
    Timeout {
        /// The step.
        step: &'static str,
    },
    /// The CA refused the authorization or order.
    #[error("ACME order for {domain} became {status}: {detail}")]
    Invalid {
        /// The domain.
        domain: String,
        /// The final status.
        status: String,
        /// The CA's explanation, when it gave one.
        detail: String,
    },
    /// The CA offered no TLS-ALPN-01 challenge.
    #[error("the CA offered no tls-alpn-01 challenge for {domain}")]
    NoTlsAlpnChallenge {
        /// The domain.
        domain: String,
    },
    /// Making the challenge certificate failed.
    #[error("building the tls-alpn-01 certificate failed")]
    ChallengeCert(#[source] rcgen::Error),
    /// rustls refused the challenge certificate or key.
    #[error("loading the tls-alpn-01 certificate failed")]
    ChallengeKey(#[source] rustls::Error),
    /// Building the HTTPS client for the CA failed.
    #[error("building the ACME HTTPS client failed: {0}")]
    Client(String),
}

impl AcmeError {
    /// How long the CA asked us to wait, when its problem document says.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            AcmeError::Request {
                source: instant_acme::Error::Api(p),
                ..
            } => retry_after_in(p.detail.as_deref()?, time::OffsetDateTime::now_utc()),
            _ => None,
        }
    }

    /// True when the CA said we are rate limited (RFC 8555 §6.7 `rateLimited`).
    pub fn is_rate_limited(&self) -> bool {
        matches!(self, AcmeError::Request { source: instant_acme::Error::Api(p), .. }
            if p.r#type.as_deref().is_some_and(|t| t.ends_with(":rateLimited")))
    }
}

/// The time a rate-limit problem names (`… retry after 2025-01-01 12:00:00 UTC: …`, Let's
/// Encrypt's wording; instant-acme does not expose the Retry-After header of a failed request).
pub fn retry_after_in(detail: &str, now: time::OffsetDateTime) -> Option<Duration> {
    let rest = &detail[detail.find("retry after ")? + "retry after ".len()..];
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    let at = time::PrimitiveDateTime::parse(rest.get(..19)?, &format)
        .ok()?
        .assume_utc();
    Duration::try_from(at - now).ok()
}

async fn step<T>(
    name: &'static str,
    fut: impl std::future::Future<Output = Result<T, instant_acme::Error>>,
) -> Result<T, AcmeError> {
    match tokio::time::timeout(STEP_TIMEOUT, fut).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(source)) => Err(AcmeError::Request { step: name, source }),
        Err(_) => Err(AcmeError::Timeout { step: name }),
    }
}

/// The TLS-ALPN-01 certificate for `domain` carrying `digest` (RFC 8737 §3).
pub fn challenge_cert(domain: &str, digest: &[u8; 32]) -> Result<Arc<CertifiedKey>, AcmeError> {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(AcmeError::ChallengeCert)?;
    let mut params =
        CertificateParams::new(vec![domain.to_owned()]).map_err(AcmeError::ChallengeCert)?;
    params.custom_extensions = vec![CustomExtension::new_acme_identifier(digest)];
    let cert = params.self_signed(&key).map_err(AcmeError::ChallengeCert)?;
    let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    // Not `CertifiedKey::from_der`: its key check parses the certificate with webpki, which
    // refuses the critical acmeIdentifier extension that validation requires.
    let signing = default_provider()
        .key_provider
        .load_private_key(der)
        .map_err(AcmeError::ChallengeKey)?;
    Ok(Arc::new(CertifiedKey::new(
        vec![cert.der().clone()],
        signing,
    )))
}

/// A freshly issued certificate.
pub struct Issued {
    /// The chain, leaf first, PEM.
    pub chain_pem: String,
    /// The leaf's PKCS#8 private key, PEM. Secret.
    pub key_pem: String,
    /// How many challenges the CA validated for this order (authorizations reused count 0).
    pub validations: u32,
}

/// Places one order for `domain` and answers its challenges through `responder`.
///
/// `replaces` names the certificate being renewed (RFC 9773 §5), only when the CA offers ARI.
/// The challenge is withdrawn whatever the outcome.
pub async fn order(
    account: &Account,
    domain: &str,
    responder: &dyn ChallengeResponder,
    replaces: Option<CertificateIdentifier<'static>>,
) -> Result<Issued, AcmeError> {
    let result = order_inner(account, domain, responder, replaces).await;
    responder.withdraw(domain).await;
    result
}

async fn order_inner(
    account: &Account,
    domain: &str,
    responder: &dyn ChallengeResponder,
    replaces: Option<CertificateIdentifier<'static>>,
) -> Result<Issued, AcmeError> {
    let ids = [Identifier::Dns(domain.to_owned())];
    let mut new = NewOrder::new(&ids);
    if let Some(id) = replaces {
        new = new.replaces(id);
    }
    let mut order = step("new order", account.new_order(&new)).await?;
    let mut validations = 0;
    {
        let mut authzs = order.authorizations();
        while let Some(authz) = tokio::time::timeout(STEP_TIMEOUT, authzs.next())
            .await
            .map_err(|_| AcmeError::Timeout {
                step: "authorization",
            })?
        {
            let mut authz = authz.map_err(|source| AcmeError::Request {
                step: "authorization",
                source,
            })?;
            match authz.status {
                AuthorizationStatus::Valid => continue,
                AuthorizationStatus::Pending => {}
                other => {
                    return Err(AcmeError::Invalid {
                        domain: domain.to_owned(),
                        status: format!("{other:?}"),
                        detail: "authorization not pending".into(),
                    })
                }
            }
            let mut challenge = authz.challenge(ChallengeType::TlsAlpn01).ok_or_else(|| {
                AcmeError::NoTlsAlpnChallenge {
                    domain: domain.to_owned(),
                }
            })?;
            let digest: [u8; 32] = challenge
                .key_authorization()
                .digest()
                .as_ref()
                .try_into()
                .expect("a key authorization digest is SHA-256 (32 bytes)");
            // Publish before set_ready: the CA may dial in at once.
            responder.publish(domain, &digest).await?;
            step("challenge", challenge.set_ready()).await?;
            validations += 1;
        }
    }
    let status = step("validation", order.poll_ready(&POLL)).await?;
    if status != OrderStatus::Ready {
        let detail = order
            .state()
            .error
            .as_ref()
            .map_or_else(|| "no detail from the CA".to_owned(), |p| p.to_string());
        return Err(AcmeError::Invalid {
            domain: domain.to_owned(),
            status: format!("{status:?}"),
            detail,
        });
    }
    responder.withdraw(domain).await;
    let key_pem = step("finalize", order.finalize()).await?;
    let chain_pem = step("certificate download", order.poll_certificate(&POLL)).await?;
    Ok(Issued {
        chain_pem,
        key_pem,
        validations,
    })
}

#[cfg(test)]
mod tests;
