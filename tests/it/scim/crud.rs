//! Create, read, replace, patch and delete, with values returned exactly as sent.

use serde_json::{json, Value};

use super::{on_both_stores, Backend, Scim};

on_both_stores!(
    create_returns_201_with_location_etag_and_meta,
    values_come_back_exactly_as_sent,
    put_replaces_and_ignores_read_only_attributes,
    patch_on_a_user_answers_200_with_the_resource,
    delete_answers_204_and_then_404,
    concurrent_creates_of_one_user_name_yield_exactly_one,
    user_name_is_unique_ignoring_case,
    enterprise_extension_round_trips,
    a_failed_request_changes_nothing,
);

async fn create_returns_201_with_location_etag_and_meta(b: Backend) {
    let s = Scim::start(b).await;
    let a = s
        .post("/Users", &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "bjensen@example.com"}))
        .await;
    let body = a.expect(201).clone();
    let id = body["id"].as_str().unwrap();
    let location = a.header("location").unwrap().to_owned();
    assert!(
        location.starts_with("http://127.0.0.1:")
            && location.ends_with(&format!("/scim/v2/Users/{id}")),
        "{location}"
    );
    assert_eq!(body["meta"]["location"], location);
    assert_eq!(body["meta"]["resourceType"], "User");
    assert!(body["meta"]["created"].is_string() && body["meta"]["lastModified"].is_string());
    let etag = a.header("etag").unwrap();
    assert!(etag.starts_with("W/\""), "{etag}");
    assert_eq!(body["meta"]["version"], etag);
    assert_eq!(
        body["schemas"][0],
        "urn:ietf:params:scim:schemas:core:2.0:User"
    );
    assert!(body.get("active").is_none(), "no invented defaults");

    let got = s.get(&format!("/Users/{id}")).await;
    assert_eq!(got.expect(200)["userName"], "bjensen@example.com");
    assert_eq!(got.header("etag").unwrap(), etag);
    // The other prefix serves the same resource, with its own location.
    let other = s.get(&format!("/scim/Users/{id}")).await;
    assert!(other.expect(200)["meta"]["location"]
        .as_str()
        .unwrap()
        .contains("/scim/Users/"));
}

async fn values_come_back_exactly_as_sent(b: Backend) {
    let s = Scim::start(b).await;
    let sent = json!({
        "userName": "Barbara.Jensen@Example.COM",
        "name": {"givenName": "Barbara", "familyName": "Jensen", "formatted": "Ms. Barbara J Jensen, III"},
        "displayName": "  Babs  ",
        "emails": [{"value": "BJensen@Example.com", "type": "work", "primary": true}, {"value": "babs@home.example", "type": "home"}],
        "phoneNumbers": [{"value": "+1 555 0100", "type": "mobile"}],
        "addresses": [{"streetAddress": "100 Universal City Plaza", "locality": "Hollywood", "type": "work"}],
        "locale": "en-US",
        "active": false,
        "externalId": "00uXyZ"
    });
    let a = s.post("/Users", &sent).await;
    let id = a.expect(201)["id"].as_str().unwrap().to_owned();
    let got = s.get(&format!("/Users/{id}")).await;
    let got = got.expect(200);
    for key in [
        "userName",
        "name",
        "displayName",
        "emails",
        "phoneNumbers",
        "addresses",
        "locale",
        "active",
        "externalId",
    ] {
        assert_eq!(got[key], sent[key], "{key}");
    }
}

async fn put_replaces_and_ignores_read_only_attributes(b: Backend) {
    let s = Scim::start(b).await;
    let id = s.user("put.me@example.com").await;
    let a = s
        .put(
            &format!("/Users/{id}"),
            &json!({"id": "something-else", "meta": {"created": "1999-01-01T00:00:00Z"}, "userName": "put.me@example.com", "displayName": "Replaced", "groups": [{"value": "x"}]}),
        )
        .await;
    let body = a.expect(200);
    assert_eq!(body["id"], id.as_str());
    assert_eq!(body["displayName"], "Replaced");
    assert!(
        body.get("name").is_none(),
        "PUT replaces: attributes left out are gone"
    );
    assert_eq!(
        body["active"], true,
        "PUT without active keeps the current value"
    );
    assert_ne!(body["meta"]["created"], "1999-01-01T00:00:00Z");
    assert!(
        body.get("groups").is_none(),
        "groups is read-only and computed"
    );
    let missing = s
        .put(
            &format!("/Users/{id}"),
            &json!({"displayName": "no userName"}),
        )
        .await;
    missing.expect_error(400, Some("invalidValue"));
    s.put("/Users/does-not-exist", &json!({"userName": "x"}))
        .await
        .expect_error(404, None);
}

async fn patch_on_a_user_answers_200_with_the_resource(b: Backend) {
    let s = Scim::start(b).await;
    let id = s.user("patch.me@example.com").await;
    let a = s
        .patch(
            &format!("/Users/{id}"),
            &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
                {"op": "replace", "path": "name.givenName", "value": "Patched"},
                {"op": "add", "path": "title", "value": "Engineer"}
            ]}),
        )
        .await;
    let body = a.expect(200);
    assert_eq!(body["name"]["givenName"], "Patched");
    assert_eq!(body["name"]["familyName"], "patch.me@example.com");
    assert_eq!(body["title"], "Engineer");
    assert!(a.header("etag").is_some());
}

async fn delete_answers_204_and_then_404(b: Backend) {
    let s = Scim::start(b).await;
    let id = s.user("gone@example.com").await;
    let g = s.group("Doomed members", &[&id]).await;
    let a = s.delete(&format!("/Users/{id}")).await;
    a.expect(204);
    assert_eq!(a.body, Value::Null);
    let again = s.get(&format!("/Users/{id}")).await;
    again.expect_error(404, None);
    assert!(again.body["detail"].as_str().unwrap().contains(&id));
    assert!(
        s.member_ids(&g).await.is_empty(),
        "a deleted user leaves its groups"
    );
    s.delete(&format!("/Users/{id}"))
        .await
        .expect_error(404, None);
    // The userName is free again.
    s.user("gone@example.com").await;
    s.delete(&format!("/Groups/{g}")).await.expect(204);
    s.get(&format!("/Groups/{g}")).await.expect_error(404, None);
}

async fn concurrent_creates_of_one_user_name_yield_exactly_one(b: Backend) {
    let s = std::sync::Arc::new(Scim::start(b).await);
    let mut tasks = Vec::new();
    for i in 0..32 {
        let s = std::sync::Arc::clone(&s);
        tasks.push(tokio::spawn(async move {
            let name = if i % 2 == 0 {
                "race@example.com"
            } else {
                "RACE@example.com"
            };
            s.post("/Users", &json!({"userName": name}))
                .await
                .status
                .as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        31,
        "{statuses:?}"
    );
    let list = s.get("/Users").await;
    assert_eq!(list.expect(200)["totalResults"], 1);
}

async fn user_name_is_unique_ignoring_case(b: Backend) {
    let s = Scim::start(b).await;
    let first = s.user("Unique@Example.com").await;
    let dup = s
        .post("/Users", &json!({"userName": "unique@example.COM"}))
        .await;
    dup.expect_error(409, Some("uniqueness"));
    // Renaming another user onto the taken name is refused too, by PUT and by PATCH.
    let other = s.user("other@example.com").await;
    s.put(
        &format!("/Users/{other}"),
        &json!({"userName": "UNIQUE@example.com"}),
    )
    .await
    .expect_error(409, Some("uniqueness"));
    s.patch(&format!("/Users/{other}"), &json!({"Operations": [{"op": "replace", "path": "userName", "value": "unique@EXAMPLE.com"}]}))
        .await
        .expect_error(409, Some("uniqueness"));
    // Changing only the case of one's own name is fine.
    let a = s.patch(&format!("/Users/{first}"), &json!({"Operations": [{"op": "replace", "path": "userName", "value": "UNIQUE@example.com"}]})).await;
    assert_eq!(a.expect(200)["userName"], "UNIQUE@example.com");
}

async fn enterprise_extension_round_trips(b: Backend) {
    let s = Scim::start(b).await;
    let ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    let manager = s.user("boss@example.com").await;
    let a = s
        .post("/Users", &json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ent],
            "userName": "emp@example.com",
            ent: {"employeeNumber": "701984", "department": "Tour Operations", "manager": {"value": manager}}
        }))
        .await;
    let body = a.expect(201);
    assert!(body["schemas"].as_array().unwrap().iter().any(|s| s == ent));
    assert_eq!(body[ent]["employeeNumber"], "701984");
    assert_eq!(body[ent]["manager"]["value"], manager.as_str());
    let id = body["id"].as_str().unwrap();
    let found = s
        .get(&format!(
            "/Users?filter={}",
            super::enc(&format!("{ent}:employeeNumber eq \"701984\""))
        ))
        .await;
    assert_eq!(found.expect(200)["totalResults"], 1);
    assert_eq!(found.body["Resources"][0]["id"], id);
}

async fn a_failed_request_changes_nothing(b: Backend) {
    let s = Scim::start(b).await;
    let id = s.user("atomic@example.com").await;
    let before = s.get(&format!("/Users/{id}")).await.body;
    // The second operation fails: the first must not land either.
    let a = s
        .patch(
            &format!("/Users/{id}"),
            &json!({"Operations": [
                {"op": "replace", "path": "displayName", "value": "Half"},
                {"op": "replace", "path": "id", "value": "nope"}
            ]}),
        )
        .await;
    assert_eq!(a.status.as_u16(), 400, "{}", a.body);
    let after = s.get(&format!("/Users/{id}")).await.body;
    assert_eq!(before, after);
    // A group create naming a member that does not exist creates nothing.
    let g = s
        .post(
            "/Groups",
            &json!({"displayName": "Ghosts", "members": [{"value": "no-such-user"}]}),
        )
        .await;
    g.expect_error(400, Some("invalidValue"));
    let groups = s.get("/Groups").await;
    assert_eq!(groups.expect(200)["totalResults"], 0);
}
