//! The provisioning engine: create, read, replace, patch, delete and search Users and Groups
//! on the store, with uniqueness, versions (ETags) and group membership at any scale.
//!
//! * `render`: full representations with `meta` and computed `groups`/`members`.
//! * [`write`]: replace and patch (optimistic concurrency, all-or-nothing).
//! * `members`: turning membership changes into set operations.
//! * `search`: filter planning onto the store's indexes, sorting and paging.
//!
//! A 2xx answer means the write is durable (the store's contract). A failed request changes
//! nothing: every change is one atomic store batch with preconditions.
//!
//! Must not know HTTP, Redis or tokens.

mod emit;
mod members;
mod render;
mod search;
#[cfg(test)]
mod tests;
mod write;

use std::time::Duration;

use serde_json::Value;
use time::{format_description::well_known::Rfc3339, OffsetDateTime};

use emit::Written;
pub use render::Fetched;
pub use search::SearchQuery;
pub use write::Input;

use super::{
    deprovision,
    error::{Fault, ScimError},
    events::{Actor, Before, Change, DataMode, Diff},
    project::Projection,
    quirk::Quirks,
    records::{Changes, Expect, Loaded, Records, Stored},
    resource::normalize_input,
    schema::{ResourceKind, ResourceType},
};
use crate::store::{SharedStore, StoreError};

/// How often a write is tried before it gives up on a resource that keeps changing under it.
const MAX_ATTEMPTS: usize = 8;
/// The longest pause before a retry (see [`back_off`]).
const MAX_BACK_OFF: Duration = Duration::from_millis(64);

/// The pause before attempt `attempt` (0-based) of a write that lost a race: none for the
/// first, then a random time up to 2, 4, … ms, at most [`MAX_BACK_OFF`]. Replicas do not share
/// write locks; without a pause two that retry in step lose to each other again (two replicas
/// each adding 8 members to one group gave up on about half the runs), with it they fall out of
/// step. The whole wait stays under a quarter of a second.
async fn back_off(attempt: usize) {
    if attempt == 0 {
        return;
    }
    let cap = MAX_BACK_OFF.min(Duration::from_millis(1 << attempt.min(16)));
    let pause = rand::Rng::gen_range(&mut rand::thread_rng(), Duration::ZERO..=cap);
    tokio::time::sleep(pause).await;
}

/// Per-request context: where resources live, for `meta.location` and `$ref`, and who asked,
/// for the events a write appends.
#[derive(Clone, Debug)]
pub struct Ctx {
    /// The SCIM base URL, e.g. `https://scim.example.com/scim/v2` (no trailing slash).
    pub base_url: String,
    /// The caller.
    pub actor: Actor,
}

/// A resource as returned to clients.
#[derive(Clone, Debug, PartialEq)]
pub struct Resource {
    /// The id.
    pub id: String,
    /// The version, for the ETag.
    pub version: u64,
    /// The projected representation.
    pub doc: Value,
}

/// Limits the engine enforces.
#[derive(Clone, Copy, Debug)]
pub struct EngineLimits {
    /// The largest page a query returns.
    pub max_page: usize,
}

impl Default for EngineLimits {
    fn default() -> Self {
        Self { max_page: 1_000 }
    }
}

/// Serialises writers of one resource within this process, so concurrent PATCHes of one group
/// queue behind each other instead of failing each other's version checks and exhausting their
/// retries. Replicas sharing Redis still meet through the optimistic version check. Striped: a
/// fixed set of async mutexes, one lock held at a time, so no lock order to get wrong.
struct WriteLocks(Vec<tokio::sync::Mutex<()>>);

impl WriteLocks {
    const STRIPES: usize = 256;

    fn new() -> Self {
        Self(
            (0..Self::STRIPES)
                .map(|_| tokio::sync::Mutex::new(()))
                .collect(),
        )
    }

    async fn lock(&self, id: &str) -> tokio::sync::MutexGuard<'_, ()> {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        id.hash(&mut h);
        self.0[(h.finish() as usize) % Self::STRIPES].lock().await
    }
}

/// The provisioning engine.
#[derive(Clone)]
pub struct Engine {
    records: Records,
    limits: EngineLimits,
    event_data: DataMode,
    locks: std::sync::Arc<WriteLocks>,
    /// The deprovisioning guard, when `OP_DEPROVISION_LIMIT` is set.
    deprovision: Option<std::sync::Arc<crate::scim::deprovision::Guard>>,
}

/// Maps a store failure onto the SCIM answer: outages are 503, anything else a 500.
pub(crate) fn store_error(e: StoreError) -> ScimError {
    match e {
        StoreError::Unavailable { .. } | StoreError::Timeout { .. } => {
            tracing::warn!(error = %crate::error_chain::chain(&e), "store unavailable");
            ScimError::Unavailable("the store is unavailable; retry later".into())
        }
        StoreError::Conflict { .. } | StoreError::Unique { .. } => {
            ScimError::Conflict("a concurrent change won; retry".into())
        }
        StoreError::Unreplicated {
            acked,
            wanted,
            waited,
        } => {
            tracing::warn!(
                acked,
                wanted,
                ?waited,
                "write reached the redis master but not its replicas"
            );
            ScimError::Unavailable(format!(
                "the write reached the Redis master but {acked} of {wanted} replicas within \
                 {waited:?}: it is stored, but a failover now could lose it. A retried create \
                 may answer 409 uniqueness; read the resource before retrying"
            ))
        }
        // Logged once, with its cause, by the handler that answers the 500.
        StoreError::Corrupt { .. } | StoreError::Invalid { .. } => {
            ScimError::Internal(Fault::new(e))
        }
    }
}

/// The store committed a batch but named no version for the resource it wrote.
fn no_version() -> Fault {
    Fault::broken("the store's answer names no version for the written resource")
}

pub(crate) fn now() -> String {
    OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .expect("an OffsetDateTime always formats as RFC 3339")
}

fn not_found(rt: &ResourceType, id: &str) -> ScimError {
    ScimError::NotFound(format!("{} {id} not found", rt.name))
}

fn check_version(
    rt: &ResourceType,
    loaded: &Loaded,
    if_match: Option<u64>,
) -> Result<(), ScimError> {
    match if_match {
        Some(v) if v != loaded.version => Err(ScimError::PreconditionFailed(format!(
            "{} {} is at version {}, not {v}",
            rt.name, loaded.id, loaded.version
        ))),
        _ => Ok(()),
    }
}

fn text<'a>(doc: &'a Value, key: &str) -> Option<&'a str> {
    doc.get(key).and_then(Value::as_str)
}

/// Adds the index entries of a resource document.
fn index(changes: &mut Changes, rt: &ResourceType, id: &str, doc: &Value) {
    if rt.kind == ResourceKind::User {
        if let Some(name) = text(doc, "userName") {
            changes.claim_user_name(name, id);
        }
    } else if let Some(name) = text(doc, "displayName") {
        changes.index_group_name(name, id);
    }
    if let Some(ext) = text(doc, "externalId") {
        changes.index_external_id(rt, ext, id);
    }
}

/// Removes the index entries of a resource document.
fn unindex(changes: &mut Changes, rt: &ResourceType, id: &str, doc: &Value) {
    if rt.kind == ResourceKind::User {
        if let Some(name) = text(doc, "userName") {
            changes.release_user_name(name, id);
        }
    } else if let Some(name) = text(doc, "displayName") {
        changes.unindex_group_name(name, id);
    }
    if let Some(ext) = text(doc, "externalId") {
        changes.unindex_external_id(rt, ext, id);
    }
}

/// The attributes [`index`] reads: a write re-indexes only when one of them changes.
const INDEXED: [&str; 3] = ["userName", "displayName", "externalId"];

/// The indexed attributes of `doc` alone: what [`reindex`] needs of a document that is about to
/// be changed in place.
fn indexed(doc: &Value) -> Value {
    let keys = INDEXED
        .into_iter()
        .filter_map(|k| Some((k.to_owned(), doc.get(k)?.clone())))
        .collect();
    Value::Object(keys)
}

/// Index changes between two versions of a document (only what differs).
fn reindex(changes: &mut Changes, rt: &ResourceType, id: &str, old: &Value, new: &Value) {
    if INDEXED.iter().any(|k| text(old, k) != text(new, k)) {
        unindex(changes, rt, id, old);
        index(changes, rt, id, new);
    }
}

/// Maps a failed write onto the client's answer. A timeout after the batch was handed to the
/// store (Redis: fred's command timeout) does not say whether it was applied, so the answer
/// says so instead of a `503` that invites a blind retry.
fn write_error(rt: &ResourceType, doc: &Value, e: StoreError) -> ScimError {
    match e {
        StoreError::Timeout { .. } => {
            tracing::warn!(error = %crate::error_chain::chain(&e), "store write outcome unknown");
            ScimError::OutcomeUnknown(
                "the store did not confirm the write in time; it may have been applied: \
                 read the resource before retrying"
                    .into(),
            )
        }
        StoreError::Unique { .. } => ScimError::Uniqueness(format!(
            "a {} with userName {:?} already exists",
            rt.name,
            text(doc, "userName").unwrap_or_default()
        )),
        other => store_error(other),
    }
}

impl Engine {
    /// An engine over `store`.
    pub fn new(store: SharedStore, limits: EngineLimits) -> Self {
        Self {
            records: Records::new(store),
            limits,
            event_data: DataMode::Full,
            locks: std::sync::Arc::new(WriteLocks::new()),
            deprovision: None,
        }
    }

    /// The same engine with deactivations and deletions of users passing `guard`.
    pub fn with_deprovision_guard(
        mut self,
        guard: std::sync::Arc<crate::scim::deprovision::Guard>,
    ) -> Self {
        self.deprovision = Some(guard);
        self
    }

    /// The same engine with events carrying `mode` (`OP_EVENTS_DATA`).
    pub fn with_event_data(mut self, mode: DataMode) -> Self {
        self.event_data = mode;
        self
    }

    /// The records it works on, for reads outside the engine.
    pub fn records(&self) -> &Records {
        &self.records
    }

    /// Creates a resource from a POST body.
    pub async fn create(
        &self,
        rt: &'static ResourceType,
        body: Value,
        projection: &Projection,
        ctx: &Ctx,
    ) -> Result<Resource, ScimError> {
        let mut quirks = Quirks::default();
        let mut doc = normalize_input(body, rt, &mut quirks)?;
        let member_ids = members::take_member_ids(rt, &mut doc)?;
        let id = uuid::Uuid::new_v4().to_string();
        let stamp = now();
        let stored = Stored {
            created: stamp.clone(),
            last_modified: stamp,
            doc,
        };
        let mut changes = Changes::new();
        changes.put(rt, &id, &stored, Expect::Absent);
        index(&mut changes, rt, &id, &stored.doc);
        if let Some(ids) = member_ids {
            self.add_members(&mut changes, &id, &ids).await?;
        }
        let mut loaded = Loaded {
            id,
            version: 1,
            stored,
        };
        let written = Written {
            rt,
            change: Change::Created,
            loaded: &loaded,
            diff: &Diff::created(&loaded.stored.doc),
            quirks,
        };
        self.emit(&mut changes, written, ctx).await?;
        loaded.version = self
            .records
            .commit(changes)
            .await
            .map_err(|e| write_error(rt, &loaded.stored.doc, e))?
            .ok_or_else(|| ScimError::Internal(no_version()))?;
        if rt.kind == ResourceKind::User {
            // A user created now is in no group: its id was minted here, and only this answer
            // names it, so there are no memberships to look up.
            return Ok(self.render_stored(rt, loaded, projection, ctx));
        }
        self.render_owned(rt, loaded, projection, ctx).await
    }

    /// Loads one resource or answers 404.
    pub async fn load(&self, rt: &'static ResourceType, id: &str) -> Result<Loaded, ScimError> {
        self.records
            .load(rt, id)
            .await
            .map_err(store_error)?
            .ok_or_else(|| not_found(rt, id))
    }

    /// Reads one resource.
    pub async fn get(
        &self,
        rt: &'static ResourceType,
        id: &str,
        projection: &Projection,
        ctx: &Ctx,
    ) -> Result<Resource, ScimError> {
        let loaded = self.load(rt, id).await?;
        self.render(rt, &loaded, projection, ctx).await
    }

    /// Deletes a resource and every membership it takes part in.
    pub async fn delete(
        &self,
        rt: &'static ResourceType,
        id: &str,
        if_match: Option<u64>,
        ctx: &Ctx,
    ) -> Result<(), ScimError> {
        let _writer = self.locks.lock(id).await;
        for attempt in 0..MAX_ATTEMPTS {
            back_off(attempt).await;
            let loaded = self.load(rt, id).await?;
            check_version(rt, &loaded, if_match)?;
            let mut changes = Changes::new();
            changes.delete(rt, id, loaded.version);
            unindex(&mut changes, rt, id, &loaded.stored.doc);
            for group in self.records.groups_of(id).await.map_err(store_error)? {
                changes.remove_member(&group, id);
            }
            changes.clear_member_of(id);
            if rt.kind == ResourceKind::Group {
                for member in self.records.all_members(id).await.map_err(store_error)? {
                    changes.remove_member(id, &member);
                }
                changes.clear_members(id);
            }
            let written = Written {
                rt,
                change: Change::Deleted,
                loaded: &loaded,
                diff: &Before::of(&loaded.stored.doc).diff(&Value::Null),
                quirks: Quirks::default(),
            };
            self.emit(&mut changes, written, ctx).await?;
            match self.records.commit(changes).await {
                Ok(_) => return Ok(()),
                // The resource (or a membership, or the guard's count) changed under us: look
                // again.
                Err(StoreError::Conflict { .. }) if if_match.is_none() => continue,
                Err(StoreError::Conflict { key }) if key.space == deprovision::SPACE => continue,
                Err(StoreError::Conflict { .. }) => {
                    return Err(ScimError::PreconditionFailed(format!(
                        "{} {id} changed; fetch it again",
                        rt.name
                    )))
                }
                Err(e) => return Err(write_error(rt, &loaded.stored.doc, e)),
            }
        }
        Err(ScimError::Conflict(format!(
            "{} {id} is changing too often; retry",
            rt.name
        )))
    }
}
