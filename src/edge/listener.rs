//! One accept loop: a connection cap, a header-read time limit, HTTP/1.1 and HTTP/2 (prior
//! knowledge) through hyper-util's auto builder, and a graceful drain on shutdown.

use std::{convert::Infallible, net::SocketAddr, sync::Arc, time::Duration};

use http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::{conn::auto, graceful::GracefulShutdown},
    service::TowerToHyperService,
};
use prometheus::IntGauge;
use tokio::{
    net::{TcpListener, TcpSocket},
    sync::Semaphore,
};
use tokio_util::sync::CancellationToken;
use tower::Service;
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

/// Accepts and serves connections until `shutdown` fires, then stops accepting and gives open
/// connections `grace` to finish. Returns once all are closed or the grace period is over.
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
        let io = TokioIo::new(stream);
        let conn = builder
            .serve_connection_with_upgrades(io, TowerToHyperService::new(service.clone()))
            .into_owned();
        let conn = graceful.watch(conn);
        let open = open.clone();
        let span = tracing::debug_span!("conn", client.addr = %peer, listener = options.name);
        // Tracked by `graceful` (which waits for it) and bounded by the semaphore.
        tokio::spawn(
            async move {
                open.inc();
                if let Err(e) = conn.await {
                    tracing::debug!(error = %e, "connection ended with an error");
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
