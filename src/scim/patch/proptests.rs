//! PATCH properties: whatever the operations, `id` and `meta` never change, write-only and
//! read-only attributes never appear, and a failed PATCH leaves the document untouched.

use proptest::prelude::*;
use serde_json::{json, Value};

use super::{
    tests::user,
    unnoted::{apply, parse_request},
};
use crate::scim::schema::{ENTERPRISE_USER, USER_TYPE};

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i32>().prop_map(Value::from),
        "[a-zA-Z@. ]{0,8}".prop_map(Value::from),
        Just(json!("False")),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        Just("value"),
        Just("type"),
        Just("id"),
        Just("meta"),
        Just("active"),
        Just("name.givenName"),
        Just("emails"),
        Just("members"),
        Just("displayName"),
        Just(ENTERPRISE_USER),
        Just("primary"),
    ];
    json_leaf().prop_recursive(3, 24, 4, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::vec((key.clone(), inner), 0..4).prop_map(|kv| Value::Object(
                kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
            )),
        ]
    })
}

fn op_strategy() -> impl Strategy<Value = Value> {
    let kind = prop_oneof![Just("add"), Just("Replace"), Just("remove")];
    let path = prop_oneof![
        Just(None),
        Just(Some("id")),
        Just(Some("meta")),
        Just(Some("meta.version")),
        Just(Some("title")),
        Just(Some("userName")),
        Just(Some("name")),
        Just(Some("name.givenName")),
        Just(Some("emails")),
        Just(Some("emails[type eq \"work\"].value")),
        Just(Some("emails[value co \"@\"]")),
        Just(Some(
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"
        )),
        Just(Some(
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
        )),
        Just(Some("active")),
        Just(Some("groups")),
        Just(Some("password")),
        Just(Some("x[")),
    ];
    (kind, path, proptest::option::of(json_value())).prop_map(|(op, path, value)| {
        let mut o = json!({"op": op});
        if let Some(p) = path {
            o["path"] = json!(p);
        }
        if let Some(v) = value {
            o["value"] = v;
        }
        o
    })
}

proptest! {
    #[test]
    fn read_only_attributes_never_change_and_failures_change_nothing(
        list in prop::collection::vec(op_strategy(), 0..5)
    ) {
        let before = user();
        let mut doc = before.clone();
        let Ok(parsed) = parse_request(&json!({"Operations": list})) else { return Ok(()) };
        match apply(&mut doc, &parsed, &USER_TYPE) {
            Ok(()) => {
                prop_assert_eq!(&doc["id"], &before["id"]);
                prop_assert_eq!(&doc["meta"], &before["meta"]);
                prop_assert!(doc.get("groups").is_none() && doc.get("password").is_none());
            }
            Err(_) => prop_assert_eq!(doc, before),
        }
    }
}
