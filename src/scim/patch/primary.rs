//! RFC 7644 §3.5.2: "a PATCH operation that sets a value's primary sub-attribute to true SHALL
//! cause the server to automatically set primary to false for any other values in the array."
//!
//! Settled after the operations are applied, by comparing with the document before them, so
//! it holds whatever form set the primary: `add` of a new value with `primary: true`, `replace`
//! of `emails[value eq "…"].primary`, a no-path `replace` of the whole attribute.

use serde_json::{Map, Value};

use crate::scim::schema::{Attribute, ResourceType, Schema};

/// The values each multi-valued attribute held as primary before a PATCH, without their flag:
/// all [`settle`] needs of the old document, so the engine applies the operations to the
/// document itself instead of keeping a copy of it.
#[derive(Debug, Default)]
pub struct Primaries(Vec<Was>);

#[derive(Debug)]
struct Was {
    /// The extension holding the attribute; `None` for the core schema.
    ext: Option<&'static str>,
    attr: &'static str,
    values: Vec<Value>,
}

impl Primaries {
    /// What `before` holds as primary.
    pub fn of(before: &Value, rt: &ResourceType) -> Self {
        let mut out = Vec::new();
        let mut collect = |ext, holder: Option<&Map<String, Value>>, schema: &Schema| {
            for attr in schema.attributes.iter().filter(|a| has_primary(a)) {
                let values: Vec<Value> = holder
                    .and_then(|h| h.get(attr.name))
                    .and_then(Value::as_array)
                    .map(Vec::as_slice)
                    .unwrap_or_default()
                    .iter()
                    .filter(|i| is_primary(i))
                    .map(without_primary)
                    .collect();
                if !values.is_empty() {
                    out.push(Was {
                        ext,
                        attr: attr.name,
                        values,
                    });
                }
            }
        };
        collect(None, before.as_object(), rt.schema);
        for ext in rt.extensions {
            collect(
                Some(ext.id),
                before.get(ext.id).and_then(Value::as_object),
                ext,
            );
        }
        Self(out)
    }

    fn was(&self, ext: Option<&str>, attr: &str) -> &[Value] {
        self.0
            .iter()
            .find(|w| w.ext == ext && w.attr == attr)
            .map(|w| w.values.as_slice())
            .unwrap_or_default()
    }
}

/// Leaves at most one `primary: true` in each multi-valued attribute of `after` that a PATCH
/// made primary: the last value it made primary keeps it, the others get `primary: false`.
/// Attributes where the PATCH made nothing newly primary are left alone (a document that
/// already had two primaries is refused by validation afterwards, not guessed at here).
pub fn settle(before: &Primaries, after: &mut Value, rt: &ResourceType) {
    let Some(after) = after.as_object_mut() else {
        return;
    };
    settle_schema(before, None, after, rt.schema);
    for ext in rt.extensions {
        if let Some(Value::Object(new)) = after.get_mut(ext.id) {
            settle_schema(before, Some(ext.id), new, ext);
        }
    }
}

fn settle_schema(
    before: &Primaries,
    ext: Option<&str>,
    after: &mut Map<String, Value>,
    schema: &Schema,
) {
    for attr in schema.attributes.iter().filter(|a| has_primary(a)) {
        if let Some(Value::Array(items)) = after.get_mut(attr.name) {
            settle_items(before.was(ext, attr.name), items);
        }
    }
}

fn has_primary(attr: &Attribute) -> bool {
    attr.multi_valued && attr.sub("primary").is_some()
}

fn is_primary(item: &Value) -> bool {
    item.get("primary") == Some(&Value::Bool(true))
}

/// The item without its `primary` flag, to recognise a value across the change.
fn without_primary(item: &Value) -> Value {
    let mut item = item.clone();
    if let Some(map) = item.as_object_mut() {
        map.remove("primary");
    }
    item
}

fn settle_items(was_primary: &[Value], items: &mut [Value]) {
    if items.iter().filter(|i| is_primary(i)).count() < 2 {
        return;
    }
    let newly = items
        .iter()
        .rposition(|i| is_primary(i) && !was_primary.contains(&without_primary(i)));
    let Some(keep) = newly else {
        return;
    };
    for (n, item) in items.iter_mut().enumerate() {
        if n != keep && is_primary(item) {
            item["primary"] = Value::Bool(false);
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::scim::schema::USER_TYPE;

    #[test]
    fn a_newly_primary_value_clears_the_others() {
        let before = json!({"emails": [{"value": "a", "primary": true}, {"value": "b"}]});
        let mut after = json!({"emails": [{"value": "a", "primary": true}, {"value": "b"},
                                          {"value": "c", "primary": true}]});
        settle(&Primaries::of(&before, &USER_TYPE), &mut after, &USER_TYPE);
        assert_eq!(
            after,
            json!({"emails": [{"value": "a", "primary": false}, {"value": "b"},
                              {"value": "c", "primary": true}]})
        );
        let mut after =
            json!({"emails": [{"value": "a", "primary": true}, {"value": "b", "primary": true}]});
        settle(&Primaries::of(&before, &USER_TYPE), &mut after, &USER_TYPE);
        assert_eq!(after["emails"][0]["primary"], false);
        assert_eq!(after["emails"][1]["primary"], true);
    }

    #[test]
    fn nothing_newly_primary_is_left_for_validation() {
        let before =
            json!({"emails": [{"value": "a", "primary": true}, {"value": "b", "primary": true}]});
        let mut after = before.clone();
        settle(&Primaries::of(&before, &USER_TYPE), &mut after, &USER_TYPE);
        assert_eq!(after, before);
        let mut one = json!({"phoneNumbers": [{"value": "1", "primary": true}]});
        settle(&Primaries::of(&json!({}), &USER_TYPE), &mut one, &USER_TYPE);
        assert_eq!(one["phoneNumbers"][0]["primary"], true);
    }
}
