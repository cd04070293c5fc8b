//! Test support: a throw-away CA issuing leaf certificates, generated with rcgen at test time.

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use time::{Duration, OffsetDateTime};

/// A validity window relative to now.
pub(crate) struct Validity {
    pub(crate) from: OffsetDateTime,
    pub(crate) to: OffsetDateTime,
}

impl Validity {
    /// From `from` days to `to` days after now (negative for the past).
    pub(crate) fn days(from: i64, to: i64) -> Self {
        let now = OffsetDateTime::now_utc();
        Self {
            from: now + Duration::days(from),
            to: now + Duration::days(to),
        }
    }
}

/// A leaf chain (leaf + CA) and the leaf's PKCS#8 key, both PEM.
pub(crate) struct Issued {
    pub(crate) chain_pem: String,
    pub(crate) key_pem: String,
}

/// Issues a P-256 leaf for `names` from a fresh CA.
pub(crate) fn issue(names: &[&str], validity: Validity) -> Issued {
    let ca_key = KeyPair::generate().expect("generating a CA key");
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca.distinguished_name
        .push(DnType::CommonName, "test issuing CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca.self_signed(&ca_key).expect("self-signing the CA");
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().expect("generating a leaf key");
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let mut leaf = CertificateParams::new(names).expect("leaf params");
    leaf.not_before = validity.from;
    leaf.not_after = validity.to;
    let leaf = leaf.signed_by(&key, &issuer).expect("signing the leaf");
    Issued {
        chain_pem: format!("{}{}", leaf.pem(), ca_cert.pem()),
        key_pem: key.serialize_pem(),
    }
}
