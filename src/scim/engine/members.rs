//! Group membership: member lists from request bodies and PATCH member changes become set
//! operations, checked against resources that exist, in the same atomic batch as the group.
//! The cost of a change is proportional to the members it names, never to the group's size
//! (except `replace members`, which must compare against the whole list).

use std::collections::{BTreeSet, HashSet};

use serde_json::Value;

use super::{store_error, Ctx, Engine};
use crate::scim::{
    error::ScimError,
    filter::element_matches,
    patch::MemberChange,
    records::Changes,
    schema::{ResourceKind, ResourceType, GROUP_SCHEMA},
};

/// The most members one request may name (Okta sends up to 256 at a time).
pub(super) const MAX_MEMBERS_PER_REQUEST: usize = 100_000;

/// Removes `members` from a normalised group document and returns their ids (`None` when the
/// document had no `members` key at all).
pub(super) fn take_member_ids(
    rt: &ResourceType,
    doc: &mut Value,
) -> Result<Option<Vec<String>>, ScimError> {
    if rt.kind != ResourceKind::Group {
        return Ok(None);
    }
    match doc.as_object_mut().and_then(|m| m.remove("members")) {
        None => Ok(None),
        Some(v) => member_ids(&v).map(Some),
    }
}

/// The `value` of each member object, deduplicated, order kept.
pub(super) fn member_ids(members: &Value) -> Result<Vec<String>, ScimError> {
    let items = match members {
        Value::Array(items) => items.as_slice(),
        Value::Null => &[],
        other => std::slice::from_ref(other),
    };
    if items.len() > MAX_MEMBERS_PER_REQUEST {
        return Err(ScimError::TooMany(format!(
            "at most {MAX_MEMBERS_PER_REQUEST} members in one request"
        )));
    }
    let mut seen = HashSet::with_capacity(items.len());
    let mut ids = Vec::with_capacity(items.len());
    for item in items {
        let id = item
            .get("value")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ScimError::InvalidValue("each member needs a \"value\"".into()))?;
        if seen.insert(id) {
            ids.push(id.to_owned());
        }
    }
    Ok(ids)
}

impl Engine {
    /// Which of `ids` are users and which are groups; unknown ids are an error.
    async fn member_types(
        &self,
        ids: &[String],
    ) -> Result<Vec<(&'static ResourceType, String)>, ScimError> {
        let kinds = self.records.kinds(ids).await.map_err(store_error)?;
        ids.iter()
            .zip(kinds)
            .map(|(id, kind)| {
                kind.map(|rt| (rt, id.clone())).ok_or_else(|| {
                    ScimError::InvalidValue(format!(
                        "member {id:?} is not an existing User or Group"
                    ))
                })
            })
            .collect()
    }

    /// Adds existing resources to a group; each must still exist when the batch applies.
    pub(super) async fn add_members(
        &self,
        changes: &mut Changes,
        group_id: &str,
        ids: &[String],
    ) -> Result<(), ScimError> {
        if ids.iter().any(|m| m == group_id) {
            return Err(ScimError::InvalidValue(
                "a group cannot be its own member".into(),
            ));
        }
        for (rt, id) in self.member_types(ids).await? {
            changes.require(rt, &id);
            changes.add_member(group_id, &id);
        }
        Ok(())
    }

    /// Makes the member set exactly `ids`, touching only what differs.
    pub(super) async fn replace_members(
        &self,
        changes: &mut Changes,
        group_id: &str,
        ids: &[String],
    ) -> Result<(), ScimError> {
        let current: BTreeSet<String> = self
            .records
            .all_members(group_id)
            .await
            .map_err(store_error)?
            .into_iter()
            .collect();
        let wanted: BTreeSet<&String> = ids.iter().collect();
        for gone in current.iter().filter(|m| !wanted.contains(m)) {
            changes.remove_member(group_id, gone);
        }
        let added: Vec<String> = ids
            .iter()
            .filter(|m| !current.contains(*m))
            .cloned()
            .collect();
        self.add_members(changes, group_id, &added).await
    }

    /// Whether PATCH member changes would leave the member set as it is, followed in request
    /// order: `remove` then `add` of a member is a no-op, and so is `add` of a present member or
    /// `remove` of an absent one. One membership read per member named, never a scan of the
    /// group; when the request only adds (the common shape), the first new member ends the
    /// check. The rarer shapes (replace, filtered remove) count as changes.
    pub(super) async fn members_unchanged(
        &self,
        group_id: &str,
        member_changes: &[MemberChange],
    ) -> Result<bool, ScimError> {
        let only_adds = member_changes
            .iter()
            .all(|c| matches!(c, MemberChange::Add(_)));
        // For each member named: (in the store now, in the set after the changes so far).
        let mut seen: std::collections::HashMap<String, (bool, bool)> = Default::default();
        for change in member_changes {
            let (ids, want) = match change {
                MemberChange::Add(objects) => (member_ids(&Value::Array(objects.clone()))?, true),
                MemberChange::Remove(ids) => (ids.clone(), false),
                MemberChange::Clear => {
                    let stored = self
                        .records
                        .member_count(group_id)
                        .await
                        .map_err(store_error)?;
                    if stored > 0 || seen.values().any(|(_, after)| *after) {
                        // Clearing a non-empty set (unless a later add restores each member,
                        // which no client does) is a change.
                        return Ok(false);
                    }
                    continue;
                }
                MemberChange::Replace(_) | MemberChange::RemoveMatching(_) => return Ok(false),
            };
            for id in ids {
                if let Some((_, after)) = seen.get_mut(&id) {
                    *after = want;
                    continue;
                }
                let before = self
                    .records
                    .is_member(group_id, &id)
                    .await
                    .map_err(store_error)?;
                if only_adds && !before {
                    return Ok(false);
                }
                seen.insert(id, (before, want));
            }
        }
        Ok(seen.values().all(|(before, after)| before == after))
    }

    /// Turns PATCH member changes into set operations, in order.
    pub(super) async fn apply_member_changes(
        &self,
        changes: &mut Changes,
        group_id: &str,
        member_changes: Vec<MemberChange>,
        ctx: &Ctx,
    ) -> Result<(), ScimError> {
        for change in member_changes {
            match change {
                MemberChange::Add(objects) => {
                    let ids = member_ids(&Value::Array(objects))?;
                    self.add_members(changes, group_id, &ids).await?;
                }
                MemberChange::Remove(ids) => {
                    for id in ids {
                        changes.remove_member(group_id, &id);
                    }
                }
                MemberChange::Clear => {
                    for id in self
                        .records
                        .all_members(group_id)
                        .await
                        .map_err(store_error)?
                    {
                        changes.remove_member(group_id, &id);
                    }
                }
                MemberChange::Replace(objects) => {
                    let ids = member_ids(&Value::Array(objects))?;
                    self.replace_members(changes, group_id, &ids).await?;
                }
                MemberChange::RemoveMatching(filter) => {
                    // Rare (a filter on display or type): evaluate it on the member objects.
                    let members = GROUP_SCHEMA
                        .attribute("members")
                        .expect("the Group schema defines members");
                    for member in self.member_refs(group_id, ctx).await? {
                        if element_matches(&filter, &member, members) {
                            if let Some(id) = member["value"].as_str() {
                                changes.remove_member(group_id, id);
                            }
                        }
                    }
                }
            }
        }
        Ok(())
    }
}
