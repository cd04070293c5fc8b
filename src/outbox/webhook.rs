//! One delivery attempt: a signed `POST` of one event to one endpoint, and what its answer
//! means. The client keeps connections alive between attempts (one endpoint's events go one
//! after another) and trusts the system's roots for `https`.

use std::time::Duration;

use bytes::Bytes;
use http::{header, HeaderValue, Method, Request};
use http_body_util::{BodyExt, Full};

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
    client: crate::outbound::HttpClient,
    timeout: Duration,
}

impl Sender {
    /// A client with the system's roots (none found: only `http` to loopback works, and an
    /// `https` attempt fails with the reason) and `timeout` per attempt.
    pub fn new(timeout: Duration) -> Self {
        Self {
            client: crate::outbound::client(timeout),
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
            Ok(Err(e)) => Outcome::Failed(crate::outbound::describe(&e)),
            Ok(Ok(status)) if status.is_success() => Outcome::Delivered,
            Ok(Ok(status)) if status == http::StatusCode::GONE => Outcome::Gone,
            Ok(Ok(status)) => Outcome::Failed(format!("the receiver answered {status}")),
        }
    }
}
