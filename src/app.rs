//! The composition root: builds session, store, metrics, health and listeners, runs them, and
//! owns the shutdown order (stop accepting → drain connections within the grace period →
//! cancel background tasks → close the store).
//!
//! The only module that knows all the others; it knows none of their protocols.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context;
use prometheus::Registry;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::{
    auth::Authorizer,
    config::{SessionLocation, Settings, StoreSettings},
    edge,
    http::{self, AppState, Limits},
    logging::RecentLogs,
    metrics::Metrics,
    operator::Health,
    scim::engine::{Engine, EngineLimits},
    session::{self, reload::ReloadOutcome, reload::SessionHandle, CreateOptions},
    store::{embedded::EmbeddedStore, SharedStore},
    usage::{Ledger, UsageError, UsageRecord},
};

/// How long connecting to the store may take at start-up.
const STORE_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long `token list` waits for Redis before it shows last use as unknown.
const USAGE_READ_TIMEOUT: Duration = Duration::from_secs(3);

/// A started bridge.
pub struct Running {
    /// The plain-HTTP listener's address.
    pub http_addr: SocketAddr,
    /// The separate `/ping` listener's address, when enabled.
    pub ping_addr: Option<SocketAddr>,
    /// The HTTPS listener's address, when `OP_TLS_DOMAIN` is set.
    pub https_addr: Option<SocketAddr>,
    shutdown: CancellationToken,
    listeners: JoinSet<()>,
    background: CancellationToken,
    background_tasks: JoinSet<()>,
    store: SharedStore,
}

impl Running {
    /// The store the bridge runs on (for tests that look beneath the API).
    pub fn store(&self) -> &SharedStore {
        &self.store
    }

    /// Begins a graceful shutdown.
    pub fn shutdown(&self) {
        self.shutdown.cancel();
    }

    /// Waits until shutdown is requested or a listener stops on its own, then finishes the
    /// shutdown in order.
    pub async fn wait(mut self) {
        tokio::select! {
            biased;
            _ = self.shutdown.cancelled() => {}
            _ = self.listeners.join_next() => {
                // A listener also ends when shutdown has just begun; only an early end is a fault.
                if !self.shutdown.is_cancelled() {
                    tracing::error!("a listener stopped unexpectedly; shutting down");
                }
            }
        }
        self.shutdown.cancel();
        while self.listeners.join_next().await.is_some() {}
        self.background.cancel();
        while self.background_tasks.join_next().await.is_some() {}
        drop(self.store);
        tracing::info!("stopped");
    }
}

/// Loads the session, creating it first when the operator left the path at its default and no
/// file exists there yet (the one-command start). An explicitly named file must exist.
fn prepare_session(location: &SessionLocation) -> anyhow::Result<SessionHandle> {
    if !location.explicit && !location.path.exists() {
        let (_, token) = session::create(&location.path, CreateOptions::default())
            .context("creating a session file at the default path")?;
        eprintln!(
            "Created a new session file at {} (keep it secret). The bearer token, shown only once:",
            location.path.display()
        );
        println!("{}", token.reveal());
        eprintln!("Give this token to your identity provider; it is not stored anywhere.");
    }
    SessionHandle::load(&location.path).context("loading the session file")
}

/// Opens the configured backend, checks it takes a write, and wraps it in the
/// [`store::guard`](crate::store::guard) every caller then holds.
async fn open_store(
    settings: &Settings,
    latency: Option<prometheus::HistogramVec>,
) -> anyhow::Result<SharedStore> {
    let store: SharedStore = match &settings.store {
        StoreSettings::Embedded {
            data_dir,
            cache_bytes,
        } => {
            let (dir, cache_bytes) = (data_dir.clone(), *cache_bytes);
            let store = tokio::task::spawn_blocking(move || {
                EmbeddedStore::open_with_cache(&dir, cache_bytes)
            })
            .await
            .context("opening the embedded store")??;
            Arc::new(store)
        }
        StoreSettings::Redis { .. } => {
            connect_redis(settings, STORE_CONNECT_TIMEOUT, settings.store_timeout).await?
        }
    };
    crate::store::guard::within(
        STORE_CONNECT_TIMEOUT,
        || "first store ping".into(),
        store.ping(),
    )
    .await
    .with_context(|| format!("checking that the {} store is writable", store.kind()))?;
    Ok(crate::store::guard::Guarded::wrap(
        store,
        settings.store_timeout,
        latency,
    ))
}

/// Connects to Redis; `settings.store` must be [`StoreSettings::Redis`].
async fn connect_redis(
    settings: &Settings,
    connect_timeout: Duration,
    command_timeout: Duration,
) -> Result<SharedStore, crate::store::StoreError> {
    let StoreSettings::Redis {
        url,
        key_prefix,
        insecure_tls,
        replication,
    } = &settings.store
    else {
        return Err(crate::store::StoreError::Invalid {
            context: "the embedded store was configured, not redis".into(),
        });
    };
    let options = crate::store::redis::RedisOptions {
        url: url.expose().to_owned(),
        key_prefix: key_prefix.clone(),
        insecure_tls: *insecure_tls,
        connect_timeout,
        command_timeout,
        replication: Some(*replication),
    };
    Ok(Arc::new(
        crate::store::redis::RedisStore::connect(options).await?,
    ))
}

/// Where the running bridge keeps token last use: the shared store with Redis, a file in the
/// data directory beside the (locked) embedded database otherwise.
fn usage_ledger(settings: &Settings, store: &SharedStore) -> Ledger {
    match &settings.store {
        StoreSettings::Embedded { data_dir, .. } => Ledger::File {
            dir: data_dir.clone(),
            timeout: settings.store_timeout,
        },
        StoreSettings::Redis { .. } => Ledger::Store {
            store: Arc::clone(store),
            timeout: settings.store_timeout,
        },
    }
}

/// Builds everything and starts the listeners. `logs` is the ring the subscriber feeds (see
/// [`crate::logging::init`]); the status page downloads it.
pub async fn start(settings: Settings, logs: RecentLogs) -> anyhow::Result<Running> {
    let session = Arc::new(prepare_session(&settings.session)?);
    let registry = Registry::new();
    let metrics = Metrics::register(&registry).context("registering metrics")?;
    let store = open_store(&settings, Some(metrics.store_latency())).await?;
    // Before any port is bound: unusable certificate files stop start-up here.
    let certificates = match &settings.tls {
        Some(t) => Some(
            crate::tls::Certificates::prepare(
                t,
                Arc::clone(&store),
                session.current().encryption_key.clone(),
                metrics.clone(),
                settings.store_timeout,
            )
            .await
            .context("preparing the TLS certificate")?,
        ),
        None => None,
    };
    let mut health = Health::new(Arc::clone(&store), Arc::clone(&session), metrics.clone());
    if let Some(c) = &certificates {
        health = health.with_certificates(Arc::clone(&c.report));
    }
    let shutdown = CancellationToken::new();
    let background = CancellationToken::new();
    let outbox = crate::outbox::Outbox::new(Arc::clone(&store), shutdown.child_token());
    let health = health.with_webhooks(Arc::clone(&outbox), &settings.webhooks);
    crate::outbox::deliver::register(&outbox, &settings.webhooks)
        .await
        .context("registering the webhook endpoints in the store")?;
    let mut engine = Engine::new(Arc::clone(&store), EngineLimits::default())
        .with_event_data(settings.events_data);
    let deprovision = settings.deprovision.map(|d| {
        Arc::new(crate::scim::deprovision::Guard::new(
            Arc::clone(&store),
            d,
            metrics.deprovision_held(),
        ))
    });
    if let Some(guard) = &deprovision {
        engine = engine.with_deprovision_guard(Arc::clone(guard));
    }
    let health = health.with_deprovision_guard(deprovision.clone());
    // The Google Workspace connector writes through the same engine (guard included).
    let workspace = settings.workspace.clone().map(|w| {
        let base = settings
            .exposure
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://localhost:{}", settings.port));
        crate::workspace::Connector::new(
            w,
            engine.clone(),
            Arc::clone(&store),
            uuid::Uuid::new_v4().to_string(),
            format!("{}/scim/v2", base.trim_end_matches('/')),
        )
    });
    let health = match &workspace {
        Some(c) => health.with_workspace(Arc::clone(c)),
        None => health,
    };
    let state = Arc::new(AppState {
        workspace: workspace.clone(),
        deprovision,
        auth: Authorizer::new(Arc::clone(&session)),
        metrics: metrics.clone(),
        health,
        store: Arc::clone(&store),
        engine,
        outbox: Arc::clone(&outbox),
        webhooks: settings.webhooks.clone(),
        status: crate::operator::PageState::new(
            crate::scim::records::Records::new(Arc::clone(&store)),
            logs,
            Arc::clone(&session),
        ),
        engine_max_page: EngineLimits::default().max_page,
        body_budget: crate::http::body_budget::BodyBudget::new(
            settings.max_inflight_body_bytes,
            settings.request_timeout / 4,
        ),
        limits: Limits {
            max_body_bytes: settings.max_body_bytes,
            request_timeout: settings.request_timeout,
        },
        posture: http::posture::Posture::from_settings(&settings),
        proxies: http::client::Proxies::new(settings.exposure.trusted_proxies.clone()),
        auth_throttle: crate::auth::throttle::FailureThrottle::new(
            settings.exposure.auth_failure_limit,
            settings.exposure.auth_failure_window,
            crate::auth::throttle::DEFAULT_CAPACITY,
        ),
    });

    let http_addr = SocketAddr::new(settings.bind_address, settings.port);
    let http_listener =
        edge::bind(http_addr).with_context(|| format!("listening on {http_addr}"))?;
    let ping_listener = match settings.ping_port {
        Some(port) => {
            let addr = SocketAddr::new(settings.bind_address, port);
            Some(edge::bind(addr).with_context(|| format!("listening on {addr} (ping server)"))?)
        }
        None => None,
    };
    let https_listener = match &settings.tls {
        Some(t) => {
            let addr = SocketAddr::new(settings.bind_address, t.https_port);
            Some(edge::bind(addr).with_context(|| format!("listening on {addr} (https)"))?)
        }
        None => None,
    };
    let http_addr = http_listener.local_addr()?;
    let https_addr = https_listener
        .as_ref()
        .map(|l| l.local_addr())
        .transpose()?;
    let ping_addr = ping_listener.as_ref().map(|l| l.local_addr()).transpose()?;

    let mut listeners = JoinSet::new();
    let options = |name| edge::ConnOptions {
        name,
        max_connections: settings.max_connections,
        max_connections_per_client: settings.max_connections_per_client,
        deadlines: edge::Deadlines {
            first_byte: settings.first_byte_timeout,
            idle: settings.idle_timeout,
            write: settings.write_timeout,
        },
        header_read_timeout: settings.header_read_timeout,
        grace: settings.shutdown_grace,
    };
    listeners.spawn(edge::serve(
        http_listener,
        http::service(Arc::clone(&state)),
        options("http"),
        metrics.clone(),
        shutdown.child_token(),
    ));
    if let Some(listener) = ping_listener {
        listeners.spawn(edge::serve(
            listener,
            http::ping_service(Arc::clone(&state)),
            options("ping"),
            metrics.clone(),
            shutdown.child_token(),
        ));
    }

    let mut background_tasks = JoinSet::new();
    if let (Some(certificates), Some(listener), Some(t)) =
        (certificates, https_listener, &settings.tls)
    {
        let (resolver, _, task) = certificates.task(background.child_token());
        background_tasks.spawn(task);
        let handshake = edge::TlsHandshake::new(resolver, t.handshake_timeout, metrics.clone())
            .with_allowlist(t.allow.clone(), &t.domain);
        listeners.spawn(edge::serve_with(
            listener,
            Arc::new(handshake),
            http::service(Arc::clone(&state)),
            options("https"),
            metrics.clone(),
            shutdown.child_token(),
        ));
    }
    {
        let (session, metrics) = (Arc::clone(&session), metrics.clone());
        background_tasks.spawn(session.watch(
            settings.session_reload_interval,
            background.child_token(),
            move |outcome| match outcome {
                ReloadOutcome::Reloaded => metrics.session_reload("reloaded"),
                ReloadOutcome::Refused => metrics.session_reload("refused"),
                ReloadOutcome::Unchanged => {}
            },
        ));
    }
    background_tasks.spawn(Arc::clone(&outbox).follow(background.child_token()));
    background_tasks.spawn(
        crate::outbox::retention::Trimmer::new(
            Arc::clone(&outbox),
            crate::outbox::retention::Retention {
                max_age: settings.events_retention,
                max_events: settings.events_max,
            },
            settings.webhooks.clone(),
            uuid::Uuid::new_v4().to_string(),
        )
        .run(background.child_token()),
    );
    if !settings.webhooks.is_empty() {
        // One deliverer per endpoint; the lease picks one replica for each. They stop with
        // the listeners (so a stopping replica hands its leases over at once).
        let sender = crate::outbox::webhook::Sender::new(settings.delivery.timeout);
        let holder = uuid::Uuid::new_v4().to_string();
        for endpoint in &settings.webhooks {
            let deliverer = crate::outbox::deliver::Deliverer::new(
                endpoint.clone(),
                settings.delivery,
                Arc::clone(&outbox),
                sender.clone(),
                holder.clone(),
                metrics.clone(),
            );
            background_tasks.spawn(deliverer.run(shutdown.child_token()));
        }
    }
    if let Some(c) = &workspace {
        background_tasks.spawn(Arc::clone(c).run(shutdown.child_token()));
    }
    // Cancelled with the other background tasks, after the connections have drained, so its
    // final flush sees every request; the store outlives it.
    background_tasks.spawn(crate::usage::flush::run(
        Arc::clone(&session),
        usage_ledger(&settings, &store),
        settings.token_usage_flush,
        background.child_token(),
    ));

    tracing::info!(addr = %http_addr, store = store.kind(), version = env!("CARGO_PKG_VERSION"), "listening");
    if let Some(addr) = ping_addr {
        tracing::info!(addr = %addr, "ping server listening");
    }
    if let (Some(addr), Some(t)) = (https_addr, &settings.tls) {
        tracing::info!(https_addr = %addr, tls.domain = %t.domain, "https server ready");
    }
    for (key, value) in crate::config::describe(&settings) {
        tracing::debug!(setting = key, value = %value, "effective setting");
    }
    Ok(Running {
        http_addr,
        ping_addr,
        https_addr,
        shutdown,
        listeners,
        background,
        background_tasks,
        store,
    })
}

/// The certificate as stored, for `scim-bridge cert status` (opens the store; no CA contact).
pub async fn cert_report(settings: Settings) -> anyhow::Result<crate::tls::CertReport> {
    let tls = settings
        .tls
        .as_ref()
        .context("TLS is off: OP_TLS_DOMAIN is not set")?;
    let session =
        crate::session::load(&settings.session.path).context("loading the session file")?;
    let store = open_store(&settings, None).await?;
    let report =
        crate::tls::Certificates::stored_report(tls, store, session.encryption_key).await?;
    Ok(report)
}

/// Token last use as the bridge persisted it, for `scim-bridge token list`, and where it was
/// read. Read-only: opens no embedded database (a running bridge holds its lock) and writes
/// nothing; Redis gets a few seconds to answer. `Ok(None)` when nothing was persisted.
pub async fn token_usage(settings: &Settings) -> (String, Result<Option<UsageRecord>, UsageError>) {
    let ledger = match &settings.store {
        StoreSettings::Embedded { data_dir, .. } => Ledger::File {
            dir: data_dir.clone(),
            timeout: USAGE_READ_TIMEOUT,
        },
        StoreSettings::Redis { .. } => {
            let connect = connect_redis(settings, USAGE_READ_TIMEOUT, USAGE_READ_TIMEOUT);
            let store = match tokio::time::timeout(USAGE_READ_TIMEOUT * 2, connect).await {
                Ok(Ok(store)) => store,
                Ok(Err(e)) => return ("the redis store".into(), Err(UsageError::Store(e))),
                Err(_) => {
                    let e = crate::store::StoreError::Timeout {
                        context: "connecting to redis".into(),
                    };
                    return ("the redis store".into(), Err(UsageError::Store(e)));
                }
            };
            Ledger::Store {
                store,
                timeout: USAGE_READ_TIMEOUT,
            }
        }
    };
    (ledger.describe(), ledger.load().await)
}

/// Runs the bridge until SIGTERM or SIGINT, then shuts down gracefully.
pub async fn run(settings: Settings, logs: RecentLogs) -> anyhow::Result<()> {
    let running = start(settings, logs).await?;
    let trigger = running.shutdown.clone();
    tokio::spawn(async move {
        // Untracked on purpose: it only cancels a token and ends with the process.
        crate::shutdown::signal().await;
        trigger.cancel();
    });
    running.wait().await;
    Ok(())
}
