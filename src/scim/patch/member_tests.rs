//! Group membership PATCH shapes that identity providers send (Entra legacy and flagged, Okta
//! delta and full replace), through both `apply` and `split_members`.

use serde_json::json;

use super::{
    tests::{group, ops, patch},
    unnoted::{apply, parse_request, split_members},
    *,
};
use crate::scim::{
    error::ScimError,
    schema::{GROUP_TYPE, USER_TYPE},
};

#[test]
fn entra_legacy_member_remove_with_value_list_removes_only_those() {
    let body =
        json!({"Operations": [{"op": "Remove", "path": "members", "value": [{"value": "u2"}]}]});
    let doc = patch(group(), &GROUP_TYPE, body.clone()).unwrap();
    assert_eq!(doc["members"], json!([{"value": "u1"}, {"value": "u3"}]));
    let (other, changes) = split_members(parse_request(&body).unwrap(), &GROUP_TYPE).unwrap();
    assert!(other.is_empty());
    assert_eq!(changes, vec![MemberChange::Remove(vec!["u2".into()])]);
}

#[test]
fn entra_membership_add_with_null_ref_and_split() {
    let body = json!({"Operations": [
        {"op": "Add", "path": "members", "value": [{"$ref": null, "value": "u9"}]},
        {"op": "remove", "path": "members[value eq \"u1\"]"},
        {"op": "Replace", "value": {"id": "g-1", "displayName": "Ops"}}
    ]});
    let (other, changes) = split_members(parse_request(&body).unwrap(), &GROUP_TYPE).unwrap();
    assert_eq!(
        changes,
        vec![
            MemberChange::Add(vec![json!({"value": "u9"})]),
            MemberChange::Remove(vec!["u1".into()]),
        ]
    );
    assert_eq!(other.len(), 1);
    let mut doc = json!({"id": "g-1", "displayName": "Admins"});
    apply(&mut doc, &other, &GROUP_TYPE).unwrap();
    assert_eq!(doc, json!({"id": "g-1", "displayName": "Ops"}));
}

#[test]
fn okta_membership_delta_and_full_replace() {
    let body = ops(json!([
        {"op": "remove", "path": "members[value eq \"u1\"]"},
        {"op": "add", "path": "members", "value": [{"value": "u4", "display": "test.user@okta.local"}]},
        {"op": "replace", "path": "members", "value": [{"value": "u5"}]},
        {"op": "remove", "path": "members"},
        {"op": "remove", "path": "members[display co \"okta\"]"},
        {"op": "add", "value": {"members": [{"value": "u6"}], "displayName": "G"}}
    ]));
    let (other, changes) = split_members(parse_request(&body).unwrap(), &GROUP_TYPE).unwrap();
    let Some(MemberChange::RemoveMatching(f)) = changes.get(4) else {
        panic!("{changes:?}")
    };
    assert_eq!(f.to_string(), "display co \"okta\"");
    assert_eq!(
        changes[..4],
        [
            MemberChange::Remove(vec!["u1".into()]),
            MemberChange::Add(vec![
                json!({"value": "u4", "display": "test.user@okta.local"})
            ]),
            MemberChange::Replace(vec![json!({"value": "u5"})]),
            MemberChange::Clear,
        ]
    );
    assert_eq!(changes[5], MemberChange::Add(vec![json!({"value": "u6"})]));
    assert_eq!(
        other,
        vec![PatchOp {
            op: OpKind::Add,
            path: None,
            value: Some(json!({"displayName": "G"}))
        }]
    );
    let doc = patch(
        group(),
        &GROUP_TYPE,
        ops(json!([{"op": "remove", "path": "members[value eq \"u1\"]"}])),
    )
    .unwrap();
    assert_eq!(doc["members"], json!([{"value": "u2"}, {"value": "u3"}]));
}

#[test]
fn split_members_rejects_bad_member_shapes_and_leaves_users_alone() {
    for body in [
        json!([{"op": "add", "path": "members", "value": [{"display": "no value"}]}]),
        json!([{"op": "add", "path": "members[value eq \"x\"]", "value": {"value": "y"}}]),
        json!([{"op": "replace", "path": "members.display", "value": "x"}]),
    ] {
        assert!(
            split_members(parse_request(&ops(body.clone())).unwrap(), &GROUP_TYPE).is_err(),
            "{body}"
        );
    }
    let user_ops =
        parse_request(&ops(json!([{"op": "add", "path": "title", "value": "x"}]))).unwrap();
    let (other, changes) = split_members(user_ops.clone(), &USER_TYPE).unwrap();
    assert_eq!((other, changes), (user_ops, vec![]));
}

#[test]
fn immutable_member_values_may_be_set_but_not_changed() {
    let body =
        ops(json!([{"op": "replace", "path": "members[value eq \"u1\"].value", "value": "u9"}]));
    assert!(matches!(
        patch(group(), &GROUP_TYPE, body),
        Err(ScimError::Mutability(_))
    ));
    let body =
        ops(json!([{"op": "replace", "path": "members[value eq \"u1\"].type", "value": "User"}]));
    assert_eq!(
        patch(group(), &GROUP_TYPE, body).unwrap()["members"][0],
        json!({"value": "u1", "type": "User"})
    );
}

#[test]
fn jumpcloud_entra_style_member_patch_without_filter() {
    let body = ops(json!([{"op": "add", "path": "members", "value": [{"value": "u7"}]}]));
    let doc = patch(group(), &GROUP_TYPE, body.clone()).unwrap();
    assert_eq!(doc["members"].as_array().unwrap().len(), 4);
    let (_, changes) = split_members(parse_request(&body).unwrap(), &GROUP_TYPE).unwrap();
    assert_eq!(
        changes,
        vec![MemberChange::Add(vec![json!({"value": "u7"})])]
    );
}
