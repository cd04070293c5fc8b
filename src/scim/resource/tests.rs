use serde_json::{json, Value};
use time::macros::datetime;

use super::*;
use crate::scim::{
    error::ScimError,
    schema::{Attribute, Mutability, Schema, ENTERPRISE_USER, GROUP, GROUP_TYPE, USER, USER_TYPE},
};

/// `normalize_input` with the quirks it notes thrown away.
fn normalize_input(body: Value, rt: &ResourceType) -> Result<Value, ScimError> {
    super::normalize_input(body, rt, &mut crate::scim::quirk::Quirks::default())
}

const ADSCIM: &str = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group";

#[test]
fn okta_create_drops_password_and_read_only_groups() {
    let body = json!({
        "schemas": [USER],
        "userName": "test.user@okta.local",
        "name": {"givenName": "Test", "familyName": "User"},
        "emails": [{"primary": true, "value": "test.user@okta.local", "type": "work"}],
        "displayName": "Test User",
        "locale": "en-US",
        "externalId": "00u1abcd",
        "groups": [],
        "password": "1mz050nq",
        "active": true,
        "id": "client-chosen",
        "meta": {"resourceType": "User"}
    });
    let doc = normalize_input(body, &USER_TYPE).unwrap();
    assert_eq!(
        doc,
        json!({
            "schemas": [USER],
            "externalId": "00u1abcd",
            "userName": "test.user@okta.local",
            "name": {"givenName": "Test", "familyName": "User"},
            "displayName": "Test User",
            "locale": "en-US",
            "active": true,
            "emails": [{"primary": true, "value": "test.user@okta.local", "type": "work"}]
        })
    );
}

#[test]
fn onelogin_single_email_object_and_canonical_names() {
    let body = json!({"USERNAME": "a@b.c", "Emails": {"Value": "a@b.c", "TYPE": "work"},
                      "displayname": "  Ann  ", "nosuch": 1});
    let doc = normalize_input(body, &USER_TYPE).unwrap();
    assert_eq!(
        doc,
        json!({"schemas": [USER], "userName": "a@b.c", "displayName": "  Ann  ",
               "emails": [{"value": "a@b.c", "type": "work"}]}),
        "values kept as sent; no invented active"
    );
}

#[test]
fn entra_group_create_with_empty_members_and_adscim_urn() {
    let body = json!({"schemas": [GROUP, ADSCIM], "displayName": "Staff", "members": [],
                      "externalId": "e1"});
    let doc = normalize_input(body, &GROUP_TYPE).unwrap();
    assert_eq!(
        doc,
        json!({"schemas": [GROUP], "externalId": "e1", "displayName": "Staff"})
    );

    let body = json!({"displayName": "Staff",
                      "members": [{"$ref": null, "value": "u1"}, {"value": "u2", "display": "B"}]});
    let doc = normalize_input(body, &GROUP_TYPE).unwrap();
    assert_eq!(
        doc["members"],
        json!([{"value": "u1"}, {"value": "u2", "display": "B"}])
    );

    for members in [
        json!([{"display": "no id"}]),
        json!([{"value": ""}]),
        json!([{"value": null, "display": "B"}]),
        json!([{"value": "u1"}, "u2", {"type": "User"}]),
    ] {
        let err = normalize_input(json!({"displayName": "S", "members": members}), &GROUP_TYPE);
        assert!(matches!(err, Err(ScimError::InvalidValue(_))), "{err:?}");
    }
}

#[test]
fn extension_data_under_the_urn_key_or_urn_qualified_keys() {
    let body = json!({
        "userName": "u",
        ENTERPRISE_USER: {"department": "R&D", "manager": [{"$ref": null, "value": "m1"}]},
        format!("{ENTERPRISE_USER}:employeeNumber"): 1234,
        format!("{USER}:title"): "Boss"
    });
    let doc = normalize_input(body, &USER_TYPE).unwrap();
    assert_eq!(
        doc,
        json!({
            "schemas": [USER, ENTERPRISE_USER],
            "userName": "u",
            "title": "Boss",
            ENTERPRISE_USER: {"employeeNumber": "1234", "department": "R&D",
                              "manager": {"value": "m1"}}
        })
    );
    let doc = normalize_input(
        json!({"userName": "u", ENTERPRISE_USER: {"manager": null}}),
        &USER_TYPE,
    );
    assert_eq!(doc.unwrap(), json!({"schemas": [USER], "userName": "u"}));
}

#[test]
fn malformed_and_incomplete_bodies_are_rejected() {
    type IsExpected = fn(&ScimError) -> bool;
    let cases: &[(Value, IsExpected)] = &[
        (json!([]), |e| matches!(e, ScimError::InvalidSyntax(_))),
        (json!("x"), |e| matches!(e, ScimError::InvalidSyntax(_))),
        (json!({"userName": "u", ENTERPRISE_USER: "x"}), |e| {
            matches!(e, ScimError::InvalidSyntax(_))
        }),
        (json!({"name": {"givenName": "A"}}), |e| {
            matches!(e, ScimError::InvalidValue(_))
        }),
        (json!({"userName": "  "}), |e| {
            matches!(e, ScimError::InvalidValue(_))
        }),
        (json!({"userName": null}), |e| {
            matches!(e, ScimError::InvalidValue(_))
        }),
        (json!({"userName": "u", "active": "maybe"}), |e| {
            matches!(e, ScimError::InvalidValue(_))
        }),
    ];
    for (body, expected) in cases {
        let err = normalize_input(body.clone(), &USER_TYPE).unwrap_err();
        assert!(expected(&err), "{body}: {err:?}");
    }
    let err = normalize_input(json!({"members": []}), &GROUP_TYPE).unwrap_err();
    assert!(matches!(err, ScimError::InvalidValue(_)));
}

/// A resource type with an immutable attribute and an immutable sub-attribute: the RFC
/// schemas the bridge serves have neither at a level PUT checks.
fn immutable_type() -> &'static ResourceType {
    let title = user_attr("title");
    let name = user_attr("name");
    let subs: &'static [Attribute] = Box::leak(Box::new([
        Attribute {
            mutability: Mutability::Immutable,
            ..*name.sub("givenName").unwrap()
        },
        *name.sub("familyName").unwrap(),
    ]));
    let attrs: &'static [Attribute] = Box::leak(Box::new([
        *user_attr("userName"),
        Attribute {
            name: "badge",
            mutability: Mutability::Immutable,
            ..*title
        },
        Attribute {
            sub_attributes: subs,
            ..*name
        },
    ]));
    let schema: &'static Schema = Box::leak(Box::new(Schema {
        attributes: attrs,
        ..user_schema()
    }));
    Box::leak(Box::new(ResourceType {
        schema,
        extensions: &[],
        ..user_type()
    }))
}

fn user_attr(name: &str) -> &'static Attribute {
    USER_TYPE.schema.attribute(name).unwrap()
}

fn user_schema() -> Schema {
    let s = USER_TYPE.schema;
    Schema {
        id: s.id,
        name: s.name,
        description: s.description,
        attributes: s.attributes,
    }
}

fn user_type() -> ResourceType {
    let t = &USER_TYPE;
    ResourceType {
        kind: t.kind,
        name: t.name,
        endpoint: t.endpoint,
        description: t.description,
        schema: t.schema,
        extensions: t.extensions,
    }
}

#[test]
fn put_may_not_change_immutable_values() {
    let rt = immutable_type();
    let old =
        json!({"userName": "u", "badge": "B-1", "name": {"givenName": "Ann", "familyName": "X"}});
    let ok = [
        json!({"userName": "v", "badge": "b-1", "name": {"givenName": "ANN", "familyName": "Y"}}),
        json!({"userName": "v"}),
    ];
    for new in ok {
        assert_eq!(check_immutable(&old, &new, rt), Ok(()), "{new}");
    }
    let bad = [
        json!({"badge": "B-2"}),
        json!({"name": {"givenName": "Bob"}}),
    ];
    for new in bad {
        let err = check_immutable(&old, &new, rt).unwrap_err();
        assert!(matches!(err, ScimError::Mutability(_)), "{new}");
    }
    let unset = json!({"userName": "u"});
    assert_eq!(
        check_immutable(&unset, &json!({"badge": "new"}), rt),
        Ok(())
    );
    // Group members are replaced wholesale by PUT although their sub-attributes are immutable.
    let old = json!({"members": [{"value": "u1"}]});
    assert_eq!(
        check_immutable(&old, &json!({"members": [{"value": "u2"}]}), &GROUP_TYPE),
        Ok(())
    );
}

#[test]
fn the_full_representation_orders_schemas_id_attributes_meta() {
    let meta = Meta::new(
        &USER_TYPE,
        "https://scim.example.com/scim/v2/",
        "u1",
        datetime!(2024-05-01 10:00:00 UTC),
        datetime!(2024-05-02 11:30:00 +02:00),
        7,
    );
    let stored = json!({"userName": "u", "schemas": [USER], "id": "stale", "meta": {"x": 1}});
    let doc = with_meta(stored, "u1", &meta);
    let keys: Vec<&str> = doc
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["schemas", "id", "userName", "meta"]);
    assert_eq!(doc["id"], "u1");
    assert_eq!(
        doc["meta"],
        json!({
            "resourceType": "User",
            "created": "2024-05-01T10:00:00Z",
            "lastModified": "2024-05-02T11:30:00+02:00",
            "location": "https://scim.example.com/scim/v2/Users/u1",
            "version": "W/\"7\""
        })
    );
    assert_eq!(location("http://h", &GROUP_TYPE, "g"), "http://h/Groups/g");

    // The stored shape (schemas first) and a document without schemas keep every other
    // attribute in its place.
    let keys_of =
        |doc: Value| -> Vec<String> { doc.as_object().unwrap().keys().cloned().collect() };
    let stored =
        json!({"schemas": [USER], "userName": "u", "name": {}, "active": true, "title": "t"});
    assert_eq!(
        keys_of(with_meta(stored, "u1", &meta)),
        ["schemas", "id", "userName", "name", "active", "title", "meta"]
    );
    let bare = with_meta(json!({"userName": "u", "active": true}), "u1", &meta);
    assert_eq!(bare["schemas"], json!([]));
    assert_eq!(
        keys_of(bare),
        ["schemas", "id", "userName", "active", "meta"]
    );
}

#[test]
fn etags_round_trip_weak_and_strong() {
    assert_eq!(etag(42), "W/\"42\"");
    let cases = [
        ("W/\"42\"", Some(42)),
        ("\"42\"", Some(42)),
        (" W/\"0\" ", Some(0)),
        ("*", None),
        ("42", None),
        ("W/\"+4\"", None),
        ("W/\"\"", None),
        ("W/\"99999999999999999999999\"", None),
        ("\"", None),
    ];
    for (text, want) in cases {
        assert_eq!(parse_etag(text), want, "{text}");
    }
    assert_eq!(parse_etag(&etag(u64::MAX)), Some(u64::MAX));
}

#[test]
fn rfc7643_2_4_at_most_one_primary_value() {
    let two = serde_json::json!({"userName": "a", "emails": [
        {"value": "a@x", "primary": true}, {"value": "b@x", "primary": "True"}]});
    match normalize_input(two, &USER_TYPE) {
        Err(ScimError::InvalidValue(detail)) => assert!(detail.contains("emails"), "{detail}"),
        other => panic!("two primaries must be invalidValue: {other:?}"),
    }
    let one = serde_json::json!({"userName": "a", "emails": [
        {"value": "a@x", "primary": true}, {"value": "b@x", "primary": false}, {"value": "c@x"}],
        "phoneNumbers": [{"value": "1", "primary": true}]});
    normalize_input(one, &USER_TYPE).expect("one primary per attribute is fine");
}
