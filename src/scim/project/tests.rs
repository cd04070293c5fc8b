use serde_json::{json, Value};

use super::*;
use crate::scim::schema::{ENTERPRISE_USER, GROUP_TYPE, USER, USER_TYPE};

fn user() -> Value {
    json!({
        "schemas": [USER, ENTERPRISE_USER],
        "id": "u1",
        "externalId": "okta-1",
        "userName": "bjensen",
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "emails": [
            {"value": "b@work", "type": "work", "primary": true},
            {"value": "b@home", "type": "home"}
        ],
        "groups": [{"value": "g1", "display": "Staff"}],
        "password": "leaked-if-stored",
        ENTERPRISE_USER: {"employeeNumber": "42", "manager": {"value": "m1"}},
        "meta": {"resourceType": "User", "version": "W/\"1\""}
    })
}

fn project(attributes: Option<&str>, excluded: Option<&str>) -> Value {
    let mut doc = user();
    Projection::parse(attributes, excluded, &USER_TYPE)
        .unwrap()
        .apply(&mut doc, &USER_TYPE);
    doc
}

fn keys(doc: &Value) -> Vec<&str> {
    doc.as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect()
}

#[test]
fn the_default_set_drops_only_never_returned_attributes() {
    let doc = project(None, None);
    let mut expected = user();
    expected.as_object_mut().unwrap().remove("password");
    assert_eq!(doc, expected);
}

#[test]
fn attributes_keeps_the_named_ones_plus_always_returned() {
    let doc = project(Some("USERNAME,name.givenName,emails.value"), None);
    assert_eq!(
        doc,
        json!({
            "schemas": [USER],
            "id": "u1",
            "userName": "bjensen",
            "name": {"givenName": "Barbara"},
            "emails": [{"value": "b@work"}, {"value": "b@home"}]
        })
    );
}

#[test]
fn extension_attributes_by_urn_path_and_whole_extension() {
    let doc = project(
        Some(&format!("{ENTERPRISE_USER}:manager.value,externalId")),
        None,
    );
    assert_eq!(keys(&doc), ["schemas", "id", "externalId", ENTERPRISE_USER]);
    assert_eq!(doc[ENTERPRISE_USER], json!({"manager": {"value": "m1"}}));
    assert_eq!(doc["schemas"], json!([USER, ENTERPRISE_USER]));

    let doc = project(None, Some(ENTERPRISE_USER));
    assert!(doc.get(ENTERPRISE_USER).is_none());
    assert_eq!(
        doc["schemas"],
        json!([USER]),
        "schemas lists only what is present"
    );
}

#[test]
fn excluded_attributes_remove_but_never_always_returned_ones() {
    let doc = project(None, Some("emails.type,groups,id,meta,password"));
    assert_eq!(doc["id"], "u1");
    assert!(doc.get("groups").is_none() && doc.get("meta").is_none());
    assert_eq!(
        doc["emails"],
        json!([{"value": "b@work", "primary": true}, {"value": "b@home"}])
    );
    assert_eq!(doc["userName"], "bjensen");
}

#[test]
fn entra_group_lookup_excludes_members() {
    let p = Projection::parse(None, Some("members"), &GROUP_TYPE).unwrap();
    let mut doc = json!({"schemas": ["x"], "id": "g1", "displayName": "Staff",
                         "members": [{"value": "u1"}]});
    p.apply(&mut doc, &GROUP_TYPE);
    assert_eq!(
        doc,
        json!({"schemas": ["x"], "id": "g1", "displayName": "Staff"})
    );
    assert!(!p.wants("members"));
    assert!(p.wants("displayName"));
}

#[test]
fn wants_tells_the_engine_what_to_load() {
    let cases: &[(Option<&str>, Option<&str>, &str, bool)] = &[
        (None, None, "groups", true),
        (None, None, "password", false),
        (Some("userName"), None, "groups", false),
        (Some("userName"), None, "id", true),
        (Some("groups.display"), None, "groups", true),
        (None, Some("groups"), "groups", false),
        (None, Some("groups.display"), "groups", true),
        (
            Some("userName"),
            None,
            &format!("{ENTERPRISE_USER}:manager"),
            false,
        ),
        (
            Some(ENTERPRISE_USER),
            None,
            &format!("{ENTERPRISE_USER}:manager"),
            true,
        ),
    ];
    for (attributes, excluded, name, want) in cases {
        let p = Projection::parse(*attributes, *excluded, &USER_TYPE).unwrap();
        assert_eq!(p.wants(name), *want, "{attributes:?} {excluded:?} {name}");
    }
}

#[test]
fn unknown_names_are_ignored_and_filters_are_invalid_paths() {
    let doc = project(Some("nosuch,userName,name.nosuch,urn:x:y:z"), None);
    assert_eq!(keys(&doc), ["schemas", "id", "userName"]);
    for bad in ["emails[type eq \"work\"].value", "a.b.c", "9lives", "name."] {
        let err = Projection::parse(Some(bad), None, &USER_TYPE).unwrap_err();
        assert!(matches!(err, ScimError::InvalidPath(_)), "{bad}");
    }
}

#[test]
fn lists_trim_items_and_skip_blank_ones() {
    let doc = project(Some(" userName, name.givenName ,,emails, "), None);
    assert_eq!(keys(&doc), ["schemas", "id", "userName", "name", "emails"]);
    let err = Projection::parse(Some("userName,bad name"), None, &USER_TYPE).unwrap_err();
    assert!(matches!(err, ScimError::InvalidPath(_)));
}

#[test]
fn attributes_wins_over_excluded_attributes() {
    let doc = project(Some("userName"), Some("userName"));
    assert_eq!(doc["userName"], "bjensen");
}

#[test]
fn attr_ref_splits_the_urn_at_the_last_colon() {
    let r = AttrRef::parse(&format!("{ENTERPRISE_USER}:manager.value"), &USER_TYPE)
        .unwrap()
        .unwrap();
    assert_eq!(r.ext.map(|s| s.id), Some(ENTERPRISE_USER));
    assert_eq!(
        (r.attr.unwrap().name, r.sub.unwrap().name),
        ("manager", "value")
    );
    let r = AttrRef::parse(&format!("{USER}:name.GIVENNAME"), &USER_TYPE)
        .unwrap()
        .unwrap();
    assert!(r.ext.is_none());
    assert_eq!(r.sub.unwrap().name, "givenName");
}
