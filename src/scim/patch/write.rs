//! The add and replace writes behind PATCH on one resolved target (RFC 7644 §3.5.2.1 and
//! §3.5.2.3): on an attribute, a sub-attribute, or the elements a value filter selects.
//!
//! Every value written goes through [`value::normalize`] for its attribute. Immutable values
//! may be set when absent but not changed (RFC 7643 §7). Callers have already rejected
//! read-only targets and resolved which object (document or extension) holds the attribute.

use serde_json::{Map, Value};

use super::{
    index::ValueIndex,
    remove::remove_attr,
    slots::{prune, slot, take_ci},
};
use crate::scim::{
    error::ScimError,
    filter::{element_matches, get_ci, CompValue, CompareOp, Filter},
    quirk::{Quirk, Quirks},
    schema::{Attribute, Mutability},
    value,
};

/// An attribute, optionally a sub-attribute, optionally a filter on the attribute's elements.
pub(super) struct Target<'p> {
    /// The top-level attribute.
    pub(super) attr: &'static Attribute,
    /// The sub-attribute written, if any.
    pub(super) sub: Option<&'static Attribute>,
    /// The value filter selecting elements of a multi-valued attribute.
    pub(super) filter: Option<&'p Filter>,
}

fn immutable_check(attr: &Attribute, old: Option<&Value>, new: &Value) -> Result<(), ScimError> {
    match old {
        Some(old) if attr.mutability == Mutability::Immutable && !old.is_null() && old != new => {
            Err(ScimError::Mutability(format!(
                "attribute '{}' is immutable",
                attr.name
            )))
        }
        _ => Ok(()),
    }
}

/// Sets (or, for null, removes) one sub-attribute of an element object.
fn set_sub(elem: &mut Value, sub: &Attribute, v: Value) -> Result<(), ScimError> {
    if !elem.is_object() {
        *elem = Value::Object(Map::new());
    }
    let Some(map) = elem.as_object_mut() else {
        return Ok(());
    };
    if v.is_null() {
        take_ci(map, sub.name);
        return Ok(());
    }
    let slot = slot(map, sub.name);
    immutable_check(sub, Some(slot), &v)?;
    *slot = v;
    Ok(())
}

/// Merges the sub-attributes of `from` into the element object `elem`.
fn merge(attr: &Attribute, elem: &mut Value, from: Map<String, Value>) -> Result<(), ScimError> {
    for (k, v) in from {
        match attr.sub(&k) {
            Some(sub) => set_sub(elem, sub, v)?,
            // Unknown sub-attributes are kept as sent, as value::normalize does.
            None => {
                if let Value::Object(map) = elem {
                    map.insert(k, v);
                }
            }
        }
    }
    Ok(())
}

/// A whole-element replace may not change an immutable sub-attribute already set.
fn element_immutables(
    attr: &Attribute,
    old: &Value,
    new: &Map<String, Value>,
) -> Result<(), ScimError> {
    for sub in attr
        .sub_attributes
        .iter()
        .filter(|s| s.mutability == Mutability::Immutable)
    {
        if let Some(new) = new.get(sub.name) {
            immutable_check(sub, get_ci(old, sub.name), new)?;
        }
    }
    Ok(())
}

/// The equalities of a value filter, as the attributes of an element to create.
fn seed(filter: &Filter, out: &mut Map<String, Value>) {
    match filter {
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value,
        } if path.urn.is_none() && path.sub.is_none() => {
            let v = match value {
                CompValue::String(s) => Value::String(s.clone()),
                CompValue::Bool(b) => Value::Bool(*b),
                CompValue::Number(n) => Value::Number(n.clone()),
                CompValue::Null => return,
            };
            out.insert(path.name.clone(), v);
        }
        Filter::And(l, r) => {
            seed(l, out);
            seed(r, out);
        }
        _ => {}
    }
}

/// `add` (`append` true) or `replace` of a non-null `value` at `t` in the object `holder`.
pub(super) fn write(
    holder: &mut Map<String, Value>,
    t: &Target<'_>,
    value: Value,
    append: bool,
    q: &mut Quirks,
) -> Result<(), ScimError> {
    let attr = t.attr;
    match (t.filter, t.sub) {
        (None, None) => {
            let v = value::normalize(attr, value, q)?;
            write_attr(holder, attr, v, append, q)
        }
        (None, Some(sub)) => {
            let v = value::normalize(sub, value, q)?;
            let slot = slot(holder, attr.name);
            match slot {
                // Without a filter, a sub-attribute of a multi-valued attribute means all elements.
                Value::Array(items) if attr.multi_valued && !items.is_empty() => items
                    .iter_mut()
                    .try_for_each(|e| set_sub(e, sub, v.clone())),
                _ if attr.multi_valued => {
                    let mut elem = Value::Object(Map::new());
                    set_sub(&mut elem, sub, v)?;
                    *slot = Value::Array(vec![elem]);
                    Ok(())
                }
                _ => set_sub(slot, sub, v),
            }
        }
        (Some(filter), sub) => write_filtered(holder, attr, filter, sub, value, append, q),
    }
}

/// What a filtered write puts into each selected element.
enum Change {
    Sub(&'static Attribute, Value),
    Element(Map<String, Value>),
}

/// Writes into the elements `filter` selects; when none is selected, creates one from the
/// filter's equalities (`emails[type eq "work"].value` creates `{"type":"work","value":…}`).
fn write_filtered(
    holder: &mut Map<String, Value>,
    attr: &'static Attribute,
    filter: &Filter,
    sub: Option<&'static Attribute>,
    value: Value,
    append: bool,
    q: &mut Quirks,
) -> Result<(), ScimError> {
    let change = match sub {
        Some(sub) => Change::Sub(sub, value::normalize(sub, value, q)?),
        None => match value::normalize_single(attr, value, q)? {
            Value::Object(m) => Change::Element(m),
            _ => {
                return Err(ScimError::InvalidValue(format!(
                    "elements of '{}' must be objects",
                    attr.name
                )))
            }
        },
    };
    let slot = slot(holder, attr.name);
    if !slot.is_array() {
        // A single object where an array belongs (OneLogin) becomes a one-element array.
        let first = slot.take();
        *slot = Value::Array(if first.is_null() { vec![] } else { vec![first] });
    }
    let Some(items) = slot.as_array_mut() else {
        return Ok(());
    };
    let mut hit = false;
    for e in items
        .iter_mut()
        .filter(|e| element_matches(filter, e, attr))
    {
        hit = true;
        match &change {
            Change::Sub(sub, v) => set_sub(e, sub, v.clone())?,
            Change::Element(m) if append => merge(attr, e, m.clone())?,
            Change::Element(m) => {
                element_immutables(attr, e, m)?;
                *e = Value::Object(m.clone());
            }
        }
    }
    if !hit {
        q.note(Quirk::ValuePathCreate);
        let mut seeded = Map::new();
        seed(filter, &mut seeded);
        let mut elem = value::normalize_single(attr, Value::Object(seeded), q)?;
        match change {
            Change::Sub(sub, v) => set_sub(&mut elem, sub, v)?,
            Change::Element(m) => merge(attr, &mut elem, m)?,
        }
        items.push(elem);
    }
    Ok(())
}

/// Add or replace on a whole attribute with a normalised value.
fn write_attr(
    holder: &mut Map<String, Value>,
    attr: &Attribute,
    v: Value,
    append: bool,
    q: &mut Quirks,
) -> Result<(), ScimError> {
    if v.is_null() {
        return remove_attr(holder, attr, None, q);
    }
    let slot = slot(holder, attr.name);
    match v {
        Value::Array(new) if attr.multi_valued => {
            let mut items = match (append, slot.take()) {
                (true, Value::Array(old)) => old,
                _ => Vec::with_capacity(new.len()),
            };
            // Equal values are kept once; the index makes that linear, not quadratic.
            let mut index = ValueIndex::of(&items);
            for item in new {
                if !index.contains(&items, &item) {
                    index.insert(&item, items.len());
                    items.push(item);
                }
            }
            *slot = Value::Array(items);
        }
        // Complex values merge for add and replace alike (RFC 7644 §3.5.2.1, §3.5.2.3).
        Value::Object(new) if slot.is_object() => merge(attr, slot, new)?,
        v => {
            immutable_check(attr, Some(slot), &v)?;
            *slot = v;
        }
    }
    prune(holder, attr);
    Ok(())
}
