//! The HTTPS edge end to end, against real parts: a certificate from pebble over TLS-ALPN-01
//! ([`acme`]), two replicas on one Redis ([`replicas`]), self-managed PEM files, SNI rules,
//! garbage and configuration errors ([`edge`]). Shared helpers live here.

mod acme;
mod allow;
pub(crate) mod edge;
mod failover;
mod posture;
mod replicas;

use std::{
    net::{Ipv4Addr, SocketAddr},
    sync::Arc,
    time::{Duration, Instant},
};

use crate::helpers::{bridge::Options, pebble::Pebble};

pub(crate) const DOMAIN: &str = "bridge.scim.test";

/// An HTTPS client trusting only `root_pem`, resolving [`DOMAIN`] to loopback, without TLS
/// session resumption (a resumed session reports the certificate of the first handshake, which
/// would hide a renewal from the test).
pub(crate) fn https_client(port: u16, root_pem: &str, http1_only: bool) -> reqwest::Client {
    https_client_builder(port, root_pem, http1_only)
        .build()
        .unwrap()
}

/// A rustls client configuration (ring) that trusts only the first certificate in `root_pem`.
pub(crate) fn trusting(root_pem: &str) -> rustls::ClientConfig {
    use rustls::pki_types::{pem::PemObject, CertificateDer};
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(root_pem.as_bytes()).unwrap())
        .unwrap();
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth()
}

/// The builder of [`https_client`], for tests that change more (a local address, redirects).
pub(crate) fn https_client_builder(
    port: u16,
    root_pem: &str,
    http1_only: bool,
) -> reqwest::ClientBuilder {
    let mut tls = trusting(root_pem);
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
    builder
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

/// `GET path` over HTTPS with `bearer`, as JSON (any status).
pub(crate) async fn https_json(
    client: &reqwest::Client,
    port: u16,
    bearer: &str,
    path: &str,
) -> serde_json::Value {
    client
        .get(format!("https://{DOMAIN}:{port}{path}"))
        .header("authorization", bearer)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// The report of one component in `GET /health` over HTTPS (plain HTTP serves only the probes
/// once HTTPS is on).
pub(crate) async fn https_health_report(
    client: &reqwest::Client,
    port: u16,
    bearer: &str,
    source: &str,
) -> serde_json::Value {
    let health = https_json(client, port, bearer, "/health").await;
    health["reports"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["source"] == source))
        .cloned()
        .unwrap_or_else(|| panic!("no {source} report in {health}"))
}
