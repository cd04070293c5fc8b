//! Parsing the PatchOp message (RFC 7644 §3.5.2) as identity providers send it: `op` in any
//! case, `Operations` under any case, `schemas` optional, and an empty `Operations` array
//! accepted as a no-op (the Entra SCIM Validator sends one).

use serde_json::Value;

use super::{OpKind, PatchOp};
use crate::scim::{error::ScimError, filter::get_ci, path::parse_patch_path};

/// Parses a PATCH request body into its operations, without applying anything.
pub fn parse_request(body: &Value) -> Result<Vec<PatchOp>, ScimError> {
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
        .map(|(i, op)| parse_op(i, op))
        .collect()
}

fn parse_op(i: usize, op: &Value) -> Result<PatchOp, ScimError> {
    if !op.is_object() {
        return Err(ScimError::InvalidSyntax(format!(
            "Operations[{i}] must be an object"
        )));
    }
    let kind = match get_ci(op, "op").and_then(Value::as_str).map(str::trim) {
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
