//! Replace (PUT) and patch (PATCH): read, change a copy, write back at the version read. A lost
//! race is retried from a fresh read, unless the client pinned a version with `If-Match`, which
//! then answers 412.

use serde_json::Value;

use super::{check_version, members, now, reindex, write_error, Ctx, Engine, MAX_ATTEMPTS};
use crate::scim::{
    cpu,
    error::ScimError,
    patch,
    resource::{check_immutable, normalize_input},
    schema::ResourceType,
    storage::{Changes, Expect, Loaded, Stored},
};
use crate::store::StoreError;

/// What the caller sent, for the retry loop.
enum Edit<'a> {
    Replace(&'a Value),
    Patch(&'a [patch::PatchOp]),
}

impl Engine {
    /// Replaces a resource with a PUT body. `readOnly` attributes in the body are ignored;
    /// `active` and `members`, when absent, keep their current values (identity providers send
    /// partial PUTs and must not deactivate anyone or empty a group by omission).
    pub async fn replace(
        &self,
        rt: &'static ResourceType,
        id: &str,
        body: &Value,
        if_match: Option<u64>,
        ctx: &Ctx,
    ) -> Result<Loaded, ScimError> {
        self.edit(rt, id, Edit::Replace(body), if_match, ctx).await
    }

    /// Applies a PATCH request body (RFC 7644 §3.5.2) all-or-nothing.
    pub async fn patch(
        &self,
        rt: &'static ResourceType,
        id: &str,
        body: Value,
        if_match: Option<u64>,
        ctx: &Ctx,
    ) -> Result<Loaded, ScimError> {
        let ops = patch::parse_request_owned(body)?;
        self.edit(rt, id, Edit::Patch(&ops), if_match, ctx).await
    }

    async fn edit(
        &self,
        rt: &'static ResourceType,
        id: &str,
        edit: Edit<'_>,
        if_match: Option<u64>,
        ctx: &Ctx,
    ) -> Result<Loaded, ScimError> {
        let _writer = self.locks.lock(id).await;
        for _ in 0..MAX_ATTEMPTS {
            let loaded = self.load(rt, id).await?;
            check_version(rt, &loaded, if_match)?;
            if let Edit::Patch([]) = edit {
                // An empty Operations list (Entra's validator sends one) changes nothing.
                return Ok(loaded);
            }
            let mut changes = Changes::new();
            let doc = match edit {
                Edit::Replace(body) => self.replaced(rt, &loaded, body, &mut changes).await?,
                Edit::Patch(ops) => self.patched(rt, &loaded, ops, &mut changes, ctx).await?,
            };
            // RFC 7644 §3.5.2.1: re-adding what is there "SHALL NOT change the modify timestamp".
            // A result equal to the stored resource (identity providers resend unchanged values
            // every cycle) keeps its version, lastModified and ETag, and writes nothing.
            let Some(doc) = doc else {
                return Ok(loaded);
            };
            reindex(&mut changes, rt, id, &loaded.stored.doc, &doc);
            let stored = Stored {
                created: loaded.stored.created.clone(),
                last_modified: now(),
                doc,
            };
            changes.put(rt, id, &stored, Expect::Version(loaded.version));
            match self.dir.commit(changes).await {
                Ok(Some(version)) => {
                    return Ok(Loaded {
                        id: id.to_owned(),
                        version,
                        stored,
                    })
                }
                Ok(None) => return Err(ScimError::Internal),
                Err(StoreError::Conflict { .. }) if if_match.is_none() => continue,
                Err(StoreError::Conflict { key }) if key.id == id => {
                    return Err(ScimError::PreconditionFailed(format!(
                        "{} {id} changed; fetch it again",
                        rt.name
                    )))
                }
                Err(StoreError::Conflict { .. }) => {
                    return Err(ScimError::InvalidValue(
                        "a member named in the request no longer exists".into(),
                    ))
                }
                Err(e) => return Err(write_error(rt, &stored.doc, e)),
            }
        }
        Err(ScimError::Conflict(format!(
            "{} {id} is changing too often; retry",
            rt.name
        )))
    }

    async fn replaced(
        &self,
        rt: &'static ResourceType,
        loaded: &Loaded,
        body: &Value,
        changes: &mut Changes,
    ) -> Result<Option<Value>, ScimError> {
        let mut doc = normalize_input(body.clone(), rt)?;
        check_immutable(&loaded.stored.doc, &doc, rt)?;
        if let (Some(map), Some(active)) = (doc.as_object_mut(), loaded.stored.doc.get("active")) {
            if rt.name == "User" && !map.contains_key("active") {
                map.insert("active".into(), active.clone());
            }
        }
        if let Some(ids) = members::take_member_ids(rt, &mut doc)? {
            // Touches only the members that differ, so an unchanged set adds nothing here.
            self.replace_members(changes, &loaded.id, &ids).await?;
        }
        Ok((doc != loaded.stored.doc || !changes.is_empty()).then_some(doc))
    }

    async fn patched(
        &self,
        rt: &'static ResourceType,
        loaded: &Loaded,
        ops: &[patch::PatchOp],
        changes: &mut Changes,
        ctx: &Ctx,
    ) -> Result<Option<Value>, ScimError> {
        // Only groups need their own copy of the ops (members are lifted out of them); a user's
        // PATCH is applied from the request's ops, not a clone of every value.
        let (ops, member_changes): (std::borrow::Cow<'_, [patch::PatchOp]>, _) =
            if rt.name == "Group" {
                let (ops, changes) = patch::split_members(ops.to_vec(), rt)?;
                (ops.into(), changes)
            } else {
                (ops.into(), Vec::new())
            };
        let size = cpu::weight(&loaded.stored.doc)
            + ops
                .iter()
                .map(|o| o.value.as_ref().map_or(1, cpu::weight))
                .sum::<usize>();
        let doc = cpu::heavy(size, || {
            let mut doc = loaded.stored.doc.clone();
            patch::apply(&mut doc, &ops, rt)?;
            patch::primary::settle(&loaded.stored.doc, &mut doc, rt);
            // Re-validate the outcome as a whole (required attributes, shapes), as PUT does.
            normalize_input(doc, rt)
        })?;
        if doc == loaded.stored.doc && self.members_unchanged(&loaded.id, &member_changes).await? {
            return Ok(None);
        }
        if !member_changes.is_empty() {
            self.apply_member_changes(changes, &loaded.id, member_changes, ctx)
                .await?;
        }
        Ok(Some(doc))
    }
}
