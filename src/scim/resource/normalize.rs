//! Request bodies of POST and PUT turned into the stored document (RFC 7643 §2, §3; RFC 7644
//! §3.3, §3.5.1), and the PUT rule for immutable attributes.

use serde_json::{Map, Value};

use crate::scim::{
    error::ScimError,
    quirk::{Quirk, Quirks},
    schema::{Attribute, Mutability, ResourceType, Returned, Schema, COMMON_ATTRS},
    value,
};

/// Attribute values collected per schema before the document is assembled.
type Bucket = Map<String, Value>;

/// Normalises a POST/PUT body into the stored document: canonical names, coerced values,
/// unassigned and read-only attributes dropped, `schemas` rebuilt, required attributes checked.
/// The quirks it applies are noted in `q`.
pub fn normalize_input(body: Value, rt: &ResourceType, q: &mut Quirks) -> Result<Value, ScimError> {
    let Value::Object(body) = body else {
        return Err(ScimError::InvalidSyntax(
            "the request body must be a JSON object".into(),
        ));
    };
    let mut core = Bucket::new();
    let mut exts: Vec<(&'static Schema, Bucket)> =
        rt.extensions.iter().map(|s| (*s, Bucket::new())).collect();
    for (key, value) in body {
        if let Some(ext) = rt.extension(&key) {
            let Value::Object(inner) = value else {
                if value.is_null() {
                    continue;
                }
                return Err(ScimError::InvalidSyntax(format!(
                    "'{}' must be an object",
                    ext.id
                )));
            };
            let bucket = bucket_for(&mut exts, ext);
            for (name, value) in inner {
                let name = crate::scim::schema::strip_urn(&name, ext.id).unwrap_or(&name);
                if let Some(attr) = ext.attribute(name) {
                    put(bucket, attr, value, q)?;
                }
            }
            continue;
        }
        // `schemas` is rebuilt from the data; unknown keys (and URNs such as Entra's ADSCIM
        // Group schema) are not ours to store.
        match rt.resolve(&key) {
            Some((schema, attr)) if schema.id == rt.schema.id => put(&mut core, attr, value, q)?,
            Some((ext, attr)) => {
                if crate::scim::schema::strip_urn(&key, ext.id).is_none() {
                    q.note(Quirk::ExtensionWithoutUrn);
                }
                put(bucket_for(&mut exts, ext), attr, value, q)?
            }
            None => {}
        }
    }
    check_required(rt.schema, &core)?;
    for (ext, bucket) in &exts {
        if !bucket.is_empty() {
            check_required(ext, bucket)?;
        }
    }
    Ok(assemble(rt, core, exts))
}

/// RFC 7643 §2.4: "The primary attribute value 'true' MUST appear no more than once" in a
/// multi-valued attribute.
fn check_one_primary(attr: &Attribute, value: &Value) -> Result<(), ScimError> {
    let Value::Array(items) = value else {
        return Ok(());
    };
    if !attr.multi_valued || attr.sub("primary").is_none() {
        return Ok(());
    }
    let primaries = items
        .iter()
        .filter(|item| item.get("primary") == Some(&Value::Bool(true)))
        .count();
    if primaries > 1 {
        return Err(ScimError::InvalidValue(format!(
            "attribute '{}' has {primaries} values with primary true; at most one may be primary",
            attr.name
        )));
    }
    Ok(())
}

fn bucket_for<'a>(exts: &'a mut [(&'static Schema, Bucket)], ext: &Schema) -> &'a mut Bucket {
    let index = exts.iter().position(|(s, _)| s.id == ext.id);
    // `ResourceType::resolve` and `extension` only return schemas of `rt.extensions`.
    &mut exts[index.expect("extension schemas come from rt.extensions")].1
}

/// Normalises one attribute's value into `bucket`, or drops it when it is not client-settable.
fn put(
    bucket: &mut Bucket,
    attr: &'static Attribute,
    value: Value,
    q: &mut Quirks,
) -> Result<(), ScimError> {
    // readOnly values "SHALL be ignored" (RFC 7643 §7); write-only ones (password, which Okta
    // sends on create) are accepted and never stored, so they can never be returned.
    if attr.mutability == Mutability::WriteOnly && !value.is_null() {
        q.note(Quirk::PasswordIgnored);
    }
    if attr.mutability == Mutability::ReadOnly
        || attr.mutability == Mutability::WriteOnly
        || attr.returned == Returned::Never
    {
        return Ok(());
    }
    let value = drop_empty(value::normalize(attr, value, q)?);
    check_one_primary(attr, &value)?;
    if attr.name == "members" {
        check_members(&value)?;
    }
    if is_unassigned(&value) {
        bucket.remove(attr.name);
    } else {
        bucket.insert(attr.name.to_owned(), value);
    }
    Ok(())
}

/// Removes empty objects from arrays: `[{}]` or `[{"$ref": null}]` assigns nothing.
fn drop_empty(value: Value) -> Value {
    match value {
        Value::Array(items) => {
            Value::Array(items.into_iter().filter(|v| !is_unassigned(v)).collect())
        }
        v => v,
    }
}

/// RFC 7643 §2.5: null and the empty array are "unassigned"; an empty complex value is too.
fn is_unassigned(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Array(items) => items.is_empty(),
        Value::Object(map) => map.is_empty(),
        _ => false,
    }
}

/// Every group member must name the member's id.
fn check_members(members: &Value) -> Result<(), ScimError> {
    let items = members.as_array().map(Vec::as_slice).unwrap_or_default();
    for item in items {
        match item.get("value") {
            Some(Value::String(id)) if !id.trim().is_empty() => {}
            _ => {
                return Err(ScimError::InvalidValue(
                    "every member must have a 'value'".into(),
                ))
            }
        }
    }
    Ok(())
}

fn check_required(schema: &Schema, bucket: &Bucket) -> Result<(), ScimError> {
    for attr in schema.attributes.iter().filter(|a| a.required) {
        // Only for the check: a blank userName is as good as none, but it is stored as sent.
        let blank = match bucket.get(attr.name) {
            None => true,
            Some(Value::String(s)) => s.trim().is_empty(),
            Some(_) => false,
        };
        if blank {
            return Err(ScimError::InvalidValue(format!(
                "attribute '{}' is required",
                attr.name
            )));
        }
    }
    Ok(())
}

/// `schemas` first, then attributes in schema order (stable documents whatever the client's key
/// order), then extensions that carry data.
fn assemble(rt: &ResourceType, mut core: Bucket, exts: Vec<(&'static Schema, Bucket)>) -> Value {
    let mut schemas = vec![Value::from(rt.schema.id)];
    let mut doc = Map::new();
    doc.insert("schemas".into(), Value::Null);
    for attr in COMMON_ATTRS.iter().chain(rt.schema.attributes) {
        if let Some(v) = core.remove(attr.name) {
            doc.insert(attr.name.to_owned(), v);
        }
    }
    for (ext, mut bucket) in exts.into_iter().filter(|(_, b)| !b.is_empty()) {
        let mut ordered = Map::new();
        for attr in ext.attributes {
            if let Some(v) = bucket.remove(attr.name) {
                ordered.insert(attr.name.to_owned(), v);
            }
        }
        schemas.push(Value::from(ext.id));
        doc.insert(ext.id.to_owned(), Value::Object(ordered));
    }
    doc.insert("schemas".into(), Value::Array(schemas));
    Value::Object(doc)
}

/// PUT (RFC 7644 §3.5.1): an immutable attribute that has a value may only be sent unchanged.
/// An omitted one is not a change request; the caller keeps the stored value.
pub fn check_immutable(old: &Value, new: &Value, rt: &ResourceType) -> Result<(), ScimError> {
    let core = (
        Some(old),
        Some(new),
        rt.schema.attributes.iter().chain(COMMON_ATTRS),
    );
    let exts = rt.extensions.iter().map(|s| {
        let none: &[Attribute] = &[];
        (
            old.get(s.id),
            new.get(s.id),
            s.attributes.iter().chain(none),
        )
    });
    for (old, new, attrs) in std::iter::once(core).chain(exts) {
        for attr in attrs {
            let (Some(before), Some(after)) = (
                old.and_then(|d| d.get(attr.name)),
                new.and_then(|d| d.get(attr.name)),
            ) else {
                continue;
            };
            check_attr(attr, before, after)?;
        }
    }
    Ok(())
}

fn check_attr(attr: &Attribute, before: &Value, after: &Value) -> Result<(), ScimError> {
    if attr.mutability == Mutability::Immutable && !same(attr, before, after) {
        return Err(ScimError::Mutability(format!(
            "attribute '{}' is immutable",
            attr.name
        )));
    }
    // Sub-attributes of a single complex value; elements of a multi-valued attribute may be
    // replaced as a whole (PUT /Groups with a new member list), so they are not checked.
    if !attr.multi_valued {
        for sub in attr.sub_attributes {
            if let (Some(b), Some(a)) = (before.get(sub.name), after.get(sub.name)) {
                check_attr(sub, b, a)?;
            }
        }
    }
    Ok(())
}

/// Equality under the attribute's `caseExact` rule.
fn same(attr: &Attribute, a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(a), Value::String(b)) if !attr.case_exact => {
            a.to_lowercase() == b.to_lowercase()
        }
        _ => a == b,
    }
}
