//! Case-insensitive access to the keys of a resource document (RFC 7643 §2.1: attribute names
//! are case-insensitive), always writing the canonical spelling. Shared by the PATCH writers.

use serde_json::{Map, Value};

use crate::scim::schema::Attribute;

/// The key in `map` equal to `name` ignoring case, preferring the exact spelling.
pub(super) fn key_ci(map: &Map<String, Value>, name: &str) -> Option<String> {
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

pub(super) fn get_mut_ci<'m>(map: &'m mut Map<String, Value>, name: &str) -> Option<&'m mut Value> {
    let key = key_ci(map, name)?;
    map.get_mut(&key)
}

/// Drops an attribute left as null, an empty array or an empty object.
pub(super) fn prune(holder: &mut Map<String, Value>, attr: &Attribute) {
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
