//! PATCH tests: RFC 7644 §3.5.2 examples and one test per identity-provider quirk (the README's
//! "Accepted quirks"), named after its source. Group membership shapes are in `member_tests`, properties in `proptests`.

use serde_json::{json, Value};

use super::{
    unnoted::{apply, parse_request},
    *,
};
use crate::scim::{
    error::ScimError,
    schema::{ResourceType, ENTERPRISE_USER, GROUP_TYPE, USER_TYPE},
};

pub(super) fn user() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": "u-1",
        "externalId": "ext-1",
        "userName": "bjensen@example.com",
        "active": true,
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true}],
        "meta": {"resourceType": "User", "lastModified": "2011-05-13T04:42:34Z", "version": "W/\"1\""}
    })
}

pub(super) fn group() -> Value {
    json!({"id": "g-1", "displayName": "Admins", "members": [{"value": "u1"}, {"value": "u2"}, {"value": "u3"}]})
}

/// Parses `body` and applies it to `doc` as a resource of type `rt`.
pub(super) fn patch(mut doc: Value, rt: &ResourceType, body: Value) -> Result<Value, ScimError> {
    let ops = parse_request(&body)?;
    apply(&mut doc, &ops, rt)?;
    Ok(doc)
}

pub(super) fn ops(list: Value) -> Value {
    json!({"schemas": [PATCH_SCHEMA], "Operations": list})
}

#[test]
fn entra_capitalised_ops() {
    let doc = patch(
        user(),
        &USER_TYPE,
        json!({"Operations": [
            {"op": "Add", "path": "nickName", "value": "Babs"},
            {"op": "Replace", "path": "title", "value": "Boss"},
            {"op": "Remove", "path": "title"}
        ]}),
    )
    .unwrap();
    assert_eq!(doc["nickName"], "Babs");
    assert!(doc.get("title").is_none());
    assert!(parse_request(&json!({"Operations": [{"op": "Delete", "path": "x"}]})).is_err());
}

#[test]
fn entra_string_booleans_on_deactivation() {
    let doc = patch(
        user(),
        &USER_TYPE,
        ops(json!([{"op": "Replace", "path": "active", "value": "False"}])),
    )
    .unwrap();
    assert_eq!(doc["active"], json!(false));
    let r = patch(
        user(),
        &USER_TYPE,
        ops(json!([{"op": "replace", "path": "active", "value": "nope"}])),
    );
    assert!(matches!(r, Err(ScimError::InvalidValue(_))));
}

#[test]
fn entra_value_path_replace_creates_and_updates_elements() {
    let body = ops(json!([
        {"op": "Replace", "path": "emails[type eq \"home\"].value", "value": "x@y"},
        {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "w@y"},
        {"op": "Replace", "path": format!("{ENTERPRISE_USER}:employeeNumber"), "value": "Eqpj"}
    ]));
    let doc = patch(user(), &USER_TYPE, body).unwrap();
    assert_eq!(
        doc["emails"],
        json!([
            {"value": "w@y", "type": "work", "primary": true},
            {"type": "home", "value": "x@y"}
        ])
    );
    assert_eq!(doc[ENTERPRISE_USER]["employeeNumber"], "Eqpj");
    assert!(doc["schemas"]
        .as_array()
        .unwrap()
        .contains(&json!(ENTERPRISE_USER)));
}

#[test]
fn entra_no_path_replace_with_dotted_and_urn_keys() {
    let body = ops(json!([{"op": "replace", "value": {
        "displayName": "Bjfe", "name.givenName": "Kkom", "name.familyName": "Unua",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "Aklq"
    }}]));
    let doc = patch(user(), &USER_TYPE, body).unwrap();
    assert_eq!(doc["displayName"], "Bjfe");
    assert_eq!(
        doc["name"],
        json!({"givenName": "Kkom", "familyName": "Unua"})
    );
    assert_eq!(doc[ENTERPRISE_USER]["employeeNumber"], "Aklq");
}

#[test]
fn no_path_bare_extension_urn_key_holds_extension_attributes() {
    let body = ops(
        json!([{"op": "add", "value": {ENTERPRISE_USER: {"department": "R&D", "manager": "m-1"}}}]),
    );
    let doc = patch(user(), &USER_TYPE, body).unwrap();
    assert_eq!(
        doc[ENTERPRISE_USER],
        json!({"department": "R&D", "manager": {"value": "m-1"}})
    );
    let body = ops(json!([{"op": "remove", "path": ENTERPRISE_USER}]));
    assert!(patch(doc, &USER_TYPE, body)
        .unwrap()
        .get(ENTERPRISE_USER)
        .is_none());
}

#[test]
fn entra_manager_add_as_array() {
    let path = format!("{ENTERPRISE_USER}:manager");
    let body =
        ops(json!([{"op": "Add", "path": path, "value": [{"$ref": "../Users/m", "value": "m"}]}]));
    let doc = patch(user(), &USER_TYPE, body).unwrap();
    assert_eq!(
        doc[ENTERPRISE_USER]["manager"],
        json!({"$ref": "../Users/m", "value": "m"})
    );
}

#[test]
fn entra_validator_empty_operations_is_a_no_op() {
    assert_eq!(
        patch(user(), &USER_TYPE, json!({"Operations": []})).unwrap(),
        user()
    );
    assert_eq!(
        patch(user(), &USER_TYPE, json!({"operations": []})).unwrap(),
        user()
    );
    assert!(matches!(
        parse_request(&json!({"Operations": {}})),
        Err(ScimError::InvalidSyntax(_))
    ));
    assert!(matches!(
        parse_request(&json!({})),
        Err(ScimError::InvalidSyntax(_))
    ));
    assert!(matches!(
        parse_request(&json!([])),
        Err(ScimError::InvalidSyntax(_))
    ));
}

#[test]
fn okta_no_path_deactivation() {
    let body = ops(json!([{"op": "replace", "value": {"active": false}}]));
    assert_eq!(
        patch(user(), &USER_TYPE, body).unwrap()["active"],
        json!(false)
    );
}

#[test]
fn okta_group_rename_ignores_read_only_id() {
    let body = ops(
        json!([{"op": "replace", "value": {"id": "other", "displayName": "Renamed", "meta": {}}}]),
    );
    let doc = patch(group(), &GROUP_TYPE, body).unwrap();
    assert_eq!(
        (doc["id"].as_str(), doc["displayName"].as_str()),
        (Some("g-1"), Some("Renamed"))
    );
}

#[test]
fn okta_create_password_is_accepted_and_never_stored() {
    let body = ops(
        json!([{"op": "replace", "value": {"password": "1mz050nq", "locale": "en-US"}},
                          {"op": "add", "path": "password", "value": "x"}]),
    );
    let doc = patch(user(), &USER_TYPE, body).unwrap();
    assert!(doc.get("password").is_none());
    assert_eq!(doc["locale"], "en-US");
}

#[test]
fn onelogin_single_email_object_is_appended() {
    let body = ops(
        json!([{"op": "add", "path": "emails", "value": {"value": "b@x.org", "type": "home"}},
                          {"op": "add", "path": "emails", "value": [{"value": "bjensen@example.com", "type": "work", "primary": true}]}]),
    );
    let doc = patch(user(), &USER_TYPE, body).unwrap();
    assert_eq!(
        doc["emails"].as_array().unwrap().len(),
        2,
        "exact duplicates are skipped"
    );
}

#[test]
fn quirks_addresses_and_phone_value_paths_create_elements() {
    let body = ops(json!([
        {"op": "add", "path": "addresses[type eq \"work\"].streetAddress", "value": "1 Main St"},
        {"op": "replace", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+1 555"},
        {"op": "add", "path": "addresses[type eq \"work\"].locality", "value": "Springfield"}
    ]));
    let doc = patch(user(), &USER_TYPE, body).unwrap();
    assert_eq!(
        doc["addresses"],
        json!([{"type": "work", "streetAddress": "1 Main St", "locality": "Springfield"}])
    );
    assert_eq!(
        doc["phoneNumbers"],
        json!([{"type": "mobile", "value": "+1 555"}])
    );
}

#[test]
fn rfc_complex_replace_merges_and_remove_variants() {
    let body = ops(json!([
        {"op": "replace", "path": "name", "value": {"givenName": "Babs"}},
        {"op": "remove", "path": "emails[type eq \"work\"].primary"},
        {"op": "remove", "path": "phoneNumbers[type eq \"fax\"]"},
        {"op": "remove", "path": "nickName"}
    ]));
    let doc = patch(user(), &USER_TYPE, body).unwrap();
    assert_eq!(
        doc["name"],
        json!({"givenName": "Babs", "familyName": "Jensen"})
    );
    assert_eq!(
        doc["emails"],
        json!([{"value": "bjensen@example.com", "type": "work"}])
    );
    let doc = patch(
        doc,
        &USER_TYPE,
        ops(json!([{"op": "remove", "path": "emails[type eq \"work\"]"}])),
    )
    .unwrap();
    assert!(doc.get("emails").is_none());
}

#[test]
fn errors_by_kind() {
    let cases = [
        (
            json!({"op": "replace", "path": "id", "value": "x"}),
            "mutability",
        ),
        (
            json!({"op": "remove", "path": "meta.lastModified"}),
            "mutability",
        ),
        (
            json!({"op": "add", "path": "groups", "value": [{"value": "g"}]}),
            "mutability",
        ),
        (json!({"op": "remove", "path": "userName"}), "mutability"),
        (
            json!({"op": "replace", "path": "userName", "value": null}),
            "mutability",
        ),
        (
            json!({"op": "add", "path": "noSuchThing", "value": "x"}),
            "invalidPath",
        ),
        (
            json!({"op": "add", "value": {"noSuchThing": 1}}),
            "invalidPath",
        ),
        (
            json!({"op": "add", "path": "name[givenName eq \"x\"]", "value": {}}),
            "invalidPath",
        ),
        (
            json!({"op": "add", "path": "emails[type eq", "value": "x"}),
            "invalidPath",
        ),
        (json!({"op": "remove"}), "noTarget"),
        (json!({"op": "add", "path": "title"}), "invalidValue"),
        (
            json!({"op": "replace", "value": "not an object"}),
            "invalidValue",
        ),
        (
            json!({"op": "add", "path": "emails[primary gt true]", "value": "x"}),
            "invalidFilter",
        ),
    ];
    for (op, want) in cases {
        let err = patch(user(), &USER_TYPE, ops(json!([op.clone()]))).unwrap_err();
        assert_eq!(err.status_and_type().1, Some(want), "{op}: {err:?}");
    }
}

#[test]
fn a_failing_operation_leaves_the_document_unchanged() {
    let mut doc = user();
    let ops = parse_request(&ops(json!([
        {"op": "replace", "path": "title", "value": "changed"},
        {"op": "replace", "path": "id", "value": "x"}
    ])))
    .unwrap();
    assert!(apply(&mut doc, &ops, &USER_TYPE).is_err());
    assert_eq!(doc, user());
}

#[test]
fn entra_validator_emails_display_value_path() {
    let body =
        ops(json!([{"op": "add", "path": "emails[type eq \"work\"].display", "value": "Work"}]));
    let doc = patch(user(), &USER_TYPE, body).unwrap();
    assert_eq!(doc["emails"][0]["display"], "Work");
    assert_eq!(doc["emails"].as_array().unwrap().len(), 1);
}

#[test]
fn error_details_name_the_operation() {
    let body = ops(
        json!([{"op": "add", "path": "title", "value": "x"}, {"op": "replace", "path": "id", "value": "y"}]),
    );
    let err = patch(user(), &USER_TYPE, body).unwrap_err();
    assert_eq!(
        err,
        ScimError::Mutability("Operations[1]: 'id' is readOnly".into())
    );
}

#[test]
fn rfc7644_3_5_2_an_extension_patched_whole_may_carry_its_schemas() {
    for op in ["add", "replace"] {
        let doc = patch(
            user(),
            &USER_TYPE,
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                   "Operations": [{"op": op, "path": ENTERPRISE_USER,
                                   "value": {"schemas": [ENTERPRISE_USER],
                                             "employeeNumber": "42", "department": "R&D"}}]}),
        )
        .unwrap_or_else(|e| panic!("{op}: {e:?}"));
        assert_eq!(doc[ENTERPRISE_USER]["employeeNumber"], "42", "{op}");
        assert_eq!(doc[ENTERPRISE_USER]["department"], "R&D", "{op}");
        assert!(doc[ENTERPRISE_USER].get("schemas").is_none(), "{op}: {doc}");
    }
}

#[test]
fn parsing_an_owned_body_gives_the_same_operations_without_copying_values() {
    let bodies = [
        json!({"Operations": [{"op": "add", "path": "emails", "value": [{"value": "a@x"}]},
                              {"op": "Replace", "path": "title", "value": null},
                              {"op": "remove", "path": "nickName"},
                              {"op": "replace", "VALUE": {"active": false}}]}),
        json!({"operations": [{"op": "add", "path": "title"}]}),
        json!({"Operations": [{"op": "add", "path": "title", "value": null}]}),
        json!({"Operations": "nope"}),
        json!([1]),
    ];
    for body in bodies {
        let borrowed = parse_request(&body);
        let owned = parse_request_owned(body.clone(), &mut crate::scim::quirk::Quirks::default());
        assert_eq!(format!("{borrowed:?}"), format!("{owned:?}"), "{body}");
    }
}

/// The quirks one PATCH body notes, applied to `doc` as a resource of type `rt`.
fn noted(doc: Value, rt: &ResourceType, body: Value) -> Vec<&'static str> {
    let mut q = crate::scim::quirk::Quirks::default();
    let ops = super::parse_request(&body, &mut q).unwrap();
    let (ops, _) = super::split_members(ops, rt, &mut q).unwrap();
    super::apply_owned(doc, ops, rt, &mut q).unwrap();
    q.names()
}

#[test]
fn each_quirk_applied_is_noted_and_an_rfc_patch_notes_none() {
    let ent = ENTERPRISE_USER;
    let cases = [
        (
            json!([{"op": "replace", "path": "displayName", "value": "B"},
                   {"op": "add", "path": "emails[type eq \"work\"].value", "value": "b@x"},
                   {"op": "remove", "path": "emails[type eq \"home\"]"},
                   {"op": "replace", "value": {"nickName": "Babs", "active": true}},
                   {"op": "add", "path": format!("{ent}:department"), "value": "R&D"},
                   {"op": "replace", "value": {ent: {"costCenter": "7"}}}]),
            vec![],
        ),
        (
            json!([{"op": "Replace", "path": "active", "value": "False"}]),
            vec!["entra.capitalizedOp", "entra.stringBoolean"],
        ),
        (
            json!([{"op": "replace", "value": {"name.givenName": "B", format!("{ent}:department"): "R"}}]),
            vec!["entra.noPathDottedKeys", "entra.noPathUrnKeys"],
        ),
        (
            json!([{"op": "add", "path": "manager", "value": [{"value": "m1"}]}]),
            vec!["entra.extensionWithoutUrn", "entra.arrayForSingle"],
        ),
        (
            json!([{"op": "replace", "value": {"department": "R"}}]),
            vec!["entra.extensionWithoutUrn"],
        ),
        (
            json!([{"op": "replace", "path": format!("{ent}:manager"), "value": "m1"}]),
            vec!["entra.scalarForComplex"],
        ),
        (
            json!([{"op": "add", "path": "phoneNumbers[type eq \"work\"].value", "value": "555"}]),
            vec!["entra.valuePathCreate"],
        ),
        (
            json!([{"op": "remove", "path": "emails", "value": [{"value": "bjensen@example.com"}]}]),
            vec!["entra.removeByValueList"],
        ),
        (
            json!([{"op": "replace", "value": {"active": false}}]),
            vec!["okta.noPathDeactivate"],
        ),
        (
            json!([{"op": "replace", "value": {"password": "secret"}}]),
            vec!["okta.passwordIgnored"],
        ),
        (
            json!([{"op": "add", "path": "addresses", "value": {"locality": "Oslo"}}]),
            vec!["onelogin.singleForArray"],
        ),
    ];
    for (list, want) in cases {
        assert_eq!(noted(user(), &USER_TYPE, ops(list.clone())), want, "{list}");
    }
    let legacy = ops(json!([{"op": "Remove", "path": "members", "value": [{"value": "u1"}]}]));
    assert_eq!(
        noted(group(), &GROUP_TYPE, legacy),
        ["entra.capitalizedOp", "entra.removeByValueList"]
    );
    let okta = ops(json!([{"op": "remove", "path": "members[value eq \"u1\"]"}]));
    assert!(noted(group(), &GROUP_TYPE, okta).is_empty());
}
