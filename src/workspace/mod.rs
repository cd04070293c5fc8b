//! The Google Workspace connector: Google pushes no SCIM, so the bridge pulls users and groups
//! from the Admin SDK Directory API with a service account (domain-wide delegation), the way
//! the reference bridge does, and applies the difference through the engine.
//!
//! * [`key`]: the service-account key and `workspace-settings.json`.
//! * [`token`]: the RFC 7523 JWT-bearer exchange and the cached access token.
//! * [`directory`]: the Directory API's lists, paging and retries.
//! * [`mapping`]: a Google user or group as a SCIM resource.
//! * [`state`]: the selection, the last summary and the ownership marks, in the store.
//! * [`sync`]: one sync.
//!
//! The connector runs a sync at start and every `OP_WORKSPACE_SYNC_INTERVAL`, or when the
//! status page asks, on one replica at a time (a store lease). Must not know HTTP routing or
//! the store's layout beyond its own spaces.

pub mod directory;
pub mod key;
pub mod mapping;
pub mod state;
pub mod sync;
pub mod token;

use std::{sync::Arc, time::Duration};

use tokio::sync::{Mutex, Notify};
use tokio_util::sync::CancellationToken;

use crate::store::SharedStore;

/// The store lease that lets one replica sync at a time.
const LEASE: &str = "workspace.sync";

/// The connector's live state, for `/health` and the status page.
#[derive(Clone, Debug, Default)]
pub struct Live {
    /// Whether a sync is running on this replica.
    pub running: bool,
    /// The last summary this replica made (the stored one is what the page shows).
    pub last: Option<sync::Summary>,
}

/// The running connector.
pub struct Connector {
    syncer: sync::Syncer,
    store: SharedStore,
    interval: Duration,
    holder: String,
    now: Notify,
    live: Mutex<Live>,
}

impl Connector {
    /// A connector that syncs every `interval`; `holder` names this process in the lease.
    pub fn new(syncer: sync::Syncer, interval: Duration, holder: String) -> Arc<Self> {
        Arc::new(Self {
            store: syncer.store.clone(),
            syncer,
            interval,
            holder,
            now: Notify::new(),
            live: Mutex::new(Live::default()),
        })
    }

    /// Asks for a sync now (the status page's button); the running loop picks it up.
    pub fn sync_now(&self) {
        self.now.notify_one();
    }

    /// What this replica knows.
    pub async fn live(&self) -> Live {
        self.live.lock().await.clone()
    }

    /// The syncer (its selection, its store).
    pub fn syncer(&self) -> &sync::Syncer {
        &self.syncer
    }

    /// Syncs at start, then every interval or when asked, until `cancel`.
    pub async fn run(self: Arc<Self>, cancel: CancellationToken) {
        loop {
            self.once(&cancel).await;
            tokio::select! {
                () = cancel.cancelled() => return,
                () = tokio::time::sleep(self.interval) => {}
                () = self.now.notified() => {}
            }
        }
    }

    /// One sync under the lease; skipped while another replica holds it.
    async fn once(&self, cancel: &CancellationToken) {
        let ttl = crate::outbox::deliver::LEASE_TTL;
        match self.store.acquire_lease(LEASE, &self.holder, ttl).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::debug!("another replica holds the workspace sync lease");
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot take the workspace sync lease; retrying at the next sync");
                return;
            }
        }
        self.live.lock().await.running = true;
        let lost = CancellationToken::new();
        let keeper = tokio::spawn(crate::outbox::deliver::keep_lease(
            self.store.clone(),
            LEASE.to_owned(),
            self.holder.clone(),
            lost.clone(),
            cancel.child_token(),
        ));
        let summary = tokio::select! {
            s = self.syncer.run() => Some(s),
            () = lost.cancelled() => {
                tracing::warn!("the workspace sync lease was lost; another replica may sync");
                None
            }
            () = cancel.cancelled() => None,
        };
        keeper.abort();
        let _ = self.store.release_lease(LEASE, &self.holder).await;
        let mut live = self.live.lock().await;
        live.running = false;
        if summary.is_some() {
            live.last = summary;
        }
    }
}
