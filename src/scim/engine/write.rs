//! Replace (PUT) and patch (PATCH): read, change a copy, write back at the version read. A lost
//! race is retried from a fresh read, unless the client pinned a version with `If-Match`, which
//! then answers 412.

use serde_json::Value;

use super::{
    check_version, emit::Written, indexed, members, no_version, now, reindex, write_error, Ctx,
    Engine, MAX_ATTEMPTS,
};
use crate::scim::{
    cpu, deprovision,
    error::ScimError,
    events::{Before, Change, Diff},
    patch,
    quirk::{Quirk, Quirks},
    records::{Changes, Expect, Loaded, Stored},
    resource::{check_immutable, normalize_input},
    schema::{ResourceKind, ResourceType},
};
use crate::store::StoreError;

/// A request body for the retry loop. The first attempt takes the value the handler decoded;
/// a retry after a lost race decodes it again from the request. So no attempt works on a copy
/// kept beside the original: a 4 MiB body decodes to a tree of about 40 MB (issue 9's memory
/// bound).
pub struct Input<'a> {
    first: Option<Value>,
    again: &'a (dyn Fn() -> Result<Value, ScimError> + Sync),
}

impl<'a> Input<'a> {
    /// `first`, decoded once; `again` decodes the same body for a retry.
    pub fn new(first: Value, again: &'a (dyn Fn() -> Result<Value, ScimError> + Sync)) -> Self {
        Self {
            first: Some(first),
            again,
        }
    }

    fn take(&mut self) -> Result<Value, ScimError> {
        match self.first.take() {
            Some(v) => Ok(v),
            None => (self.again)(),
        }
    }
}

/// What the caller sent, for the retry loop.
enum Edit<'a> {
    Replace(Input<'a>),
    /// The operations decoded for the next attempt with the quirks their decoding applied
    /// (`None` after one used them), and the body to decode them from again.
    Patch(Option<(Vec<patch::PatchOp>, Quirks)>, Input<'a>),
}

impl Engine {
    /// Replaces a resource with a PUT body. `readOnly` attributes in the body are ignored;
    /// `active` and `members`, when absent, keep their current values (identity providers send
    /// partial PUTs and must not deactivate anyone or empty a group by omission).
    pub async fn replace(
        &self,
        rt: &'static ResourceType,
        id: &str,
        body: Input<'_>,
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
        mut body: Input<'_>,
        if_match: Option<u64>,
        ctx: &Ctx,
    ) -> Result<Loaded, ScimError> {
        // Decoded before the resource is read: a malformed request is a 400, found or not.
        let mut quirks = Quirks::default();
        let ops = patch::parse_request_owned(body.take()?, &mut quirks)?;
        self.edit(
            rt,
            id,
            Edit::Patch(Some((ops, quirks)), body),
            if_match,
            ctx,
        )
        .await
    }

    async fn edit(
        &self,
        rt: &'static ResourceType,
        id: &str,
        mut edit: Edit<'_>,
        if_match: Option<u64>,
        ctx: &Ctx,
    ) -> Result<Loaded, ScimError> {
        let _writer = self.locks.lock(id).await;
        for attempt in 0..MAX_ATTEMPTS {
            super::back_off(attempt).await;
            let mut loaded = self.load(rt, id).await?;
            check_version(rt, &loaded, if_match)?;
            let mut changes = Changes::new();
            let old_keys = indexed(&loaded.stored.doc);
            // Per attempt: a retry reads the request against what the store holds then.
            let mut quirks = Quirks::default();
            let (doc, diff) = match &mut edit {
                Edit::Replace(body) => {
                    let doc = self
                        .replaced(rt, &loaded, body.take()?, &mut changes, &mut quirks)
                        .await?;
                    let diff = doc
                        .as_ref()
                        .map(|d| Before::of(&loaded.stored.doc).diff(d))
                        .unwrap_or_default();
                    (doc, diff)
                }
                Edit::Patch(ops, body) => {
                    let ops = match ops.take() {
                        Some((ops, parsed)) => {
                            quirks = parsed;
                            ops
                        }
                        None => patch::parse_request_owned(body.take()?, &mut quirks)?,
                    };
                    if ops.is_empty() {
                        // An empty Operations list (Entra's validator sends one) changes nothing.
                        return Ok(loaded);
                    }
                    match self
                        .patched(rt, &mut loaded, ops, &mut changes, &mut quirks, ctx)
                        .await?
                    {
                        Some((doc, diff)) => (Some(doc), diff),
                        None => (None, Diff::default()),
                    }
                }
            };
            // RFC 7644 §3.5.2.1: re-adding what is there "SHALL NOT change the modify timestamp".
            // A result equal to the stored resource (identity providers resend unchanged values
            // every cycle) keeps its version, lastModified and ETag, and writes nothing.
            let Some(doc) = doc else {
                return Ok(loaded);
            };
            reindex(&mut changes, rt, id, &old_keys, &doc);
            let stored = Stored {
                created: loaded.stored.created,
                last_modified: now(),
                doc,
            };
            changes.put(rt, id, &stored, Expect::Version(loaded.version));
            let mut written = Loaded {
                id: id.to_owned(),
                version: loaded.version + 1,
                stored,
            };
            let what = Written {
                rt,
                change: Change::Updated,
                loaded: &written,
                diff: &diff,
                quirks,
            };
            self.emit(&mut changes, what, ctx).await?;
            match self.records.commit(changes).await {
                Ok(Some(version)) => {
                    written.version = version;
                    return Ok(written);
                }
                Ok(None) => return Err(ScimError::Internal(no_version())),
                Err(StoreError::Conflict { .. }) if if_match.is_none() => continue,
                Err(StoreError::Conflict { key }) if key.space == deprovision::SPACE => continue,
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
                Err(e) => return Err(write_error(rt, &written.stored.doc, e)),
            }
        }
        Err(ScimError::Conflict(format!(
            "{} {id} is changing too often; retry",
            rt.name
        )))
    }

    /// The replaced document, or `None` when it equals the stored one.
    async fn replaced(
        &self,
        rt: &'static ResourceType,
        loaded: &Loaded,
        body: Value,
        changes: &mut Changes,
        quirks: &mut Quirks,
    ) -> Result<Option<Value>, ScimError> {
        let mut doc = normalize_input(body, rt, quirks)?;
        check_immutable(&loaded.stored.doc, &doc, rt)?;
        if let (Some(map), Some(active)) = (doc.as_object_mut(), loaded.stored.doc.get("active")) {
            if rt.kind == ResourceKind::User && !map.contains_key("active") {
                quirks.note(Quirk::PutKeepsActive);
                map.insert("active".into(), active.clone());
            }
        }
        match members::take_member_ids(rt, &mut doc)? {
            // Touches only the members that differ, so an unchanged set adds nothing here.
            Some(ids) => self.replace_members(changes, &loaded.id, &ids).await?,
            None if rt.kind == ResourceKind::Group => quirks.note(Quirk::PutKeepsMembers),
            None => {}
        }
        Ok((doc != loaded.stored.doc || !changes.is_empty()).then_some(doc))
    }

    /// The patched document, or `None` when the PATCH changes nothing (then `loaded` holds the
    /// document, equal to the stored one). The operations are applied to `loaded`'s document
    /// itself, moving each value out of the request: one tree of the old values and one of
    /// the new, never copies of either.
    async fn patched(
        &self,
        rt: &'static ResourceType,
        loaded: &mut Loaded,
        ops: Vec<patch::PatchOp>,
        changes: &mut Changes,
        quirks: &mut Quirks,
        ctx: &Ctx,
    ) -> Result<Option<(Value, Diff)>, ScimError> {
        // Group members are lifted out of the ops and applied as set changes.
        let (ops, member_changes) = if rt.kind == ResourceKind::Group {
            patch::split_members(ops, rt, quirks)?
        } else {
            (ops, Vec::new())
        };
        let size = cpu::weight(&loaded.stored.doc)
            + ops
                .iter()
                .map(|o| o.value.as_ref().map_or(1, cpu::weight))
                .sum::<usize>();
        let stored = std::mem::take(&mut loaded.stored.doc);
        let (same, diff, doc) = cpu::heavy(size, || {
            let before = Before::of(&stored);
            let primaries = patch::primary::Primaries::of(&stored, rt);
            let mut doc = patch::apply_owned(stored, ops, rt, quirks)?;
            patch::primary::settle(&primaries, &mut doc, rt);
            // Re-validate the outcome as a whole (required attributes, shapes), as PUT does;
            // the values are canonical by now, so this notes no quirk of the request's.
            let doc = normalize_input(doc, rt, &mut Quirks::default())?;
            let (same, diff) = before.compare(&doc);
            Ok::<_, ScimError>((same, diff, doc))
        })?;
        if same && self.members_unchanged(&loaded.id, &member_changes).await? {
            loaded.stored.doc = doc;
            return Ok(None);
        }
        if !member_changes.is_empty() {
            self.apply_member_changes(changes, &loaded.id, member_changes, ctx)
                .await?;
        }
        Ok(Some((doc, diff)))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn an_input_is_decoded_again_for_each_retry() {
        let calls = std::sync::atomic::AtomicUsize::new(0);
        let again = || {
            calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(json!({"n": 2}))
        };
        let mut input = Input::new(json!({"n": 1}), &again);
        assert_eq!(input.take().unwrap(), json!({"n": 1}));
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 0);
        assert_eq!(input.take().unwrap(), json!({"n": 2}));
        assert_eq!(input.take().unwrap(), json!({"n": 2}));
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 2);
    }
}
