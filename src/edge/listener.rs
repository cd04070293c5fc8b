//! One accept loop: a connection cap, a handshake step (none for plain HTTP, TLS for HTTPS, see
//! [`super::handshake`]), a header-read time limit, HTTP/1.1 and HTTP/2 through hyper-util's
//! auto builder, and a graceful drain on shutdown.

use std::{convert::Infallible, future::Future, net::SocketAddr, sync::Arc, time::Duration};

use http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::{conn::auto, graceful::GracefulShutdown},
    service::TowerToHyperService,
};
use prometheus::IntGauge;
use tokio::{
    io::{AsyncRead, AsyncWrite},
    net::{TcpListener, TcpSocket, TcpStream},
    sync::Semaphore,
};
use tokio_util::sync::CancellationToken;
use tower::{util::MapRequest, Service};
use tracing::Instrument;

/// Per-connection settings.
#[derive(Clone, Debug)]
pub struct ConnOptions {
    /// A name for logs and metrics (`http`, `ping`).
    pub name: &'static str,
    /// The most connections served at once; further clients wait in the backlog.
    pub max_connections: usize,
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
    /// Performs the handshake; `None` closes the connection (the handshake counts why).
    fn handshake(
        &self,
        tcp: TcpStream,
    ) -> impl Future<Output = Option<(Self::Io, Option<TlsConnection>)>> + Send;
}

/// No handshake: plain HTTP.
#[derive(Clone, Copy, Debug)]
pub struct Plain;

impl Handshake for Plain {
    type Io = TcpStream;
    async fn handshake(&self, tcp: TcpStream) -> Option<(TcpStream, Option<TlsConnection>)> {
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
    open: IntGauge,
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
    serve_with(listener, Arc::new(Plain), service, options, open, shutdown).await
}

/// Accepts connections until `shutdown` fires, runs `handshake` on each (inside the connection's
/// task, so a slow client never blocks the accept loop), then serves HTTP on it. After shutdown
/// it stops accepting and gives open connections `grace` to finish. Returns once all are closed
/// or the grace period is over.
pub async fn serve_with<H, S, B>(
    listener: TcpListener,
    handshake: Arc<H>,
    service: S,
    options: ConnOptions,
    open: IntGauge,
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
    let graceful = GracefulShutdown::new();
    let permits = Arc::new(Semaphore::new(options.max_connections));
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(options.header_read_timeout)
        .keep_alive(true);
    builder.http2().timer(TokioTimer::new());
    loop {
        let permit = tokio::select! {
            _ = shutdown.cancelled() => break,
            p = Arc::clone(&permits).acquire_owned() => p.expect("the semaphore is never closed"),
        };
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
        let _ = stream.set_nodelay(true);
        let (open, watcher, builder) = (open.clone(), graceful.watcher(), builder.clone());
        let (handshake, service) = (Arc::clone(&handshake), service.clone());
        let span = tracing::debug_span!("conn", client.addr = %peer, listener = options.name);
        // Bounded by the semaphore; the handshake by its own time limit, the connection after it
        // by `graceful` (which waits for it).
        tokio::spawn(
            async move {
                open.inc();
                if let Some((io, tls)) = handshake.handshake(stream).await {
                    let service = MapRequest::new(service, move |mut req: Request<Incoming>| {
                        req.extensions_mut().insert(ClientAddr(peer));
                        if let Some(tls) = &tls {
                            req.extensions_mut().insert(tls.clone());
                        }
                        req
                    });
                    let conn = builder.serve_connection_with_upgrades(
                        TokioIo::new(io),
                        TowerToHyperService::new(service),
                    );
                    if let Err(e) = watcher.watch(conn.into_owned()).await {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                }
                open.dec();
                drop(permit);
            }
            .instrument(span),
        );
    }
    drop(listener);
    tracing::info!(
        listener = options.name,
        "stopped accepting; draining connections"
    );
    if tokio::time::timeout(options.grace, graceful.shutdown())
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
