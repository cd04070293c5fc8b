//! What an operator sees of each webhook endpoint (the status page's cards, `/status.json`,
//! `/health`, `/metrics`), read from the store so every replica tells the same, and the two
//! things an operator can do: re-enable an endpoint and replay its dead letters.

use serde::Serialize;

use super::{
    state::{self, Disabled},
    Outbox,
};
use crate::{config::WebhookSettings, scim::events::LOG, store::StoreError};

/// One endpoint as the operator sees it.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointReport {
    /// Its name.
    pub name: String,
    /// Its URL without the query.
    pub url: String,
    /// The event types it gets (`null`: all).
    pub types: Option<Vec<String>>,
    /// Whether events are being delivered to it.
    pub enabled: bool,
    /// Why not, when it is disabled.
    pub disabled: Option<Disabled>,
    /// The last event it received (or was skipped or dead-lettered).
    pub cursor: u64,
    /// Events written since (some may not be of its types).
    pub backlog: u64,
    /// How long the oldest of them has waited, in seconds (0 with no backlog).
    pub lag_seconds: f64,
    /// Events delivered, ever.
    pub delivered: u64,
    /// Events moved to the dead letters, ever.
    pub dead_lettered: u64,
    /// Dead letters kept now.
    pub dead_letters: usize,
    /// Failed attempts at the next event.
    pub attempt: u32,
    /// The last failure, while failing.
    pub last_error: Option<String>,
    /// When it happened.
    pub last_error_at: Option<String>,
    /// When the next attempt is due, while retrying.
    pub next_attempt_at: Option<String>,
    /// When the last delivery succeeded.
    pub last_delivered_at: Option<String>,
}

impl EndpointReport {
    /// Whether `/health` should call it degraded: disabled, or its last attempt failed.
    pub fn failing(&self) -> bool {
        !self.enabled || self.last_error.is_some()
    }
}

/// Reports on `endpoints`.
pub async fn endpoints(
    outbox: &Outbox,
    endpoints: &[WebhookSettings],
) -> Result<Vec<EndpointReport>, StoreError> {
    let store = outbox.store();
    let head = outbox.bounds().await?.head;
    let now_ms = super::now_ms();
    let mut out = Vec::with_capacity(endpoints.len());
    for e in endpoints {
        let stored = state::load(&store, &e.name).await?;
        let s = stored.state;
        // A new endpoint starts at the head (see `deliver`); until it has, it is not behind.
        let cursor = if stored.version.is_some() {
            s.cursor
        } else {
            head
        };
        let backlog = head.saturating_sub(cursor);
        let lag_seconds = if backlog == 0 {
            0.0
        } else {
            match store.log_read(LOG, cursor, 1).await?.first() {
                Some(next) => now_ms.saturating_sub(next.at_ms) as f64 / 1000.0,
                None => 0.0,
            }
        };
        out.push(EndpointReport {
            name: e.name.clone(),
            url: e.shown_url(),
            types: e.types.clone(),
            enabled: s.disabled.is_none(),
            disabled: s.disabled,
            cursor,
            backlog,
            lag_seconds,
            delivered: s.delivered,
            dead_lettered: s.dead_lettered,
            dead_letters: state::dead_count(&store, &e.name).await?,
            attempt: s.attempt,
            last_error: s.last_error,
            last_error_at: s.last_error_at,
            next_attempt_at: s.next_attempt_at,
            last_delivered_at: s.last_delivered_at,
        });
    }
    Ok(out)
}

/// What an operator asks of an endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Deliver again after a `410` (from the event that was refused).
    Enable,
    /// Deliver the dead letters again.
    Replay,
}

impl Action {
    /// The action named by the last segment of its path.
    pub fn from_segment(segment: &str) -> Option<Self> {
        match segment {
            "enable" => Some(Action::Enable),
            "replay" => Some(Action::Replay),
            _ => None,
        }
    }
}

/// Records `action` for `endpoint`; its deliverer (on whichever replica holds the lease)
/// acts on it within seconds.
pub async fn act(outbox: &Outbox, endpoint: &str, action: Action) -> Result<(), StoreError> {
    // An endpoint whose deliverer has not started yet has nothing to enable or replay; writing
    // its record first would start it at 0 rather than at the head.
    if state::load(&outbox.store(), endpoint)
        .await?
        .version
        .is_none()
    {
        return Ok(());
    }
    state::update(&outbox.store(), endpoint, |s| match action {
        Action::Enable => {
            s.disabled = None;
            s.attempt = 0;
            s.last_error = None;
        }
        Action::Replay => s.replay = true,
    })
    .await
    .map(|_| ())
}
