//! A BulkRequest taken apart (RFC 7644 §3.7): its operations, their targets and their
//! `bulkId` references. Pure: no engine, no I/O.

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::scim::{error::ScimError, schema::ResourceKind};

/// One operation of the request.
pub(super) struct Op {
    pub(super) method: String,
    pub(super) bulk_id: Option<String>,
    pub(super) path: String,
    pub(super) data: Option<Value>,
    pub(super) version: Option<String>,
}

pub(super) fn field<'a>(obj: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    obj.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

/// Takes the value of `name` (case-insensitively) out of `obj`.
pub(super) fn take_field(obj: &mut Map<String, Value>, name: &str) -> Option<Value> {
    let key = obj.keys().find(|k| k.eq_ignore_ascii_case(name))?.clone();
    obj.remove(&key)
}

/// One operation, its `data` moved out of the request rather than copied.
pub(super) fn parse_op(value: Value) -> Result<Op, ScimError> {
    let Value::Object(mut obj) = value else {
        return Err(ScimError::InvalidSyntax(
            "each bulk operation must be an object".into(),
        ));
    };
    let text = |obj: &Map<String, Value>, name| {
        field(obj, name).and_then(Value::as_str).map(str::to_owned)
    };
    let method = text(&obj, "method")
        .ok_or_else(|| ScimError::InvalidSyntax("a bulk operation needs a method".into()))?
        .to_ascii_uppercase();
    let path = text(&obj, "path")
        .ok_or_else(|| ScimError::InvalidSyntax("a bulk operation needs a path".into()))?;
    let op = Op {
        bulk_id: text(&obj, "bulkId"),
        version: text(&obj, "version"),
        data: take_field(&mut obj, "data"),
        method,
        path,
    };
    if op.method == "POST" && op.bulk_id.is_none() {
        return Err(ScimError::InvalidSyntax(
            "a bulk POST needs a bulkId".into(),
        ));
    }
    Ok(op)
}

/// Every `bulkId:` reference in a value.
pub(super) fn references(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => {
            if let Some(id) = s.strip_prefix("bulkId:") {
                out.push(id.to_owned());
            }
        }
        Value::Array(items) => items.iter().for_each(|v| references(v, out)),
        Value::Object(map) => map.values().for_each(|v| references(v, out)),
        _ => {}
    }
}

pub(super) fn substitute(value: &mut Value, ids: &HashMap<String, String>) {
    match value {
        Value::String(s) => {
            if let Some(id) = s.strip_prefix("bulkId:").and_then(|b| ids.get(b)) {
                *s = id.clone();
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| substitute(v, ids)),
        Value::Object(map) => map.values_mut().for_each(|v| substitute(v, ids)),
        _ => {}
    }
}

/// `/Users`, `/Groups/abc` → kind and optional id.
pub(super) fn target(path: &str) -> Result<(ResourceKind, Option<String>), ScimError> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let Some(kind) = parts.first().and_then(|s| ResourceKind::from_segment(s)) else {
        return Err(ScimError::InvalidPath(format!(
            "bulk path {path:?} names no resource type"
        )));
    };
    match parts.as_slice() {
        [_] => Ok((kind, None)),
        [_, id] if !id.is_empty() => Ok((kind, Some((*id).to_owned()))),
        _ => Err(ScimError::InvalidPath(format!(
            "bulk path {path:?} is not a resource"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn an_operation_is_parsed_with_any_key_case_and_a_post_needs_a_bulk_id() {
        let op =
            parse_op(json!({"METHOD": "patch", "Path": "/Users/u1", "Data": {"a": 1}})).unwrap();
        assert_eq!(
            (op.method.as_str(), op.path.as_str()),
            ("PATCH", "/Users/u1")
        );
        assert_eq!(op.data, Some(json!({"a": 1})));
        assert!(matches!(
            parse_op(json!({"method": "POST", "path": "/Users"})),
            Err(ScimError::InvalidSyntax(_))
        ));
        assert!(parse_op(json!("PATCH")).is_err());
    }

    #[test]
    fn targets_name_a_kind_and_maybe_an_id() {
        assert_eq!(target("/Users").unwrap(), (ResourceKind::User, None));
        assert_eq!(
            target("groups/g1").unwrap(),
            (ResourceKind::Group, Some("g1".into()))
        );
        assert!(matches!(
            target("/Things/1"),
            Err(ScimError::InvalidPath(_))
        ));
        assert!(matches!(
            target("/Users/a/b"),
            Err(ScimError::InvalidPath(_))
        ));
    }

    #[test]
    fn references_are_found_and_substituted_at_any_depth() {
        let mut v = json!({"members": [{"value": "bulkId:u1"}, {"value": "bulkId:u2"}], "x": "u3"});
        let mut refs = Vec::new();
        references(&v, &mut refs);
        assert_eq!(refs, ["u1", "u2"]);
        let ids = HashMap::from([("u1".to_owned(), "id-1".to_owned())]);
        substitute(&mut v, &ids);
        assert_eq!(
            v,
            json!({"members": [{"value": "id-1"}, {"value": "bulkId:u2"}], "x": "u3"})
        );
    }
}
