//! Turning stored resources into their full representation: `id`, `meta`, and the computed
//! attributes (`User.groups` from direct memberships, `Group.members` from the member set),
//! loaded only when the projection will return them.

use std::collections::HashMap;

use futures_util::{StreamExt, TryStreamExt};
use serde_json::{json, Map, Value};

use super::{store_error, Ctx, Engine, Resource};
use crate::scim::{
    error::ScimError,
    list::ListResponse,
    project::Projection,
    records::{corrupt, Loaded, Raw},
    resource::{
        splice::{self, parse_time, Unspliced},
        with_meta, Meta,
    },
    schema::{ResourceKind, ResourceType, GROUP_TYPE},
};

/// The computed attributes of one resource as read for its projection: `None` for one it
/// does not return.
#[derive(Default)]
struct Computed {
    groups: Option<Vec<Value>>,
    members: Option<Vec<Value>>,
}

impl Computed {
    /// The non-empty lists, named (an empty list is left out of the representation).
    fn named(&self) -> Vec<(&'static str, &[Value])> {
        [("groups", &self.groups), ("members", &self.members)]
            .into_iter()
            .filter_map(|(name, list)| list.as_deref().filter(|l| !l.is_empty()).map(|l| (name, l)))
            .collect()
    }

    /// Inserts the non-empty lists into a document.
    fn insert_into(self, map: &mut Map<String, Value>) {
        for (name, list) in [("groups", self.groups), ("members", self.members)] {
            if let Some(list) = list.filter(|l| !l.is_empty()) {
                map.insert(name.into(), Value::Array(list));
            }
        }
    }
}

/// A resource read for a GET ([`Engine::fetch`]), with the group ids read beside it when its
/// projection shows them.
pub struct Fetched {
    /// The stored resource.
    pub raw: Raw,
    /// `User.groups` as ids, when the projection shows them.
    groups: Option<Vec<String>>,
}

/// Which computed attributes a resource of some type shows under some projection.
#[derive(Clone, Copy)]
struct Wants {
    /// `User.groups`.
    groups: bool,
    /// `Group.members`.
    members: bool,
}

impl Wants {
    fn of(rt: &ResourceType, projection: &Projection) -> Wants {
        Wants {
            groups: rt.kind == ResourceKind::User && projection.wants("groups"),
            members: rt.kind == ResourceKind::Group && projection.wants("members"),
        }
    }
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
        self.computed(rt, id, projection, ctx)
            .await?
            .insert_into(map);
        Ok(())
    }

    /// The computed attributes `projection` returns for resource `id`, read.
    async fn computed(
        &self,
        rt: &'static ResourceType,
        id: &str,
        projection: &Projection,
        ctx: &Ctx,
    ) -> Result<Computed, ScimError> {
        let wants = Wants::of(rt, projection);
        let groups = if wants.groups {
            Some(self.group_refs(id, ctx).await?)
        } else {
            None
        };
        self.with_members(id, wants, groups, ctx).await
    }

    /// `groups` as read by the caller, and `members` (read here) when the projection returns
    /// them.
    async fn with_members(
        &self,
        id: &str,
        wants: Wants,
        groups: Option<Vec<Value>>,
        ctx: &Ctx,
    ) -> Result<Computed, ScimError> {
        let members = if wants.members {
            Some(self.member_refs(id, ctx).await?)
        } else {
            None
        };
        Ok(Computed { groups, members })
    }

    /// Reads one resource for `projection`, its envelope unparsed, or answers 404: a user
    /// whose groups the projection shows is read with its memberships in one store read.
    pub async fn fetch(
        &self,
        rt: &'static ResourceType,
        id: &str,
        projection: &Projection,
    ) -> Result<Fetched, ScimError> {
        let found = if Wants::of(rt, projection).groups {
            self.records
                .load_raw_with_groups(id)
                .await
                .map_err(store_error)?
                .map(|(raw, groups)| (raw, Some(groups)))
        } else {
            self.records
                .load_raw(rt, id)
                .await
                .map_err(store_error)?
                .map(|raw| (raw, None))
        };
        let (raw, groups) = found.ok_or_else(|| super::not_found(rt, id))?;
        Ok(Fetched { raw, groups })
    }

    /// The representation of a fetched resource as JSON, projected: written from the stored
    /// bytes under the default projection ([`splice`]), else through the tree.
    pub async fn render_fetched(
        &self,
        rt: &'static ResourceType,
        fetched: Fetched,
        projection: &Projection,
        ctx: &Ctx,
    ) -> Result<Vec<u8>, ScimError> {
        let Fetched { raw, groups } = fetched;
        let groups = match groups {
            Some(ids) => Some(
                self.name_groups(vec![ids], ctx)
                    .await?
                    .pop()
                    .unwrap_or_default(),
            ),
            None => None,
        };
        let wants = Wants::of(rt, projection);
        let computed = self.with_members(&raw.id, wants, groups, ctx).await?;
        let mut out = Vec::new();
        self.render_into(&mut out, rt, raw, projection, computed, ctx)?;
        Ok(out)
    }

    /// Appends one resource's representation to `out`, its computed attributes read.
    fn render_into(
        &self,
        out: &mut Vec<u8>,
        rt: &'static ResourceType,
        raw: Raw,
        projection: &Projection,
        computed: Computed,
        ctx: &Ctx,
    ) -> Result<(), ScimError> {
        if projection.is_default() {
            let named = computed.named();
            match splice::write(
                out,
                rt,
                &raw.bytes,
                &raw.id,
                &ctx.base_url,
                raw.version,
                &named,
            ) {
                Ok(()) => return Ok(()),
                Err(Unspliced::Corrupt(e)) => return Err(store_error(corrupt(&raw.id, &e))),
                Err(Unspliced::NeedsTree) => {}
            }
        }
        let mut loaded = raw.decode().map_err(store_error)?;
        if let Value::Object(map) = &mut loaded.stored.doc {
            computed.insert_into(map);
        }
        let resource = self.render_stored(rt, loaded, projection, ctx);
        serde_json::to_writer(out, &resource.doc).expect("a serde_json::Value always serialises");
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
        self.name_groups(memberships, ctx).await
    }

    /// The references to the groups each of `memberships` names, in order, read in one store
    /// read per 1,000 distinct groups.
    async fn name_groups(
        &self,
        memberships: Vec<Vec<String>>,
        ctx: &Ctx,
    ) -> Result<Vec<Vec<Value>>, ScimError> {
        let mut named: Vec<String> = memberships.iter().flatten().cloned().collect();
        named.sort_unstable();
        named.dedup();
        let mut refs = HashMap::with_capacity(named.len());
        for chunk in named.chunks(1_000) {
            let groups = self
                .records
                .load_many_raw(&GROUP_TYPE, chunk)
                .await
                .map_err(store_error)?;
            for g in groups {
                let display = g.display_name().map_err(store_error)?;
                let mut item = json!({
                    "value": g.id,
                    "$ref": reference(ctx, &GROUP_TYPE, &g.id),
                });
                if let Some(d) = display {
                    item["display"] = d.into();
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

    /// Appends the representations of `items` to `list`, in order, each with the computed
    /// attributes its projection returns: the users' `groups` for the whole list in two store
    /// reads ([`Engine::group_refs_many`]); each group's `members` (possibly many) in reads of
    /// its own, as many groups at once as the store overlaps reads
    /// ([`Records::reads_in_flight`](crate::scim::records::Records::reads_in_flight)).
    pub(super) async fn render_page(
        &self,
        list: &mut ListResponse,
        items: Vec<(&'static ResourceType, Raw, &Projection)>,
        ctx: &Ctx,
    ) -> Result<(), ScimError> {
        // A page's items share a projection per type: ask it once, not per item.
        let wants: Vec<Wants> = {
            let mut last: Option<(&ResourceType, &Projection, Wants)> = None;
            items
                .iter()
                .map(|&(rt, _, p)| match last {
                    Some((r, q, w)) if std::ptr::eq(r, rt) && std::ptr::eq(q, p) => w,
                    _ => {
                        let w = Wants::of(rt, p);
                        last = Some((rt, p, w));
                        w
                    }
                })
                .collect()
        };
        let users: Vec<String> = items
            .iter()
            .zip(&wants)
            .filter(|(_, w)| w.groups)
            .map(|((_, r, _), _)| r.id.clone())
            .collect();
        let mut groups = self.group_refs_many(&users, ctx).await?.into_iter();
        let reads: Vec<_> = items
            .iter()
            .zip(&wants)
            .map(|((_, raw, _), &w)| {
                let refs = if w.groups { groups.next() } else { None };
                self.with_members(&raw.id, w, refs, ctx)
            })
            .collect();
        let computed: Vec<Computed> = futures_util::stream::iter(reads)
            .buffered(self.records.reads_in_flight().max(1))
            .try_collect()
            .await?;
        for ((rt, raw, p), computed) in items.into_iter().zip(computed) {
            self.render_into(list.next_item(), rt, raw, p, computed, ctx)?;
        }
        Ok(())
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
            let kinds = self.records.kinds(chunk).await.map_err(store_error)?;
            for (id, rt) in chunk.iter().zip(kinds) {
                let Some(rt) = rt else { continue };
                // No `display`: the bridge does not store a member's display name, and one
                // computed from the member would differ from what the client wrote (issue 10).
                // `value`, `$ref` and `type` identify the member; `/Schemas` says so.
                let mut item = json!({
                    "value": id,
                    "$ref": reference(ctx, rt, id),
                });
                item["type"] = rt.name.into();
                out.push(item);
            }
        }
        out.sort_by(|a, b| a["value"].as_str().cmp(&b["value"].as_str()));
        Ok(out)
    }
}
