//! One accept loop: admission through the connection table (a global cap that evicts the
//! longest-idle connection, and a per-client cap, see [`super::registry`]), a handshake step
//! (none for plain HTTP, TLS for HTTPS, see [`super::handshake`]), HTTP/1.1 and HTTP/2 through
//! hyper-util's auto builder within the connection deadlines of [`super::conn`], and a graceful
//! drain on shutdown.

use std::{convert::Infallible, future::Future, net::SocketAddr, sync::Arc, time::Duration};

use http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::{
    rt::{TokioExecutor, TokioTimer},
    server::conn::auto,
};
use tokio::{
    io::{AsyncRead, AsyncWrite},
    net::{TcpListener, TcpSocket, TcpStream},
};
use tokio_util::sync::CancellationToken;
use tower::Service;
use tracing::Instrument;

use super::{
    conn::{self, Closed, Deadlines},
    registry::{Admission, Refusal, Registry},
};
use crate::metrics::Metrics;

/// Per-connection settings.
#[derive(Clone, Debug)]
pub struct ConnOptions {
    /// A name for logs and metrics (`http`, `ping`).
    pub name: &'static str,
    /// The most connections open at once; at the cap the longest-idle one is closed for a
    /// newcomer, and only when every one has a request in flight do clients wait in the backlog.
    pub max_connections: usize,
    /// The most connections open at once from one client (IPv4 address, IPv6 /64); more are
    /// closed at accept.
    pub max_connections_per_client: usize,
    /// The deadlines of a connection after its handshake.
    pub deadlines: Deadlines,
    /// The time limit on reading a request's headers (slowloris guard).
    pub header_read_timeout: Duration,
    /// How long open connections may take to finish after shutdown begins.
    pub grace: Duration,
}

/// Request extension set on every request that arrived over TLS (the HTTPS listener), so the
/// HTTP layer can tell `https` from `http` (e.g. for `meta.location`). Absent on plain HTTP.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsConnection {
    /// The SNI server name the client asked for (the configured domain).
    pub server_name: Arc<str>,
}

/// Request extension set on every request: the TCP peer address of the connection it arrived
/// on (the client, or the proxy in front of it). The HTTP layer decides whether to believe
/// forwarded headers on top of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientAddr(pub SocketAddr);

/// Turns an accepted TCP stream into the byte stream HTTP is served over.
pub trait Handshake: Send + Sync + 'static {
    /// The stream HTTP runs on.
    type Io: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    /// Performs the handshake with the client at `peer`; `None` closes the connection (the
    /// handshake counts why).
    fn handshake(
        &self,
        tcp: TcpStream,
        peer: SocketAddr,
    ) -> impl Future<Output = Option<(Self::Io, Option<TlsConnection>)>> + Send;
}

/// No handshake: plain HTTP.
#[derive(Clone, Copy, Debug)]
pub struct Plain;

impl Handshake for Plain {
    type Io = TcpStream;
    async fn handshake(
        &self,
        tcp: TcpStream,
        _peer: SocketAddr,
    ) -> Option<(TcpStream, Option<TlsConnection>)> {
        Some((tcp, None))
    }
}

/// Binds a listening socket with a deep backlog (tokio's default of 128 drops bursts).
pub fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.set_nodelay(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

/// Serves plain HTTP; see [`serve_with`].
pub async fn serve<S, B>(
    listener: TcpListener,
    service: S,
    options: ConnOptions,
    metrics: Metrics,
    shutdown: CancellationToken,
) where
    S: Service<Request<Incoming>, Response = Response<B>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    serve_with(
        listener,
        Arc::new(Plain),
        service,
        options,
        metrics,
        shutdown,
    )
    .await
}

/// The HTTP/1.1 + HTTP/2 builder: the header-read limit for HTTP/1.1 (which also bounds the
/// idle time between requests), keep-alive PINGs for HTTP/2 every half idle period, each
/// answered within the other half, so a vanished peer is noticed within the idle deadline
/// even with a stream open.
fn builder(options: &ConnOptions) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(options.header_read_timeout)
        .keep_alive(true);
    let ping = (options.deadlines.idle / 2).max(Duration::from_millis(100));
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(ping)
        .keep_alive_timeout(ping);
    builder
}

/// Admits an accepted connection, waiting while every open connection is busy. `None`: it was
/// refused (and counted), or shutdown began.
async fn admit(
    registry: &Arc<Registry>,
    peer: SocketAddr,
    options: &ConnOptions,
    metrics: &Metrics,
    shutdown: &CancellationToken,
) -> Option<super::registry::Conn> {
    // Bounded by shutdown; each round waits for a change or 100 ms.
    loop {
        let changed = registry.changed();
        tokio::pin!(changed);
        changed.as_mut().enable();
        match registry.admit(peer.ip()) {
            Admission::Admitted { conn, .. } => return Some(conn),
            Admission::Refused(Refusal::PerClient) => {
                metrics.connection_closed(options.name, "per_client_limit");
                tracing::debug!(client.addr = %peer, listener = options.name, "per-client connection limit reached");
                return None;
            }
            Admission::Full => tokio::select! {
                _ = shutdown.cancelled() => return None,
                _ = changed => {}
                _ = tokio::time::sleep(Duration::from_millis(100)) => {}
            },
        }
    }
}

/// Accepts connections until `shutdown` fires, admits each (see [`Registry`]), runs
/// `handshake` on it (inside the connection's task, so a slow client never blocks the accept
/// loop), then serves HTTP on it within the connection deadlines. After shutdown it stops
/// accepting and gives open connections `grace` to finish. Returns once all are closed or the
/// grace period is over.
pub async fn serve_with<H, S, B>(
    listener: TcpListener,
    handshake: Arc<H>,
    service: S,
    options: ConnOptions,
    metrics: Metrics,
    shutdown: CancellationToken,
) where
    H: Handshake,
    S: Service<Request<Incoming>, Response = Response<B>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let registry = Registry::new(options.max_connections, options.max_connections_per_client);
    let builder = Arc::new(builder(&options));
    let open = metrics.connections(options.name);
    loop {
        let (stream, peer) = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, listener = options.name, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Some(registered) = admit(&registry, peer, &options, &metrics, &shutdown).await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let (open, metrics, builder) = (open.clone(), metrics.clone(), Arc::clone(&builder));
        let (handshake, service, shutdown) =
            (Arc::clone(&handshake), service.clone(), shutdown.clone());
        let (name, deadlines) = (options.name, options.deadlines);
        let span = tracing::debug_span!("conn", client.addr = %peer, listener = name);
        // Bounded by the registry; the handshake by its own time limit, the connection after
        // it by its deadlines, and the drain below.
        tokio::spawn(
            async move {
                open.inc();
                let state = Arc::clone(registered.state());
                let handshaken = tokio::select! {
                    h = handshake.handshake(stream, peer) => Ok(h),
                    _ = state.closed() => Err(Closed::Evicted),
                };
                let closed = match handshaken {
                    Ok(Some((io, tls))) => {
                        conn::serve(
                            io,
                            &builder,
                            service,
                            &state,
                            (peer, tls),
                            deadlines,
                            &shutdown,
                        )
                        .await
                    }
                    Ok(None) => Closed::Normally,
                    Err(evicted) => evicted,
                };
                if let Some(reason) = closed.reason() {
                    metrics.connection_closed(name, reason);
                    tracing::debug!(reason, "connection closed");
                }
                drop(registered);
                open.dec();
            }
            .instrument(span),
        );
    }
    drop(listener);
    tracing::info!(
        listener = options.name,
        "stopped accepting; draining connections"
    );
    if tokio::time::timeout(options.grace, registry.drained())
        .await
        .is_err()
    {
        tracing::warn!(
            listener = options.name,
            grace = ?options.grace,
            "grace period over; closing remaining connections"
        );
    }
}
