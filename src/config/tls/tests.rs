use super::super::{load, Settings};
use super::*;

fn with(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
    let pairs: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    load(None, &move |k| {
        pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    })
}

#[test]
fn tls_is_off_without_a_domain_and_acme_by_default() {
    assert!(with(&[]).unwrap().tls.is_none());
    let tls = with(&[("OP_TLS_DOMAIN", "SCIM.Example.com")])
        .unwrap()
        .tls
        .unwrap();
    assert_eq!(
        (tls.domain.as_str(), tls.https_port),
        ("scim.example.com", 443)
    );
    let CertSource::Acme(acme) = tls.source else {
        panic!("acme expected")
    };
    assert_eq!(acme.directory_url, LETS_ENCRYPT_PRODUCTION);
    assert!(acme.email.is_none() && acme.eab.is_none());
    let tls = with(&[("OP_TLS_DOMAIN", "a.example.com"), ("OP_ACME_STAGING", "1")])
        .unwrap()
        .tls
        .unwrap();
    assert!(matches!(tls.source, CertSource::Acme(a) if a.directory_url == LETS_ENCRYPT_STAGING));
}

#[test]
fn bad_values_name_the_setting() {
    for (key, value) in [
        ("OP_TLS_DOMAIN", "not a name"),
        ("OP_TLS_DOMAIN", "*.example.com"),
        ("OP_TLS_DOMAIN", "127.0.0.1"),
        ("OP_TLS_DOMAIN", "-a.example.com"),
        ("OP_ACME_DIRECTORY_URL", "ftp://x/dir"),
        ("OP_ACME_DIRECTORY_URL", "not a url"),
        ("OP_ACME_CA_ROOTS", "/nonexistent/bundle.pem"),
        ("OP_LETSENCRYPT_EMAIL", "nobody"),
        ("OP_HTTPS_PORT", "99999"),
    ] {
        let mut env = vec![("OP_TLS_DOMAIN", "a.example.com"), (key, value)];
        env.dedup_by_key(|(k, _)| *k);
        let env: Vec<_> = if key == "OP_TLS_DOMAIN" {
            vec![(key, value)]
        } else {
            env
        };
        let err = with(&env).unwrap_err().to_string();
        assert!(err.contains(key), "{key}={value}: {err}");
    }
}

#[test]
fn pairs_must_come_together() {
    let d = ("OP_TLS_DOMAIN", "a.example.com");
    for env in [
        vec![d, ("OP_TLS_CERT_FILE", "c.pem")],
        vec![d, ("OP_TLS_KEY_FILE", "k.pem")],
        vec![("OP_TLS_CERT_FILE", "c.pem"), ("OP_TLS_KEY_FILE", "k.pem")],
        vec![d, ("OP_ACME_EAB_KID", "kid-1")],
        vec![
            d,
            ("OP_ACME_STAGING", "1"),
            ("OP_ACME_DIRECTORY_URL", "https://ca/dir"),
        ],
        vec![d, ("OP_HTTPS_PORT", "3002")],
    ] {
        assert!(
            matches!(with(&env), Err(ConfigError::Conflict { .. })),
            "{env:?}"
        );
    }
    let ok = with(&[
        d,
        ("OP_TLS_CERT_FILE", "c.pem"),
        ("OP_TLS_KEY_FILE", "k.pem"),
    ])
    .unwrap();
    assert!(matches!(ok.tls.unwrap().source, CertSource::Files { .. }));
}

#[test]
fn eab_key_is_decoded_and_never_echoed() {
    let d = ("OP_TLS_DOMAIN", "a.example.com");
    let s = with(&[
        d,
        ("OP_ACME_EAB_KID", "kid-1"),
        (
            "OP_ACME_EAB_HMAC_KEY",
            "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W",
        ),
    ])
    .unwrap();
    let CertSource::Acme(a) = s.tls.unwrap().source else {
        panic!()
    };
    assert_eq!(a.eab.as_ref().unwrap().1 .0.len(), 48);
    assert!(!format!("{a:?}").contains("zWNDZM6"));
    let err = with(&[
        d,
        ("OP_ACME_EAB_KID", "k"),
        ("OP_ACME_EAB_HMAC_KEY", "!!!secret!!!"),
    ])
    .unwrap_err();
    assert!(
        err.to_string().contains("OP_ACME_EAB_HMAC_KEY") && !err.to_string().contains("secret"),
        "{err}"
    );
}
