//! The `ping` command's client: one `GET /ping` to the bridge's own plain-HTTP listener on
//! loopback, so a container health check needs no curl in the image.
//!
//! Knows where `serve` listens (the configured bind address and `OP_PORT`, which the plain-HTTP
//! listener uses with or without TLS, and which answers `/ping` in every `OP_PLAIN_HTTP` mode)
//! and what `/ping` answers; must not know the server's internals. One HTTP/1.1 request over
//! hyper's client connection: no pool, no TLS, no redirects.

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    time::Duration,
};

use bytes::Bytes;
use http::header;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::rt::TokioIo;

use crate::config::Settings;

/// The longest the whole exchange may take (connect, request, answer): well inside the
/// image's `HEALTHCHECK --timeout=3s`, far above a local answer.
pub const TIMEOUT: Duration = Duration::from_secs(2);

/// The body of the bridge's `200` answer to `/ping`.
const PONG: &[u8] = b"pong";

/// A body longer than this is not the bridge's answer and is not read further.
const MAX_BODY: usize = 1024;

/// Why the bridge did not answer `pong`. Each displays as one line; the causes follow as
/// [`std::error::Error::source`] (see [`crate::error_chain::chain`]).
#[derive(Debug, thiserror::Error)]
pub enum PingError {
    /// `OP_PORT` is 0: the listener took a random port, which the configuration cannot tell.
    #[error("OP_PORT is 0 (a port chosen at start-up), so there is no known port to ask")]
    NoPort,
    /// Nothing accepted the connection.
    #[error("cannot connect to {addr}")]
    Connect {
        /// Where it tried.
        addr: SocketAddr,
        /// The connect error (`Connection refused`, ...).
        #[source]
        source: std::io::Error,
    },
    /// The connection failed during the HTTP exchange.
    #[error("GET http://{addr}/ping failed")]
    Http {
        /// Where it asked.
        addr: SocketAddr,
        /// hyper's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The whole exchange took longer than [`TIMEOUT`].
    #[error("no answer from http://{addr}/ping within {}s", TIMEOUT.as_secs())]
    Timeout {
        /// Where it asked.
        addr: SocketAddr,
    },
    /// An answer other than `200`.
    #[error("http://{addr}/ping answered {status}")]
    Status {
        /// Where it asked.
        addr: SocketAddr,
        /// The status it got.
        status: http::StatusCode,
    },
    /// A `200` whose body is not `pong`: something else listens there.
    #[error("http://{addr}/ping answered 200 with {body:?}, not \"pong\"")]
    Body {
        /// Where it asked.
        addr: SocketAddr,
        /// The start of the body it got.
        body: String,
    },
}

/// Where `serve` with these settings answers plain HTTP, seen from the same host: the bind
/// address, with the unspecified `0.0.0.0` and `::` replaced by their loopback addresses.
pub fn target(settings: &Settings) -> Result<SocketAddr, PingError> {
    if settings.port == 0 {
        return Err(PingError::NoPort);
    }
    let ip = match settings.bind_address {
        IpAddr::V4(a) if a.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(a) if a.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        other => other,
    };
    Ok(SocketAddr::new(ip, settings.port))
}

/// Sends `GET /ping` to `addr`; `Ok` when the answer is `200` with the body `pong`, within
/// [`TIMEOUT`].
pub async fn ping(addr: SocketAddr) -> Result<(), PingError> {
    tokio::time::timeout(TIMEOUT, exchange(addr))
        .await
        .map_err(|_| PingError::Timeout { addr })?
}

async fn exchange(addr: SocketAddr) -> Result<(), PingError> {
    let failed =
        |source: Box<dyn std::error::Error + Send + Sync>| PingError::Http { addr, source };
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|source| PingError::Connect { addr, source })?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| failed(e.into()))?;
    // The connection does the I/O while the request waits; dropped with the runtime.
    let connection = tokio::spawn(connection);
    let request = http::Request::get("/ping")
        .header(header::HOST, addr.to_string())
        .header(
            header::USER_AGENT,
            concat!("scim-bridge-ping/", env!("CARGO_PKG_VERSION")),
        )
        .body(Empty::<Bytes>::new())
        .map_err(|e| failed(e.into()))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| failed(e.into()))?;
    let status = response.status();
    if status != http::StatusCode::OK {
        connection.abort();
        return Err(PingError::Status { addr, status });
    }
    let body = Limited::new(response.into_body(), MAX_BODY)
        .collect()
        .await
        .map_err(failed)?
        .to_bytes();
    connection.abort();
    if body != PONG {
        let text = String::from_utf8_lossy(&body);
        return Err(PingError::Body {
            addr,
            body: text.chars().take(60).collect(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(env: &[(&str, &str)]) -> Settings {
        let env = |name: &str| {
            env.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        };
        crate::config::load(None, &env).expect("valid settings")
    }

    #[test]
    fn unspecified_bind_addresses_become_loopback() {
        let at = |bind: &str| target(&settings(&[("OP_BIND_ADDRESS", bind), ("OP_PORT", "3002")]));
        assert_eq!(at("0.0.0.0").unwrap(), "127.0.0.1:3002".parse().unwrap());
        assert_eq!(at("::").unwrap(), "[::1]:3002".parse().unwrap());
        assert_eq!(at("10.1.2.3").unwrap(), "10.1.2.3:3002".parse().unwrap());
        assert_eq!(at("fd00::7").unwrap(), "[fd00::7]:3002".parse().unwrap());
    }

    #[test]
    fn the_plain_port_is_op_port_with_or_without_tls() {
        let plain = target(&settings(&[])).unwrap();
        assert_eq!(plain.port(), crate::config::DEFAULT_PORT);
        let tls = settings(&[
            ("OP_TLS_DOMAIN", "scim.example.com"),
            ("OP_PORT", "8080"),
            ("OP_HTTPS_PORT", "8443"),
        ]);
        assert_eq!(target(&tls).unwrap(), "127.0.0.1:8080".parse().unwrap());
        // The separate ping server is an extra listener; the main one still answers /ping.
        let ping_server = settings(&[("OP_PING_SERVER", "1"), ("OP_PORT", "8080")]);
        assert_eq!(target(&ping_server).unwrap().port(), 8080);
    }

    #[test]
    fn port_zero_has_nothing_to_ask() {
        let err = target(&settings(&[("OP_PORT", "0")])).unwrap_err();
        assert!(matches!(err, PingError::NoPort));
        assert!(err.to_string().contains("OP_PORT is 0"), "{err}");
    }
}
