//! Reading a request body within the size limit, and answering one that is over it so that the
//! client reads the answer.
//!
//! A client still sending when the bridge answers `413` would otherwise meet a closed socket
//! with its bytes unread: the kernel answers those with a reset, the client sees a network
//! failure instead of the `413`, and retries. So the rest of an oversized body is read and
//! thrown away, up to [`DISCARD_BYTES`] and [`DISCARD_TIME`], before the answer goes out
//! (RFC 7644 §3.7.4 answers an oversized request `413` with a SCIM error). Nothing of a
//! discarded body is kept, so memory stays bounded; a client that sends more, or slower, gets
//! its connection closed as before.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;

use super::BoxError;
use crate::scim::error::ScimError;

/// The most bytes read and thrown away after a body went over the limit.
pub const DISCARD_BYTES: u64 = 16 * 1024 * 1024;
/// The longest time spent throwing an oversized body away.
pub const DISCARD_TIME: Duration = Duration::from_secs(5);

/// The bytes a body will take, for the in-flight budget: exact when its length is known,
/// `limit` when it is not (a chunked body may be that large).
pub fn expected_bytes<B: http_body::Body>(body: &B, limit: usize) -> usize {
    if body.is_end_stream() {
        return 0;
    }
    let hint = body.size_hint();
    let known = hint.exact().or(hint.upper());
    known.map_or(limit, |n| usize::try_from(n).unwrap_or(limit).min(limit))
}

/// Reads a request body of at most `limit` bytes; a larger one is a `413`, after the rest of
/// it has been discarded (see the module comment). A single-frame body is returned without a
/// copy.
pub async fn read<B>(body: B, limit: usize) -> Result<Bytes, ScimError>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    let too_large =
        || ScimError::PayloadTooLarge(format!("the request body is larger than {limit} bytes"));
    let mut body = std::pin::pin!(body);
    // A declared length over the limit is refused before anything is buffered.
    if body.size_hint().lower() > limit as u64 {
        discard(body.as_mut()).await;
        return Err(too_large());
    }
    let mut chunks: Vec<Bytes> = Vec::new();
    let mut total = 0usize;
    loop {
        // Matched whole here, so no frame (whose error type need not be Send) lives on across
        // the discard's await below.
        let data = match body.frame().await {
            None => break,
            Some(Err(_)) => {
                return Err(ScimError::InvalidSyntax(
                    "the request body could not be read".into(),
                ))
            }
            Some(Ok(frame)) => match frame.into_data() {
                Ok(data) => data,
                Err(_) => continue, // trailers
            },
        };
        total = total.saturating_add(data.len());
        if total > limit {
            drop(chunks);
            discard(body.as_mut()).await;
            return Err(too_large());
        }
        if !data.is_empty() {
            chunks.push(data);
        }
    }
    Ok(match chunks.len() {
        0 => Bytes::new(),
        1 => chunks.pop().expect("one chunk"),
        _ => {
            let mut all = Vec::with_capacity(total);
            for c in &chunks {
                all.extend_from_slice(c);
            }
            all.into()
        }
    })
}

/// Reads and throws away what is left of `body`, up to [`DISCARD_BYTES`] and [`DISCARD_TIME`].
/// Returns whether the body was read to its end (then the connection can stay open).
pub async fn discard<B>(mut body: std::pin::Pin<&mut B>) -> bool
where
    B: http_body::Body<Data = Bytes>,
{
    if body.size_hint().lower() > DISCARD_BYTES {
        return false; // more than we will read: closing is the only answer
    }
    let read_all = async {
        let mut seen = 0u64;
        loop {
            let len = match body.frame().await {
                None => return true,
                Some(Err(_)) => return false,
                Some(Ok(frame)) => frame.data_ref().map_or(0, |d| d.len() as u64),
            };
            seen += len;
            if seen > DISCARD_BYTES {
                return false;
            }
        }
    };
    tokio::time::timeout(DISCARD_TIME, read_all)
        .await
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use http_body_util::{Full, StreamBody};

    use super::*;

    fn chunked(parts: Vec<&'static [u8]>) -> impl http_body::Body<Data = Bytes, Error = BoxError> {
        let frames = parts
            .into_iter()
            .map(|p| Ok::<_, BoxError>(http_body::Frame::data(Bytes::from_static(p))));
        StreamBody::new(futures_util::stream::iter(frames))
    }

    #[tokio::test]
    async fn bodies_within_the_limit_are_read_whole() {
        let one = read(
            Full::new(Bytes::from_static(b"abc")).map_err(|e| -> BoxError { match e {} }),
            3,
        )
        .await;
        assert_eq!(one.unwrap(), Bytes::from_static(b"abc"));
        let many = read(chunked(vec![b"ab", b"", b"cd"]), 4).await.unwrap();
        assert_eq!(many, Bytes::from_static(b"abcd"));
        let empty = read(chunked(vec![]), 0).await.unwrap();
        assert!(empty.is_empty());
    }

    #[tokio::test]
    async fn an_oversized_body_is_413_and_read_to_its_end() {
        // The body counts how far it was read, so the test sees the discard happen.
        let read_to = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let seen = std::sync::Arc::clone(&read_to);
        let frames = (0..10).map(move |i| {
            seen.store(i + 1, std::sync::atomic::Ordering::SeqCst);
            Ok::<_, BoxError>(http_body::Frame::data(Bytes::from(vec![b'x'; 1024])))
        });
        let body = StreamBody::new(futures_util::stream::iter(frames));
        let err = read(body, 2048).await.unwrap_err();
        assert!(matches!(err, ScimError::PayloadTooLarge(_)), "{err:?}");
        assert_eq!(read_to.load(std::sync::atomic::Ordering::SeqCst), 10);
    }

    #[tokio::test]
    async fn a_declared_length_over_the_limit_is_refused_before_buffering() {
        let err = read(
            Full::new(Bytes::from(vec![0u8; 100])).map_err(|e| -> BoxError { match e {} }),
            10,
        )
        .await
        .unwrap_err();
        assert!(matches!(err, ScimError::PayloadTooLarge(_)));
    }
}
