//! Microsoft Entra ID's traffic, replayed: Test Connection, legacy PATCH (capitalised ops,
//! string booleans, member removal by value list), the `aadOptscim062020` shapes, group
//! lookups without members, the validator's empty PATCH.

use serde_json::json;

use super::{enc, on_both_stores, Backend, Scim};

const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

on_both_stores!(
    entra_test_connection_with_a_random_guid,
    entra_legacy_patch_with_capitalised_ops_and_string_booleans,
    entra_value_path_replace_creates_the_element,
    entra_no_path_replace_with_dotted_and_urn_keys,
    entra_group_create_with_extra_schema_and_lookup_without_members,
    entra_legacy_member_removal_by_value_list,
    entra_member_removal_by_filter_path,
    entra_manager_as_an_array,
    entra_empty_operations_patch,
    entra_uniqueness_filter_on_work_email,
);

async fn entra_test_connection_with_a_random_guid(b: Backend) {
    let s = Scim::start(b).await;
    s.user("someone@contoso.com").await;
    for attr in ["userName", "externalId", "id"] {
        let a = s
            .get(&format!(
                "/Users?filter={}",
                enc(&format!(
                    "{attr} eq \"a1b2c3d4-0000-4000-8000-1234567890ab\""
                ))
            ))
            .await;
        let body = a.expect(200);
        assert_eq!(body["totalResults"], 0);
        assert_eq!(body["Resources"], json!([]));
    }
}

async fn entra_legacy_patch_with_capitalised_ops_and_string_booleans(b: Backend) {
    let s = Scim::start(b).await;
    let id = s.user("leaver@contoso.com").await;
    let a = s
        .patch(
            &format!("/Users/{id}"),
            &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "Replace", "path": "active", "value": "False"}]}),
        )
        .await;
    assert_eq!(
        a.expect(200)["active"],
        false,
        "the leaver must be inactive"
    );
    let a = s
        .patch(
            &format!("/Users/{id}"),
            &json!({"Operations": [{"op": "Add", "path": "nickName", "value": "Babs"}]}),
        )
        .await;
    assert_eq!(a.expect(200)["nickName"], "Babs");
    let a = s
        .patch(
            &format!("/Users/{id}"),
            &json!({"Operations": [{"op": "Replace", "path": "active", "value": "True"}]}),
        )
        .await;
    assert_eq!(a.expect(200)["active"], true);
    let a = s
        .patch(
            &format!("/Users/{id}"),
            &json!({"Operations": [{"op": "Remove", "path": "nickName"}]}),
        )
        .await;
    assert!(a.expect(200).get("nickName").is_none());
}

async fn entra_value_path_replace_creates_the_element(b: Backend) {
    let s = Scim::start(b).await;
    let created = s
        .post("/Users", &json!({"userName": "vp@contoso.com"}))
        .await;
    let id = created.expect(201)["id"].as_str().unwrap().to_owned();
    let a = s
        .patch(&format!("/Users/{id}"), &json!({"Operations": [
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "x@y.example"},
            {"op": "Replace", "path": format!("{ENT}:employeeNumber"), "value": "Eqpj"},
            {"op": "Add", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+1 555 0101"},
            {"op": "Replace", "path": "addresses[type eq \"work\"].streetAddress", "value": "1 Main St"}
        ]}))
        .await;
    let body = a.expect(200);
    assert_eq!(
        body["emails"],
        json!([{"type": "work", "value": "x@y.example"}])
    );
    assert_eq!(body[ENT]["employeeNumber"], "Eqpj");
    assert_eq!(body["phoneNumbers"][0]["value"], "+1 555 0101");
    assert_eq!(body["addresses"][0]["streetAddress"], "1 Main St");
    // Replacing again changes the element in place rather than adding another.
    let a = s.patch(&format!("/Users/{id}"), &json!({"Operations": [{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "z@y.example"}]})).await;
    assert_eq!(
        a.expect(200)["emails"],
        json!([{"type": "work", "value": "z@y.example"}])
    );
}

async fn entra_no_path_replace_with_dotted_and_urn_keys(b: Backend) {
    let s = Scim::start(b).await;
    let id = s.user("dotted@contoso.com").await;
    let a = s
        .patch(
            &format!("/Users/{id}"),
            &json!({"Operations": [{"op": "replace", "value": {
                "displayName": "Bjfe", "name.givenName": "Kkom", "name.familyName": "Unua",
                format!("{ENT}:employeeNumber"): "Aklq"
            }}]}),
        )
        .await;
    let body = a.expect(200);
    assert_eq!(body["displayName"], "Bjfe");
    assert_eq!(body["name"]["givenName"], "Kkom");
    assert_eq!(body["name"]["familyName"], "Unua");
    assert_eq!(body[ENT]["employeeNumber"], "Aklq");
    let a = s
        .patch(
            &format!("/Users/{id}"),
            &json!({"Operations": [{"op": "replace", "path": "active", "value": false}]}),
        )
        .await;
    assert_eq!(a.expect(200)["active"], false);
}

async fn entra_group_create_with_extra_schema_and_lookup_without_members(b: Backend) {
    let s = Scim::start(b).await;
    let u = s.user("member@contoso.com").await;
    let a = s
        .post("/Groups", &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group",
            "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
            "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159", "displayName": "Group1DisplayName", "members": []}))
        .await;
    let g = a.expect(201)["id"].as_str().unwrap().to_owned();
    s.patch(&format!("/Groups/{g}"), &json!({"Operations": [{"op": "Add", "path": "members", "value": [{"$ref": null, "value": u}]}]}))
        .await
        .expect(204);
    let lookup = s
        .get(&format!(
            "/Groups?excludedAttributes=members&filter={}",
            enc(r#"displayName eq "Group1DisplayName""#)
        ))
        .await;
    let body = lookup.expect(200);
    assert_eq!(body["totalResults"], 1);
    assert!(body["Resources"][0].get("members").is_none());
    assert_eq!(body["Resources"][0]["id"], g.as_str());
    let one = s
        .get(&format!("/Groups/{g}?excludedAttributes=members"))
        .await;
    assert!(one.expect(200).get("members").is_none());
    assert_eq!(one.body["displayName"], "Group1DisplayName");
    // The same PATCH with attributes asked for answers 200 with the resource.
    let with_body = s
        .send(reqwest::Method::PATCH, &format!("/Groups/{g}?excludedAttributes=members"),
            Some(&json!({"Operations": [{"op": "Replace", "path": "displayName", "value": "Renamed"}]})), &[])
        .await;
    assert_eq!(with_body.expect(200)["displayName"], "Renamed");
    assert!(with_body.body.get("members").is_none());
}

async fn entra_legacy_member_removal_by_value_list(b: Backend) {
    let s = Scim::start(b).await;
    let (u1, u2, u3) = (
        s.user("a@contoso.com").await,
        s.user("b@contoso.com").await,
        s.user("c@contoso.com").await,
    );
    let g = s.group("Legacy", &[&u1, &u2, &u3]).await;
    s.patch(&format!("/Groups/{g}"), &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "Remove", "path": "members", "value": [{"value": u1}, {"value": u3}]}]}))
        .await
        .expect(204);
    assert_eq!(
        s.member_ids(&g).await,
        vec![u2],
        "only the listed members are removed"
    );
}

async fn entra_member_removal_by_filter_path(b: Backend) {
    let s = Scim::start(b).await;
    let (u1, u2) = (
        s.user("f1@contoso.com").await,
        s.user("f2@contoso.com").await,
    );
    let g = s.group("Filtered", &[&u1, &u2]).await;
    s.patch(
        &format!("/Groups/{g}"),
        &json!({"Operations": [{"op": "remove", "path": format!("members[value eq \"{u1}\"]")}]}),
    )
    .await
    .expect(204);
    assert_eq!(s.member_ids(&g).await, vec![u2]);
}

async fn entra_manager_as_an_array(b: Backend) {
    let s = Scim::start(b).await;
    let boss = s.user("boss@contoso.com").await;
    let id = s.user("report@contoso.com").await;
    let a = s
        .patch(
            &format!("/Users/{id}"),
            &json!({"Operations": [{"op": "Add", "path": "manager",
            "value": [{"$ref": format!("../Users/{boss}"), "value": boss}]}]}),
        )
        .await;
    assert_eq!(a.expect(200)[ENT]["manager"]["value"], boss.as_str());
}

async fn entra_empty_operations_patch(b: Backend) {
    let s = Scim::start(b).await;
    let id = s.user("empty@contoso.com").await;
    let before = s.get(&format!("/Users/{id}")).await;
    let a = s.patch(&format!("/Users/{id}"), &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": []})).await;
    assert_eq!(
        a.expect(200)["meta"]["version"],
        before.body["meta"]["version"],
        "nothing changed"
    );
}

async fn entra_uniqueness_filter_on_work_email(b: Backend) {
    let s = Scim::start(b).await;
    let id = s.user("mail@contoso.com").await;
    let a = s
        .get(&format!(
            "/Users?filter={}",
            enc(r#"emails[type eq "work"].value eq "mail@contoso.com""#)
        ))
        .await;
    assert_eq!(a.expect(200)["totalResults"], 1);
    assert_eq!(a.body["Resources"][0]["id"], id.as_str());
    let none = s
        .get(&format!(
            "/Users?filter={}",
            enc(r#"emails[type eq "home"].value eq "mail@contoso.com""#)
        ))
        .await;
    assert_eq!(none.expect(200)["totalResults"], 0);
}
