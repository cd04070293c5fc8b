//! The shutdown signal: SIGTERM and SIGINT are treated the same.
//!
//! Must not know what is being shut down; `app` decides the order.

/// Resolves when the process receives SIGTERM or SIGINT.
pub async fn signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (mut term, mut int) = match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(t), Ok(i)) => (t, i),
        // Without signal handlers the process can still be stopped by SIGKILL; never exit early.
        _ => return std::future::pending().await,
    };
    tokio::select! {
        _ = term.recv() => tracing::info!(signal = "SIGTERM", "shutting down"),
        _ = int.recv() => tracing::info!(signal = "SIGINT", "shutting down"),
    }
}
