//! The deprovisioning guard (`OP_DEPROVISION_LIMIT` within `OP_DEPROVISION_WINDOW`): a brake
//! on the classic accident of an identity-provider misconfiguration that deactivates everyone.
//!
//! User deactivations and deletions are counted in a window. The count is in the store and
//! moves in the same batch as each deprovisioning it admits, guarded by the state's version,
//! so every replica shares one count and a refused write counts nothing. The write after the
//! limit is not applied: it is answered `503` (identity providers retry), the guard starts to
//! hold, and it holds every later one until an operator releases it ([`Guard::release`],
//! recorded as a `guard.released` event). The window passing does not release it. Must not
//! know about HTTP.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{
    error::ScimError,
    events::{Actor, LOG},
    records::Changes,
};
use crate::store::{SharedStore, StoreError, StoreKey, Version, WriteBatch};

/// Where the guard's state lives.
pub const SPACE: &str = "bridge.guard";
const ID: &str = "deprovision";
/// The most held requests the state remembers for the status page.
const RECENT: usize = 20;
/// The event a release writes.
pub const RELEASED: &str = "guard.released";

/// The guard's settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settings {
    /// The most deactivations and deletions admitted in one window.
    pub limit: u64,
    /// The window's length.
    pub window: Duration,
}

/// A request the guard held.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Held {
    /// When, unix milliseconds.
    pub at_ms: u64,
    /// `user.deactivated` or `user.deleted`.
    pub kind: String,
    /// The user's id (never a name: the status page looks it up).
    pub id: String,
    /// The label of the token that asked.
    pub token: String,
}

/// The shared state, one record in the store.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// When the current window began, unix milliseconds.
    pub window_start_ms: u64,
    /// Deprovisionings admitted in it.
    pub count: u64,
    /// Since when the guard holds (none: it admits).
    pub held_since_ms: Option<u64>,
    /// Requests refused since it began to hold.
    pub held_requests: u64,
    /// The latest of them, newest last.
    pub recent: Vec<Held>,
}

/// The guard, shared by the engine and the operator's endpoints.
pub struct Guard {
    store: SharedStore,
    settings: Settings,
    held: prometheus::IntCounter,
}

fn key() -> StoreKey {
    StoreKey::new(SPACE, ID)
}

fn corrupt(e: serde_json::Error) -> StoreError {
    StoreError::Corrupt {
        context: format!("the deprovisioning guard's state: {e}"),
    }
}

impl Guard {
    /// A guard over `store`; `held` counts the requests it refuses (`/metrics`).
    pub fn new(store: SharedStore, settings: Settings, held: prometheus::IntCounter) -> Self {
        Self {
            store,
            settings,
            held,
        }
    }

    /// Its settings.
    pub fn settings(&self) -> Settings {
        self.settings
    }

    /// The state and its version (none before the first deprovisioning).
    pub async fn state(&self) -> Result<(State, Option<Version>), StoreError> {
        match self.store.get(&key()).await? {
            None => Ok((State::default(), None)),
            Some(r) => Ok((
                serde_json::from_slice(&r.value).map_err(corrupt)?,
                Some(r.version),
            )),
        }
    }

    /// Admits one deprovisioning (`kind` of user `id`) into `changes`, which then carries the
    /// new count under the state's version, or refuses it when the guard holds or the limit
    /// is reached (and starts to hold). A conflict on the state at commit is retried by the
    /// caller like any other.
    pub async fn admit(
        &self,
        changes: &mut Changes,
        kind: &str,
        id: &str,
        actor: &Actor,
    ) -> Result<(), ScimError> {
        let now = crate::outbox::now_ms();
        let (mut state, version) = self.state().await.map_err(super::engine::store_error)?;
        if state.held_since_ms.is_none() {
            let window = u64::try_from(self.settings.window.as_millis()).unwrap_or(u64::MAX);
            if now.saturating_sub(state.window_start_ms) >= window {
                state.window_start_ms = now;
                state.count = 0;
            }
            if state.count < self.settings.limit {
                state.count += 1;
                changes.put_raw(key(), encode(&state), version);
                return Ok(());
            }
            state.held_since_ms = Some(now);
        }
        self.held.inc();
        state.held_requests += 1;
        state.recent.push(Held {
            at_ms: now,
            kind: kind.to_owned(),
            id: id.to_owned(),
            token: actor.token.clone(),
        });
        let over = state.recent.len().saturating_sub(RECENT);
        state.recent.drain(..over);
        // Best effort: a concurrent refusal may win the version; the hold itself is sure to be
        // written by one of them, since each retries.
        let batch = put(version, &state);
        let _ = self.store.write(batch).await;
        Err(ScimError::Held(format!(
            "the deprovisioning guard holds: more than {} user deactivations and deletions \
             arrived within {:?}, so this one was not applied. An operator must release the \
             guard (POST /guard/release) before it is",
            self.settings.limit, self.settings.window
        )))
    }

    /// Releases the guard for `actor` (a new window, nothing held), recorded as a
    /// `guard.released` event in the same batch. Returns the state it released.
    pub async fn release(&self, actor: &Actor) -> Result<State, StoreError> {
        loop {
            let (state, version) = self.state().await?;
            let fresh = State {
                window_start_ms: crate::outbox::now_ms(),
                ..State::default()
            };
            let event = serde_json::json!({
                "id": uuid::Uuid::new_v4().to_string(),
                "type": RELEASED,
                "time": crate::operator::rfc3339(time::OffsetDateTime::now_utc()),
                "actor": actor,
                "guard": {
                    "heldSince": state.held_since_ms,
                    "heldRequests": state.held_requests,
                    "count": state.count,
                },
            });
            let batch = put(version, &fresh).then(crate::store::Mutation::Append {
                log: LOG.into(),
                value: serde_json::to_vec(&event).expect("json").into(),
                keys: Vec::new(),
            });
            match self.store.write(batch).await {
                Ok(_) => return Ok(state),
                Err(StoreError::Conflict { .. }) => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

fn encode(state: &State) -> bytes::Bytes {
    serde_json::to_vec(state)
        .expect("the guard state serialises")
        .into()
}

/// A batch writing `state` over the record at `version` (absent: none yet).
fn put(version: Option<Version>, state: &State) -> WriteBatch {
    WriteBatch::new()
        .require(crate::store::Precondition::unchanged(key(), version))
        .put(key(), encode(state))
}
