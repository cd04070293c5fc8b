//! The HTTPS edge with self-managed PEM files (no CA needed): serving and reload, SNI rules,
//! garbage, the handshake time limit, and configuration errors (exit 64).

use std::{
    io::{Read, Write},
    net::{Ipv4Addr, TcpStream},
    sync::Arc,
    time::{Duration, Instant},
};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};

use super::{https_client, list_users, peer_cert, DOMAIN};
use crate::helpers::{
    bridge::{init_session, run, Bridge, Options},
    pebble::free_port,
};

/// A CA for self-managed certificates.
pub(crate) struct TestCa {
    issuer: Issuer<'static, KeyPair>,
    pub(crate) pem: String,
}

impl TestCa {
    pub(crate) fn new() -> Self {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "self-managed test CA");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let pem = params.self_signed(&key).unwrap().pem();
        Self {
            issuer: Issuer::new(params, key),
            pem,
        }
    }

    /// A leaf for `name`: (full chain PEM, key PEM, leaf DER).
    pub(crate) fn leaf(&self, name: &str) -> (String, String, Vec<u8>) {
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(vec![name.to_owned()])
            .unwrap()
            .signed_by(&key, &self.issuer)
            .unwrap();
        (
            format!("{}{}", cert.pem(), self.pem),
            key.serialize_pem(),
            cert.der().to_vec(),
        )
    }
}

fn files_bridge(ca: &TestCa, dir: &std::path::Path, port: u16) -> (Bridge, Vec<u8>) {
    files_bridge_with(ca, dir, port, Options::default())
}

/// A bridge serving HTTPS on `port` with a leaf of `ca` from PEM files, plus `options`.
pub(super) fn files_bridge_with(
    ca: &TestCa,
    dir: &std::path::Path,
    port: u16,
    options: Options,
) -> (Bridge, Vec<u8>) {
    let (chain, key, der) = ca.leaf(DOMAIN);
    std::fs::write(dir.join("chain.pem"), chain).unwrap();
    std::fs::write(dir.join("key.pem"), key).unwrap();
    let bridge = Bridge::start_with(
        options
            .env("OP_TLS_DOMAIN", DOMAIN)
            .env("OP_HTTPS_PORT", port.to_string())
            .env(
                "OP_TLS_CERT_FILE",
                dir.join("chain.pem").display().to_string(),
            )
            .env("OP_TLS_KEY_FILE", dir.join("key.pem").display().to_string())
            .env("OP_TLS_HANDSHAKE_TIMEOUT", "2s"),
    );
    (bridge, der)
}

#[tokio::test(flavor = "multi_thread")]
async fn self_managed_files_are_served_and_reloaded_when_they_change() {
    let (ca, dir, port) = (TestCa::new(), tempfile::tempdir().unwrap(), free_port());
    let (bridge, first) = files_bridge(&ca, dir.path(), port);
    let client = https_client(port, &ca.pem, false);
    let res = list_users(&client, port, &bridge.bearer()).await;
    assert_eq!(peer_cert(&res), first);
    // A half-written file is refused; the current certificate stays.
    std::fs::write(
        dir.path().join("chain.pem"),
        "-----BEGIN CERTIFICATE-----\ngarbage",
    )
    .unwrap();
    assert!(
        bridge.wait_for_log("not reloaded", Duration::from_secs(15)),
        "{}",
        bridge.logs()
    );
    assert_eq!(
        peer_cert(&list_users(&client, port, &bridge.bearer()).await),
        first
    );
    let (chain, key, second) = ca.leaf(DOMAIN);
    std::fs::write(dir.path().join("key.pem"), key).unwrap();
    std::fs::write(dir.path().join("chain.pem"), chain).unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if peer_cert(&list_users(&client, port, &bridge.bearer()).await) == second {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the new files were not served within 15 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn handshake(port: u16, ca_pem: &str, sni: Option<&str>) -> std::io::Result<()> {
    use rustls::pki_types::ServerName;
    let mut config = crate::tls::trusting(ca_pem);
    config.enable_sni = sni.is_some();
    let name = ServerName::try_from(sni.unwrap_or(DOMAIN).to_owned()).unwrap();
    let tcp = tokio::net::TcpStream::connect((Ipv4Addr::LOCALHOST, port)).await?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    tokio::time::timeout(Duration::from_secs(10), connector.connect(name, tcp)).await??;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn sni_is_required_and_garbage_closes_only_its_own_connection() {
    let (ca, dir, port) = (TestCa::new(), tempfile::tempdir().unwrap(), free_port());
    let (bridge, _) = files_bridge(&ca, dir.path(), port);
    handshake(port, &ca.pem, Some(DOMAIN))
        .await
        .expect("the right name shakes hands");
    assert!(
        handshake(port, &ca.pem, Some("other.scim.test"))
            .await
            .is_err(),
        "another name must fail"
    );
    assert!(
        handshake(port, &ca.pem, None).await.is_err(),
        "no SNI must fail"
    );
    // Garbage on one connection while another is open and served.
    let client = https_client(port, &ca.pem, true);
    let mut junk = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).unwrap();
    junk.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    junk.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n\x00\x01\x02garbage")
        .unwrap();
    let mut buf = Vec::new();
    let _ = junk.read_to_end(&mut buf);
    assert!(
        !String::from_utf8_lossy(&buf).contains("200"),
        "garbage must not be served"
    );
    list_users(&client, port, &bridge.bearer()).await;
    // A client that never says hello is cut off at the handshake time limit.
    let mut silent = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).unwrap();
    silent
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let started = Instant::now();
    let n = silent.read(&mut [0u8; 16]).unwrap_or(0);
    assert_eq!(n, 0, "the server closes a silent connection");
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "closed after {:?}",
        started.elapsed()
    );
    let metrics = bridge.metrics().await;
    for reason in ["no_sni", "unknown_sni", "protocol", "timeout"] {
        assert!(
            metrics.contains(&format!(
                r#"scim_bridge_tls_handshake_failures_total{{reason="{reason}"}} 1"#
            )),
            "{reason}\n{metrics}"
        );
    }
}

#[test]
fn bad_tls_settings_exit_64_naming_the_setting_or_file() {
    let dir = tempfile::tempdir().unwrap();
    let session = dir.path().join("scimsession");
    init_session(&session, false);
    let session = session.display().to_string();
    let ca = TestCa::new();
    let (chain, _, _) = ca.leaf(DOMAIN);
    let (_, other_key, _) = ca.leaf(DOMAIN);
    let (wrong_name, wrong_key, _) = ca.leaf("other.scim.test");
    for (name, text) in [
        ("chain.pem", &chain),
        ("other.key", &other_key),
        ("wrong.pem", &wrong_name),
        ("wrong.key", &wrong_key),
    ] {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let p = |n: &str| dir.path().join(n).display().to_string();
    let cases: Vec<(Vec<(&str, String)>, &str)> = vec![
        (
            vec![("OP_TLS_DOMAIN", "not a domain!".into())],
            "OP_TLS_DOMAIN",
        ),
        (
            vec![
                ("OP_TLS_DOMAIN", DOMAIN.into()),
                ("OP_ACME_DIRECTORY_URL", "::not a url".into()),
            ],
            "OP_ACME_DIRECTORY_URL",
        ),
        (
            vec![
                ("OP_TLS_DOMAIN", DOMAIN.into()),
                ("OP_ACME_CA_ROOTS", p("missing.pem")),
            ],
            "OP_ACME_CA_ROOTS",
        ),
        (
            vec![
                ("OP_TLS_DOMAIN", DOMAIN.into()),
                ("OP_TLS_CERT_FILE", p("chain.pem")),
            ],
            "OP_TLS_KEY_FILE",
        ),
        (
            vec![
                ("OP_TLS_DOMAIN", DOMAIN.into()),
                ("OP_TLS_CERT_FILE", p("chain.pem")),
                ("OP_TLS_KEY_FILE", p("other.key")),
            ],
            "other.key",
        ),
        (
            vec![
                ("OP_TLS_DOMAIN", DOMAIN.into()),
                ("OP_TLS_CERT_FILE", p("wrong.pem")),
                ("OP_TLS_KEY_FILE", p("wrong.key")),
            ],
            "wrong.pem",
        ),
        (
            vec![
                ("OP_TLS_DOMAIN", DOMAIN.into()),
                ("OP_TLS_CERT_FILE", p("nope.pem")),
                ("OP_TLS_KEY_FILE", p("wrong.key")),
            ],
            "nope.pem",
        ),
    ];
    for (env, needle) in cases {
        let mut env: Vec<(&str, String)> = env;
        env.push(("OP_SESSION", session.clone()));
        env.push(("OP_PORT", "0".into()));
        env.push(("OP_HTTPS_PORT", "0".into()));
        env.push(("OP_BIND_ADDRESS", "127.0.0.1".into()));
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (status, _, stderr) = run(&["serve"], &env, dir.path());
        assert_eq!(status.code(), Some(64), "{env:?}: {stderr}");
        assert!(stderr.contains(needle), "{needle} not named: {stderr}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_status_page_data_names_the_certificate() {
    let (ca, dir, port) = (TestCa::new(), tempfile::tempdir().unwrap(), free_port());
    let (bridge, _) = files_bridge(&ca, dir.path(), port);
    let doc: serde_json::Value = https_client(port, &ca.pem, false)
        .get(format!("https://{DOMAIN}:{port}/status.json"))
        .header("Authorization", bridge.bearer())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let cert = doc["reports"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["source"] == "CertificateManager"))
        .unwrap_or_else(|| panic!("no certificate report in {doc}"));
    assert_eq!(cert["state"], "healthy", "{cert}");
    let details = cert["details"].to_string();
    assert!(
        details.contains(DOMAIN) && details.contains("self-managed test CA"),
        "{details}"
    );
    // The same facts, one field each, for the page's certificate card.
    let c = &doc["certificate"];
    assert_eq!(c["domain"], DOMAIN, "{c}");
    assert_eq!(c["source"], "files");
    assert!(
        c["issuer"]
            .as_str()
            .is_some_and(|i| i.contains("self-managed test CA")),
        "{c}"
    );
    let not_after = c["notAfter"].as_str().expect("notAfter");
    let not_after =
        time::OffsetDateTime::parse(not_after, &time::format_description::well_known::Rfc3339)
            .unwrap();
    assert!(not_after > time::OffsetDateTime::now_utc(), "{c}");
    assert_eq!(c["failures"], 0);
    assert!(c["lastError"].is_null(), "{c}");
}
