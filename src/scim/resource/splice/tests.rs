//! The splice writes the tree's bytes, or nothing.

use proptest::prelude::*;
use serde_json::{json, Value};

use super::*;
use crate::scim::{
    project::Projection,
    quirk::Quirks,
    records::Stored,
    resource::{normalize_input, with_meta, Meta},
    schema::{ENTERPRISE_USER, GROUP_TYPE, USER_TYPE},
};

const BASE: &str = "https://scim.example.com/scim/v2";
const CREATED: &str = "2026-12-07T02:36:31.123456789Z";
const MODIFIED: &str = "2026-12-07T03:01:02Z";

fn envelope(doc: &Value) -> Vec<u8> {
    serde_json::to_vec(&Stored {
        created: CREATED.into(),
        last_modified: MODIFIED.into(),
        doc: doc.clone(),
    })
    .unwrap()
}

/// What the engine's tree renderer serialises for the same input.
fn tree(
    rt: &'static ResourceType,
    doc: &Value,
    id: &str,
    computed: &[(&str, &[Value])],
) -> Vec<u8> {
    let mut doc = doc.clone();
    if let Value::Object(map) = &mut doc {
        for (name, list) in computed {
            map.insert((*name).to_owned(), Value::Array(list.to_vec()));
        }
    }
    let meta = Meta::new(rt, BASE, id, parse_time(CREATED), parse_time(MODIFIED), 7);
    let mut full = with_meta(doc, id, &meta);
    Projection::default_for(rt).apply(&mut full, rt);
    serde_json::to_vec(&full).unwrap()
}

fn spliced(
    rt: &'static ResourceType,
    doc: &Value,
    id: &str,
    computed: &[(&str, &[Value])],
) -> Result<Vec<u8>, Unspliced> {
    let mut out = b"prefix".to_vec();
    let result = write(&mut out, rt, &envelope(doc), id, BASE, 7, computed);
    match result {
        Ok(()) => {
            assert!(out.starts_with(b"prefix"));
            Ok(out[6..].to_vec())
        }
        Err(e) => {
            assert_eq!(out, b"prefix", "nothing is left behind");
            Err(e)
        }
    }
}

fn stored(rt: &'static ResourceType, body: Value) -> Value {
    normalize_input(body, rt, &mut Quirks::default()).unwrap()
}

#[test]
fn an_okta_user_with_the_enterprise_extension_and_groups_is_the_trees_bytes() {
    let doc = stored(
        &USER_TYPE,
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE_USER],
            "userName": "Zoë.O'Brien@example.com",
            "name": {"givenName": "Zoë", "familyName": "O\"Brien\\", "formatted": "Zoë O'Brien"},
            "emails": [{"primary": true, "value": "zoe@example.com", "type": "work"}],
            "displayName": "Zoë \u{1F600} \n tab\t",
            "active": true,
            "password": "1mz050nq",
            "externalId": "00u1",
            ENTERPRISE_USER: {"employeeNumber": "42", "manager": {"value": "m-1"}, "department": "R&D"},
        }),
    );
    let groups = [
        json!({"value": "g-1", "$ref": format!("{BASE}/Groups/g-1"), "display": "Ops", "type": "direct"}),
    ];
    let computed: &[(&str, &[Value])] = &[("groups", &groups)];
    let bytes = spliced(&USER_TYPE, &doc, "u-1", computed).unwrap();
    assert_eq!(
        String::from_utf8(bytes).unwrap(),
        String::from_utf8(tree(&USER_TYPE, &doc, "u-1", computed)).unwrap()
    );
    // And without computed attributes.
    assert_eq!(
        spliced(&USER_TYPE, &doc, "u-1", &[]).unwrap(),
        tree(&USER_TYPE, &doc, "u-1", &[])
    );
}

#[test]
fn a_group_with_members_is_the_trees_bytes() {
    let doc = stored(
        &GROUP_TYPE,
        json!({"displayName": "Engineering", "externalId": "e-1"}),
    );
    let members = [
        json!({"value": "u-1", "$ref": format!("{BASE}/Users/u-1"), "type": "User"}),
        json!({"value": "u-2", "$ref": format!("{BASE}/Users/u-2"), "type": "User"}),
    ];
    let computed: &[(&str, &[Value])] = &[("members", &members)];
    assert_eq!(
        spliced(&GROUP_TYPE, &doc, "g-1", computed).unwrap(),
        tree(&GROUP_TYPE, &doc, "g-1", computed)
    );
}

#[test]
fn what_only_the_tree_can_render_is_left_to_it() {
    // An empty value the projection removes, a stored member named like a computed one, a
    // document that is not an object.
    for (doc, computed) in [
        (json!({"userName": "a", "emails": []}), false),
        (json!({"userName": "a", "emails": [{}]}), false),
        (json!({"userName": "a", "groups": [{"value": "g"}]}), true),
        (json!(["not", "an", "object"]), false),
    ] {
        let groups = [json!({"value": "g-2"})];
        let list: &[(&str, &[Value])] = if computed {
            &[("groups", &groups)]
        } else {
            &[]
        };
        assert!(
            matches!(
                spliced(&USER_TYPE, &doc, "u", list),
                Err(Unspliced::NeedsTree)
            ),
            "{doc}"
        );
    }
    // Not a stored envelope at all.
    let mut out = Vec::new();
    assert!(matches!(
        write(&mut out, &USER_TYPE, b"{\"doc\":", "u", BASE, 1, &[]),
        Err(Unspliced::Corrupt(_))
    ));
    assert!(out.is_empty());
}

#[test]
fn a_password_stored_against_the_rules_is_still_not_returned() {
    // Normalisation never stores one; were one there, the splice drops it as the tree does.
    let doc = json!({"schemas": [USER_TYPE.schema.id], "userName": "a", "password": "secret", "id": "forged", "meta": {"x": 1}});
    let bytes = spliced(&USER_TYPE, &doc, "u", &[]).unwrap();
    assert_eq!(bytes, tree(&USER_TYPE, &doc, "u", &[]));
    assert!(!String::from_utf8(bytes).unwrap().contains("secret"));
}

#[test]
fn a_location_that_needs_escapes_is_escaped_as_the_tree_does() {
    // The base URL comes from the request's Host when OP_PUBLIC_URL is unset.
    let doc = json!({"schemas": [USER_TYPE.schema.id], "userName": "a"});
    for (base, id) in [
        ("http://h\"x:80/scim/v2/", "u-1"),
        ("http://h/scim/v2", "u\\1\u{1}"),
    ] {
        let mut out = Vec::new();
        write(&mut out, &USER_TYPE, &envelope(&doc), id, base, 3, &[]).unwrap();
        let meta = Meta::new(
            &USER_TYPE,
            base,
            id,
            parse_time(CREATED),
            parse_time(MODIFIED),
            3,
        );
        let mut full = with_meta(doc.clone(), id, &meta);
        Projection::default_for(&USER_TYPE).apply(&mut full, &USER_TYPE);
        assert_eq!(out, serde_json::to_vec(&full).unwrap());
    }
}

proptest! {
    /// Any document, stored by the rules or not: the splice writes the tree's very bytes, or
    /// leaves it to the tree.
    #[test]
    fn the_splice_writes_the_trees_bytes_or_nothing(body in super::super::props::arb_json(), normalise in any::<bool>()) {
        for rt in [&USER_TYPE, &GROUP_TYPE] {
            let doc = if normalise {
                match normalize_input(body.clone(), rt, &mut Quirks::default()) {
                    Ok(doc) => doc,
                    Err(_) => continue,
                }
            } else {
                body.clone()
            };
            let refs = [json!({"value": "x", "type": "direct"})];
            for computed in [&[][..], &[("groups", &refs[..])][..]] {
                match spliced(rt, &doc, "id-1", computed) {
                    Ok(bytes) => prop_assert_eq!(bytes, tree(rt, &doc, "id-1", computed)),
                    Err(Unspliced::NeedsTree) => {}
                    Err(Unspliced::Corrupt(e)) => prop_assert!(false, "{e}"),
                }
            }
        }
    }
}
