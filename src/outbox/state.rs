//! What the store keeps of each webhook endpoint: its [`EndpointState`] record (the cursor,
//! counts, the last error, whether it is disabled, whether a replay was asked for) and its dead
//! letters. Every replica reads them (the status page, `/metrics`); the replica that holds the
//! endpoint's lease writes the cursor; an operator's `enable` and `replay` write the same record.
//! Every write is a compare-and-set on the record's version, so none is lost to another.
//!
//! Layout: record `webhook.endpoints/<name>`; dead letters in space `webhook.dead:<name>`, one
//! record per event, its id the event's `seq` zero-padded to 20 digits (so they list in order).

use serde::{Deserialize, Serialize};

use crate::store::{
    Precondition, Record, Seq, SharedStore, StoreError, StoreKey, Version, WriteBatch,
};

/// The space of endpoint records.
pub const SPACE: &str = "webhook.endpoints";

/// The space of `endpoint`'s dead letters.
pub fn dead_space(endpoint: &str) -> String {
    format!("webhook.dead:{endpoint}")
}

/// The id of the dead letter of event `seq`.
pub fn dead_id(seq: Seq) -> String {
    format!("{seq:020}")
}

/// The key of `endpoint`'s record.
pub fn key(endpoint: &str) -> StoreKey {
    StoreKey::new(SPACE, endpoint)
}

/// Why an endpoint stopped.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Disabled {
    /// When (RFC 3339).
    pub at: String,
    /// Why.
    pub reason: String,
}

/// One endpoint's durable state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EndpointState {
    /// The last event this endpoint received, dead-lettered or skipped (not of its types).
    pub cursor: Seq,
    /// Events delivered (answered 2xx), ever.
    pub delivered: u64,
    /// Events moved to the dead letters, ever.
    pub dead_lettered: u64,
    /// Failed attempts at the event after the cursor.
    pub attempt: u32,
    /// The last failure, if the last attempt failed.
    pub last_error: Option<String>,
    /// When it happened (RFC 3339).
    pub last_error_at: Option<String>,
    /// When the next attempt is due, while retrying (RFC 3339).
    pub next_attempt_at: Option<String>,
    /// When the last delivery succeeded (RFC 3339).
    pub last_delivered_at: Option<String>,
    /// Set when the receiver answered `410 Gone`; cleared by an operator.
    pub disabled: Option<Disabled>,
    /// Set by an operator: deliver the dead letters again.
    pub replay: bool,
}

/// A state as read, with the version a write must match.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stored {
    /// The state.
    pub state: EndpointState,
    /// Its record's version; `None` before the first write.
    pub version: Option<Version>,
}

/// One dead letter as kept.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeadLetter {
    /// The event's `seq`.
    pub seq: Seq,
    /// Why it was given up.
    pub reason: String,
    /// Attempts made.
    pub attempts: u32,
    /// When it was given up (RFC 3339).
    pub at: String,
    /// The event as it would have been delivered.
    pub event: Box<serde_json::value::RawValue>,
}

fn corrupt(what: &str, e: serde_json::Error) -> StoreError {
    StoreError::Corrupt {
        context: format!("{what}: {e}"),
    }
}

impl Stored {
    fn decode(record: Option<Record>) -> Result<Self, StoreError> {
        match record {
            None => Ok(Self::default()),
            Some(r) => Ok(Self {
                state: serde_json::from_slice(&r.value)
                    .map_err(|e| corrupt("a webhook endpoint record", e))?,
                version: Some(r.version),
            }),
        }
    }
}

/// Reads `endpoint`'s state.
pub async fn load(store: &SharedStore, endpoint: &str) -> Result<Stored, StoreError> {
    Stored::decode(store.get(&key(endpoint)).await?)
}

/// A batch that writes `state` over `stored` (refused if someone wrote in between).
pub fn write(endpoint: &str, stored: &Stored, state: &EndpointState) -> WriteBatch {
    let k = key(endpoint);
    let value = serde_json::to_vec(state).expect("a state always serialises");
    WriteBatch::new()
        .require(Precondition::unchanged(k.clone(), stored.version))
        .put(k, value)
}

/// Writes `state`; returns the new stored state, or `Conflict` if the record changed.
pub async fn save(
    store: &SharedStore,
    endpoint: &str,
    stored: &Stored,
    state: EndpointState,
    extra: WriteBatch,
) -> Result<Stored, StoreError> {
    let mut batch = write(endpoint, stored, &state);
    batch.preconditions.extend(extra.preconditions);
    batch.mutations.extend(extra.mutations);
    let committed = store.write(batch).await?;
    Ok(Stored {
        version: committed.version_of(&key(endpoint)),
        state,
    })
}

/// Changes `endpoint`'s state by `edit` with compare-and-set, retrying a few times when
/// another writer (the deliverer) got in between.
pub async fn update(
    store: &SharedStore,
    endpoint: &str,
    edit: impl Fn(&mut EndpointState),
) -> Result<EndpointState, StoreError> {
    let mut tries = 0;
    loop {
        let stored = load(store, endpoint).await?;
        let mut state = stored.state.clone();
        edit(&mut state);
        match save(store, endpoint, &stored, state, WriteBatch::new()).await {
            Ok(s) => return Ok(s.state),
            Err(StoreError::Conflict { .. }) if tries < 20 => {
                tries += 1;
                tokio::time::sleep(std::time::Duration::from_millis(5 * tries)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// The mutation that keeps `letter` in `endpoint`'s dead letters.
pub fn keep_dead(endpoint: &str, letter: &DeadLetter) -> WriteBatch {
    WriteBatch::new().put(
        StoreKey::new(dead_space(endpoint), dead_id(letter.seq)),
        serde_json::to_vec(letter).expect("a dead letter always serialises"),
    )
}

/// Up to `limit` of `endpoint`'s dead letters, oldest event first.
pub async fn dead_letters(
    store: &SharedStore,
    endpoint: &str,
    limit: usize,
) -> Result<Vec<DeadLetter>, StoreError> {
    store
        .list(&dead_space(endpoint), 0, limit)
        .await?
        .into_iter()
        .map(|(_, r)| serde_json::from_slice(&r.value).map_err(|e| corrupt("a dead letter", e)))
        .collect()
}

/// How many dead letters `endpoint` has.
pub async fn dead_count(store: &SharedStore, endpoint: &str) -> Result<usize, StoreError> {
    store.count(&dead_space(endpoint)).await
}
