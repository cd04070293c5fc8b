//! The HTTPS edge end to end: a certificate from a real ACME CA (pebble) over TLS-ALPN-01,
//! served over h2 and HTTP/1.1, kept across restarts, renewed under load; SNI rules, garbage,
//! self-managed PEM files with reload, and configuration errors.

use std::{
    io::{Read, Write},
    net::{Ipv4Addr, SocketAddr, TcpStream},
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use serde_json::Value;

use crate::helpers::{
    bridge::{client, init_session, run, Bridge, Options},
    pebble::{free_port, Pebble},
};

pub(crate) const DOMAIN: &str = "bridge.scim.test";

/// An HTTPS client trusting only `root_pem`, resolving [`DOMAIN`] to loopback, without TLS
/// session resumption (a resumed session reports the certificate of the first handshake, which
/// would hide a renewal from the test).
pub(crate) fn https_client(port: u16, root_pem: &str, http1_only: bool) -> reqwest::Client {
    use rustls::pki_types::{pem::PemObject, CertificateDer};
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(root_pem.as_bytes()).unwrap())
        .unwrap();
    let mut tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    tls.resumption = rustls::client::Resumption::disabled();
    tls.alpn_protocols = if http1_only {
        vec![b"http/1.1".to_vec()]
    } else {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    };
    let mut builder = reqwest::Client::builder()
        .no_proxy()
        .use_preconfigured_tls(tls)
        .resolve(DOMAIN, SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
        .pool_max_idle_per_host(0)
        .tls_info(true)
        .timeout(Duration::from_secs(10));
    if http1_only {
        builder = builder.http1_only();
    }
    builder.build().unwrap()
}

pub(crate) fn acme_options(pebble: &Pebble, https_port: u16) -> Options {
    Options::default()
        .env("OP_TLS_DOMAIN", DOMAIN)
        .env("OP_HTTPS_PORT", https_port.to_string())
        .env("OP_ACME_DIRECTORY_URL", &pebble.directory_url)
        .env("OP_ACME_CA_ROOTS", pebble.api_ca.display().to_string())
}

/// The leaf certificate (DER) a response came over.
pub(crate) fn peer_cert(res: &reqwest::Response) -> Vec<u8> {
    res.extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|i| i.peer_certificate())
        .expect("tls_info(true) records the peer certificate")
        .to_vec()
}

/// Polls `GET /ping` over HTTPS until it answers; returns how long it took.
pub(crate) async fn wait_https(client: &reqwest::Client, port: u16, limit: Duration) -> Duration {
    let started = Instant::now();
    loop {
        if let Ok(res) = client
            .get(format!("https://{DOMAIN}:{port}/ping"))
            .send()
            .await
        {
            if res.status().is_success() {
                return started.elapsed();
            }
        }
        assert!(
            started.elapsed() < limit,
            "no certificate served within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub(crate) async fn list_users(
    client: &reqwest::Client,
    port: u16,
    bearer: &str,
) -> reqwest::Response {
    let res = client
        .get(format!("https://{DOMAIN}:{port}/scim/v2/Users"))
        .header("authorization", bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res
}

#[tokio::test(flavor = "multi_thread")]
async fn acme_certificate_serves_h2_and_http1_and_a_restart_places_no_new_order() {
    let port = free_port();
    let pebble = Pebble::start(port, None);
    let dir = tempfile::tempdir().unwrap();
    let options = acme_options(&pebble, port);
    let bridge = Bridge::start_with(Options {
        dir: Some(dir.path().to_path_buf()),
        ..options
    });
    let root = pebble.issuing_root().await;
    let h2 = https_client(port, &root, false);
    let took = wait_https(&h2, port, Duration::from_secs(60)).await;
    eprintln!("first certificate served {took:?} after start");
    let res = list_users(&h2, port, &bridge.bearer()).await;
    assert_eq!(res.version(), reqwest::Version::HTTP_2);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["totalResults"], 0);
    let res = list_users(&https_client(port, &root, true), port, &bridge.bearer()).await;
    assert_eq!(res.version(), reqwest::Version::HTTP_11);
    let first = peer_cert(&res);
    assert_eq!(pebble.orders(), 1, "{}", pebble.logs());

    let health: Value = client()
        .get(bridge.url("/health"))
        .header("authorization", bridge.bearer())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let report = health["reports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["source"] == "CertificateManager")
        .expect("report");
    assert_eq!(report["state"], "healthy", "{report}");
    assert!(report["details"][0].as_str().unwrap().contains(DOMAIN));
    let metrics = client()
        .get(bridge.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(r#"scim_bridge_acme_orders_total{outcome="issued"} 1"#),
        "{metrics}"
    );
    assert!(metrics.contains("scim_bridge_tls_certificate_expiry_seconds"));

    let token = bridge.bearer();
    drop(bridge);
    // `cert status` reads the same from the store (the embedded store is free once stopped).
    let (session, data) = (dir.path().join("scimsession"), dir.path().join("data"));
    let (port_text, roots) = (port.to_string(), pebble.api_ca.display().to_string());
    let env = [
        ("OP_SESSION", session.to_str().unwrap()),
        ("OP_DATA_DIR", data.to_str().unwrap()),
        ("OP_TLS_DOMAIN", DOMAIN),
        ("OP_HTTPS_PORT", port_text.as_str()),
        ("OP_ACME_DIRECTORY_URL", pebble.directory_url.as_str()),
        ("OP_ACME_CA_ROOTS", roots.as_str()),
    ];
    let (status, stdout, stderr) = run(&["cert", "status"], &env, dir.path());
    assert!(status.success(), "{stderr}");
    assert!(stdout.contains(&format!("domain: {DOMAIN}")), "{stdout}");
    assert!(
        stdout.contains("issuer: CN=Pebble Intermediate"),
        "{stdout}"
    );
    assert!(
        stdout.contains("not after: 20") && stdout.contains("next renewal: 20"),
        "{stdout}"
    );
    let options = acme_options(&pebble, port);
    let again = Bridge::start_with(Options {
        dir: Some(dir.path().to_path_buf()),
        ..options
    });
    let took = wait_https(&h2, port, Duration::from_secs(10)).await;
    assert!(
        took < Duration::from_secs(3),
        "the stored certificate must be served at once ({took:?})"
    );
    let res = list_users(&https_client(port, &root, true), port, &token).await;
    assert_eq!(peer_cert(&res), first, "the stored certificate is served");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        pebble.orders(),
        1,
        "a restart with a valid stored certificate orders nothing"
    );
    assert!(
        !again.logs().contains("PRIVATE KEY"),
        "key material must never be logged"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn renewal_under_continuous_load_fails_no_request() {
    let port = free_port();
    let pebble = Pebble::start(port, Some(Duration::from_secs(30)));
    let bridge = Bridge::start_with(acme_options(&pebble, port));
    let root = pebble.issuing_root().await;
    let client = https_client(port, &root, false);
    wait_https(&client, port, Duration::from_secs(60)).await;
    let (ok, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let certs: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
    let deadline = Instant::now() + Duration::from_secs(45);
    let mut workers = Vec::new();
    for w in 0..3 {
        let client = https_client(port, &root, w == 0);
        let (ok, failed, certs, bearer) =
            (ok.clone(), failed.clone(), certs.clone(), bridge.bearer());
        workers.push(tokio::spawn(async move {
            // Bounded: at most 45 s and 20 000 requests per worker.
            for _ in 0..20_000 {
                if Instant::now() >= deadline || certs.lock().unwrap().len() >= 3 {
                    break;
                }
                let url = format!("https://{DOMAIN}:{port}/scim/v2/Users");
                match client
                    .get(url)
                    .header("authorization", &bearer)
                    .send()
                    .await
                {
                    Ok(res) if res.status() == 200 => {
                        let cert = peer_cert(&res);
                        let mut seen = certs.lock().unwrap();
                        if !seen.contains(&cert) {
                            seen.push(cert);
                        }
                        ok.fetch_add(1, Ordering::Relaxed);
                    }
                    other => {
                        eprintln!("request failed: {other:?}");
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }));
    }
    for w in workers {
        w.await.unwrap();
    }
    let (ok, failed) = (ok.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    let distinct = certs.lock().unwrap().len();
    eprintln!("renewal under load: {ok} requests ok, {failed} failed, {distinct} certificates seen, {} orders", pebble.orders());
    assert_eq!(failed, 0, "no request may fail during renewal");
    assert!(
        distinct >= 2,
        "the renewed certificate must be served (saw {distinct})\n{}",
        bridge.logs()
    );
    assert!(pebble.orders() >= 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_ca_degrades_health_but_never_stops_the_bridge() {
    let (port, dead) = (free_port(), free_port());
    let bridge = Bridge::start_with(
        Options::default()
            .env("OP_TLS_DOMAIN", DOMAIN)
            .env("OP_HTTPS_PORT", port.to_string())
            .env(
                "OP_ACME_DIRECTORY_URL",
                format!("https://127.0.0.1:{dead}/dir"),
            ),
    );
    assert!(
        bridge.wait_for_log("certificate renewal failed", Duration::from_secs(20)),
        "{}",
        bridge.logs()
    );
    let health: Value = client()
        .get(bridge.url("/health"))
        .header("authorization", bridge.bearer())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let report = health["reports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["source"] == "CertificateManager")
        .unwrap();
    assert_eq!(report["state"], "degraded", "{report}");
    let res = client()
        .get(bridge.url("/scim/v2/Users"))
        .header("authorization", bridge.bearer())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "plain HTTP keeps working");
    let metrics = client()
        .get(bridge.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(r#"scim_bridge_acme_orders_total{outcome="failed"}"#),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn external_account_binding_is_required_and_used() {
    const KID: &str = "kid-1";
    const KEY: &str = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W";
    let port = free_port();
    let pebble = Pebble::start_with(port, None, Some((KID, KEY)));
    // Without EAB the CA refuses the account: the bridge reports it and keeps running.
    let without = Bridge::start_with(acme_options(&pebble, free_port()));
    assert!(
        without.wait_for_log("certificate renewal failed", Duration::from_secs(20)),
        "{}",
        without.logs()
    );
    assert!(
        without.logs().contains("externalAccountRequired"),
        "{}",
        without.logs()
    );
    let res = client().get(without.url("/ping")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    drop(without);
    let with = Bridge::start_with(
        acme_options(&pebble, port)
            .env("OP_ACME_EAB_KID", KID)
            .env("OP_ACME_EAB_HMAC_KEY", KEY),
    );
    let root = pebble.issuing_root().await;
    wait_https(
        &https_client(port, &root, true),
        port,
        Duration::from_secs(60),
    )
    .await;
    assert!(
        !with.logs().contains(KEY),
        "the HMAC key must never be logged"
    );
}

/// A CA for self-managed certificates.
struct TestCa {
    issuer: Issuer<'static, KeyPair>,
    pem: String,
}

impl TestCa {
    fn new() -> Self {
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
    fn leaf(&self, name: &str) -> (String, String, Vec<u8>) {
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
    let (chain, key, der) = ca.leaf(DOMAIN);
    std::fs::write(dir.join("chain.pem"), chain).unwrap();
    std::fs::write(dir.join("key.pem"), key).unwrap();
    let bridge = Bridge::start_with(
        Options::default()
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
    use rustls::pki_types::{pem::PemObject, CertificateDer, ServerName};
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(ca_pem.as_bytes()).unwrap())
        .unwrap();
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
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
    let metrics = crate::helpers::bridge::client()
        .get(bridge.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
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
