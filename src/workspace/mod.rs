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

use crate::{
    config::WorkspaceSettings,
    scim::{engine::Ctx, engine::Engine, events::Actor},
    store::SharedStore,
};

/// The store lease that lets one replica sync at a time.
const LEASE: &str = "workspace.sync";
/// The label of the connector's writes (`actor.token` of its events).
pub const ACTOR: &str = "workspace";
/// The limit on one call to Google (token endpoint or Directory API).
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// The connector's live state, for `/health` and the status page.
#[derive(Clone, Debug, Default)]
pub struct Live {
    /// Whether a sync is running on this replica.
    pub running: bool,
    /// Why the key or settings file cannot be used, if so (then nothing syncs).
    pub file_error: Option<String>,
}

/// The key and settings as last read, and the client built from them.
struct Loaded {
    key: Vec<u8>,
    settings: Vec<u8>,
    directory: directory::Directory,
    base_url: String,
}

/// The running connector.
pub struct Connector {
    settings: WorkspaceSettings,
    engine: Engine,
    store: SharedStore,
    client: crate::outbound::HttpClient,
    holder: String,
    fallback_base_url: String,
    now: Notify,
    loaded: Mutex<Option<Loaded>>,
    live: Mutex<Live>,
}

impl Connector {
    /// A connector over `engine`; `holder` names this process in the lease; `base_url` is where
    /// SCIM resources live when `bridgeAddress` does not say.
    pub fn new(
        settings: WorkspaceSettings,
        engine: Engine,
        store: SharedStore,
        holder: String,
        base_url: String,
    ) -> Arc<Self> {
        Arc::new(Self {
            settings,
            engine,
            store,
            client: crate::outbound::client(CALL_TIMEOUT),
            holder,
            fallback_base_url: base_url,
            now: Notify::new(),
            loaded: Mutex::new(None),
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

    /// The store the connector keeps its state in.
    pub fn store(&self) -> &SharedStore {
        &self.store
    }

    /// `OP_WORKSPACE_GROUPS`, when set (the status page then cannot change the selection).
    pub fn configured_groups(&self) -> Option<&state::Selection> {
        self.settings.groups.as_ref()
    }

    /// The groups to sync: `OP_WORKSPACE_GROUPS`, else what the status page stored.
    pub async fn selection(&self) -> Result<Option<state::Selection>, crate::store::StoreError> {
        state::chosen(self.settings.groups.as_ref(), &self.store).await
    }

    /// Every Google group, for the status page's picker.
    pub async fn google_groups(&self) -> Result<Vec<directory::Group>, String> {
        let (directory, _) = self.directory().await?;
        directory.all_groups().await.map_err(|e| e.to_string())
    }

    /// The Directory API client for the files as they are now, rebuilt when they changed.
    async fn directory(&self) -> Result<(directory::Directory, String), String> {
        let read = |p: &std::path::Path| {
            std::fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display()))
        };
        let key = read(&self.settings.credentials)?;
        let settings = read(&self.settings.settings)?;
        let mut loaded = self.loaded.lock().await;
        if let Some(l) = loaded
            .as_ref()
            .filter(|l| l.key == key && l.settings == settings)
        {
            return Ok((l.directory.clone(), l.base_url.clone()));
        }
        let account = key::ServiceAccount::parse(&key).map_err(|why| {
            format!(
                "{} is not a usable service-account key: {why}",
                self.settings.credentials.display()
            )
        })?;
        let file = key::SettingsFile::parse(&settings)
            .map_err(|why| format!("{}: {why}", self.settings.settings.display()))?;
        let tokens = Arc::new(token::Tokens::new(
            account,
            file.actor,
            self.client.clone(),
            CALL_TIMEOUT,
        ));
        let directory = directory::Directory::new(
            &self.settings.api_url,
            tokens,
            self.client.clone(),
            CALL_TIMEOUT,
            directory::Backoff {
                first: self.settings.backoff,
                ..directory::Backoff::default()
            },
        );
        let base_url = file
            .bridge_address
            .map(|b| format!("{}/scim/v2", b.trim_end_matches('/')))
            .unwrap_or_else(|| self.fallback_base_url.clone());
        *loaded = Some(Loaded {
            key,
            settings,
            directory: directory.clone(),
            base_url: base_url.clone(),
        });
        Ok((directory, base_url))
    }

    /// Syncs at start, then every interval or when asked, until `cancel`.
    pub async fn run(self: Arc<Self>, cancel: CancellationToken) {
        loop {
            self.once(&cancel).await;
            tokio::select! {
                () = cancel.cancelled() => return,
                () = tokio::time::sleep(self.settings.sync_interval) => {}
                () = self.now.notified() => {}
            }
        }
    }

    /// One sync under the lease; skipped while another replica holds it.
    async fn once(&self, cancel: &CancellationToken) {
        let (directory, base_url) = match self.directory().await {
            Ok(d) => d,
            Err(why) => {
                tracing::warn!(error = %why, "the Google Workspace connector cannot sync");
                self.live.lock().await.file_error = Some(why);
                return;
            }
        };
        self.live.lock().await.file_error = None;
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
        let syncer = Arc::new(sync::Syncer {
            directory,
            engine: self.engine.clone(),
            store: self.store.clone(),
            configured: self.settings.groups.clone(),
            leave: self.settings.leave,
            ctx: Ctx {
                base_url,
                actor: Actor {
                    token: ACTOR.into(),
                    user_agent: Some(
                        concat!("scim-bridge/", env!("CARGO_PKG_VERSION"), " workspace sync")
                            .into(),
                    ),
                },
            },
        });
        let lost = CancellationToken::new();
        let keeper = tokio::spawn(crate::outbox::deliver::keep_lease(
            self.store.clone(),
            LEASE.to_owned(),
            self.holder.clone(),
            lost.clone(),
            cancel.child_token(),
        ));
        // The summary is stored by the sync itself, for every replica to read.
        tokio::select! {
            _ = syncer.run() => {}
            () = lost.cancelled() => {
                tracing::warn!("the workspace sync lease was lost; another replica may sync");
            }
            () = cancel.cancelled() => {}
        }
        keeper.abort();
        let _ = self.store.release_lease(LEASE, &self.holder).await;
        self.live.lock().await.running = false;
    }

    /// The `Workspace` report for `/health`: degraded while the files are unusable here, or
    /// when the last sync (the stored one, whichever replica made it) failed or was held by
    /// the deprovisioning guard.
    pub async fn report(&self) -> crate::operator::Report {
        use crate::operator::{Condition, Report};
        let live = self.live().await;
        let stored = state::summary(&self.store).await.ok().flatten();
        let (condition, detail) = if let Some(e) = &live.file_error {
            (Condition::Degraded, Some(e.clone()))
        } else {
            match &stored {
                None if live.running => {
                    (Condition::Healthy, Some("the first sync is running".into()))
                }
                None => (Condition::Healthy, None),
                Some(s) => {
                    let n = |k: &str| s[k].as_u64().unwrap_or_default();
                    let state = s["state"].as_str().unwrap_or("unknown");
                    let mut detail = format!(
                        "last sync {state} at {}: {} users in scope, {} created, {} updated, {} adopted, \
                         {} deactivated, {} deleted, {} held",
                        s["startedAt"].as_str().unwrap_or("?"),
                        n("usersInScope"), n("created"), n("updated"), n("adopted"),
                        n("deactivated"), n("deleted"), n("held")
                    );
                    for e in s["errors"].as_array().into_iter().flatten().take(3) {
                        detail.push_str("; ");
                        detail.push_str(e.as_str().unwrap_or_default());
                    }
                    let condition = match state {
                        "failed" | "held" => Condition::Degraded,
                        _ => Condition::Healthy,
                    };
                    (condition, Some(detail))
                }
            }
        };
        Report {
            source: "Workspace",
            condition,
            detail,
        }
    }
}
