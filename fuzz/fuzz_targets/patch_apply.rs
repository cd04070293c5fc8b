//! Arbitrary bytes as a PATCH body, applied to a fixed user and a fixed group: never a panic,
//! `id` and `meta` never change, and a failed PATCH leaves the document exactly as it was.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scim_bridge::scim::{patch, quirk::Quirks, schema};
use serde_json::{json, Value};

fn check(before: Value, ops: &[patch::PatchOp], rt: &schema::ResourceType) {
    let mut doc = before.clone();
    match patch::apply(&mut doc, ops, rt, &mut Quirks::default()) {
        Ok(()) => {
            assert_eq!(doc["id"], before["id"]);
            assert_eq!(doc["meta"], before["meta"]);
            assert!(doc.get("password").is_none());
        }
        Err(_) => assert_eq!(doc, before),
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let Ok(ops) = patch::parse_request(&body, &mut Quirks::default()) else {
        return;
    };
    let user = json!({
        "schemas": [schema::USER],
        "id": "u-1", "userName": "bjensen", "active": true,
        "name": {"givenName": "Barbara"},
        "emails": [{"value": "b@example.com", "type": "work", "primary": true}],
        "meta": {"resourceType": "User", "version": "W/\"1\""},
        schema::ENTERPRISE_USER: {"employeeNumber": "1", "manager": {"value": "m"}}
    });
    check(user, &ops, &schema::USER_TYPE);
    let group = json!({"id": "g-1", "displayName": "G", "members": [{"value": "u-1"}],
                       "meta": {"resourceType": "Group"}});
    check(group.clone(), &ops, &schema::GROUP_TYPE);
    if let Ok((other, _changes)) =
        patch::split_members(ops, &schema::GROUP_TYPE, &mut Quirks::default())
    {
        check(group, &other, &schema::GROUP_TYPE);
    }
});
