//! One sync: read the selected groups and their members (nested groups flattened), stream the
//! customer's users a page at a time, and bring the resources the connector owns in line,
//! through the same engine as SCIM writes (events with `actor.token` = `workspace`, history,
//! uniqueness and the deprovisioning guard apply alike).
//!
//! * A Google user in scope is created, or updated when it differs (a `PUT` of the mapped
//!   document; the engine writes nothing when it is equal); an existing SCIM user whose
//!   `userName` is the Google user's primary email is **adopted** (marked as owned, then
//!   updated). A SCIM user the connector does not own is never changed.
//! * An owned user out of scope (removed from the groups, or deleted in Google) is deactivated,
//!   or deleted with `OP_WORKSPACE_LEAVE=delete`.
//! * Each selected group becomes an owned SCIM group whose members are its (flattened) users in
//!   scope; an owned group no longer selected is deleted.
//!
//! Every change is one engine write, all-or-nothing; a sync that stops part-way leaves each
//! resource either changed or not, and the next sync computes the difference again.

use std::{
    collections::{BTreeSet, HashMap, HashSet},
    sync::Arc,
};

use futures_util::{stream, StreamExt};
use serde::Serialize;
use serde_json::{json, Value};

use super::{
    directory::{ApiError, Directory, Group},
    mapping,
    state::{self, Mark, Selection},
};
use crate::{
    scim::{
        engine::{Ctx, Engine, Input},
        error::ScimError,
        project::Projection,
        schema::{ResourceType, GROUP_TYPE, USER_TYPE},
    },
    store::{SharedStore, StoreError},
};

/// Users written at once: enough for the store's group commit to batch their fsyncs.
const CONCURRENCY: usize = 16;
/// Groups whose members are read at once.
const GROUPS_AT_ONCE: usize = 4;
/// Members added or removed per PATCH.
const MEMBERS_PER_PATCH: usize = 500;
/// Errors kept in a summary.
const MAX_ERRORS: usize = 20;

/// What a user who leaves the scope becomes (`OP_WORKSPACE_LEAVE`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Leave {
    /// Deactivated (`active: false`): the default.
    #[default]
    Deactivate,
    /// Deleted.
    Delete,
}

/// What a sync did: shown on the status page, in `/status.json` and in `/health`.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// `ok`, `held` (the deprovisioning guard stopped some changes), `failed` or `idle` (no
    /// groups selected).
    pub state: &'static str,
    /// When it began (RFC 3339).
    pub started_at: String,
    /// How long it took, in milliseconds.
    pub duration_ms: u64,
    /// Google users listed.
    pub users_seen: u64,
    /// Of them, in scope.
    pub users_in_scope: u64,
    /// Google groups listed.
    pub groups_seen: u64,
    /// Groups synced.
    pub groups_synced: u64,
    /// Users created.
    pub created: u64,
    /// Users changed (reactivations included).
    pub updated: u64,
    /// Users already as they should be.
    pub unchanged: u64,
    /// Existing SCIM users taken over, by matching `userName`.
    pub adopted: u64,
    /// Their SCIM ids (at most 20).
    pub adoptions: Vec<String>,
    /// Users deactivated for leaving the scope.
    pub deactivated: u64,
    /// Users deleted for leaving the scope.
    pub deleted: u64,
    /// Deactivations and deletions the deprovisioning guard refused (retried next sync).
    pub held: u64,
    /// Groups created, changed or deleted.
    pub groups_changed: u64,
    /// Memberships added.
    pub members_added: u64,
    /// Memberships removed.
    pub members_removed: u64,
    /// What went wrong (at most 20; ids, never names or emails).
    pub errors: Vec<String>,
}

impl Summary {
    fn error(&mut self, what: String) {
        if self.errors.len() < MAX_ERRORS {
            self.errors.push(what);
        }
    }
}

/// Why a sync stopped before its end.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// Google's API (or its token endpoint) failed.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// The store failed.
    #[error("the store: {0}")]
    Store(#[from] StoreError),
    /// The engine could not write (the store is unavailable).
    #[error("{0}")]
    Engine(ScimError),
}

/// How one Google user came out.
enum Outcome {
    Created,
    Updated,
    Unchanged,
    Adopted,
    Held,
}

/// The sync's collaborators.
pub struct Syncer {
    /// The Directory API.
    pub directory: Directory,
    /// The engine every change goes through.
    pub engine: Engine,
    /// The store (for the connector's own records).
    pub store: SharedStore,
    /// `OP_WORKSPACE_GROUPS`, which wins over the status page's selection.
    pub configured: Option<Selection>,
    /// What a leaver becomes.
    pub leave: Leave,
    /// The context of its writes (`actor.token` = `workspace`).
    pub ctx: Ctx,
}

impl Syncer {
    /// The groups to sync: the setting, else what the status page stored.
    pub async fn selection(&self) -> Result<Option<Selection>, StoreError> {
        state::chosen(self.configured.as_ref(), &self.store).await
    }

    /// One whole sync; the summary says how it went (it is also stored).
    pub async fn run(self: Arc<Self>) -> Summary {
        let started = std::time::Instant::now();
        let mut s = Summary {
            started_at: crate::operator::rfc3339(time::OffsetDateTime::now_utc()),
            ..Summary::default()
        };
        s.state = match self.apply(&mut s).await {
            Ok(true) if s.held > 0 => "held",
            Ok(true) => "ok",
            Ok(false) => "idle",
            Err(e) => {
                tracing::warn!(error = %e, "workspace sync failed; it resumes at the next");
                s.error(e.to_string());
                "failed"
            }
        };
        s.duration_ms = started.elapsed().as_millis() as u64;
        let doc = serde_json::to_value(&s).unwrap_or_default();
        if let Err(e) = state::set_summary(&self.store, &doc).await {
            tracing::warn!(error = %e, "storing the workspace sync summary");
        }
        tracing::info!(
            state = s.state,
            duration_ms = s.duration_ms,
            users_in_scope = s.users_in_scope,
            created = s.created,
            updated = s.updated,
            adopted = s.adopted,
            deactivated = s.deactivated,
            deleted = s.deleted,
            held = s.held,
            errors = s.errors.len(),
            "workspace sync finished"
        );
        s
    }

    /// The sync proper; `false` when no groups are selected.
    async fn apply(self: &Arc<Self>, s: &mut Summary) -> Result<bool, SyncError> {
        // No pick, or an empty one, syncs nothing: an empty pick must not read as "everyone
        // leaves".
        let selection = match self.selection().await? {
            None => return Ok(false),
            Some(Selection::Groups(g)) if g.is_empty() => return Ok(false),
            Some(s) => s,
        };
        let groups = self.groups(&selection, s).await?;
        // A few groups' member lists at once: each is a chain of pages, read one after another.
        let ids: Vec<String> = groups.iter().map(|g| g.id.clone()).collect();
        let flattened: Vec<Result<(HashSet<String>, bool), ApiError>> = stream::iter(ids)
            .map(|id| {
                let me = Arc::clone(self);
                async move { me.flatten(&id).await }
            })
            .buffered(GROUPS_AT_ONCE)
            .collect()
            .await;
        let mut members: Vec<(Group, HashSet<String>)> = Vec::with_capacity(groups.len());
        let mut everyone = selection == Selection::All;
        for (g, f) in groups.into_iter().zip(flattened) {
            let (users, all) = f?;
            everyone |= all;
            members.push((g, users));
        }
        let scope: Option<HashSet<String>> = (!everyone).then(|| {
            members
                .iter()
                .flat_map(|(_, u)| u.iter().cloned())
                .collect()
        });

        // Users, a page at a time: Google id → SCIM id of everyone in scope.
        let mut scim_of: HashMap<String, String> = HashMap::new();
        // The next page is read while this one is applied (two pages in memory at most).
        let fetch = |token: Option<String>| {
            let directory = self.directory.clone();
            tokio::spawn(async move { directory.users(token.as_deref()).await })
        };
        let mut pending = Some(fetch(None));
        while let Some(reading) = pending.take() {
            let p = reading.await.map_err(|e| ApiError::Transport {
                call: "users.list",
                detail: format!("the page's task ended: {e}"),
            })??;
            if let Some(next) = p.next.clone() {
                pending = Some(fetch(Some(next)));
            }
            s.users_seen += p.items.len() as u64;
            let wanted: Vec<Value> = p
                .items
                .into_iter()
                .filter(|u| {
                    let id = u.get("id").and_then(Value::as_str).unwrap_or_default();
                    scope.as_ref().is_none_or(|sc| sc.contains(id))
                })
                .collect();
            s.users_in_scope += wanted.len() as u64;
            // Each user on its own task, so the runtime's threads share the work.
            let done: Vec<_> = stream::iter(wanted)
                .map(|u| {
                    let me = Arc::clone(self);
                    tokio::spawn(async move { me.user(u).await })
                })
                .buffer_unordered(CONCURRENCY)
                .collect()
                .await;
            for r in done {
                let r = r.unwrap_or_else(|e| {
                    Err(UserError::Skipped(format!("a user's task ended: {e}")))
                });
                match r {
                    Ok((google, scim, outcome)) => {
                        match outcome {
                            Outcome::Created => s.created += 1,
                            Outcome::Updated => s.updated += 1,
                            Outcome::Unchanged => s.unchanged += 1,
                            Outcome::Held => s.held += 1,
                            Outcome::Adopted => {
                                s.adopted += 1;
                                if s.adoptions.len() < MAX_ERRORS {
                                    s.adoptions.push(scim.clone());
                                }
                            }
                        }
                        scim_of.insert(google, scim);
                    }
                    Err(UserError::Store(e)) => return Err(e.into()),
                    Err(UserError::Stop(e)) => return Err(SyncError::Engine(e)),
                    Err(UserError::Skipped(why)) => s.error(why),
                }
            }
        }

        // Owned users no longer in scope leave.
        let in_scope: HashSet<&String> = scim_of.values().collect();
        let marks = state::marks(&self.store).await?;
        for (id, mark) in marks
            .iter()
            .filter(|(id, m)| m.kind == "User" && !in_scope.contains(id))
        {
            match self.leave(id).await {
                Ok(Some(Leave::Deactivate)) => s.deactivated += 1,
                Ok(Some(Leave::Delete)) => s.deleted += 1,
                Ok(None) => {}
                Err(ScimError::Held(_)) => {
                    // The guard holds every further one too: stop asking until a release.
                    s.held += 1;
                    break;
                }
                Err(e) if stops(&e) => return Err(SyncError::Engine(e)),
                Err(e) => s.error(format!("user {id} (Google {}): {e}", mark.google)),
            }
        }

        // Groups: each selected one with its members in scope; owned ones no longer selected go.
        let mut synced = HashSet::new();
        for (g, users) in &members {
            let ids: BTreeSet<String> = users
                .iter()
                .filter_map(|u| scim_of.get(u).cloned())
                .collect();
            match self.group(g, &ids, s).await {
                Ok(id) => {
                    s.groups_synced += 1;
                    synced.insert(id);
                }
                Err(GroupError::Store(e)) => return Err(e.into()),
                Err(GroupError::Scim(e)) => {
                    s.error(format!("group {} (Google {}): {e}", g.email, g.id))
                }
            }
        }
        for (id, _) in marks
            .iter()
            .filter(|(id, m)| m.kind == "Group" && !synced.contains(id))
        {
            match self.engine.delete(&GROUP_TYPE, id, None, &self.ctx).await {
                Ok(()) | Err(ScimError::NotFound(_)) => {
                    state::drop_mark(&self.store, id).await?;
                    s.groups_changed += 1;
                }
                Err(e) => s.error(format!("group {id}: {e}")),
            }
        }
        Ok(true)
    }

    /// The selected groups; names the selected emails that match no group.
    async fn groups(
        &self,
        selection: &Selection,
        s: &mut Summary,
    ) -> Result<Vec<Group>, SyncError> {
        let all = self.directory.all_groups().await?;
        s.groups_seen = all.len() as u64;
        let out: Vec<Group> = all
            .into_iter()
            .filter(|g| selection.includes(&g.email))
            .collect();
        if let Selection::Groups(emails) = selection {
            for e in emails {
                if !out.iter().any(|g| g.email.eq_ignore_ascii_case(e)) {
                    s.error(format!("no Google group has the email {e}"));
                }
            }
        }
        Ok(out)
    }

    /// The users of a group, nested groups flattened (each group read once, so a cycle ends);
    /// `true` when a member is the whole customer (`CUSTOMER`).
    async fn flatten(&self, group: &str) -> Result<(HashSet<String>, bool), ApiError> {
        let mut users = HashSet::new();
        let mut everyone = false;
        let mut seen = HashSet::from([group.to_owned()]);
        let mut queue = vec![group.to_owned()];
        while let Some(g) = queue.pop() {
            let mut page: Option<String> = None;
            loop {
                let p = self.directory.members(&g, page.as_deref()).await?;
                for m in p.items {
                    let Some(id) = m.id else { continue };
                    match m.kind.as_str() {
                        "USER" => {
                            users.insert(id);
                        }
                        "GROUP" if seen.insert(id.clone()) => queue.push(id),
                        "CUSTOMER" => everyone = true,
                        _ => {}
                    }
                }
                match p.next {
                    Some(next) => page = Some(next),
                    None => break,
                }
            }
        }
        Ok((users, everyone))
    }

    /// Brings one Google user's SCIM user in line; returns (Google id, SCIM id, outcome).
    async fn user(&self, google: Value) -> Result<(String, String, Outcome), UserError> {
        let gid = google
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let Some(doc) = mapping::user(&google) else {
            return Err(UserError::Skipped(format!(
                "Google user {gid}: no id or primaryEmail"
            )));
        };
        let user_name = doc["userName"].as_str().unwrap_or_default().to_owned();
        if let Some(id) = self.owned(&USER_TYPE, &gid).await? {
            let outcome = self.update(&id, doc).await.map_err(|e| skipped(&gid, e))?;
            return Ok((gid, id, outcome));
        }
        if let Some(id) = self.engine.records().user_by_name(&user_name).await? {
            return match state::mark(&self.store, &id).await? {
                Some(m) if m.google != gid => Err(UserError::Skipped(format!(
                    "Google user {gid}: its primary email is the userName of user {id}, which mirrors Google user {}",
                    m.google
                ))),
                Some(_) => {
                    let outcome = self.update(&id, doc).await.map_err(|e| skipped(&gid, e))?;
                    Ok((gid, id, outcome))
                }
                None => {
                    self.own(&USER_TYPE, &id, &gid, true).await?;
                    let outcome = self.update(&id, doc).await.map_err(|e| skipped(&gid, e))?;
                    let outcome = if matches!(outcome, Outcome::Held) { outcome } else { Outcome::Adopted };
                    Ok((gid, id, outcome))
                }
            };
        }
        let created = self
            .engine
            .create(
                &USER_TYPE,
                doc,
                &Projection::default_for(&USER_TYPE),
                &self.ctx,
            )
            .await
            .map_err(|e| skipped(&gid, e))?;
        self.own(&USER_TYPE, &created.id, &gid, false).await?;
        Ok((gid, created.id, Outcome::Created))
    }

    /// The SCIM resource of type `rt` that mirrors Google's `google` id, if the connector owns
    /// one: found by its `externalId`, and owned when its mark names that id.
    async fn owned(
        &self,
        rt: &'static ResourceType,
        google: &str,
    ) -> Result<Option<String>, StoreError> {
        for id in self.engine.records().by_external_id(rt, google).await? {
            if state::mark(&self.store, &id)
                .await?
                .is_some_and(|m| m.google == google)
            {
                return Ok(Some(id));
            }
        }
        Ok(None)
    }

    /// Marks SCIM resource `id` as the connector's, mirroring Google's `google` id.
    async fn own(
        &self,
        rt: &'static ResourceType,
        id: &str,
        google: &str,
        adopted: bool,
    ) -> Result<(), StoreError> {
        let mark = Mark {
            kind: rt.name.into(),
            google: google.into(),
            adopted,
        };
        state::set_mark(&self.store, id, &mark).await
    }

    /// A `PUT` of the mapped document; the engine writes nothing when it is equal.
    async fn update(&self, id: &str, doc: Value) -> Result<Outcome, ScimError> {
        match self.put(&USER_TYPE, id, doc).await {
            Ok(true) => Ok(Outcome::Updated),
            Ok(false) => Ok(Outcome::Unchanged),
            Err(ScimError::Held(_)) => Ok(Outcome::Held),
            Err(e) => Err(e),
        }
    }

    /// Deactivates or deletes an owned user who left the scope; `None` when there was nothing
    /// to do (already inactive, or gone).
    async fn leave(&self, id: &str) -> Result<Option<Leave>, ScimError> {
        match self.leave {
            Leave::Delete => match self.engine.delete(&USER_TYPE, id, None, &self.ctx).await {
                Ok(()) => {
                    drop_mark(&self.store, id).await?;
                    Ok(Some(Leave::Delete))
                }
                Err(ScimError::NotFound(_)) => {
                    drop_mark(&self.store, id).await?;
                    Ok(None)
                }
                Err(e) => Err(e),
            },
            Leave::Deactivate => {
                let loaded = match self.engine.load(&USER_TYPE, id).await {
                    Ok(l) => l,
                    Err(ScimError::NotFound(_)) => {
                        drop_mark(&self.store, id).await?;
                        return Ok(None);
                    }
                    Err(e) => return Err(e),
                };
                if !crate::scim::events::is_active(&loaded.stored.doc) {
                    return Ok(None);
                }
                let ops = json!([{"op": "replace", "path": "active", "value": false}]);
                self.patch(&USER_TYPE, id, ops).await?;
                Ok(Some(Leave::Deactivate))
            }
        }
    }

    /// Brings one selected group's SCIM group in line: name and members.
    async fn group(
        &self,
        g: &Group,
        members: &BTreeSet<String>,
        s: &mut Summary,
    ) -> Result<String, GroupError> {
        let doc = mapping::group(&g.id, &g.name, &g.email);
        let id = match self.owned(&GROUP_TYPE, &g.id).await? {
            Some(id) => {
                if self.put(&GROUP_TYPE, &id, doc).await? {
                    s.groups_changed += 1;
                }
                id
            }
            None => {
                let created = self
                    .engine
                    .create(
                        &GROUP_TYPE,
                        doc,
                        &Projection::default_for(&GROUP_TYPE),
                        &self.ctx,
                    )
                    .await?;
                self.own(&GROUP_TYPE, &created.id, &g.id, false).await?;
                s.groups_changed += 1;
                created.id
            }
        };
        let current: BTreeSet<String> = self
            .engine
            .records()
            .all_members(&id)
            .await?
            .into_iter()
            .collect();
        let add: Vec<&String> = members.difference(&current).collect();
        let remove: Vec<&String> = current.difference(members).collect();
        for chunk in add.chunks(MEMBERS_PER_PATCH) {
            let value: Vec<Value> = chunk.iter().map(|m| json!({"value": m})).collect();
            let ops = json!([{"op": "add", "path": "members", "value": value}]);
            self.patch(&GROUP_TYPE, &id, ops).await?;
            s.members_added += chunk.len() as u64;
        }
        for chunk in remove.chunks(MEMBERS_PER_PATCH) {
            let ops: Vec<Value> = chunk
                .iter()
                .map(|m| json!({"op": "remove", "path": format!("members[value eq \"{m}\"]")}))
                .collect();
            self.patch(&GROUP_TYPE, &id, Value::Array(ops)).await?;
            s.members_removed += chunk.len() as u64;
        }
        Ok(id)
    }

    /// A `PUT` through the engine, as a client's body; whether it changed the resource (the
    /// engine writes nothing, and keeps the version, when the result is equal).
    async fn put(
        &self,
        rt: &'static ResourceType,
        id: &str,
        doc: Value,
    ) -> Result<bool, ScimError> {
        let before = self.engine.load(rt, id).await?.version;
        let again = || Ok(doc.clone());
        let after = self
            .engine
            .replace(rt, id, Input::new(doc.clone(), &again), None, &self.ctx)
            .await?;
        Ok(after.version != before)
    }

    /// A `PATCH` of `ops` through the engine.
    async fn patch(
        &self,
        rt: &'static ResourceType,
        id: &str,
        ops: Value,
    ) -> Result<(), ScimError> {
        let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops});
        let again = || Ok(body.clone());
        self.engine
            .patch(rt, id, Input::new(body.clone(), &again), None, &self.ctx)
            .await
            .map(|_| ())
    }
}

async fn drop_mark(store: &SharedStore, id: &str) -> Result<(), ScimError> {
    state::drop_mark(store, id)
        .await
        .map_err(crate::scim::engine::store_error)
}

/// Why one user was not brought in line.
enum UserError {
    /// The store failed: the sync stops.
    Store(StoreError),
    /// The engine cannot write at all (the store is unavailable): the sync stops.
    Stop(ScimError),
    /// This user only (a uniqueness clash, a refused value): the sync goes on.
    Skipped(String),
}

impl From<StoreError> for UserError {
    fn from(e: StoreError) -> Self {
        UserError::Store(e)
    }
}

/// Whether an engine error means it cannot write at all (so the sync stops), rather than
/// that one resource was refused (so the sync goes on without it).
fn stops(e: &ScimError) -> bool {
    matches!(
        e,
        ScimError::Unavailable(_) | ScimError::Internal(_) | ScimError::OutcomeUnknown(_)
    )
}

fn skipped(gid: &str, e: ScimError) -> UserError {
    if stops(&e) {
        UserError::Stop(e)
    } else {
        UserError::Skipped(format!("Google user {gid}: {e}"))
    }
}

/// Why one group was not brought in line.
enum GroupError {
    Store(StoreError),
    Scim(ScimError),
}

impl From<StoreError> for GroupError {
    fn from(e: StoreError) -> Self {
        GroupError::Store(e)
    }
}

impl From<ScimError> for GroupError {
    fn from(e: ScimError) -> Self {
        GroupError::Scim(e)
    }
}
