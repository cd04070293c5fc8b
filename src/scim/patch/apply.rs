//! Applying PATCH operations to a resource document, all or nothing (RFC 7644 §3.5.2: "a
//! PATCH request, regardless of the number of operations, SHALL be treated as atomic").
//!
//! This part resolves paths against the schema, enforces mutability, expands no-path values
//! (plain, dotted and URN-qualified keys, and whole extension objects) into path operations,
//! and drops write-only attributes at the end; the writes themselves are in `write`.

use serde_json::{Map, Value};

use super::{
    remove::remove,
    slots::{slot, take_ci},
    write::{write, Target},
    OpKind, PatchOp,
};
use crate::scim::{
    error::{Fault, ScimError},
    filter::validate_element,
    path::{parse_attr_path, PatchPath},
    quirk::{Quirk, Quirks},
    schema::{AttrType, Attribute, Mutability, ResourceType, Schema},
};

/// Applies `ops` in order to `doc`; on any error `doc` is left exactly as it was. Works on a
/// copy of both; the engine, which can drop the document on error, uses [`apply_owned`].
/// The quirks applied are noted in `q`.
pub fn apply(
    doc: &mut Value,
    ops: &[PatchOp],
    rt: &ResourceType,
    q: &mut Quirks,
) -> Result<(), ScimError> {
    *doc = apply_owned(doc.clone(), ops.to_vec(), rt, q)?;
    Ok(())
}

/// Applies `ops` in order to `doc`, consuming both: each value moves from the request into the
/// document, so a large PATCH holds one tree of its values, not two (issue 9's memory bound).
/// On error the document is dropped; the caller answers from the error.
pub fn apply_owned(
    doc: Value,
    ops: Vec<PatchOp>,
    rt: &ResourceType,
    q: &mut Quirks,
) -> Result<Value, ScimError> {
    let Value::Object(mut work) = doc else {
        return Err(ScimError::InvalidSyntax(
            "the resource is not a JSON object".into(),
        ));
    };
    for (i, op) in ops.into_iter().enumerate() {
        apply_op(&mut work, op, rt, q).map_err(|e| at_op(i, e))?;
    }
    // password is writeOnly: accepted (Okta sends it), never stored.
    for schema in schemas(rt) {
        if let Some(h) = holder(&mut work, container(schema, rt), false) {
            for a in schema
                .attributes
                .iter()
                .filter(|a| a.mutability == Mutability::WriteOnly)
            {
                if take_ci(h, a.name).is_some() {
                    q.note(Quirk::PasswordIgnored);
                }
            }
        }
    }
    list_extensions(&mut work, rt);
    Ok(Value::Object(work))
}

/// Prefixes the detail with the failing operation's index, so an IdP's log points at it.
fn at_op(i: usize, e: ScimError) -> ScimError {
    let prefix = |d: String| format!("Operations[{i}]: {d}");
    match e {
        ScimError::InvalidFilter(d) => ScimError::InvalidFilter(prefix(d)),
        ScimError::Mutability(d) => ScimError::Mutability(prefix(d)),
        ScimError::InvalidSyntax(d) => ScimError::InvalidSyntax(prefix(d)),
        ScimError::InvalidPath(d) => ScimError::InvalidPath(prefix(d)),
        ScimError::NoTarget(d) => ScimError::NoTarget(prefix(d)),
        ScimError::InvalidValue(d) => ScimError::InvalidValue(prefix(d)),
        other => other,
    }
}

fn apply_op(
    doc: &mut Map<String, Value>,
    op: PatchOp,
    rt: &ResourceType,
    q: &mut Quirks,
) -> Result<(), ScimError> {
    let Some(path) = &op.path else {
        let value = match (op.op, op.value) {
            (OpKind::Remove, _) => return Err(ScimError::NoTarget("remove needs a path".into())),
            (_, None | Some(Value::Null)) => {
                return Err(ScimError::InvalidValue(
                    "add and replace need a value".into(),
                ))
            }
            (_, Some(v)) => v,
        };
        for (path, v) in expand(value, rt, q)? {
            if op.op == OpKind::Replace && deactivates(&path, &v) {
                q.note(Quirk::NoPathDeactivate);
            }
            write_path(doc, &path, op.op, Some(v), rt, q)?;
        }
        return Ok(());
    };
    if let Some(ext) = bare_extension(path, rt) {
        // `path: "urn:…:enterprise:2.0:User"` names the whole extension object.
        if op.op == OpKind::Remove {
            take_ci(doc, ext.id);
            return Ok(());
        }
        let mut wrapped = Map::new();
        wrapped.insert(ext.id.to_owned(), op.value.unwrap_or(Value::Null));
        let op = PatchOp {
            op: op.op,
            path: None,
            value: Some(Value::Object(wrapped)),
        };
        return apply_op(doc, op, rt, q);
    }
    write_path(doc, path, op.op, op.value, rt, q)
}

/// Whether a no-path value sets `active` to false (as a boolean or Entra's string).
fn deactivates(path: &PatchPath, v: &Value) -> bool {
    let active = path.attr.urn.is_none()
        && path.attr.sub.is_none()
        && path.attr.name.eq_ignore_ascii_case("active");
    let off = match v {
        Value::Bool(b) => !b,
        Value::String(s) => s.trim().eq_ignore_ascii_case("false"),
        _ => false,
    };
    active && off
}

fn write_path(
    doc: &mut Map<String, Value>,
    path: &PatchPath,
    kind: OpKind,
    value: Option<Value>,
    rt: &ResourceType,
    q: &mut Quirks,
) -> Result<(), ScimError> {
    let (target, container) = resolve(path, rt, q)?;
    match (kind, value) {
        (OpKind::Remove, listed) => match holder(doc, container, false) {
            Some(h) => remove(h, &target, listed.as_ref(), q),
            None => Ok(()),
        },
        (OpKind::Add, None | Some(Value::Null)) => {
            Err(ScimError::InvalidValue("add needs a value".into()))
        }
        (OpKind::Replace, None | Some(Value::Null)) => match holder(doc, container, false) {
            Some(h) => remove(h, &target, None, q),
            None => Ok(()),
        },
        (kind, Some(v)) => {
            let h = holder(doc, container, true).ok_or_else(|| {
                ScimError::Internal(Fault::broken("no object to hold the attribute"))
            })?;
            write(h, &target, v, kind == OpKind::Add, q)?;
            if let Some(urn) = container {
                // Do not leave an empty extension object behind.
                let empty = doc
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(urn))
                    .and_then(|(_, v)| v.as_object())
                    .is_some_and(Map::is_empty);
                if empty {
                    take_ci(doc, urn);
                }
            }
            Ok(())
        }
    }
}

fn read_only(a: &Attribute) -> bool {
    a.mutability == Mutability::ReadOnly
}

/// Resolves a path to a write target and the key of its holder (`Some(urn)` for extensions).
fn resolve<'p>(
    path: &'p PatchPath,
    rt: &ResourceType,
    q: &mut Quirks,
) -> Result<(Target<'p>, Option<&'static str>), ScimError> {
    let (schema, attr, sub) = path
        .resolve(rt)
        .ok_or_else(|| ScimError::InvalidPath(format!("unknown attribute path '{path}'")))?;
    if schema.id != rt.schema.id && path.attr.urn.is_none() {
        q.note(Quirk::ExtensionWithoutUrn);
    }
    if let Some(filter) = &path.filter {
        if !(attr.multi_valued && attr.ty == AttrType::Complex) {
            return Err(ScimError::InvalidPath(format!(
                "'{}' is not multi-valued, so it cannot take a value filter",
                attr.name
            )));
        }
        validate_element(filter, attr)?;
    }
    if read_only(attr) || sub.is_some_and(read_only) {
        return Err(ScimError::Mutability(format!("'{path}' is readOnly")));
    }
    let target = Target {
        attr,
        sub,
        filter: path.filter.as_ref(),
    };
    Ok((target, container(schema, rt)))
}

fn container(schema: &'static Schema, rt: &ResourceType) -> Option<&'static str> {
    (schema.id != rt.schema.id).then_some(schema.id)
}

fn schemas(rt: &ResourceType) -> impl Iterator<Item = &'static Schema> + '_ {
    std::iter::once(rt.schema).chain(rt.extensions.iter().copied())
}

/// The object holding attributes of `container` (the document, or an extension object).
fn holder<'d>(
    doc: &'d mut Map<String, Value>,
    container: Option<&str>,
    create: bool,
) -> Option<&'d mut Map<String, Value>> {
    let Some(urn) = container else {
        return Some(doc);
    };
    if create {
        let s = slot(doc, urn);
        if !s.is_object() {
            *s = Value::Object(Map::new());
        }
    }
    let key = doc.keys().find(|k| k.eq_ignore_ascii_case(urn))?.clone();
    doc.get_mut(&key)?.as_object_mut()
}

fn bare_extension(path: &PatchPath, rt: &ResourceType) -> Option<&'static Schema> {
    if path.filter.is_some() || path.sub.is_some() || path.attr.sub.is_some() {
        return None;
    }
    rt.extension(&path.attr.qualified_name())
}

/// Reads a no-path value object as attribute paths (RFC 7644 §3.5.2.1 and Entra's dotted and
/// URN-qualified keys). Read-only keys are skipped: Okta sends `id` alongside `displayName`.
fn expand(
    value: Value,
    rt: &ResourceType,
    q: &mut Quirks,
) -> Result<Vec<(PatchPath, Value)>, ScimError> {
    let Value::Object(obj) = value else {
        return Err(ScimError::InvalidValue(
            "add or replace without a path needs an object of attributes".into(),
        ));
    };
    let mut out = Vec::new();
    for (key, v) in obj {
        if key.eq_ignore_ascii_case("schemas") {
            continue;
        }
        match schemas(rt).find(|s| s.id.eq_ignore_ascii_case(&key)) {
            Some(schema) => {
                let Value::Object(inner) = v else {
                    return Err(ScimError::InvalidValue(format!(
                        "'{key}' must be an object of attributes"
                    )));
                };
                // Some clients send the extension whole, `schemas` and all: not an attribute.
                for (k, v) in inner
                    .into_iter()
                    .filter(|(k, _)| !k.eq_ignore_ascii_case("schemas"))
                {
                    push_path(&mut out, &format!("{}:{k}", schema.id), v, rt)?;
                }
            }
            None => {
                let at = out.len();
                push_path(&mut out, &key, v, rt)?;
                // Keys the RFC has no form for: `name.givenName`, `urn:…:User:department`.
                if let Some((path, _)) = out.get(at) {
                    let in_extension = path.resolve(rt).is_some_and(|(s, ..)| s.id != rt.schema.id);
                    if in_extension && path.attr.urn.is_none() {
                        q.note(Quirk::ExtensionWithoutUrn);
                    }
                    if path.attr.sub.is_some() {
                        q.note(Quirk::NoPathDottedKeys);
                    }
                    if path.attr.urn.is_some() {
                        q.note(Quirk::NoPathUrnKeys);
                    }
                }
            }
        }
    }
    Ok(out)
}

fn push_path(
    out: &mut Vec<(PatchPath, Value)>,
    key: &str,
    v: Value,
    rt: &ResourceType,
) -> Result<(), ScimError> {
    let path = PatchPath {
        attr: parse_attr_path(key)?,
        filter: None,
        sub: None,
    };
    match path.resolve(rt) {
        None => Err(ScimError::InvalidPath(format!("unknown attribute '{key}'"))),
        Some((_, a, sub)) if read_only(a) || sub.is_some_and(read_only) => Ok(()),
        Some(_) => {
            out.push((path, v));
            Ok(())
        }
    }
}

/// Keeps `schemas` naming every extension the document has attributes of.
fn list_extensions(doc: &mut Map<String, Value>, rt: &ResourceType) {
    let present: Vec<&str> = rt
        .extensions
        .iter()
        .map(|s| s.id)
        .filter(|id| doc.keys().any(|k| k.eq_ignore_ascii_case(id)))
        .collect();
    if let Some(Value::Array(listed)) = doc.get_mut("schemas") {
        for id in present {
            if !listed
                .iter()
                .any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(id)))
            {
                listed.push(Value::from(id));
            }
        }
    }
}
