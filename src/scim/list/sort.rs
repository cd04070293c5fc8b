//! Result ordering for `sortBy`/`sortOrder` (RFC 7644 §3.4.2.3): by the attribute's type,
//! case-insensitively unless the attribute is `caseExact`, multi-valued attributes by their
//! primary (else first) value, unassigned values last when ascending.

use std::cmp::Ordering;

use serde_json::Value;
use time::{format_description::well_known::Rfc3339, OffsetDateTime};

use super::SortOrder;
use crate::scim::{
    project::AttrRef,
    schema::{AttrType, Attribute, ResourceType},
};

/// One resource's sort key; the variant order is the order between keys of different kinds,
/// which only matters for malformed stored data.
#[derive(Debug, PartialEq, PartialOrd)]
enum Key {
    Bool(bool),
    Number(f64),
    Instant(OffsetDateTime),
    Text(String),
    /// Unassigned: after every value when ascending.
    Missing,
}

/// Sorts `resources` (full representations) by the attribute path `by`, stably. An unknown or
/// malformed path leaves the order unchanged: RFC 7644 leaves that case to the server.
pub fn sort(resources: &mut [Value], by: &str, order: SortOrder, rt: &ResourceType) {
    let Ok(Some(path)) = AttrRef::parse(by, rt) else {
        return;
    };
    let Some(attr) = path.attr else {
        return;
    };
    // Decorate, sort, undecorate: each key (with its lower-casing) is computed once.
    let mut keyed: Vec<(Key, Value)> = resources
        .iter_mut()
        .map(|doc| (key(doc, &path, attr), std::mem::take(doc)))
        .collect();
    keyed.sort_by(|(a, _), (b, _)| {
        let ord = compare(a, b);
        match order {
            SortOrder::Ascending => ord,
            SortOrder::Descending => ord.reverse(),
        }
    });
    for (slot, (_, doc)) in resources.iter_mut().zip(keyed) {
        *slot = doc;
    }
}

fn compare(a: &Key, b: &Key) -> Ordering {
    a.partial_cmp(b).unwrap_or(Ordering::Equal)
}

/// The value `path` selects in `doc`, reduced to a comparable key.
fn key(doc: &Value, path: &AttrRef, attr: &Attribute) -> Key {
    let holder = match path.ext {
        Some(ext) => doc.get(ext.id),
        None => Some(doc),
    };
    let Some(mut value) = holder.and_then(|h| h.get(attr.name)) else {
        return Key::Missing;
    };
    if let Value::Array(items) = value {
        let primary = items
            .iter()
            .find(|i| i.get("primary").and_then(Value::as_bool) == Some(true));
        match primary.or(items.first()) {
            Some(item) => value = item,
            None => return Key::Missing,
        }
    }
    // A complex attribute without a named sub-attribute sorts by its `value`.
    let leaf = match path.sub.or_else(|| attr.sub("value")) {
        Some(sub) if attr.ty == AttrType::Complex => match value.get(sub.name) {
            Some(v) => (sub, v),
            None => return Key::Missing,
        },
        _ => (attr, value),
    };
    leaf_key(leaf.0, leaf.1)
}

fn leaf_key(attr: &Attribute, value: &Value) -> Key {
    match value {
        Value::Bool(b) => Key::Bool(*b),
        Value::Number(n) => n.as_f64().map_or(Key::Missing, Key::Number),
        Value::String(s) if attr.ty == AttrType::DateTime => {
            OffsetDateTime::parse(s, &Rfc3339).map_or_else(|_| Key::Text(s.clone()), Key::Instant)
        }
        Value::String(s) if attr.case_exact => Key::Text(s.clone()),
        Value::String(s) => Key::Text(s.to_lowercase()),
        Value::Null | Value::Array(_) | Value::Object(_) => Key::Missing,
    }
}
