//! Turning stored resources into their full representation: `id`, `meta`, and the computed
//! attributes (`User.groups` from direct memberships, `Group.members` from the member set),
//! loaded only when the projection will return them.

use std::collections::HashMap;

use futures_util::{StreamExt, TryStreamExt};
use serde_json::{json, Map, Value};
use time::{format_description::well_known::Rfc3339, OffsetDateTime};

use super::{store_error, Ctx, Engine, Resource};
use crate::scim::{
    error::ScimError,
    project::Projection,
    records::Loaded,
    resource::{with_meta, Meta},
    schema::{ResourceKind, ResourceType, GROUP_TYPE, USER_TYPE},
};

/// A display name for a member or group reference: displayName, else a user's userName.
fn display_of(doc: &Value) -> Option<Value> {
    doc.get("displayName")
        .or_else(|| doc.get("userName"))
        .filter(|v| v.is_string())
        .cloned()
}

/// A stored timestamp (always written by [`super::now`]); the epoch if it was tampered with.
fn parse_time(text: &str) -> OffsetDateTime {
    OffsetDateTime::parse(text, &Rfc3339).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// Whether a resource of `rt` shows `User.groups` under `projection`.
fn wants_groups(rt: &ResourceType, projection: &Projection) -> bool {
    rt.kind == ResourceKind::User && projection.wants("groups")
}

fn reference(ctx: &Ctx, rt: &ResourceType, id: &str) -> Value {
    Value::String(format!("{}{}/{id}", ctx.base_url, rt.endpoint))
}

impl Engine {
    /// The full representation of `loaded`, projected.
    pub async fn render(
        &self,
        rt: &'static ResourceType,
        loaded: &Loaded,
        projection: &Projection,
        ctx: &Ctx,
    ) -> Result<Resource, ScimError> {
        self.render_owned(rt, loaded.clone(), projection, ctx).await
    }

    /// [`Engine::render`] for a resource the caller no longer needs (no document copy).
    pub async fn render_owned(
        &self,
        rt: &'static ResourceType,
        mut loaded: Loaded,
        projection: &Projection,
        ctx: &Ctx,
    ) -> Result<Resource, ScimError> {
        if let Value::Object(map) = &mut loaded.stored.doc {
            self.add_computed(rt, &loaded.id, map, projection, ctx)
                .await?;
        }
        Ok(self.render_stored(rt, loaded, projection, ctx))
    }

    /// The representation of `loaded` with no computed attribute looked up: for a resource
    /// that has none, or whose document already holds them.
    pub(super) fn render_stored(
        &self,
        rt: &'static ResourceType,
        mut loaded: Loaded,
        projection: &Projection,
        ctx: &Ctx,
    ) -> Resource {
        let meta = self.meta(rt, &loaded, ctx);
        let doc = loaded.stored.doc.take();
        let mut doc = with_meta(doc, &loaded.id, &meta);
        projection.apply(&mut doc, rt);
        Resource {
            id: loaded.id,
            version: loaded.version,
            doc,
        }
    }

    /// The meta block of a loaded resource.
    pub(super) fn meta(&self, rt: &ResourceType, loaded: &Loaded, ctx: &Ctx) -> Meta {
        Meta::new(
            rt,
            &ctx.base_url,
            &loaded.id,
            parse_time(&loaded.stored.created),
            parse_time(&loaded.stored.last_modified),
            loaded.version,
        )
    }

    /// Adds `groups` (users) or `members` (groups) when the projection returns them.
    pub(super) async fn add_computed(
        &self,
        rt: &'static ResourceType,
        id: &str,
        map: &mut Map<String, Value>,
        projection: &Projection,
        ctx: &Ctx,
    ) -> Result<(), ScimError> {
        let groups = if wants_groups(rt, projection) {
            Some(self.group_refs(id, ctx).await?)
        } else {
            None
        };
        self.insert_computed(rt, id, map, projection, groups, ctx)
            .await
    }

    /// Inserts `groups` as read by the caller, and `members` (read here) when the projection
    /// returns them; an empty list is left out.
    async fn insert_computed(
        &self,
        rt: &'static ResourceType,
        id: &str,
        map: &mut Map<String, Value>,
        projection: &Projection,
        groups: Option<Vec<Value>>,
        ctx: &Ctx,
    ) -> Result<(), ScimError> {
        if let Some(groups) = groups.filter(|g| !g.is_empty()) {
            map.insert("groups".into(), Value::Array(groups));
        }
        if rt.kind == ResourceKind::Group && projection.wants("members") {
            let members = self.member_refs(id, ctx).await?;
            if !members.is_empty() {
                map.insert("members".into(), Value::Array(members));
            }
        }
        Ok(())
    }

    /// `User.groups`: the groups `id` is a direct member of.
    async fn group_refs(&self, id: &str, ctx: &Ctx) -> Result<Vec<Value>, ScimError> {
        let mut refs = self.group_refs_many(&[id.to_owned()], ctx).await?;
        Ok(refs.pop().unwrap_or_default())
    }

    /// [`Engine::group_refs`] for each of `ids`, in order: the memberships of all of them in
    /// one store read and the groups they name in another, whatever the number of users.
    async fn group_refs_many(
        &self,
        ids: &[String],
        ctx: &Ctx,
    ) -> Result<Vec<Vec<Value>>, ScimError> {
        let memberships = self
            .records
            .groups_of_many(ids)
            .await
            .map_err(store_error)?;
        let mut named: Vec<String> = memberships.iter().flatten().cloned().collect();
        named.sort_unstable();
        named.dedup();
        let mut refs = HashMap::with_capacity(named.len());
        for chunk in named.chunks(1_000) {
            let groups = self
                .records
                .load_many(&GROUP_TYPE, chunk)
                .await
                .map_err(store_error)?;
            for g in groups {
                let mut item = json!({
                    "value": g.id,
                    "$ref": reference(ctx, &GROUP_TYPE, &g.id),
                });
                if let Some(d) = display_of(&g.stored.doc) {
                    item["display"] = d;
                }
                item["type"] = "direct".into();
                refs.insert(g.id, item);
            }
        }
        // A group deleted since the membership was read is skipped.
        Ok(memberships
            .iter()
            .map(|groups| groups.iter().filter_map(|g| refs.get(g).cloned()).collect())
            .collect())
    }

    /// The documents of `items`, in order, each with the computed attributes its projection
    /// returns: the users' `groups` for the whole list in two store reads
    /// ([`Engine::group_refs_many`]); each group's `members` (possibly many) in reads of its
    /// own, as many groups at once as the store overlaps reads
    /// ([`Records::reads_in_flight`](crate::scim::records::Records::reads_in_flight)).
    pub(super) async fn render_many(
        &self,
        items: Vec<(&'static ResourceType, Loaded, &Projection)>,
        ctx: &Ctx,
    ) -> Result<Vec<Value>, ScimError> {
        let users: Vec<String> = items
            .iter()
            .filter(|(rt, _, p)| wants_groups(rt, p))
            .map(|(_, l, _)| l.id.clone())
            .collect();
        let mut groups = self.group_refs_many(&users, ctx).await?.into_iter();
        let renders: Vec<_> = items
            .into_iter()
            .map(|(rt, loaded, p)| {
                let refs = if wants_groups(rt, p) {
                    groups.next()
                } else {
                    None
                };
                self.render_with(rt, loaded, p, refs, ctx)
            })
            .collect();
        futures_util::stream::iter(renders)
            .buffered(self.records.reads_in_flight().max(1))
            .try_collect()
            .await
    }

    /// One document of [`Engine::render_many`]: `groups` as read for the whole list, `members`
    /// read here.
    async fn render_with(
        &self,
        rt: &'static ResourceType,
        mut loaded: Loaded,
        projection: &Projection,
        groups: Option<Vec<Value>>,
        ctx: &Ctx,
    ) -> Result<Value, ScimError> {
        if let Value::Object(map) = &mut loaded.stored.doc {
            self.insert_computed(rt, &loaded.id, map, projection, groups, ctx)
                .await?;
        }
        Ok(self.render_stored(rt, loaded, projection, ctx).doc)
    }

    /// `Group.members`, resolved to users or groups for `$ref` and `type`.
    pub(super) async fn member_refs(&self, id: &str, ctx: &Ctx) -> Result<Vec<Value>, ScimError> {
        let ids = self.records.all_members(id).await.map_err(store_error)?;
        self.resolve_members(&ids, ctx).await
    }

    /// Member objects for ids, in id order; ids of deleted resources are skipped.
    pub(super) async fn resolve_members(
        &self,
        ids: &[String],
        ctx: &Ctx,
    ) -> Result<Vec<Value>, ScimError> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(1_000) {
            let users = self
                .records
                .load_many(&USER_TYPE, chunk)
                .await
                .map_err(store_error)?;
            let found: std::collections::HashSet<&str> =
                users.iter().map(|u| u.id.as_str()).collect();
            let rest: Vec<String> = chunk
                .iter()
                .filter(|id| !found.contains(id.as_str()))
                .cloned()
                .collect();
            let groups = if rest.is_empty() {
                Vec::new()
            } else {
                self.records
                    .load_many(&GROUP_TYPE, &rest)
                    .await
                    .map_err(store_error)?
            };
            for (rt, loaded) in users
                .iter()
                .map(|u| (&USER_TYPE, u))
                .chain(groups.iter().map(|g| (&GROUP_TYPE, g)))
            {
                // No `display`: the bridge does not store a member's display name, and one
                // computed from the member would differ from what the client wrote (issue 10).
                // `value`, `$ref` and `type` identify the member; `/Schemas` says so.
                let mut item = json!({
                    "value": loaded.id,
                    "$ref": reference(ctx, rt, &loaded.id),
                });
                item["type"] = rt.name.into();
                out.push(item);
            }
        }
        out.sort_by(|a, b| a["value"].as_str().cmp(&b["value"].as_str()));
        Ok(out)
    }
}
