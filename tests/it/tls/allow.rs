//! Issue 9 item 9: `OP_ALLOW_CIDRS` admits only listed clients on HTTPS, yet the CA's
//! TLS-ALPN-01 validation gets in from outside the list, so the certificate is still issued.
//! Pebble validates from 127.0.0.1; only 127.0.0.2 is allowed; 127.0.0.3 is refused.

use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    sync::Arc,
    time::{Duration, Instant},
};

use super::{acme_options, DOMAIN};
use crate::helpers::{
    bridge::{client, Bridge},
    pebble::{free_port, Pebble},
};

/// An HTTPS client from `from`, trusting only `root_pem`, without pooling.
fn https_from(from: Ipv4Addr, port: u16, root_pem: &str, alpn: &[&[u8]]) -> reqwest::Client {
    let mut tls = crate::tls::trusting(root_pem);
    tls.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    reqwest::Client::builder()
        .no_proxy()
        .use_preconfigured_tls(tls)
        .local_address(IpAddr::V4(from))
        .resolve(DOMAIN, SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_allowlist_admits_listed_clients_and_the_ca_but_nobody_else() {
    let port = free_port();
    let pebble = Pebble::start(port, None);
    let bridge =
        Bridge::start_with(acme_options(&pebble, port).env("OP_ALLOW_CIDRS", "127.0.0.2/32"));
    let root = pebble.issuing_root().await;
    let allowed = https_from(
        Ipv4Addr::new(127, 0, 0, 2),
        port,
        &root,
        &[b"h2", b"http/1.1"],
    );
    let url = format!("https://{DOMAIN}:{port}/scim/v2/Users");
    // The certificate can only come from pebble's validation, which connects from 127.0.0.1.
    let started = Instant::now();
    loop {
        let res = allowed
            .get(&url)
            .header("authorization", bridge.bearer())
            .send()
            .await;
        if res.as_ref().is_ok_and(|r| r.status() == 200) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no certificate within 60 s: {res:?}\n{}\n{}",
            bridge.logs(),
            pebble.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(pebble.orders(), 1);
    eprintln!(
        "certificate issued through the allowlist in {:?}",
        started.elapsed()
    );

    // 127.0.0.3 is refused: with a normal hello, and with an acme-tls/1 hello for another name.
    let refused = https_from(
        Ipv4Addr::new(127, 0, 0, 3),
        port,
        &root,
        &[b"h2", b"http/1.1"],
    );
    let err = refused
        .get(&url)
        .header("authorization", bridge.bearer())
        .send()
        .await
        .expect_err("a client outside the list is refused");
    eprintln!("refused client saw: {err:?}");
    let localhost = https_from(Ipv4Addr::LOCALHOST, port, &root, &[b"http/1.1"]);
    assert!(
        localhost.get(&url).send().await.is_err(),
        "127.0.0.1 is not in the list either (only the CA's validations are)"
    );
    {
        use rustls::pki_types::{pem::PemObject, CertificateDer, ServerName};
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_slice(root.as_bytes()).unwrap())
            .unwrap();
        let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        config.alpn_protocols = vec![b"acme-tls/1".to_vec()];
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket
            .bind(SocketAddr::from((Ipv4Addr::new(127, 0, 0, 3), 0)))
            .unwrap();
        let tcp = socket
            .connect(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
            .await
            .unwrap();
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let name = ServerName::try_from("other.scim.test").unwrap();
        let shake = tokio::time::timeout(Duration::from_secs(5), connector.connect(name, tcp))
            .await
            .expect("closed at once, not left hanging");
        assert!(
            shake.is_err(),
            "acme-tls/1 for another name is no exception"
        );
    }

    // Plain HTTP is not filtered.
    let plain = reqwest::Client::builder()
        .no_proxy()
        .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3)))
        .build()
        .unwrap();
    let res = plain.get(bridge.url("/ping")).send().await.unwrap();
    assert_eq!(res.status(), 200);

    let metrics = client()
        .get(bridge.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let line = metrics
        .lines()
        .find(|l| {
            l.starts_with(
                r#"scim_bridge_connections_closed_total{listener="https",reason="not_allowed"}"#,
            )
        })
        .unwrap_or_else(|| panic!("refusals are not counted:\n{metrics}"));
    let refusals: u64 = line.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(refusals >= 3, "{line}");
    assert!(
        metrics.contains(r#"scim_bridge_acme_orders_total{outcome="issued"} 1"#),
        "{metrics}"
    );
}
