//! `GET /events`: the pull feed of provisioning events (issue 12).
//!
//! * `?after=SEQ&limit=N` answers `{"events": [...], "next": SEQ}`: the events numbered above
//!   `after` (default 0) in order, at most `limit` (default 100, at most 1,000); `next` is the
//!   cursor to pass as `after` next time. `limit=0` answers no events and the head as `next`.
//! * `resource=User/{id}` (or `Group/{id}`) pages that resource's history instead, with the
//!   same `after`, `limit` and answer: its own events and the membership events naming it,
//!   read from the index written with each event (a `scim` token only; no `wait`, no stream).
//!   Trimmed events are gone from it, so an old cursor is not `410` here.
//! * `wait=SECONDS` (at most 30) holds an empty answer until an event comes or the time is up.
//! * `Accept: text/event-stream` streams server-sent events from `Last-Event-ID` (or `after`):
//!   each event's `id:` is its `seq`, its `data:` the event; a comment line every
//!   [`HEARTBEAT`] keeps proxies' and clients' idle deadlines from closing a quiet stream.
//! * A cursor older than the kept log is `410 Gone` with a SCIM error whose `oldest` names the
//!   oldest kept event; a cursor past the head is `400 invalidValue`.

use std::{sync::Arc, time::Duration};

use bytes::Bytes;
use http::{header, request::Parts, HeaderValue, Response, StatusCode};
use tokio::time::Instant;

use super::param;
use crate::{
    http::{response, response::Body, AppState},
    outbox::{Outbox, Page, ReadError, MAX_PAGE},
    scim::error::ScimError,
    store::Seq,
};

/// Events per page when `limit` is not given.
pub const DEFAULT_LIMIT: usize = 100;
/// The longest `wait`.
pub const MAX_WAIT: Duration = Duration::from_secs(30);
/// How long a stream stays silent before it sends a comment line.
pub const HEARTBEAT: Duration = Duration::from_secs(15);
/// How long a client waits before reconnecting a dropped stream (the stream's `retry:`).
const RECONNECT_MS: u64 = 2_000;
/// How long a stream waits before reading again after the store did not answer.
const STORE_RETRY: Duration = Duration::from_secs(1);

/// What a request asks for.
#[derive(Debug, PartialEq, Eq)]
struct Query {
    /// `resource=User/{id}` (or `Group/{id}`): that resource's history instead of the feed.
    resource: Option<String>,
    after: Seq,
    limit: usize,
    wait: Duration,
    stream: bool,
}

fn number(parts: &Parts, name: &str) -> Result<Option<u64>, ScimError> {
    param(parts, name)
        .map(|v| {
            v.trim().parse::<u64>().map_err(|_| {
                ScimError::InvalidValue(format!("{name} must be a whole number, not {v:?}"))
            })
        })
        .transpose()
}

fn query(parts: &Parts) -> Result<Query, ScimError> {
    let stream = parts
        .headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.to_ascii_lowercase().contains("text/event-stream"));
    let last_event_id = match parts.headers.get("last-event-id") {
        Some(v) if stream => {
            let text = v.to_str().unwrap_or_default().trim();
            // An empty id is how a client says "no id" (HTML's EventSource sends none then).
            (!text.is_empty())
                .then(|| {
                    text.parse::<u64>().map_err(|_| {
                        ScimError::InvalidValue(format!(
                            "Last-Event-ID must be an event's seq, not {text:?}"
                        ))
                    })
                })
                .transpose()?
        }
        _ => None,
    };
    let after = match last_event_id {
        Some(seq) => seq,
        None => number(parts, "after")?.unwrap_or(0),
    };
    let limit = number(parts, "limit")?.map_or(DEFAULT_LIMIT, |n| {
        usize::try_from(n).unwrap_or(MAX_PAGE).min(MAX_PAGE)
    });
    let wait =
        number(parts, "wait")?.map_or(Duration::ZERO, |s| Duration::from_secs(s).min(MAX_WAIT));
    let resource = history_of(parts)?;
    if resource.is_some() && (stream || !wait.is_zero()) {
        return Err(ScimError::InvalidValue(
            "resource= pages a resource's history; follow the feed (without it) to wait or stream"
                .into(),
        ));
    }
    Ok(Query {
        resource,
        after,
        limit,
        wait,
        stream,
    })
}

/// Whether the request asks for a resource's history (which needs a `scim` token).
pub fn wants_history(parts: &Parts) -> bool {
    param(parts, "resource").is_some()
}

/// The id of `resource=User/{id}` or `resource=Group/{id}`.
fn history_of(parts: &Parts) -> Result<Option<String>, ScimError> {
    let Some(resource) = param(parts, "resource") else {
        return Ok(None);
    };
    let bad = || {
        ScimError::InvalidValue(format!(
            "resource must be User/{{id}} or Group/{{id}}, not {resource:?}"
        ))
    };
    let (kind, id) = resource.split_once('/').ok_or_else(bad)?;
    let kind_ok = kind.eq_ignore_ascii_case("User") || kind.eq_ignore_ascii_case("Group");
    if !kind_ok || id.is_empty() || id.contains(['/', '\n']) {
        return Err(bad());
    }
    Ok(Some(id.to_owned()))
}

fn error(e: ReadError) -> ScimError {
    match e {
        ReadError::Gone { oldest, .. } => ScimError::Gone {
            detail: format!("{e}: start again from the directory and the head (limit=0)"),
            oldest,
        },
        ReadError::Beyond { .. } => ScimError::InvalidValue(e.to_string()),
        ReadError::Store(e) => {
            tracing::warn!(error = %crate::error_chain::chain(&e), "reading the event log");
            ScimError::Unavailable("the store did not answer; retry shortly".into())
        }
    }
}

/// `GET /events`.
pub async fn feed(state: &AppState, parts: &Parts) -> Response<Body> {
    let q = match query(parts) {
        Ok(q) => q,
        Err(e) => return response::scim_error(&e),
    };
    let outbox = &state.outbox;
    if let Some(id) = &q.resource {
        return match outbox.history(id, q.after, q.limit).await {
            Ok(page) => answer(&page),
            Err(e) => response::scim_error(&error(e)),
        };
    }
    let mut page = match outbox.read(q.after, q.limit).await {
        Ok(page) => page,
        Err(e) => return response::scim_error(&error(e)),
    };
    if q.stream {
        return stream(Arc::clone(outbox), q.after, page);
    }
    let wait = page.events.is_empty() && q.limit > 0 && !q.wait.is_zero();
    if wait && outbox.wait_past(q.after, Instant::now() + q.wait).await {
        page = match outbox.read(q.after, q.limit).await {
            Ok(page) => page,
            Err(e) => return response::scim_error(&error(e)),
        };
    }
    answer(&page)
}

fn answer(page: &Page) -> Response<Body> {
    let mut res = Response::new(Body::from(Bytes::from(json(page))));
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response::no_store(res)
}

/// `{"events":[…],"next":N}` from the page's encoded events.
fn json(page: &Page) -> Vec<u8> {
    let len = page.events.iter().map(|e| e.json.len() + 1).sum::<usize>();
    let mut out = Vec::with_capacity(len + 32);
    out.extend_from_slice(b"{\"events\":[");
    for (i, item) in page.events.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(&item.json);
    }
    out.extend_from_slice(format!("],\"next\":{}}}", page.next).as_bytes());
    out
}

/// The server-sent events of `page`: `id:` and `data:` lines per event.
fn sse(page: &Page) -> Bytes {
    let mut out = Vec::new();
    for item in &page.events {
        out.extend_from_slice(format!("id: {}\ndata: ", item.seq).as_bytes());
        // Compact JSON holds no raw line breaks, so one data line carries the event.
        out.extend_from_slice(&item.json);
        out.extend_from_slice(b"\n\n");
    }
    out.into()
}

/// Where a stream stands between chunks.
struct Cursor {
    outbox: Arc<Outbox>,
    after: Seq,
    /// The first page, read before the answer's status was chosen.
    first: Option<Page>,
    /// When the stream last sent anything.
    sent: Instant,
    /// How long it stays silent before a comment line ([`HEARTBEAT`]).
    heartbeat: Duration,
    done: bool,
}

impl Cursor {
    /// The next chunk of the stream, or `None` when it ends (shutdown, or a cursor gone).
    async fn next(&mut self) -> Option<Bytes> {
        if self.done || self.outbox.closing().is_cancelled() {
            return None;
        }
        if let Some(page) = self.first.take() {
            self.after = page.next;
            self.sent = Instant::now();
            let mut chunk = format!("retry: {RECONNECT_MS}\n\n").into_bytes();
            chunk.extend_from_slice(&sse(&page));
            return Some(chunk.into());
        }
        loop {
            let quiet_until = self.sent + self.heartbeat;
            match self.outbox.read(self.after, MAX_PAGE).await {
                Ok(page) if !page.events.is_empty() => {
                    self.after = page.next;
                    self.sent = Instant::now();
                    return Some(sse(&page));
                }
                Ok(_) => {
                    if self.outbox.wait_past(self.after, quiet_until).await {
                        continue;
                    }
                }
                Err(ReadError::Store(e)) => {
                    tracing::debug!(error = %e, "event stream: the store did not answer");
                    tokio::select! {
                        () = tokio::time::sleep_until(quiet_until.min(Instant::now() + STORE_RETRY)) => {}
                        () = self.outbox.closing().cancelled() => {}
                    }
                }
                Err(e) => {
                    // Trimmed while the client was behind: say so, and end; reconnecting with
                    // the same id gets the 410.
                    self.done = true;
                    let doc = error(e).to_document();
                    return Some(format!("event: error\ndata: {doc}\n\n").into());
                }
            }
            if self.outbox.closing().is_cancelled() {
                return None;
            }
            if Instant::now() >= quiet_until {
                self.sent = Instant::now();
                return Some(Bytes::from_static(b": keep-alive\n\n"));
            }
        }
    }
}

fn stream(outbox: Arc<Outbox>, after: Seq, first: Page) -> Response<Body> {
    let cursor = Cursor {
        outbox,
        after,
        first: Some(first),
        sent: Instant::now(),
        heartbeat: HEARTBEAT,
        done: false,
    };
    let chunks = futures_util::stream::unfold(cursor, |mut cursor| async move {
        cursor.next().await.map(|chunk| (chunk, cursor))
    });
    let mut res = Response::new(Body::stream(chunks));
    *res.status_mut() = StatusCode::OK;
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // Proxies that buffer (nginx) would hold events back until their buffer fills.
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    res
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbox::Item;
    use crate::store::{embedded::EmbeddedStore, Mutation, SharedStore, WriteBatch};
    use tokio_util::sync::CancellationToken;

    fn append(value: &str) -> Mutation {
        Mutation::Append {
            log: crate::scim::events::LOG.into(),
            value: Bytes::from(value.to_owned()),
            keys: Vec::new(),
        }
    }

    /// A stream over a fresh embedded store, with a short heartbeat.
    async fn cursor(heartbeat: Duration) -> (Cursor, SharedStore, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let store: SharedStore = Arc::new(EmbeddedStore::open(dir.path()).unwrap());
        let outbox = Outbox::new(Arc::clone(&store), CancellationToken::new());
        tokio::spawn(Arc::clone(&outbox).follow(CancellationToken::new()));
        let first = outbox.read(0, MAX_PAGE).await.unwrap();
        let cursor = Cursor {
            outbox,
            after: 0,
            first: Some(first),
            sent: Instant::now(),
            heartbeat,
            done: false,
        };
        (cursor, store, dir)
    }

    #[tokio::test]
    async fn a_quiet_stream_sends_comments_then_events_then_ends_when_trimmed_past() {
        let (mut c, store, _dir) = cursor(Duration::from_millis(150)).await;
        assert_eq!(&c.next().await.unwrap()[..], b"retry: 2000\n\n");
        let started = Instant::now();
        assert_eq!(&c.next().await.unwrap()[..], b": keep-alive\n\n");
        assert!(started.elapsed() >= Duration::from_millis(140));
        store
            .write(WriteBatch::new().then(append("{\"a\":1}")))
            .await
            .unwrap();
        assert_eq!(
            &c.next().await.unwrap()[..],
            b"id: 1\ndata: {\"seq\":1,\"a\":1}\n\n"
        );
        // Two more events, then both trimmed before the stream reads them.
        let trim = Mutation::Trim {
            log: crate::scim::events::LOG.into(),
            before: 3,
        };
        store
            .write(
                WriteBatch::new()
                    .then(append("{}"))
                    .then(append("{}"))
                    .then(trim),
            )
            .await
            .unwrap();
        let last = c.next().await.unwrap();
        let text = std::str::from_utf8(&last).unwrap();
        assert!(text.starts_with("event: error\ndata: {"), "{text}");
        assert!(text.contains("\"oldest\":3"), "{text}");
        assert!(c.next().await.is_none(), "the stream ends after its error");
    }

    #[tokio::test]
    async fn a_stream_ends_when_shutdown_begins() {
        let (mut c, _store, _dir) = cursor(Duration::from_secs(60)).await;
        c.next().await.unwrap();
        let closing = c.outbox.closing().clone();
        let waiting = tokio::spawn(async move { c.next().await });
        tokio::time::sleep(Duration::from_millis(50)).await;
        closing.cancel();
        let ended = tokio::time::timeout(Duration::from_secs(2), waiting)
            .await
            .expect("the stream ends at once")
            .unwrap();
        assert!(ended.is_none());
    }

    fn parts(uri: &str, headers: &[(&str, &str)]) -> Parts {
        let mut req = http::Request::builder().uri(uri);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req.body(()).unwrap().into_parts().0
    }

    #[test]
    fn the_query_has_defaults_and_caps() {
        let q = query(&parts("/events", &[])).unwrap();
        assert_eq!(
            q,
            Query {
                resource: None,
                after: 0,
                limit: DEFAULT_LIMIT,
                wait: Duration::ZERO,
                stream: false
            }
        );
        let q = query(&parts("/events?after=7&limit=5000&wait=90", &[])).unwrap();
        assert_eq!((q.after, q.limit, q.wait), (7, MAX_PAGE, MAX_WAIT));
        assert_eq!(query(&parts("/events?limit=0", &[])).unwrap().limit, 0);
    }

    #[test]
    fn bad_numbers_are_invalid_values() {
        for uri in ["/events?after=-1", "/events?limit=ten", "/events?wait=1.5"] {
            let e = query(&parts(uri, &[])).unwrap_err();
            assert_eq!(e.status_and_type(), (400, Some("invalidValue")), "{uri}");
        }
        let e = query(&parts(
            "/events",
            &[("accept", "text/event-stream"), ("last-event-id", "x")],
        ))
        .unwrap_err();
        assert_eq!(e.status_and_type().0, 400);
    }

    #[test]
    fn a_history_names_a_user_or_a_group_and_neither_waits_nor_streams() {
        let q = query(&parts("/events?resource=User/abc&after=3&limit=2", &[])).unwrap();
        assert_eq!(
            (q.resource.as_deref(), q.after, q.limit),
            (Some("abc"), 3, 2)
        );
        let q = query(&parts("/events?resource=group%2Fg1", &[])).unwrap();
        assert_eq!(q.resource.as_deref(), Some("g1"));
        for uri in [
            "/events?resource=abc",
            "/events?resource=Users/abc",
            "/events?resource=User/",
            "/events?resource=User/a/b",
            "/events?resource=User/a%0Ab",
            "/events?resource=User/abc&wait=5",
        ] {
            let e = query(&parts(uri, &[])).unwrap_err();
            assert_eq!(e.status_and_type(), (400, Some("invalidValue")), "{uri}");
        }
        let e = query(&parts(
            "/events?resource=User/abc",
            &[("accept", "text/event-stream")],
        ));
        assert_eq!(e.unwrap_err().status_and_type().0, 400);
    }

    #[test]
    fn a_stream_resumes_from_last_event_id_over_after() {
        let h = [("accept", "text/event-stream"), ("last-event-id", " 42 ")];
        let q = query(&parts("/events?after=7", &h)).unwrap();
        assert_eq!((q.after, q.stream), (42, true));
        let q = query(&parts(
            "/events?after=7",
            &[("accept", "text/event-stream"), ("last-event-id", "")],
        ))
        .unwrap();
        assert_eq!(q.after, 7, "an empty id is no id");
        // Without the stream, Last-Event-ID means nothing.
        let q = query(&parts("/events?after=7", &[("last-event-id", "42")])).unwrap();
        assert_eq!((q.after, q.stream), (7, false));
    }

    #[test]
    fn pages_encode_as_json_and_as_server_sent_events() {
        let page = Page {
            events: vec![
                Item {
                    seq: 8,
                    at_ms: 0,
                    json: br#"{"seq":8,"type":"a"}"#.to_vec(),
                },
                Item {
                    seq: 9,
                    at_ms: 0,
                    json: br#"{"seq":9}"#.to_vec(),
                },
            ],
            next: 9,
        };
        let doc: serde_json::Value = serde_json::from_slice(&json(&page)).unwrap();
        assert_eq!(
            doc,
            serde_json::json!({"events": [{"seq": 8, "type": "a"}, {"seq": 9}], "next": 9})
        );
        let empty: serde_json::Value = serde_json::from_slice(&json(&Page {
            events: vec![],
            next: 3,
        }))
        .unwrap();
        assert_eq!(empty, serde_json::json!({"events": [], "next": 3}));
        assert_eq!(
            &sse(&page)[..],
            b"id: 8\ndata: {\"seq\":8,\"type\":\"a\"}\n\nid: 9\ndata: {\"seq\":9}\n\n"
        );
    }
}
