//! Okta's traffic, replayed: the Runscope SPEC sequence, no-path deactivation, PUT-everything
//! custom apps, and group push with remove+add in one PATCH.

use serde_json::json;

use super::{enc, on_both_stores, Backend, Scim};

on_both_stores!(
    okta_runscope_spec_sequence,
    okta_create_with_password_groups_and_locale,
    okta_no_path_deactivation,
    okta_aiw_put_everything_deactivation,
    okta_group_push,
    okta_256_members_in_one_patch,
);

async fn okta_runscope_spec_sequence(b: Backend) {
    let s = Scim::start(b).await;
    s.user("existing.user@okta.local").await;
    // R1: integers, a user with name, emails and active.
    let r1 = s.get("/Users?count=1&startIndex=1").await;
    let body = r1.expect(200);
    assert!(
        body["totalResults"].is_u64()
            && body["itemsPerPage"].is_u64()
            && body["startIndex"].is_u64()
    );
    let user = &body["Resources"][0];
    assert!(user["name"].is_object() && user["emails"].is_array() && user["active"].is_boolean());
    // R2: by id.
    let id = user["id"].as_str().unwrap();
    s.get(&format!("/Users/{id}")).await.expect(200);
    // R3/R5: unknown userName filter: 200 with totalResults 0.
    let r3 = s
        .get(&format!(
            "/Users?filter={}&startIndex=1&count=100",
            enc(r#"userName eq "test.user@okta.local""#)
        ))
        .await;
    assert_eq!(r3.expect(200)["totalResults"], 0);
    assert_eq!(r3.body["Resources"], json!([]));
    // R4/R12: unknown id → 404 with detail.
    let r4 = s.get("/Users/010101001010101").await;
    r4.expect_error(404, None);
    assert!(r4.body["detail"].is_string());
    // R6–R8: create, read, create again → 409.
    let random = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "test.user@okta.local",
        "name": {"givenName": "Test", "familyName": "User"}, "emails": [{"primary": true, "value": "test.user@okta.local", "type": "work"}],
        "displayName": "Test User", "locale": "en-US", "externalId": "00ujl29u0le5T6Aj10h7", "groups": [], "password": "1mz050nq", "active": true});
    let r6 = s.post("/Users", &random).await;
    let created = r6.expect(201)["id"].as_str().unwrap().to_owned();
    s.get(&format!("/Users/{created}")).await.expect(200);
    s.post("/Users", &random)
        .await
        .expect_error(409, Some("uniqueness"));
    // R9: the upper-cased userName still finds the user.
    let r9 = s
        .get(&format!(
            "/Users?filter={}",
            enc(r#"userName eq "TEST.USER@OKTA.LOCAL""#)
        ))
        .await;
    assert_eq!(r9.expect(200)["totalResults"], 1);
    assert_eq!(r9.body["Resources"][0]["id"], created.as_str());
    // R10: groups.
    s.get("/Groups").await.expect(200);
    // R11: bad token → 401 SCIM error.
    let bad = crate::helpers::bridge::client()
        .get(s.url("/scim/v2/Users"))
        .header("Authorization", "Bearer not-a-token")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 401);
    let body: serde_json::Value = bad.json().await.unwrap();
    assert_eq!(body["status"], "401");
}

async fn okta_create_with_password_groups_and_locale(b: Backend) {
    let s = Scim::start(b).await;
    let a = s
        .post("/Users", &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "pw@okta.local",
            "password": "1mz050nq", "groups": [], "locale": "en-US", "externalId": "00u1", "active": true}))
        .await;
    let body = a.expect(201);
    assert!(body.get("password").is_none(), "password is never returned");
    assert_eq!(body["locale"], "en-US");
    let id = body["id"].as_str().unwrap();
    let got = s
        .get(&format!("/Users/{id}?attributes=password,userName"))
        .await;
    assert!(
        got.expect(200).get("password").is_none(),
        "not even when asked for"
    );
    let by_ext = s
        .get(&format!("/Users?filter={}", enc(r#"externalId eq "00u1""#)))
        .await;
    assert_eq!(by_ext.expect(200)["totalResults"], 1);
}

async fn okta_no_path_deactivation(b: Backend) {
    let s = Scim::start(b).await;
    let id = s.user("leaver@okta.local").await;
    let a = s
        .patch(
            &format!("/Users/{id}"),
            &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "value": {"active": false}}]}),
        )
        .await;
    assert_eq!(a.expect(200)["active"], false);
    assert_eq!(
        s.get(&format!("/Users/{id}")).await.expect(200)["active"],
        false
    );
    let back = s
        .patch(
            &format!("/Users/{id}"),
            &json!({"Operations": [{"op": "replace", "value": {"active": true}}]}),
        )
        .await;
    assert_eq!(back.expect(200)["active"], true);
}

async fn okta_aiw_put_everything_deactivation(b: Backend) {
    let s = Scim::start(b).await;
    let id = s.user("aiw@okta.local").await;
    let mut full = s.get(&format!("/Users/{id}")).await.body;
    full["active"] = json!(false);
    let a = s.put(&format!("/Users/{id}"), &full).await;
    assert_eq!(a.expect(200)["active"], false);
    assert_eq!(a.body["emails"], full["emails"]);
    assert_eq!(a.body["name"], full["name"]);
}

async fn okta_group_push(b: Backend) {
    let s = Scim::start(b).await;
    let u1 = s.user("u1@okta.local").await;
    let u2 = s.user("u2@okta.local").await;
    let created = s.post("/Groups", &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Push Group", "members": []})).await;
    let g = created.expect(201)["id"].as_str().unwrap().to_owned();
    // Rename (sent with every membership update), then a delta: remove one, add another.
    let rename = s.patch(&format!("/Groups/{g}"), &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "value": {"id": g, "displayName": "Push Group Renamed"}}]})).await;
    rename.expect(204);
    s.patch(&format!("/Groups/{g}"), &json!({"Operations": [{"op": "add", "path": "members", "value": [{"value": u1, "display": "u1@okta.local"}]}]}))
        .await
        .expect(204);
    let delta = s.patch(&format!("/Groups/{g}"), &json!({"Operations": [
        {"op": "remove", "path": format!("members[value eq \"{u1}\"]")},
        {"op": "add", "path": "members", "value": [{"value": u2, "display": "u2@okta.local"}]}
    ]})).await;
    delta.expect(204);
    assert_eq!(s.member_ids(&g).await, vec![u2.clone()]);
    let got = s.get(&format!("/Groups/{g}")).await;
    assert_eq!(got.expect(200)["displayName"], "Push Group Renamed");
    // Full replacement, then AIW's PUT with the full list.
    s.patch(&format!("/Groups/{g}"), &json!({"Operations": [{"op": "replace", "path": "members", "value": [{"value": u1}, {"value": u2}]}]}))
        .await
        .expect(204);
    let mut both = vec![u1.clone(), u2.clone()];
    both.sort();
    assert_eq!(s.member_ids(&g).await, both);
    s.put(
        &format!("/Groups/{g}"),
        &json!({"displayName": "Push Group Renamed", "members": [{"value": u1}]}),
    )
    .await
    .expect(200);
    assert_eq!(s.member_ids(&g).await, vec![u1.clone()]);
    // The user sees its group.
    let user = s.get(&format!("/Users/{u1}")).await;
    assert_eq!(user.expect(200)["groups"][0]["value"], g.as_str());
    assert_eq!(user.body["groups"][0]["display"], "Push Group Renamed");
    // Unlink with delete in target.
    s.delete(&format!("/Groups/{g}")).await.expect(204);
    assert!(s
        .get(&format!("/Users/{u1}"))
        .await
        .body
        .get("groups")
        .is_none());
}

async fn okta_256_members_in_one_patch(b: Backend) {
    let s = Scim::start(b).await;
    let g = s.group("Big push", &[]).await;
    let mut ids = Vec::new();
    let bulk: Vec<serde_json::Value> = (0..256)
        .map(|i| json!({"method": "POST", "bulkId": format!("u{i}"), "path": "/Users", "data": {"userName": format!("member{i}@okta.local")}}))
        .collect();
    let a = s.post("/Bulk", &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": bulk})).await;
    for op in a.expect(200)["Operations"].as_array().unwrap() {
        assert_eq!(op["status"], "201", "{op}");
        ids.push(
            op["location"]
                .as_str()
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap()
                .to_owned(),
        );
    }
    let members: Vec<serde_json::Value> = ids.iter().map(|id| json!({"value": id})).collect();
    s.patch(
        &format!("/Groups/{g}"),
        &json!({"Operations": [{"op": "add", "path": "members", "value": members}]}),
    )
    .await
    .expect(204);
    ids.sort();
    assert_eq!(s.member_ids(&g).await, ids);
}
