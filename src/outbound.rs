//! The bridge's outbound HTTP client: `https` with the system's roots (ring, HTTP/1.1 and
//! HTTP/2, connections kept alive) and `http`, which callers allow only where they check the
//! address (a webhook's URL, a loopback stand-in of Google). Webhook deliveries and the
//! Workspace connector share its construction.

use std::{sync::Arc, time::Duration};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::{
    client::legacy::{connect::HttpConnector, Client},
    rt::TokioExecutor,
};

/// The client type.
pub type HttpClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// A client with the system's roots (none found: only `http` works, and an `https` attempt
/// fails with the reason) that gives up connecting after `connect_timeout`.
pub fn client(connect_timeout: Duration) -> HttpClient {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("ring supports the default protocol versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_connect_timeout(Some(connect_timeout));
    http.set_nodelay(true);
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .enable_http2()
        .wrap_connector(http);
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(60))
        .build(https)
}

/// Whether the bridge may call `uri`: `https`, or plain `http` only to a loopback address (a
/// receiver or a stand-in on the same host). The error says what to change.
pub fn allowed(uri: &http::Uri) -> Result<(), String> {
    let host = uri
        .host()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| "the URL names no host".to_owned())?;
    match uri.scheme_str() {
        Some("https") => Ok(()),
        Some("http") if is_loopback(host) => Ok(()),
        Some("http") => Err("use https: plain http is allowed only to a loopback address".into()),
        _ => Err("expected an https:// URL".into()),
    }
}

/// `localhost`, or a loopback IP (`[::1]` with or without its brackets).
pub fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// An answer read whole (up to a bound).
#[derive(Debug)]
pub struct Answer {
    /// Its status.
    pub status: http::StatusCode,
    /// Its headers.
    pub headers: http::HeaderMap,
    /// Its body.
    pub body: Bytes,
}

/// Sends `req` and reads the answer's body up to `max_body` bytes, all within `timeout`. The
/// error is one line saying what failed (its innermost cause says most).
pub async fn exchange(
    client: &HttpClient,
    req: http::Request<Full<Bytes>>,
    max_body: usize,
    timeout: Duration,
) -> Result<Answer, String> {
    let work = async {
        let res = client.request(req).await.map_err(|e| describe(&e))?;
        let (parts, mut body) = res.into_parts();
        let mut out = Vec::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| format!("reading the answer: {e}"))?;
            if let Some(data) = frame.data_ref() {
                if out.len() + data.len() > max_body {
                    return Err(format!("the answer is larger than {max_body} bytes"));
                }
                out.extend_from_slice(data);
            }
        }
        Ok(Answer {
            status: parts.status,
            headers: parts.headers,
            body: out.into(),
        })
    };
    tokio::time::timeout(timeout, work)
        .await
        .unwrap_or_else(|_| Err(format!("no answer within {timeout:?}")))
}

/// A client error as one line.
pub fn describe(e: &hyper_util::client::legacy::Error) -> String {
    let mut cause: &dyn std::error::Error = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    if e.is_connect() {
        format!("cannot connect: {cause}")
    } else {
        format!("the request failed: {cause}")
    }
}
