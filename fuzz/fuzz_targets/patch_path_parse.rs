//! PATCH path, attribute path and `attributes`/`excludedAttributes` parsing must never panic; a
//! parsed PATCH path must print to a form that re-parses to the same value; and a projection
//! that parses (the parser the request path uses, `Projection::parse`) applies to a full User
//! and Group without panicking and keeps `id` and `schemas`, which are always returned.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scim_bridge::scim::{path, project::Projection, schema};
use serde_json::json;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(p) = path::parse_patch_path(text) {
        let printed = p.to_string();
        assert_eq!(
            path::parse_patch_path(&printed).as_ref(),
            Ok(&p),
            "{printed}"
        );
        let _ = p.resolve(&schema::USER_TYPE);
        let _ = p.resolve(&schema::GROUP_TYPE);
    }
    let _ = path::parse_attr_path(text);
    let user = json!({
        "schemas": [schema::USER, schema::ENTERPRISE_USER],
        "id": "u-1", "userName": "bjensen", "active": true,
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "emails": [{"value": "b@example.com", "type": "work", "primary": true}],
        "meta": {"resourceType": "User", "version": "W/\"1\""},
        schema::ENTERPRISE_USER: {"employeeNumber": "1", "manager": {"value": "m"}}
    });
    let group = json!({"schemas": [schema::GROUP], "id": "g-1", "displayName": "G",
                       "members": [{"value": "u-1", "type": "User"}],
                       "meta": {"resourceType": "Group"}});
    for (rt, doc) in [(&schema::USER_TYPE, &user), (&schema::GROUP_TYPE, &group)] {
        for (attributes, excluded) in [(Some(text), None), (None, Some(text))] {
            let Ok(projection) = Projection::parse(attributes, excluded, rt) else {
                continue;
            };
            let _ = projection.wants(text);
            let mut projected = doc.clone();
            projection.apply(&mut projected, rt);
            assert_eq!(projected["id"], doc["id"], "{text}");
            assert!(projected.get("schemas").is_some(), "{text}");
        }
    }
});
