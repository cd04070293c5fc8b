//! Coercion of one attribute's JSON value into the shape its schema defines, accepting what real
//! identity providers send:
//!
//! * booleans as strings, any case (`"True"`, `"false"`: Entra ID's legacy PATCH);
//! * a single object or scalar where an array is expected (OneLogin sends `emails` as an object);
//! * a one-element array where a single complex value is expected (Entra sends `manager` so);
//! * a bare string for a complex attribute with a `value` sub-attribute (`"manager": "id"`);
//! * numbers for string attributes (`employeeNumber: 1234`) become their decimal text.
//!
//! Sub-attribute names are matched case-insensitively and rewritten to their canonical spelling;
//! string values are never case-folded or trimmed. Each leniency used is noted as a
//! [`Quirk`]. Pure: no I/O.

use serde_json::{Map, Value};
use time::format_description::well_known::Rfc3339;

use super::{
    error::ScimError,
    quirk::{Quirk, Quirks},
    schema::{AttrType, Attribute},
};

fn invalid(attr: &Attribute, what: &str) -> ScimError {
    ScimError::InvalidValue(format!("attribute '{}' {what}", attr.name))
}

/// Normalises `value` for `attr`; `Null` stays `Null` (meaning "no value"). The quirks it
/// applies are noted in `q`.
pub fn normalize(attr: &Attribute, value: Value, q: &mut Quirks) -> Result<Value, ScimError> {
    if value.is_null() {
        return Ok(Value::Null);
    }
    if attr.multi_valued {
        let items = match value {
            Value::Array(items) => items,
            single => {
                q.note(Quirk::SingleForArray);
                vec![single]
            }
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            match normalize_single(attr, item, q)? {
                Value::Null => {}
                v => out.push(v),
            }
        }
        return Ok(Value::Array(out));
    }
    let value = match value {
        Value::Array(mut items) if attr.ty == AttrType::Complex && items.len() == 1 => {
            q.note(Quirk::ArrayForSingle);
            items.pop().expect("length checked above")
        }
        Value::Array(_) => return Err(invalid(attr, "is single-valued but got an array")),
        v => v,
    };
    normalize_single(attr, value, q)
}

/// Normalises one element (the value itself for single-valued attributes).
pub fn normalize_single(
    attr: &Attribute,
    value: Value,
    q: &mut Quirks,
) -> Result<Value, ScimError> {
    match (attr.ty, value) {
        (_, Value::Null) => Ok(Value::Null),
        (AttrType::Complex, Value::Object(map)) => complex(attr, map, q).map(Value::Object),
        (AttrType::Complex, scalar @ (Value::String(_) | Value::Number(_) | Value::Bool(_))) => {
            match attr.sub("value") {
                Some(sub) => {
                    q.note(Quirk::ScalarForComplex);
                    let mut map = Map::new();
                    map.insert(sub.name.to_owned(), normalize_single(sub, scalar, q)?);
                    Ok(Value::Object(map))
                }
                None => Err(invalid(attr, "must be an object")),
            }
        }
        (AttrType::Complex, _) => Err(invalid(attr, "must be an object")),
        (AttrType::Boolean, Value::Bool(b)) => Ok(Value::Bool(b)),
        (AttrType::Boolean, Value::String(s)) => {
            let b = match s.trim().to_ascii_lowercase().as_str() {
                "true" => true,
                "false" => false,
                _ => return Err(invalid(attr, "must be true or false")),
            };
            q.note(Quirk::StringBoolean);
            Ok(Value::Bool(b))
        }
        (AttrType::Boolean, _) => Err(invalid(attr, "must be true or false")),
        (AttrType::Integer, Value::Number(n)) if n.is_i64() || n.is_u64() => Ok(Value::Number(n)),
        (AttrType::Integer, Value::String(s)) => {
            let n = s
                .trim()
                .parse::<i64>()
                .map_err(|_| invalid(attr, "must be an integer"))?;
            q.note(Quirk::StringAsNumber);
            Ok(Value::from(n))
        }
        (AttrType::Integer, _) => Err(invalid(attr, "must be an integer")),
        (AttrType::Decimal, Value::Number(n)) => Ok(Value::Number(n)),
        (AttrType::Decimal, Value::String(s)) => {
            let n = s
                .trim()
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .ok_or_else(|| invalid(attr, "must be a number"))?;
            q.note(Quirk::StringAsNumber);
            Ok(Value::Number(n))
        }
        (AttrType::Decimal, _) => Err(invalid(attr, "must be a number")),
        (AttrType::DateTime, Value::String(s)) => {
            time::OffsetDateTime::parse(&s, &Rfc3339)
                .map_err(|_| invalid(attr, "must be an RFC 3339 date-time"))?;
            Ok(Value::String(s))
        }
        (AttrType::DateTime, _) => Err(invalid(attr, "must be an RFC 3339 date-time")),
        (AttrType::String | AttrType::Reference | AttrType::Binary, Value::String(s)) => {
            Ok(Value::String(s))
        }
        (AttrType::String, Value::Number(n)) => {
            q.note(Quirk::NumberAsString);
            Ok(Value::String(n.to_string()))
        }
        (AttrType::String | AttrType::Reference | AttrType::Binary, _) => {
            Err(invalid(attr, "must be a string"))
        }
    }
}

fn complex(
    attr: &Attribute,
    map: Map<String, Value>,
    q: &mut Quirks,
) -> Result<Map<String, Value>, ScimError> {
    let mut out = Map::with_capacity(map.len());
    for (key, value) in map {
        match attr.sub(&key) {
            Some(sub) => match normalize_single(sub, value, q)? {
                Value::Null => {}
                v => {
                    out.insert(sub.name.to_owned(), v);
                }
            },
            // Unknown sub-attributes are kept as sent: clients round-trip them.
            None => {
                out.insert(key, value);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::scim::schema::{ENTERPRISE_USER_SCHEMA, USER_SCHEMA};

    /// Normalises, and checks that the quirks noted are exactly `quirks`.
    fn norm_with(attr: &Attribute, v: Value, quirks: &[Quirk]) -> Result<Value, ScimError> {
        let mut q = Quirks::default();
        let out = normalize(attr, v, &mut q);
        assert_eq!(q.iter().collect::<Vec<_>>(), quirks);
        out
    }

    fn norm(attr: &Attribute, v: Value) -> Result<Value, ScimError> {
        normalize(attr, v, &mut Quirks::default())
    }

    #[test]
    fn each_leniency_is_noted_and_canonical_values_note_none() {
        let manager = ENTERPRISE_USER_SCHEMA.attribute("manager").unwrap();
        let n = ENTERPRISE_USER_SCHEMA.attribute("employeeNumber").unwrap();
        norm_with(user("active"), json!("False"), &[Quirk::StringBoolean]).unwrap();
        norm_with(user("active"), json!(false), &[]).unwrap();
        norm_with(
            user("emails"),
            json!({"value": "a@b.c"}),
            &[Quirk::SingleForArray],
        )
        .unwrap();
        norm_with(
            user("emails"),
            json!([{"value": "a@b.c", "primary": true}]),
            &[],
        )
        .unwrap();
        norm_with(manager, json!([{"value": "m"}]), &[Quirk::ArrayForSingle]).unwrap();
        norm_with(manager, json!("m"), &[Quirk::ScalarForComplex]).unwrap();
        norm_with(manager, json!({"value": "m"}), &[]).unwrap();
        norm_with(n, json!(1234), &[Quirk::NumberAsString]).unwrap();
        norm_with(n, json!("1234"), &[]).unwrap();
        // A refused value notes nothing it did not apply.
        assert!(norm_with(user("active"), json!("maybe"), &[]).is_err());
    }

    fn user(name: &str) -> &'static Attribute {
        USER_SCHEMA.attribute(name).unwrap()
    }

    #[test]
    fn string_booleans_in_any_case() {
        assert_eq!(norm(user("active"), json!("False")).unwrap(), json!(false));
        assert_eq!(norm(user("active"), json!("TRUE")).unwrap(), json!(true));
        assert_eq!(norm(user("active"), json!(true)).unwrap(), json!(true));
        assert!(norm(user("active"), json!("yes please")).is_err());
        assert!(norm(user("active"), json!(1)).is_err());
    }

    #[test]
    fn a_single_email_object_becomes_an_array_with_canonical_names() {
        let v = norm(user("emails"), json!({"VALUE": "a@b.c", "Primary": "true"})).unwrap();
        assert_eq!(v, json!([{"value": "a@b.c", "primary": true}]));
    }

    #[test]
    fn manager_as_array_or_bare_id() {
        let manager = ENTERPRISE_USER_SCHEMA.attribute("manager").unwrap();
        let v = norm(manager, json!([{"$ref": null, "value": "m1"}])).unwrap();
        assert_eq!(v, json!({"value": "m1"}));
        assert_eq!(norm(manager, json!("m2")).unwrap(), json!({"value": "m2"}));
        assert!(norm(manager, json!([{"value": "a"}, {"value": "b"}])).is_err());
    }

    #[test]
    fn values_keep_their_case_and_numbers_become_text_for_strings() {
        let v = norm(user("displayName"), json!("  MiXeD Case ")).unwrap();
        assert_eq!(v, json!("  MiXeD Case "));
        let n = ENTERPRISE_USER_SCHEMA.attribute("employeeNumber").unwrap();
        assert_eq!(norm(n, json!(1234)).unwrap(), json!("1234"));
        assert!(norm(user("userName"), json!({"x": 1})).is_err());
    }

    #[test]
    fn nulls_mean_no_value() {
        assert_eq!(norm(user("title"), Value::Null).unwrap(), Value::Null);
        let v = norm(user("name"), json!({"givenName": "A", "familyName": null})).unwrap();
        assert_eq!(v, json!({"givenName": "A"}));
    }
}
