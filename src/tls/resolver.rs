//! The rustls certificate resolver: a synchronous read of an atomically swapped snapshot.
//!
//! Owns the serving certificate for the one configured domain (an [`ArcSwapOption`], swapped
//! whole by the manager) and the pending TLS-ALPN-01 challenge certificates (RFC 8737 §3),
//! kept apart so a challenge certificate is never served to an ordinary client. A ClientHello
//! without SNI or for another name gets no certificate (rustls then aborts the handshake).
//! Must not know about I/O, async, the store or where certificates come from.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use arc_swap::ArcSwapOption;
use rustls::{
    server::{ClientHello, ResolvesServerCert},
    sign::CertifiedKey,
};

/// The ALPN protocol of TLS-ALPN-01 validation (RFC 8737 §6.2).
pub const ACME_TLS_ALPN: &[u8] = b"acme-tls/1";

/// What the resolver decided for one ClientHello; the edge counts the failures by reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Selection {
    /// Serve the domain's certificate.
    Serve,
    /// Answer a TLS-ALPN-01 validation with the pending challenge certificate.
    Challenge,
    /// No SNI (or an IP literal, which rustls does not report as SNI).
    NoSni,
    /// SNI names another host.
    UnknownSni,
    /// The domain has no certificate yet (before the first issuance).
    NoCertificate,
    /// A validation connection arrived while no challenge is pending.
    NoChallenge,
}

impl Selection {
    /// The bounded failure label for metrics and logs, or `None` when the hello is served.
    pub fn failure(self) -> Option<&'static str> {
        match self {
            Selection::Serve | Selection::Challenge => None,
            Selection::NoSni => Some("no_sni"),
            Selection::UnknownSni => Some("unknown_sni"),
            Selection::NoCertificate => Some("no_certificate"),
            Selection::NoChallenge => Some("challenge"),
        }
    }
}

/// The resolver shared by the edge (reads) and the manager (writes).
#[derive(Debug)]
pub struct CertResolver {
    domain: String,
    current: ArcSwapOption<CertifiedKey>,
    /// Challenge certificates by domain. A std mutex: held only to clone or swap an `Arc`,
    /// never across an await.
    challenges: Mutex<HashMap<String, Arc<CertifiedKey>>>,
}

/// True when the client offers exactly `acme-tls/1` (RFC 8737 §3: validation hellos carry only it).
pub fn is_validation<'a>(alpn: Option<impl Iterator<Item = &'a [u8]>>) -> bool {
    match alpn {
        None => false,
        Some(mut protocols) => {
            protocols.next() == Some(ACME_TLS_ALPN) && protocols.next().is_none()
        }
    }
}

impl CertResolver {
    /// A resolver for `domain` (lower-case) with nothing to serve yet.
    pub fn new(domain: &str) -> Self {
        Self {
            domain: domain.to_ascii_lowercase(),
            current: ArcSwapOption::empty(),
            challenges: Mutex::new(HashMap::new()),
        }
    }

    /// The domain served.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// Swaps in a new serving certificate; handshakes already under way keep the old one.
    pub fn publish(&self, key: Arc<CertifiedKey>) {
        self.current.store(Some(key));
    }

    /// Whether a serving certificate is published.
    pub fn has_certificate(&self) -> bool {
        self.current.load().is_some()
    }

    /// Installs the TLS-ALPN-01 certificate for `domain` until [`Self::clear_challenge`].
    pub fn set_challenge(&self, domain: &str, key: Arc<CertifiedKey>) {
        self.lock().insert(domain.to_ascii_lowercase(), key);
    }

    /// Removes the challenge certificate for `domain`.
    pub fn clear_challenge(&self, domain: &str) {
        self.lock().remove(&domain.to_ascii_lowercase());
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<CertifiedKey>>> {
        // A panic while holding this lock cannot leave the map inconsistent (one insert/remove).
        self.challenges.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Decides for a hello with this SNI, and whether it offers only `acme-tls/1`.
    pub fn select(
        &self,
        sni: Option<&str>,
        validation: bool,
    ) -> (Selection, Option<Arc<CertifiedKey>>) {
        let Some(sni) = sni else {
            return (Selection::NoSni, None);
        };
        let sni = sni.trim_end_matches('.');
        if !sni.eq_ignore_ascii_case(&self.domain) {
            return (Selection::UnknownSni, None);
        }
        if validation {
            return match self.lock().get(&self.domain) {
                Some(k) => (Selection::Challenge, Some(Arc::clone(k))),
                None => (Selection::NoChallenge, None),
            };
        }
        match self.current.load_full() {
            Some(k) => (Selection::Serve, Some(k)),
            None => (Selection::NoCertificate, None),
        }
    }
}

impl ResolvesServerCert for CertResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let validation = is_validation(hello.alpn());
        self.select(hello.server_name(), validation).1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::{pem, test_certs};

    fn key(name: &str) -> Arc<CertifiedKey> {
        let c = test_certs::issue(&[name], test_certs::Validity::days(-1, 30));
        pem::load_pem(c.chain_pem.as_bytes(), c.key_pem.as_bytes(), name)
            .unwrap()
            .key
    }

    #[test]
    fn sni_must_name_the_domain() {
        let r = CertResolver::new("Bridge.Example.com");
        assert_eq!(
            r.select(Some("bridge.example.com"), false).0,
            Selection::NoCertificate
        );
        let k = key("bridge.example.com");
        r.publish(Arc::clone(&k));
        let (s, got) = r.select(Some("BRIDGE.example.com."), false);
        assert_eq!(s, Selection::Serve);
        assert!(Arc::ptr_eq(&got.unwrap(), &k));
        let (s, none) = r.select(None, false);
        assert_eq!(s, Selection::NoSni);
        assert!(none.is_none());
        assert_eq!(
            r.select(Some("other.example.com"), false).0,
            Selection::UnknownSni
        );
        assert_eq!(
            r.select(Some("example.com"), false).0,
            Selection::UnknownSni
        );
    }

    #[test]
    fn the_challenge_cert_goes_only_to_validation_hellos() {
        let r = CertResolver::new("a.test");
        let serving = key("a.test");
        let challenge = key("a.test");
        r.publish(Arc::clone(&serving));
        assert_eq!(r.select(Some("a.test"), true).0, Selection::NoChallenge);
        r.set_challenge("a.test", Arc::clone(&challenge));
        let (s, got) = r.select(Some("a.test"), true);
        assert_eq!(s, Selection::Challenge);
        assert!(Arc::ptr_eq(&got.unwrap(), &challenge));
        let (_, got) = r.select(Some("a.test"), false);
        assert!(
            Arc::ptr_eq(&got.unwrap(), &serving),
            "ordinary clients never get the challenge cert"
        );
        assert_eq!(r.select(None, true).0, Selection::NoSni);
        assert_eq!(r.select(Some("b.test"), true).0, Selection::UnknownSni);
        r.clear_challenge("a.test");
        assert_eq!(r.select(Some("a.test"), true).0, Selection::NoChallenge);
    }

    #[test]
    fn validation_means_exactly_acme_tls_1() {
        let v = |list: Option<&[&[u8]]>| is_validation(list.map(|l| l.iter().copied()));
        assert!(v(Some(&[b"acme-tls/1"])));
        assert!(!v(Some(&[b"acme-tls/1", b"h2"])));
        assert!(!v(Some(&[b"h2", b"acme-tls/1"])));
        assert!(!v(Some(&[b"http/1.1"])));
        assert!(!v(Some(&[])));
        assert!(!v(None));
    }

    #[test]
    fn publishing_swaps_atomically() {
        let r = CertResolver::new("a.test");
        let (one, two) = (key("a.test"), key("a.test"));
        r.publish(Arc::clone(&one));
        let held = r.select(Some("a.test"), false).1.unwrap();
        r.publish(Arc::clone(&two));
        assert!(
            Arc::ptr_eq(&held, &one),
            "a reader keeps the snapshot it loaded"
        );
        assert!(Arc::ptr_eq(
            &r.select(Some("a.test"), false).1.unwrap(),
            &two
        ));
    }
}
