//! The `X-Request-Id` a client may choose: at most [`MAX_LEN`] characters of
//! `[A-Za-z0-9._-]`. Anything else is removed before tower-http's `SetRequestIdLayer`, which
//! then gives the request a fresh UUID, so a client cannot forge or break log lines through it.

use http::{HeaderValue, Request};

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
