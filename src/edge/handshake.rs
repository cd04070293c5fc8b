//! The TLS handshake of the HTTPS listener (rustls via tokio-rustls).
//!
//! Reads the ClientHello first (`LazyConfigAcceptor`), then picks a configuration: a hello that
//! offers only `acme-tls/1` is a TLS-ALPN-01 validation (RFC 8737 §3) and gets the challenge
//! configuration, after which the connection is closed without application data (§4); any
//! other gets the serving configuration (TLS 1.2 and 1.3, ALPN `h2` and `http/1.1`). The
//! certificate itself comes from the resolver; a hello without SNI or for another name gets
//! none, so the handshake fails. Garbage closes only its own connection. Failures are counted
//! by a bounded reason (`tls.failure`). The whole handshake has a time limit.
//!
//! With an allowlist (`OP_ALLOW_CIDRS`), a client outside it is closed right after its
//! ClientHello, unless that hello is a TLS-ALPN-01 validation for the served domain: the CA
//! validates from addresses nobody can list in advance.
//! Must not know where certificates come from.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use rustls::{server::Acceptor, ServerConfig};
use tokio::{io::AsyncWriteExt, net::TcpStream};
use tokio_rustls::{server::TlsStream, LazyConfigAcceptor};

use super::{
    allow::AllowList,
    listener::{Handshake, TlsConnection},
};
use crate::{
    metrics::Metrics,
    tls::resolver::{is_validation, CertResolver, Selection, ACME_TLS_ALPN},
};

/// The TLS handshake for one domain.
pub struct TlsHandshake {
    serving: Arc<ServerConfig>,
    challenge: Arc<ServerConfig>,
    resolver: Arc<CertResolver>,
    timeout: Duration,
    metrics: Metrics,
    allow: AllowList,
    domain: String,
}

fn config(resolver: &Arc<CertResolver>, alpn: &[&[u8]]) -> ServerConfig {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .expect("the ring provider supports TLS 1.2 and 1.3")
        .with_no_client_auth()
        .with_cert_resolver(Arc::clone(resolver) as _);
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    config
}

impl TlsHandshake {
    /// A handshake serving the resolver's certificates, giving up after `timeout`.
    pub fn new(resolver: Arc<CertResolver>, timeout: Duration, metrics: Metrics) -> Self {
        Self {
            serving: Arc::new(config(&resolver, &[b"h2", b"http/1.1"])),
            challenge: Arc::new(config(&resolver, &[ACME_TLS_ALPN])),
            resolver,
            timeout,
            metrics,
            allow: AllowList::default(),
            domain: String::new(),
        }
    }

    /// Admits only clients in `allow` (empty: everyone), except TLS-ALPN-01 validations for
    /// `domain`, which are served from anywhere.
    pub fn with_allowlist(mut self, allow: AllowList, domain: &str) -> Self {
        self.allow = allow;
        self.domain = domain.to_ascii_lowercase();
        self
    }

    async fn run(
        &self,
        tcp: TcpStream,
        peer: SocketAddr,
    ) -> Result<Option<(TlsStream<TcpStream>, Option<TlsConnection>)>, &'static str> {
        let start = LazyConfigAcceptor::new(Acceptor::default(), tcp)
            .await
            .map_err(|_| "protocol")?;
        let hello = start.client_hello();
        let validation = is_validation(hello.alpn());
        let sni = hello.server_name().map(str::to_ascii_lowercase);
        let acme = validation && sni.as_deref() == Some(self.domain.as_str());
        if !acme && !self.allow.admits(peer.ip()) {
            // Dropping the acceptor closes the connection before any answer.
            self.metrics.connection_closed("https", "not_allowed");
            tracing::debug!("client address not in OP_ALLOW_CIDRS; closed");
            return Ok(None);
        }
        let (selection, _) = self.resolver.select(sni.as_deref(), validation);
        let config = if validation {
            &self.challenge
        } else {
            &self.serving
        };
        // With no certificate to give, rustls itself sends the alert and fails here.
        let result = start.into_stream(Arc::clone(config)).await;
        if let Some(reason) = selection.failure() {
            return Err(reason);
        }
        let mut stream = result.map_err(|_| "protocol")?;
        if selection == Selection::Challenge {
            self.metrics.acme_challenge("answered");
            let _ = stream.shutdown().await;
            return Ok(None);
        }
        let server_name = Arc::from(sni.unwrap_or_default());
        Ok(Some((stream, Some(TlsConnection { server_name }))))
    }
}

impl Handshake for TlsHandshake {
    type Io = TlsStream<TcpStream>;

    async fn handshake(
        &self,
        tcp: TcpStream,
        peer: SocketAddr,
    ) -> Option<(TlsStream<TcpStream>, Option<TlsConnection>)> {
        let failure = match tokio::time::timeout(self.timeout, self.run(tcp, peer)).await {
            Ok(Ok(served)) => return served,
            Ok(Err(reason)) => reason,
            Err(_) => "timeout",
        };
        self.metrics.tls_handshake_failure(failure);
        tracing::debug!(tls.failure = failure, "tls handshake failed");
        None
    }
}
