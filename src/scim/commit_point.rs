//! The commit point of a request: the moment the engine hands a write batch to the store.
//!
//! The HTTP layer runs each request inside [`scope`] and, when the request deadline passes,
//! asks [`CommitPoint::reached`]: before the commit point, dropping the request writes nothing,
//! so a `503` is honest; after it, the request is awaited to its real answer, so a timeout
//! answer never hides a committed write. The flag is a task-local, so code outside a scope
//! (tests, the CLI) is unaffected.

use std::{
    future::Future,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
};

tokio::task_local! {
    static POINT: CommitPoint;
}

/// Whether the request running in this scope has handed a write to the store.
#[derive(Clone, Debug, Default)]
pub struct CommitPoint(Arc<AtomicBool>);

impl CommitPoint {
    /// A fresh flag, not yet reached.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether a write has been handed to the store.
    pub fn reached(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// Runs `fut` with `point` as its commit point.
pub fn scope<F: Future>(point: CommitPoint, fut: F) -> impl Future<Output = F::Output> {
    POINT.scope(point, fut)
}

/// Marks the commit point of the current request; call it before handing a batch to the store.
pub fn mark() {
    let _ = POINT.try_with(|p| p.0.store(true, Ordering::SeqCst));
}

/// A fault-injection delay for the integration tests, read from the environment variable
/// `name` (milliseconds); debug builds only, so a release binary never sleeps here.
pub(crate) async fn fault_delay(name: &str) {
    #[cfg(debug_assertions)]
    if let Some(ms) = std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok()) {
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
    }
    #[cfg(not(debug_assertions))]
    let _ = name;
}
