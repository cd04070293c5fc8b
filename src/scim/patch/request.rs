//! Parsing the PatchOp message (RFC 7644 §3.5.2) as identity providers send it: `op` in any
//! case, `Operations` under any case, `schemas` optional, and an empty `Operations` array
//! accepted as a no-op (the Entra SCIM Validator sends one).

use serde_json::Value;

use super::{OpKind, PatchOp};
use crate::scim::{
    error::ScimError,
    filter::get_ci,
    path::parse_patch_path,
    quirk::{Quirk, Quirks},
};

/// Parses a PATCH request body into its operations, without applying anything; an `op` not
/// in lower case is noted in `q`.
pub fn parse_request(body: &Value, q: &mut Quirks) -> Result<Vec<PatchOp>, ScimError> {
    if !body.is_object() {
        return Err(ScimError::InvalidSyntax(
            "a PATCH body must be a JSON object".into(),
        ));
    }
    let ops = get_ci(body, "Operations").ok_or_else(|| {
        ScimError::InvalidSyntax("a PATCH body needs an 'Operations' array".into())
    })?;
    let ops = ops
        .as_array()
        .ok_or_else(|| ScimError::InvalidSyntax("'Operations' must be an array".into()))?;
    ops.iter()
        .enumerate()
        .map(|(i, op)| parse_op(i, op, q))
        .collect()
}

/// [`parse_request`] for a body the caller no longer needs: each operation's `value` is moved
/// into its [`PatchOp`], not copied, so a 4 MiB PATCH is held as one JSON tree, not two.
pub fn parse_request_owned(mut body: Value, q: &mut Quirks) -> Result<Vec<PatchOp>, ScimError> {
    // Move the values out, leaving a cheap non-null stand-in so that validation sees what the
    // client sent (null stays null), then put each value back into its parsed operation.
    let mut taken: Vec<Option<Value>> = Vec::new();
    if let Some(Value::Array(ops)) = get_ci_mut(&mut body, "Operations") {
        for op in ops.iter_mut() {
            taken.push(match get_ci_mut(op, "value") {
                Some(v) if !v.is_null() => Some(std::mem::replace(v, Value::Bool(true))),
                _ => None,
            });
        }
    }
    let mut ops = parse_request(&body, q)?;
    for (op, value) in ops.iter_mut().zip(taken) {
        if let Some(value) = value {
            op.value = Some(value);
        }
    }
    Ok(ops)
}

/// `v[key]` for writing, with the key matched as [`get_ci`] matches it.
fn get_ci_mut<'v>(v: &'v mut Value, key: &str) -> Option<&'v mut Value> {
    let map = v.as_object_mut()?;
    let name = if map.contains_key(key) {
        key.to_owned()
    } else {
        map.keys().find(|k| k.eq_ignore_ascii_case(key))?.clone()
    };
    map.get_mut(&name)
}

fn parse_op(i: usize, op: &Value, q: &mut Quirks) -> Result<PatchOp, ScimError> {
    if !op.is_object() {
        return Err(ScimError::InvalidSyntax(format!(
            "Operations[{i}] must be an object"
        )));
    }
    let name = get_ci(op, "op").and_then(Value::as_str).map(str::trim);
    if name.is_some_and(|n| n.bytes().any(|b| b.is_ascii_uppercase())) {
        q.note(Quirk::CapitalizedOp);
    }
    let kind = match name {
        Some(s) if s.eq_ignore_ascii_case("add") => OpKind::Add,
        Some(s) if s.eq_ignore_ascii_case("replace") => OpKind::Replace,
        Some(s) if s.eq_ignore_ascii_case("remove") => OpKind::Remove,
        _ => {
            return Err(ScimError::InvalidSyntax(format!(
                "Operations[{i}].op must be 'add', 'replace' or 'remove'"
            )))
        }
    };
    let path = match get_ci(op, "path") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(parse_patch_path(s.trim())?),
        Some(_) => {
            return Err(ScimError::InvalidPath(format!(
                "Operations[{i}].path must be a string"
            )))
        }
    };
    let value = get_ci(op, "value").cloned();
    match (kind, &path, &value) {
        (OpKind::Remove, None, _) => Err(ScimError::NoTarget(format!(
            "Operations[{i}]: remove needs a path"
        ))),
        // A null replace on a path clears it (RFC 7644 §3.5.2.3 treats null as unassigned).
        (OpKind::Replace, Some(_), Some(Value::Null)) => Ok(PatchOp {
            op: kind,
            path,
            value,
        }),
        (OpKind::Add | OpKind::Replace, _, None | Some(Value::Null)) => Err(
            ScimError::InvalidValue(format!("Operations[{i}]: {kind:?} needs a value")),
        ),
        _ => Ok(PatchOp {
            op: kind,
            path,
            value,
        }),
    }
}
