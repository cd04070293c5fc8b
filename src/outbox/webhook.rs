//! One delivery attempt: a signed `POST` of one event to one endpoint, and what its answer
//! means. The client keeps connections alive between attempts (one endpoint's events go one
//! after another) and trusts the system's roots for `https`.

use std::{sync::Arc, time::Duration};

use bytes::Bytes;
use http::{header, HeaderValue, Method, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::{
    client::legacy::{connect::HttpConnector, Client},
    rt::TokioExecutor,
};

use super::sign::Key;

/// How much of a receiver's answer is read (and dropped) so the connection can be reused.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// What an attempt came to.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A 2xx answer.
    Delivered,
    /// `410 Gone`: the receiver wants no more (the endpoint is disabled).
    Gone,
    /// Anything else: a non-2xx status, a timeout, a refused connection. Retried.
    Failed(String),
}

impl Outcome {
    /// The `outcome` label of `webhook_deliveries_total`.
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Delivered => "delivered",
            Outcome::Gone => "gone",
            Outcome::Failed(_) => "failed",
        }
    }
}

/// The HTTP client every deliverer shares.
#[derive(Clone)]
pub struct Sender {
    client: Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
    timeout: Duration,
}

impl Sender {
    /// A client with the system's roots (none found: only `http` to loopback works, and an
    /// `https` attempt fails with the reason) and `timeout` per attempt.
    pub fn new(timeout: Duration) -> Self {
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
        http.set_connect_timeout(Some(timeout));
        http.set_nodelay(true);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .wrap_connector(http);
        Self {
            client: Client::builder(TokioExecutor::new())
                .pool_idle_timeout(Duration::from_secs(60))
                .build(https),
            timeout,
        }
    }

    /// POSTs `body` (event `id`) to `url`, signed with `key`.
    pub async fn attempt(&self, url: &http::Uri, key: &Key, id: &str, body: &[u8]) -> Outcome {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let signed = key.sign(id, now, body);
        let value = |v: &str| HeaderValue::from_str(v).map_err(|_| "a header value");
        let req = (|| -> Result<Request<Full<Bytes>>, &'static str> {
            let mut req = Request::builder()
                .method(Method::POST)
                .uri(url.clone())
                .header(header::CONTENT_TYPE, "application/json")
                .header(
                    header::USER_AGENT,
                    concat!("scim-bridge/", env!("CARGO_PKG_VERSION")),
                )
                .body(Full::new(Bytes::copy_from_slice(body)))
                .map_err(|_| "the request")?;
            let h = req.headers_mut();
            h.insert("webhook-id", value(&signed.id)?);
            h.insert("webhook-timestamp", value(&signed.timestamp)?);
            h.insert("webhook-signature", value(&signed.signature)?);
            Ok(req)
        })();
        let req = match req {
            Ok(r) => r,
            Err(what) => return Outcome::Failed(format!("cannot build {what}")),
        };
        let exchange = async {
            let res = self.client.request(req).await?;
            let status = res.status();
            // Read a bounded answer so the connection goes back to the pool.
            let mut body = res.into_body();
            let mut read = 0;
            while let Some(Ok(frame)) = body.frame().await {
                read += frame.data_ref().map_or(0, |d| d.len());
                if read > MAX_ANSWER_BYTES {
                    break;
                }
            }
            Ok::<_, hyper_util::client::legacy::Error>(status)
        };
        match tokio::time::timeout(self.timeout, exchange).await {
            Err(_) => Outcome::Failed(format!("no answer within {:?}", self.timeout)),
            Ok(Err(e)) => Outcome::Failed(describe(&e)),
            Ok(Ok(status)) if status.is_success() => Outcome::Delivered,
            Ok(Ok(status)) if status == http::StatusCode::GONE => Outcome::Gone,
            Ok(Ok(status)) => Outcome::Failed(format!("the receiver answered {status}")),
        }
    }
}

/// A client error as one line: its innermost cause says most (`Connection refused`).
fn describe(e: &hyper_util::client::legacy::Error) -> String {
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
