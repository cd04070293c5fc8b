//! Turning stored resources into their full representation: `id`, `meta`, and the computed
//! attributes (`User.groups` from direct memberships, `Group.members` from the member set),
//! loaded only when the projection will return them.

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
        if rt.kind == ResourceKind::User && projection.wants("groups") {
            let groups = self.group_refs(id, ctx).await?;
            if !groups.is_empty() {
                map.insert("groups".into(), Value::Array(groups));
            }
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
        let ids = self.records.groups_of(id).await.map_err(store_error)?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let groups = self
            .records
            .load_many(&GROUP_TYPE, &ids)
            .await
            .map_err(store_error)?;
        Ok(groups
            .iter()
            .map(|g| {
                let mut item = json!({
                    "value": g.id,
                    "$ref": reference(ctx, &GROUP_TYPE, &g.id),
                });
                if let Some(d) = display_of(&g.stored.doc) {
                    item["display"] = d;
                }
                item["type"] = "direct".into();
                item
            })
            .collect())
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
