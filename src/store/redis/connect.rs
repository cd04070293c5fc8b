//! Connecting the Redis backend: client set-up, timeouts, reconnect policy, TLS, and the
//! change-feed subscriber (probe until live, forward, re-subscribe after reconnects).
//!
//! Owns the lifecycle of the fred clients; must not know the key layout beyond [`Keys`].

use std::time::Duration;

use fred::{
    prelude::{
        Builder, Client, ClientLike, Config, EventInterface, PubsubInterface, ReconnectPolicy,
    },
    types::{
        config::{TcpConfig, TlsConnector},
        Message,
    },
};
use tokio::sync::broadcast;

use super::keys::{decode_change, Keys};
use super::migrate;
use super::scripts::{self, fred_error, Script};
use super::url::{self, redacted};
use super::{tls, RedisOptions, RedisStore, Replication, FEED_CAPACITY};
use crate::store::{Change, StoreError};

/// Initialises a fred client within `timeout`, so an unreachable server fails fast.
async fn init(client: &impl ClientLike, url: &str, timeout: Duration) -> Result<(), StoreError> {
    let context = format!("connecting to {}", redacted(url));
    match tokio::time::timeout(timeout, client.init()).await {
        Ok(Ok(_connection_task)) => Ok(()),
        Ok(Err(e)) => Err(StoreError::unavailable(context, e)),
        Err(_) => Err(StoreError::Unavailable {
            context,
            source: format!("no connection within {timeout:?}").into(),
        }),
    }
}

impl RedisStore {
    /// Connects (within `connect_timeout`), loads the scripts and subscribes to the change feed.
    pub async fn connect(opts: RedisOptions) -> Result<RedisStore, StoreError> {
        let mut config = Config::from_url(&opts.url).map_err(|e| StoreError::Invalid {
            context: format!("redis url {}: {}", redacted(&opts.url), e.details()),
        })?;
        if opts.insecure_tls && url::is_tls(&opts.url) {
            config.tls = Some(TlsConnector::from(tls::insecure_client_config()?).into());
        }
        let mut builder = Builder::from_config(config);
        builder
            .with_connection_config(|c| {
                c.connection_timeout = opts.connect_timeout;
                c.internal_command_timeout = opts.connect_timeout;
                // A write script in flight when the connection drops may or may not have run;
                // retrying it could apply a batch twice, so the caller gets the error instead.
                c.max_command_attempts = 1;
                // Commands are small writes, many in flight on one connection: without
                // TCP_NODELAY, Nagle's algorithm holds each one back until the last is acked.
                c.tcp = TcpConfig {
                    nodelay: Some(true),
                    ..TcpConfig::default()
                };
            })
            .with_performance_config(|p| p.default_command_timeout = opts.command_timeout)
            // Reconnect forever with backoff from 100 ms to 2 s.
            .set_policy(ReconnectPolicy::new_exponential(0, 100, 2_000, 2));
        let build = |e| StoreError::unavailable("building the redis client", e);
        let client = builder.build().map_err(build)?;
        let subscriber = builder.build_subscriber_client().map_err(build)?;

        if let Err(e) = init(&client, &opts.url, opts.connect_timeout).await {
            shut_down(client);
            return Err(e);
        }
        if let Err(e) = init(&subscriber, &opts.url, opts.connect_timeout).await {
            shut_down(client);
            shut_down(subscriber);
            return Err(e);
        }
        let topology = url::check(&opts.url).map_err(|why| StoreError::Invalid {
            context: format!("redis url {}: {why}", redacted(&opts.url)),
        })?;
        let keys = Keys::new(&opts.key_prefix, topology);
        let slot = fred::util::redis_keyslot(keys.route().as_bytes());
        let replication = opts
            .replication
            .unwrap_or_else(|| Replication::default_for(topology));
        let mut messages = subscriber.message_rx();
        subscriber
            .subscribe(keys.channel())
            .await
            .map_err(|e| fred_error("subscribing to the change feed", e))?;
        feed_ready(
            &client,
            &mut messages,
            &keys.channel(),
            opts.connect_timeout,
        )
        .await?;
        let (changes, _) = broadcast::channel(FEED_CAPACITY);
        let forward = tokio::spawn(forward(messages, changes.clone()));
        // Re-subscribes after every reconnect.
        let resubscribe = subscriber.manage_subscriptions();
        let convert = Script::load(&client, scripts::CONVERT).await?;
        let migrate = tokio::spawn(migrate::convert_in_background(
            client.clone(),
            keys.clone(),
            convert,
        ));
        let tasks = vec![forward, resubscribe, migrate];
        Ok(RedisStore {
            write: Script::load(&client, scripts::WRITE).await?,
            read_any: Script::load(&client, scripts::READ_ANY).await?,
            members_many: Script::load(&client, scripts::MEMBERS_MANY).await?,
            acquire: Script::load(&client, scripts::ACQUIRE).await?,
            release: Script::load(&client, scripts::RELEASE).await?,
            log_read: Script::load(&client, scripts::LOG_READ).await?,
            log_by_key: Script::load(&client, scripts::LOG_BY_KEY).await?,
            log_bounds: Script::load(&client, scripts::LOG_BOUNDS).await?,
            client,
            subscriber,
            keys,
            slot,
            replication,
            changes,
            tasks,
        })
    }
}

/// Publishes probes until one comes back through the subscriber, so a store returned by
/// `connect` never misses a change made right after it.
async fn feed_ready(
    client: &Client,
    messages: &mut broadcast::Receiver<Message>,
    channel: &str,
    timeout: Duration,
) -> Result<(), StoreError> {
    let probe = format!("probe:{}", uuid::Uuid::new_v4().simple());
    let deadline = tokio::time::Instant::now() + timeout;
    while tokio::time::Instant::now() < deadline {
        let _: i64 = client
            .publish(channel, probe.as_str())
            .await
            .map_err(|e| fred_error("probing the change feed", e))?;
        let wait = tokio::time::Instant::now() + Duration::from_millis(100);
        while let Ok(Ok(msg)) = tokio::time::timeout_at(wait.min(deadline), messages.recv()).await {
            if msg.value.as_str().as_deref() == Some(probe.as_str()) {
                return Ok(());
            }
        }
    }
    Err(StoreError::Timeout {
        context: format!("redis: change feed not live within {timeout:?}"),
    })
}

/// Forwards change-feed messages to local watchers until the subscriber closes.
async fn forward(mut messages: broadcast::Receiver<Message>, changes: broadcast::Sender<Change>) {
    loop {
        match messages.recv().await {
            Ok(msg) => {
                // Probes and foreign messages do not decode and are skipped.
                if let Some(change) = msg.value.as_str().and_then(|s| decode_change(&s)) {
                    let _ = changes.send(change);
                }
            }
            Err(broadcast::error::RecvError::Lagged(_)) => continue,
            Err(broadcast::error::RecvError::Closed) => break,
        }
    }
}

/// Closes a client in the background (we cannot await in `Drop`), bounded so it cannot linger.
fn shut_down(client: impl ClientLike + 'static) {
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        runtime.spawn(async move {
            let _ = tokio::time::timeout(Duration::from_secs(5), client.quit()).await;
        });
    }
}

impl Drop for RedisStore {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
        shut_down(self.client.clone());
        shut_down(self.subscriber.clone());
    }
}
