//! Serving HTTP on one connection after its handshake, within deadlines: the client's first
//! bytes (or HTTP/2 preface) within `OP_FIRST_BYTE_TIMEOUT`, no stretch without a request in
//! flight longer than `OP_IDLE_TIMEOUT`, no write stalled longer than `OP_WRITE_TIMEOUT` (see
//! [`super::io`]), and closing at once when the registry evicts it.
//!
//! A request is in flight from the moment hyper hands it to the service until its response
//! body is dropped (written, or abandoned with the connection), tracked by [`Tracked`].

use std::{
    convert::Infallible,
    net::SocketAddr,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use futures_util::future::BoxFuture;
use http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::{
    rt::{TokioExecutor, TokioIo},
    server::conn::auto,
    service::TowerToHyperService,
};
use tokio::{
    io::{AsyncRead, AsyncWrite},
    time::Instant,
};
use tokio_util::sync::CancellationToken;
use tower::Service;

use super::{
    io::{Progress, WatchedIo},
    listener::{ClientAddr, TlsConnection},
    registry::{ConnState, InFlight},
};

/// The deadlines of one connection once its handshake is done.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Deadlines {
    /// From the end of the handshake (plain HTTP: the accept) to the client's first byte.
    pub first_byte: Duration,
    /// The longest stretch without a request in flight; also the HTTP/2 keep-alive PING
    /// period and its answer's time limit (half each).
    pub idle: Duration,
    /// The longest a pending write may make no progress.
    pub write: Duration,
}

/// Why a connection ended, for the `connections_closed_total` metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Closed {
    /// The client or the protocol ended it, or shutdown drained it.
    Normally,
    /// No byte arrived within the first-byte deadline.
    FirstByte,
    /// No request was in flight for the idle deadline.
    Idle,
    /// A write made no progress within the write deadline.
    WriteStall,
    /// The registry closed it to make room at the connection cap.
    Evicted,
}

impl Closed {
    /// The metric label, or `None` for a normal end.
    pub fn reason(self) -> Option<&'static str> {
        match self {
            Closed::Normally => None,
            Closed::FirstByte => Some("first_byte_timeout"),
            Closed::Idle => Some("idle_timeout"),
            Closed::WriteStall => Some("write_timeout"),
            Closed::Evicted => Some("evicted"),
        }
    }
}

/// The service of one connection: adds the connection's request extensions and counts the
/// request as in flight until its response body is dropped.
#[derive(Clone)]
pub struct Tracked<S> {
    inner: S,
    state: Arc<ConnState>,
    peer: SocketAddr,
    tls: Option<TlsConnection>,
}

impl<S, B> Service<Request<Incoming>> for Tracked<S>
where
    S: Service<Request<Incoming>, Response = Response<B>, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response<TrackedBody<B>>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<Incoming>) -> Self::Future {
        let guard = self.state.begin();
        req.extensions_mut().insert(ClientAddr(self.peer));
        if let Some(tls) = &self.tls {
            req.extensions_mut().insert(tls.clone());
        }
        let future = self.inner.call(req);
        Box::pin(async move {
            let res = future.await?;
            Ok(res.map(|body| TrackedBody {
                inner: Box::pin(body),
                _in_flight: guard,
            }))
        })
    }
}

/// A response body that ends its request's time in flight when dropped.
pub struct TrackedBody<B> {
    inner: Pin<Box<B>>,
    _in_flight: InFlight,
}

impl<B: http_body::Body> http_body::Body for TrackedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        self.inner.as_mut().poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// When the connection is next due for a deadline check, and what is due then.
fn next_deadline(
    state: &ConnState,
    progress: &Progress,
    started: Instant,
    deadlines: Deadlines,
) -> (Instant, Closed) {
    if !progress.read_any() {
        return (started + deadlines.first_byte, Closed::FirstByte);
    }
    match state.idle_since() {
        // Busy: look again after a full idle period (it can only end later than that).
        None => (Instant::now() + deadlines.idle, Closed::Normally),
        Some(since) => (
            Instant::from_std(since).max(started) + deadlines.idle,
            Closed::Idle,
        ),
    }
}

/// Serves HTTP on `io` until it ends, a deadline passes, the registry evicts it, or
/// `shutdown` drains it (gracefully: the listener bounds the wait).
pub(super) async fn serve<I, S, B>(
    io: I,
    builder: &auto::Builder<TokioExecutor>,
    service: S,
    state: &Arc<ConnState>,
    (peer, tls): (SocketAddr, Option<TlsConnection>),
    deadlines: Deadlines,
    shutdown: &CancellationToken,
) -> Closed
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: Service<Request<Incoming>, Response = Response<B>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let started = Instant::now();
    let io = WatchedIo::new(io, deadlines.write);
    let progress = io.progress();
    let service = Tracked {
        inner: service,
        state: Arc::clone(state),
        peer,
        tls,
    };
    let conn =
        builder.serve_connection_with_upgrades(TokioIo::new(io), TowerToHyperService::new(service));
    tokio::pin!(conn);
    // Once closing gracefully: why, and when to stop waiting (none while shutting down).
    let mut closing: Option<(Closed, Option<Instant>)> = None;
    loop {
        let (due, what) = match closing {
            Some((why, Some(until))) => (until, why),
            Some((_, None)) => (Instant::now() + Duration::from_secs(3600), Closed::Normally),
            None => next_deadline(state, &progress, started, deadlines),
        };
        tokio::select! {
            ended = conn.as_mut() => {
                if let Err(e) = ended {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                return match closing {
                    _ if progress.write_stalled() => Closed::WriteStall,
                    Some((why, _)) => why,
                    None => Closed::Normally,
                };
            }
            _ = state.closed() => return Closed::Evicted,
            _ = shutdown.cancelled(), if closing.is_none() => {
                conn.as_mut().graceful_shutdown();
                closing = Some((Closed::Normally, None));
            }
            _ = tokio::time::sleep_until(due) => {
                if closing.is_some() {
                    // A graceful close that did not finish within the write deadline.
                    return what;
                }
                // Deadlines only move later; each is checked again when it comes.
                match what {
                    // Nothing was said: nothing to close gracefully.
                    Closed::FirstByte if !progress.read_any() => return Closed::FirstByte,
                    Closed::Idle if next_deadline(state, &progress, started, deadlines).0
                        <= Instant::now() =>
                    {
                        // HTTP/1.1 closes at once; HTTP/2 sends GOAWAY first.
                        conn.as_mut().graceful_shutdown();
                        closing = Some((Closed::Idle, Some(Instant::now() + deadlines.write)));
                    }
                    _ => {}
                }
            }
        }
    }
}
