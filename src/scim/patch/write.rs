//! The writes behind PATCH on one resolved target (RFC 7644 §3.5.2.1–3): add and replace on an
//! attribute, a sub-attribute, or the elements a value filter selects, and remove.
//!
//! Every value written goes through [`value::normalize`] for its attribute. Immutable values
//! may be set when absent but not changed (RFC 7643 §7). Callers have already rejected
//! read-only targets and resolved which object (document or extension) holds the attribute.

use serde_json::{Map, Value};

use crate::scim::{
    error::ScimError,
    filter::{element_matches, get_ci, CompValue, CompareOp, Filter},
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

/// The key in `map` equal to `name` ignoring case, preferring the exact spelling.
fn key_ci(map: &Map<String, Value>, name: &str) -> Option<String> {
    if map.contains_key(name) {
        return Some(name.to_owned());
    }
    map.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned()
}

/// Removes `name` (any case) from `map`, returning its value.
pub(super) fn take_ci(map: &mut Map<String, Value>, name: &str) -> Option<Value> {
    let key = key_ci(map, name)?;
    map.remove(&key)
}

/// The slot for `name` under its canonical spelling, moving a differently-cased key there.
pub(super) fn slot<'m>(map: &'m mut Map<String, Value>, name: &str) -> &'m mut Value {
    if !map.contains_key(name) {
        let old = take_ci(map, name).unwrap_or(Value::Null);
        map.insert(name.to_owned(), old);
    }
    map.entry(name.to_owned()).or_insert(Value::Null)
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
) -> Result<(), ScimError> {
    let attr = t.attr;
    match (t.filter, t.sub) {
        (None, None) => write_attr(holder, attr, value::normalize(attr, value)?, append),
        (None, Some(sub)) => {
            let v = value::normalize(sub, value)?;
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
        (Some(filter), sub) => write_filtered(holder, attr, filter, sub, value, append),
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
) -> Result<(), ScimError> {
    let change = match sub {
        Some(sub) => Change::Sub(sub, value::normalize(sub, value)?),
        None => match value::normalize_single(attr, value)? {
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
        let mut seeded = Map::new();
        seed(filter, &mut seeded);
        let mut elem = value::normalize_single(attr, Value::Object(seeded))?;
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
) -> Result<(), ScimError> {
    if v.is_null() {
        return remove_attr(holder, attr, None);
    }
    let slot = slot(holder, attr.name);
    match v {
        Value::Array(new) if attr.multi_valued => {
            let mut items = match (append, slot.take()) {
                (true, Value::Array(old)) => old,
                _ => Vec::new(),
            };
            for item in new {
                if !items.contains(&item) {
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

fn get_mut_ci<'m>(map: &'m mut Map<String, Value>, name: &str) -> Option<&'m mut Value> {
    let key = key_ci(map, name)?;
    map.get_mut(&key)
}

/// Drops an attribute left as null, an empty array or an empty object.
fn prune(holder: &mut Map<String, Value>, attr: &Attribute) {
    let empty = match get_ci_map(holder, attr.name) {
        Some(Value::Array(a)) => a.is_empty(),
        Some(Value::Object(m)) => m.is_empty(),
        Some(Value::Null) => true,
        _ => false,
    };
    if empty {
        take_ci(holder, attr.name);
    }
}

fn get_ci_map<'m>(map: &'m Map<String, Value>, name: &str) -> Option<&'m Value> {
    map.get(&key_ci(map, name)?)
}

/// Two elements are the same member or value when their `value`s are equal.
fn same_element(e: &Value, listed: &Value) -> bool {
    match (get_ci(e, "value"), get_ci(listed, "value")) {
        (Some(a), Some(b)) => a == b,
        _ => e == listed,
    }
}

/// Removes a whole attribute, or with a value list (Entra's legacy member removal) only the
/// listed elements of a multi-valued one.
fn remove_attr(
    holder: &mut Map<String, Value>,
    attr: &Attribute,
    listed: Option<&Value>,
) -> Result<(), ScimError> {
    match listed {
        Some(list) if attr.multi_valued && !list.is_null() => {
            let listed = match value::normalize(attr, list.clone())? {
                Value::Array(items) => items,
                other => vec![other],
            };
            if let Some(Value::Array(items)) = get_mut_ci(holder, attr.name) {
                items.retain(|e| !listed.iter().any(|l| same_element(e, l)));
            }
        }
        _ if attr.required => {
            return Err(ScimError::Mutability(format!(
                "attribute '{}' is required and cannot be removed",
                attr.name
            )))
        }
        _ => {
            take_ci(holder, attr.name);
        }
    }
    prune(holder, attr);
    Ok(())
}

/// `remove` at `t` (RFC 7644 §3.5.2.2); selecting nothing is not an error.
pub(super) fn remove(
    holder: &mut Map<String, Value>,
    t: &Target<'_>,
    listed: Option<&Value>,
) -> Result<(), ScimError> {
    let attr = t.attr;
    if t.filter.is_none() && t.sub.is_none() {
        return remove_attr(holder, attr, listed);
    }
    let Some(current) = get_mut_ci(holder, attr.name) else {
        return Ok(());
    };
    match (t.filter, t.sub) {
        (Some(filter), None) => {
            if let Value::Array(items) = current {
                items.retain(|e| !element_matches(filter, e, attr));
            } else if element_matches(filter, current, attr) {
                *current = Value::Null;
            }
        }
        (filter, Some(sub)) => {
            let elements: &mut [Value] = match current {
                Value::Array(items) => items,
                other => std::slice::from_mut(other),
            };
            for e in elements {
                if filter.is_none_or(|f| element_matches(f, e, attr)) {
                    if let Value::Object(m) = e {
                        take_ci(m, sub.name);
                    }
                }
            }
        }
        (None, None) => {}
    }
    prune(holder, attr);
    Ok(())
}
