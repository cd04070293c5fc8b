//! Group membership changes lifted out of a PATCH (RFC 7644 §3.5.2 on `members`), so the engine
//! can apply them to a member set instead of rewriting a document that may hold thousands of
//! members (Okta sends up to 256 memberships per PATCH; Entra asks for many per request).
//!
//! Every shape identity providers use maps to a [`MemberChange`]: Okta's
//! `members[value eq "id"]` removal, Entra's legacy `remove` with a value list, `replace`,
//! add, and a no-path value object with a `members` key.

use serde_json::{Map, Value};

use super::{MemberChange, OpKind, PatchOp};
use crate::scim::{
    error::ScimError,
    filter::{validate_element, CompValue, CompareOp, Filter},
    path::{parse_attr_path, AttrPath, PatchPath},
    quirk::{Quirk, Quirks},
    schema::{Attribute, ResourceType},
    value,
};

/// Splits `ops` into the operations on everything but `members` and the member changes, both
/// in request order. Resource types without `members` get every op back unchanged. The
/// quirks the member operations use are noted in `q`.
pub fn split_members(
    ops: Vec<PatchOp>,
    rt: &ResourceType,
    q: &mut Quirks,
) -> Result<(Vec<PatchOp>, Vec<MemberChange>), ScimError> {
    let Some(members) = members_attr(rt) else {
        return Ok((ops, Vec::new()));
    };
    let mut other = Vec::new();
    let mut changes = Vec::new();
    for op in ops {
        match (&op.path, op.op, &op.value) {
            (Some(path), _, _) if names_members(&path.attr, rt) => {
                changes.push(path_change(path, op.op, op.value.as_ref(), members, q)?)
            }
            (None, OpKind::Add | OpKind::Replace, Some(Value::Object(map))) => {
                let (rest, found) = take_members(map, rt);
                if let Some(list) = found {
                    let objs = member_objects(&list, members, q)?;
                    changes.push(match op.op {
                        OpKind::Add => MemberChange::Add(objs),
                        _ => MemberChange::Replace(objs),
                    });
                    if !rest.is_empty() {
                        other.push(PatchOp {
                            value: Some(Value::Object(rest)),
                            ..op
                        });
                    }
                } else {
                    other.push(op);
                }
            }
            _ => other.push(op),
        }
    }
    Ok((other, changes))
}

fn members_attr(rt: &ResourceType) -> Option<&'static Attribute> {
    rt.resolve("members")
        .map(|(_, a)| a)
        .filter(|a| a.name == "members")
}

fn names_members(attr: &AttrPath, rt: &ResourceType) -> bool {
    attr.resolve(rt)
        .is_some_and(|(_, a, _)| a.name == "members")
}

/// Splits a no-path value object into its other keys and its `members` value.
fn take_members(
    map: &Map<String, Value>,
    rt: &ResourceType,
) -> (Map<String, Value>, Option<Value>) {
    let mut rest = Map::new();
    let mut found = None;
    for (k, v) in map {
        let is_members = parse_attr_path(k).is_ok_and(|p| p.sub.is_none() && names_members(&p, rt));
        if is_members {
            found = Some(v.clone());
        } else {
            rest.insert(k.clone(), v.clone());
        }
    }
    (rest, found)
}

fn path_change(
    path: &PatchPath,
    kind: OpKind,
    value: Option<&Value>,
    members: &'static Attribute,
    q: &mut Quirks,
) -> Result<MemberChange, ScimError> {
    if path.attr.sub.is_some() || path.sub.is_some() {
        return Err(ScimError::InvalidPath(format!(
            "'{path}': members are added, replaced or removed whole"
        )));
    }
    let value = value.filter(|v| !v.is_null());
    match (kind, &path.filter, value) {
        (OpKind::Add, None, Some(v)) => Ok(MemberChange::Add(member_objects(v, members, q)?)),
        (OpKind::Add, None, None) => {
            Err(ScimError::InvalidValue("add members needs a value".into()))
        }
        (OpKind::Replace, None, Some(v)) => {
            Ok(MemberChange::Replace(member_objects(v, members, q)?))
        }
        (OpKind::Replace, None, None) => Ok(MemberChange::Clear),
        // Entra's legacy removal lists the members to remove; without a list, all go.
        (OpKind::Remove, None, Some(v)) => {
            q.note(Quirk::RemoveByValueList);
            Ok(MemberChange::Remove(ids(&member_objects(v, members, q)?)))
        }
        (OpKind::Remove, None, None) => Ok(MemberChange::Clear),
        (OpKind::Remove, Some(filter), _) => {
            validate_element(filter, members)?;
            Ok(match value_equalities(filter) {
                Some(ids) => MemberChange::Remove(ids),
                None => MemberChange::RemoveMatching(filter.clone()),
            })
        }
        (_, Some(_), _) => Err(ScimError::InvalidPath(format!(
            "'{path}': a member filter is only meaningful for remove"
        ))),
    }
}

/// `value eq "a" [or value eq "b" …]` as the list of ids it names.
fn value_equalities(filter: &Filter) -> Option<Vec<String>> {
    match filter {
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value: CompValue::String(id),
        } if path.urn.is_none()
            && path.sub.is_none()
            && path.name.eq_ignore_ascii_case("value") =>
        {
            Some(vec![id.clone()])
        }
        Filter::Or(l, r) => {
            let mut ids = value_equalities(l)?;
            ids.extend(value_equalities(r)?);
            Some(ids)
        }
        _ => None,
    }
}

/// Normalised member objects; each needs a non-empty string `value` (`$ref: null` is dropped).
fn member_objects(
    v: &Value,
    members: &'static Attribute,
    q: &mut Quirks,
) -> Result<Vec<Value>, ScimError> {
    let Value::Array(items) = value::normalize(members, v.clone(), q)? else {
        return Err(ScimError::InvalidValue("members must be an array".into()));
    };
    for item in &items {
        let ok = item
            .get("value")
            .and_then(Value::as_str)
            .is_some_and(|s| !s.is_empty());
        if !ok {
            return Err(ScimError::InvalidValue(
                "every member needs a 'value'".into(),
            ));
        }
    }
    Ok(items)
}

fn ids(objs: &[Value]) -> Vec<String> {
    objs.iter()
        .filter_map(|o| o.get("value").and_then(Value::as_str))
        .map(str::to_owned)
        .collect()
}
