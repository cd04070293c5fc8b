use super::*;
use crate::tls::test_certs::{issue, Validity};

#[test]
fn a_chain_parses_leaf_first_and_the_key_matches() {
    let c = issue(&["bridge.example.com"], Validity::days(-1, 30));
    let chain = parse_chain(c.chain_pem.as_bytes()).unwrap();
    assert_eq!(chain.len(), 2, "leaf + issuing CA");
    let loaded = load_pem(
        c.chain_pem.as_bytes(),
        c.key_pem.as_bytes(),
        "bridge.example.com",
    )
    .unwrap();
    assert_eq!(loaded.key.cert.len(), 2);
    assert_eq!(loaded.meta.names, vec!["bridge.example.com".to_owned()]);
    assert!(
        loaded.meta.issuer.contains("test issuing CA"),
        "{}",
        loaded.meta.issuer
    );
}

#[test]
fn a_foreign_key_is_refused() {
    let a = issue(&["a.example.com"], Validity::days(-1, 30));
    let b = issue(&["a.example.com"], Validity::days(-1, 30));
    let err = load_pem(
        a.chain_pem.as_bytes(),
        b.key_pem.as_bytes(),
        "a.example.com",
    )
    .unwrap_err();
    assert!(matches!(err, PemError::KeyMismatch(_)), "{err}");
}

#[test]
fn the_domain_must_be_covered() {
    let c = issue(
        &["a.example.com", "*.svc.example.com"],
        Validity::days(-1, 30),
    );
    let load = |d: &str| load_pem(c.chain_pem.as_bytes(), c.key_pem.as_bytes(), d);
    assert!(load("a.example.com").is_ok());
    assert!(load("x.svc.example.com").is_ok());
    let err = load("b.example.com").unwrap_err();
    assert!(err.to_string().contains("b.example.com") && err.to_string().contains("a.example.com"));
    assert!(
        load("x.y.svc.example.com").is_err(),
        "a wildcard covers one label only"
    );
    assert!(load("svc.example.com").is_err());
}

#[test]
fn name_matching_follows_rfc_6125() {
    let table = [
        ("a.example.com", "a.example.com", true),
        ("A.Example.COM", "a.example.com", true),
        ("a.example.com.", "a.example.com", true),
        ("*.example.com", "a.example.com", true),
        ("*.example.com", "example.com", false),
        ("*.example.com", "a.b.example.com", false),
        ("*.example.com", ".example.com", false),
        ("b.example.com", "a.example.com", false),
    ];
    for (pattern, domain, want) in table {
        assert_eq!(name_matches(pattern, domain), want, "{pattern} vs {domain}");
    }
}

#[test]
fn validity_and_expiry_are_read() {
    let c = issue(&["a.example.com"], Validity::days(-10, 20));
    let meta = CertMeta::read(&parse_chain(c.chain_pem.as_bytes()).unwrap()[0]).unwrap();
    assert_eq!(meta.lifetime(), time::Duration::days(30));
    let now = OffsetDateTime::now_utc();
    assert!(!meta.is_expired(now));
    assert!(meta.is_expired(now + time::Duration::days(21)));
    let old = issue(&["a.example.com"], Validity::days(-10, -1));
    let meta = CertMeta::read(&parse_chain(old.chain_pem.as_bytes()).unwrap()[0]).unwrap();
    assert!(meta.is_expired(now));
}

#[test]
fn garbage_is_refused_without_panicking() {
    assert!(matches!(
        parse_chain(b"not pem"),
        Err(PemError::NoCertificate)
    ));
    assert!(matches!(
        parse_key(b"-----BEGIN PRIVATE KEY-----\n!!\n-----END PRIVATE KEY-----\n"),
        Err(PemError::NoKey)
    ));
    let bogus = CertificateDer::from(vec![0x30, 0x03, 0x02, 0x01, 0x00]);
    assert!(matches!(
        CertMeta::read(&bogus),
        Err(PemError::BadCertificate)
    ));
}
