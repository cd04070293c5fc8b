//! RFC requirements that third-party SCIM test suites check, one test per section, on both
//! stores (issue 10).

use serde_json::json;

use super::{on_both_stores, Backend, Scim};

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

on_both_stores!(
    rfc7643_2_4_at_most_one_primary_value,
    rfc7644_3_4_2_2_filter_on_schemas,
    rfc7644_3_5_2_an_extension_patched_whole_may_carry_its_schemas,
);

async fn rfc7643_2_4_at_most_one_primary_value(b: Backend) {
    let s = Scim::start(b);
    let two = json!({"userName": "two@example.com", "emails": [
        {"value": "a@example.com", "primary": true},
        {"value": "b@example.com", "primary": true}]});
    s.post("/Users", &two)
        .await
        .expect_error(400, Some("invalidValue"));
    let listed = s
        .get("/Users?filter=userName%20eq%20%22two%40example.com%22")
        .await;
    assert_eq!(
        listed.expect(200)["totalResults"],
        0,
        "a refused POST writes nothing"
    );

    let id = s.user("one@example.com").await;
    let before = s.get(&format!("/Users/{id}")).await;
    let mut put = two.clone();
    put["userName"] = json!("one@example.com");
    s.put(&format!("/Users/{id}"), &put)
        .await
        .expect_error(400, Some("invalidValue"));
    let after = s.get(&format!("/Users/{id}")).await;
    assert_eq!(after.body, before.body, "a refused PUT writes nothing");

    // One primary per attribute is fine, in emails and phoneNumbers alike.
    s.post(
        "/Users",
        &json!({"userName": "fine@example.com",
                "emails": [{"value": "a@example.com", "primary": true}, {"value": "b@example.com"}],
                "phoneNumbers": [{"value": "+1 555 0100", "primary": true}]}),
    )
    .await
    .expect(201);
}

async fn rfc7644_3_4_2_2_filter_on_schemas(b: Backend) {
    let s = Scim::start(b);
    let with = s
        .post(
            "/Users",
            &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
                    "userName": "ext@example.com", ENTERPRISE: {"employeeNumber": "7"}}),
        )
        .await;
    let with_id = with.expect(201)["id"].as_str().unwrap().to_owned();
    s.user("plain@example.com").await;
    let list = s
        .get("/Users?filter=schemas%20eq%20%22urn%3Aietf%3Aparams%3Ascim%3Aschemas%3Aextension%3Aenterprise%3A2.0%3AUser%22")
        .await;
    let body = list.expect(200);
    assert_eq!(body["totalResults"], 1, "{body}");
    assert_eq!(body["Resources"][0]["id"], with_id.as_str());
    let search = s
        .post(
            "/Users/.search",
            &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                    "filter": format!("not (schemas eq \"{ENTERPRISE}\")")}),
        )
        .await;
    let body = search.expect(200);
    assert_eq!(body["totalResults"], 1, "{body}");
    assert_eq!(body["Resources"][0]["userName"], "plain@example.com");
}

async fn rfc7644_3_5_2_an_extension_patched_whole_may_carry_its_schemas(b: Backend) {
    let s = Scim::start(b);
    let id = s.user("whole@example.com").await;
    let patched = s
        .patch(
            &format!("/Users/{id}"),
            &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "replace", "path": ENTERPRISE,
                                    "value": {"schemas": [ENTERPRISE],
                                              "employeeNumber": "42", "department": "R&D"}}]}),
        )
        .await;
    let body = patched.expect(200);
    assert_eq!(body[ENTERPRISE]["employeeNumber"], "42", "{body}");
    assert_eq!(body[ENTERPRISE]["department"], "R&D");
    assert!(body[ENTERPRISE].get("schemas").is_none(), "{body}");
    let schemas = body["schemas"].as_array().unwrap();
    assert!(schemas.iter().any(|s| s == ENTERPRISE), "{body}");
}

on_both_stores!(rfc7644_3_5_2_1_a_write_that_changes_nothing_changes_nothing);

async fn rfc7644_3_5_2_1_a_write_that_changes_nothing_changes_nothing(b: Backend) {
    let s = Scim::start(b);
    let u = s.user("same@example.com").await;
    let g = s.group("Same", &[&u]).await;
    let state = |path: String| {
        let s = &s;
        async move {
            let a = s.get(&path).await;
            a.expect(200);
            (
                a.header("etag").unwrap().to_owned(),
                a.body["meta"]["lastModified"].as_str().unwrap().to_owned(),
            )
        }
    };
    let group_path = format!("/Groups/{g}");
    let user_path = format!("/Users/{u}");
    let group_before = state(group_path.clone()).await;
    let user_before = state(user_path.clone()).await;
    // lastModified has millisecond or finer precision; make sure a write would move it.
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;

    let op = |body: serde_json::Value| body;
    for body in [
        op(json!({"Operations": [{"op": "add", "path": "members", "value": [{"value": u}]}]})),
        op(json!({"Operations": [{"op": "replace", "path": "displayName", "value": "Same"}]})),
        op(json!({"Operations": [{"op": "add", "value": {"displayName": "Same"}}]})),
        // Okta's remove-then-add of the same member in one request.
        op(json!({"Operations": [
            {"op": "remove", "path": format!("members[value eq \"{u}\"]")},
            {"op": "add", "path": "members", "value": [{"value": u}]}]})),
        // Removing a non-member.
        op(json!({"Operations": [{"op": "remove", "path": "members[value eq \"nobody\"]"}]})),
    ] {
        let a = s.patch(&group_path, &body).await;
        assert!(a.status.is_success(), "{body}: {}", a.body);
        assert_eq!(state(group_path.clone()).await, group_before, "{body}");
    }
    s.put(
        &group_path,
        &json!({"displayName": "Same", "members": [{"value": u}]}),
    )
    .await
    .expect(200);
    assert_eq!(
        state(group_path.clone()).await,
        group_before,
        "an unchanged PUT"
    );

    let a = s
        .patch(
            &user_path,
            &json!({"Operations": [{"op": "replace", "path": "userName", "value": "same@example.com"},
                                   {"op": "replace", "value": {"active": true}}]}),
        )
        .await;
    assert_eq!(
        a.expect(200)["meta"]["lastModified"],
        user_before.1.as_str()
    );
    assert_eq!(a.header("etag"), Some(user_before.0.as_str()));
    assert_eq!(state(user_path.clone()).await, user_before);

    // Preconditions come first: a stale If-Match on a no-op PATCH is still 412.
    let real = s
        .patch(
            &user_path,
            &json!({"Operations": [{"op": "replace", "path": "displayName", "value": "Changed"}]}),
        )
        .await;
    real.expect(200);
    let user_after = state(user_path.clone()).await;
    assert_ne!(user_after, user_before, "a real change moves the ETag");
    let stale = s
        .send(
            reqwest::Method::PATCH,
            &user_path,
            Some(&json!({"Operations": [{"op": "replace", "path": "displayName", "value": "Changed"}]})),
            &[("If-Match", user_before.0.as_str())],
        )
        .await;
    stale.expect_error(412, None);
    // And a real member change still moves the group.
    let v = s.user("other@example.com").await;
    let a = s
        .patch(
            &group_path,
            &json!({"Operations": [{"op": "add", "path": "members", "value": [{"value": v}]}]}),
        )
        .await;
    assert!(a.status.is_success());
    assert_ne!(state(group_path).await, group_before);
}

on_both_stores!(rfc7644_3_5_2_setting_a_primary_clears_the_others);

async fn rfc7644_3_5_2_setting_a_primary_clears_the_others(b: Backend) {
    let s = Scim::start(b);
    let created = s
        .post(
            "/Users",
            &json!({"userName": "prim@example.com",
                    "emails": [{"value": "old@example.com", "type": "work", "primary": true},
                               {"value": "home@example.com", "type": "home"}],
                    "phoneNumbers": [{"value": "+1 555 0100", "primary": true}]}),
        )
        .await;
    let id = created.expect(201)["id"].as_str().unwrap().to_owned();
    let path = format!("/Users/{id}");
    let primaries = |doc: &serde_json::Value, attr: &str| -> Vec<String> {
        doc[attr]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["primary"] == true)
            .map(|e| e["value"].as_str().unwrap().to_owned())
            .collect()
    };
    // `add` of a new value with primary true.
    let a = s
        .patch(
            &path,
            &json!({"Operations": [{"op": "add", "path": "emails",
                                    "value": [{"value": "new@example.com", "type": "work", "primary": true}]}]}),
        )
        .await;
    assert_eq!(
        primaries(a.expect(200), "emails"),
        ["new@example.com"],
        "{}",
        a.body
    );
    assert_eq!(a.body["emails"].as_array().unwrap().len(), 3);
    // `replace` of emails[value eq "…"].primary with true.
    let a = s
        .patch(
            &path,
            &json!({"Operations": [{"op": "replace",
                                    "path": "emails[value eq \"home@example.com\"].primary",
                                    "value": true}]}),
        )
        .await;
    assert_eq!(
        primaries(a.expect(200), "emails"),
        ["home@example.com"],
        "{}",
        a.body
    );
    // The same for phone numbers, and the stored document agrees.
    let a = s
        .patch(
            &path,
            &json!({"Operations": [{"op": "add", "path": "phoneNumbers",
                                    "value": [{"value": "+1 555 0199", "primary": "True"}]}]}),
        )
        .await;
    a.expect(200);
    let stored = s.get(&path).await;
    assert_eq!(
        primaries(stored.expect(200), "phoneNumbers"),
        ["+1 555 0199"]
    );
    assert_eq!(primaries(&stored.body, "emails"), ["home@example.com"]);
}
