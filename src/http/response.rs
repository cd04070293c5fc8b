//! Response builders: `application/scim+json` bodies, SCIM error documents, 401 challenges.
//! The one place where a [`ScimError`] becomes an HTTP response.

use std::{
    convert::Infallible,
    pin::Pin,
    task::{Context, Poll},
};

use bytes::Bytes;
use futures_util::{stream::BoxStream, Stream};
use http::{header, HeaderValue, Response, StatusCode};
use http_body::{Frame, SizeHint};
use http_body_util::Full;
use serde_json::Value;

use crate::{auth::AuthError, scim::error::ScimError, scim::CONTENT_TYPE};

/// The response body of every handler: bytes known in full (sent with their
/// `Content-Length`), or a stream of chunks (the events feed's server-sent events).
pub enum Body {
    /// The whole body.
    Full(Full<Bytes>),
    /// Chunks as they come; the body ends when the stream does.
    Stream(BoxStream<'static, Bytes>),
}

impl Default for Body {
    fn default() -> Self {
        Body::Full(Full::default())
    }
}

impl From<Bytes> for Body {
    fn from(bytes: Bytes) -> Self {
        Body::Full(Full::new(bytes))
    }
}

impl Body {
    /// A body of the chunks of `stream`.
    pub fn stream(stream: impl Stream<Item = Bytes> + Send + 'static) -> Self {
        Body::Stream(Box::pin(stream))
    }
}

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.get_mut() {
            Body::Full(full) => Pin::new(full).poll_frame(cx),
            Body::Stream(stream) => stream
                .as_mut()
                .poll_next(cx)
                .map(|chunk| chunk.map(|bytes| Ok(Frame::data(bytes)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Body::Full(full) => full.is_end_stream(),
            Body::Stream(_) => false,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Body::Full(full) => full.size_hint(),
            Body::Stream(_) => SizeHint::default(),
        }
    }
}

fn with_type(status: StatusCode, content_type: &'static str, body: Bytes) -> Response<Body> {
    let mut res = Response::new(Body::from(body));
    *res.status_mut() = status;
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    res
}

/// A SCIM JSON document.
pub fn scim_json(status: StatusCode, doc: &Value) -> Response<Body> {
    let body = serde_json::to_vec(doc).expect("a serde_json::Value always serialises");
    scim_json_bytes(status, body)
}

/// A SCIM JSON document already serialised.
pub fn scim_json_bytes(status: StatusCode, body: Vec<u8>) -> Response<Body> {
    with_type(status, CONTENT_TYPE, body.into())
}

/// A plain JSON document (for `/health`).
pub fn json(status: StatusCode, doc: &Value) -> Response<Body> {
    let body = serde_json::to_vec(doc).expect("a serde_json::Value always serialises");
    with_type(status, "application/json", body.into())
}

/// A plain-text body.
pub fn text(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<Body> {
    with_type(status, content_type, body.into())
}

/// A SCIM error document with its status.
pub fn scim_error(err: &ScimError) -> Response<Body> {
    let (status, _) = err.status_and_type();
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut res = scim_json(status, &err.to_document());
    if status == StatusCode::SERVICE_UNAVAILABLE {
        // Busy or a store outage pass soon; the deprovisioning guard holds until a release.
        let after = match err {
            ScimError::Held(_) => {
                http::HeaderValue::from(crate::scim::error::HELD_RETRY_AFTER_SECS)
            }
            _ => http::HeaderValue::from_static("1"),
        };
        res.headers_mut().insert(http::header::RETRY_AFTER, after);
    }
    res
}

/// A 401 with `WWW-Authenticate: Bearer` (RFC 6750 §3) and a SCIM error body.
pub fn unauthorized(err: AuthError) -> Response<Body> {
    let mut res = scim_error(&ScimError::Unauthorized(err.to_string()));
    let challenge = match err {
        AuthError::Missing => r#"Bearer realm="scim-bridge""#,
        AuthError::Malformed => r#"Bearer realm="scim-bridge", error="invalid_request""#,
        AuthError::Rejected => r#"Bearer realm="scim-bridge", error="invalid_token""#,
    };
    res.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(challenge),
    );
    res
}

/// A 429 for a client over its limit of failed bearer checks: `Retry-After` in whole seconds
/// and a SCIM error body (RFC 7644 §3.12 lets a service answer 429 for too many requests).
pub fn throttled(retry_after: std::time::Duration) -> Response<Body> {
    let secs = retry_after.as_secs().max(1);
    let mut res = scim_error(&ScimError::TooManyRequests(format!(
        "too many failed bearer checks from this address; retry in {secs} s"
    )));
    res.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    res
}

/// The status page's Content-Security-Policy: own files only, no inline script or style.
pub const STATUS_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// Adds the status page's security headers (CSP, no framing, no sniffing, no referrer).
pub fn with_page_security(mut res: Response<Body>) -> Response<Body> {
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(STATUS_CSP),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    res
}

/// Marks a response as never to be stored by caches or the browser.
pub fn no_store(mut res: Response<Body>) -> Response<Body> {
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}
