use super::*;

#[test]
fn a_rate_limit_detail_gives_the_wait() {
    let now = time::macros::datetime!(2025-01-01 11:00 UTC);
    let detail = "too many certificates (5) already issued for this exact set of identifiers \
                  in the last 168h0m0s, retry after 2025-01-01 12:00:00 UTC: see https://x";
    assert_eq!(retry_after_in(detail, now), Some(Duration::from_secs(3600)));
    assert_eq!(
        retry_after_in("retry after 2024-01-01 12:00:00 UTC", now),
        None,
        "past"
    );
    assert_eq!(retry_after_in("no hint here", now), None);
    assert_eq!(retry_after_in("retry after soon", now), None);
}

#[test]
fn the_challenge_cert_carries_a_critical_acme_identifier() {
    let digest = [7u8; 32];
    let key = challenge_cert("a.test", &digest).unwrap();
    let der = key.cert[0].as_ref();
    let (_, cert) = x509_parser::parse_x509_certificate(der).unwrap();
    let ext = cert
        .extensions()
        .iter()
        .find(|e| e.oid.to_id_string() == "1.3.6.1.5.5.7.1.31")
        .expect("id-pe-acmeIdentifier present");
    assert!(ext.critical);
    // An OCTET STRING of 32 bytes: 0x04 0x20 ‖ digest.
    assert_eq!(&ext.value[..2], &[0x04, 0x20]);
    assert_eq!(&ext.value[2..], &digest);
    let meta = crate::tls::pem::CertMeta::read(&key.cert[0]).unwrap();
    assert!(meta.covers("a.test"));
}
