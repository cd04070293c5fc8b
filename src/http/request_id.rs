//! The `X-Request-Id` a client may choose: at most [`MAX_LEN`] characters of
//! `[A-Za-z0-9._-]`. Anything else is removed before tower-http's `SetRequestIdLayer`, which
//! then gives the request a fresh id ([`Fresh`]), so a client cannot forge or break log lines
//! through it.

use std::sync::{
    atomic::{AtomicU64, Ordering},
    OnceLock,
};

use http::{HeaderValue, Request};
use tower_http::request_id::{MakeRequestId, RequestId};

/// The longest request id accepted from a client.
pub const MAX_LEN: usize = 64;

/// The request-id header.
pub const HEADER: &str = "x-request-id";

/// Whether a client's request id may be kept.
pub fn acceptable(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= MAX_LEN
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Removes the client's request id unless it is [`acceptable`] (also when there are several).
pub fn sanitize<B>(mut req: Request<B>) -> Request<B> {
    let headers = req.headers_mut();
    let mut values = headers.get_all(HEADER).iter();
    let keep = matches!((values.next(), values.next()), (Some(v), None) if acceptable(v));
    if !keep {
        headers.remove(HEADER);
    }
    req
}

/// Fresh request ids shaped as UUIDs (v4), without a system call per request: tower-http's
/// `MakeRequestUuid` asked the kernel for 16 random bytes on every request, a third of the
/// bridge's system calls under load. An id is a random 64-bit half drawn once per process and
/// a counter XORed with a random key, so ids differ between replicas and never repeat within a
/// process (the variant bits overwrite only the key's top two bits while the counter stays
/// below 2^62). They correlate log lines; nothing relies on their being unguessable.
#[derive(Clone, Copy, Debug, Default)]
pub struct Fresh;

static NEXT: AtomicU64 = AtomicU64::new(0);

/// The process's random half, and the key of the counter's half.
fn seeds() -> (u64, u64) {
    static SEEDS: OnceLock<(u64, u64)> = OnceLock::new();
    *SEEDS.get_or_init(|| (rand::random(), rand::random()))
}

impl Fresh {
    /// The next id.
    pub fn next_id() -> uuid::Uuid {
        let (high, key) = seeds();
        let low = NEXT.fetch_add(1, Ordering::Relaxed) ^ key;
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&high.to_be_bytes());
        bytes[8..].copy_from_slice(&low.to_be_bytes());
        uuid::Builder::from_random_bytes(bytes).into_uuid()
    }
}

impl MakeRequestId for Fresh {
    fn make_request_id<B>(&mut self, _: &Request<B>) -> Option<RequestId> {
        let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
        let text = Self::next_id().hyphenated().encode_lower(&mut text);
        HeaderValue::from_str(text).ok().map(RequestId::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_short_plain_ids_are_kept() {
        for ok in ["abc", "0f9c-11.x_Y", &"a".repeat(64)] {
            assert!(acceptable(&HeaderValue::from_str(ok).unwrap()), "{ok}");
        }
        for bad in [
            "",
            &"a".repeat(65),
            "a b",
            "x\" level=ERROR msg=\"forged",
            "id%0d%0a",
            "ü",
        ] {
            let v = HeaderValue::from_bytes(bad.as_bytes()).unwrap();
            assert!(!acceptable(&v), "{bad}");
        }
    }

    #[test]
    fn fresh_ids_are_v4_uuids_and_do_not_repeat() {
        let ids: std::collections::HashSet<uuid::Uuid> =
            (0..10_000).map(|_| Fresh::next_id()).collect();
        assert_eq!(ids.len(), 10_000);
        for id in ids.iter().take(100) {
            assert_eq!(id.get_version_num(), 4, "{id}");
            assert_eq!(id.get_variant(), uuid::Variant::RFC4122, "{id}");
        }
        let req = Request::builder().body(()).unwrap();
        let made = Fresh.make_request_id(&req).unwrap();
        let text = made.header_value().to_str().unwrap();
        assert_eq!(text.len(), 36);
        assert!(uuid::Uuid::parse_str(text).is_ok(), "{text}");
    }

    #[test]
    fn sanitize_removes_bad_and_repeated_ids() {
        let req = Request::builder()
            .header(HEADER, "good-id")
            .body(())
            .unwrap();
        assert_eq!(sanitize(req).headers()[HEADER], "good-id");
        let req = Request::builder()
            .header(HEADER, "bad id")
            .body(())
            .unwrap();
        assert!(sanitize(req).headers().get(HEADER).is_none());
        let req = Request::builder()
            .header(HEADER, "a")
            .header(HEADER, "b")
            .body(())
            .unwrap();
        assert!(sanitize(req).headers().get(HEADER).is_none());
    }
}
