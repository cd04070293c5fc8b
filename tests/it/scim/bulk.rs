//! Bulk: bulkId cross-references, failOnErrors, and advertised limits enforced.

use serde_json::{json, Value};

use super::{on_both_stores, Backend, Scim};

on_both_stores!(
    bulk_group_with_a_member_created_in_the_same_request,
    bulk_fail_on_errors_stops_processing,
    bulk_limits_are_advertised_and_enforced,
);

async fn bulk_group_with_a_member_created_in_the_same_request(b: Backend) {
    let s = Scim::start(b).await;
    // The group comes first and refers to a user declared later: order is resolved.
    let a = s
        .post("/Bulk", &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": [
            {"method": "POST", "path": "/Groups", "bulkId": "qwerty", "data": {"displayName": "Tour Guides", "members": [{"type": "User", "value": "bulkId:ytrewq"}]}},
            {"method": "POST", "path": "/Users", "bulkId": "ytrewq", "data": {"userName": "Alice"}}
        ]}))
        .await;
    let ops = a.expect(200)["Operations"].as_array().unwrap().clone();
    assert_eq!(
        a.body["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
    );
    assert!(ops.iter().all(|o| o["status"] == "201"), "{ops:?}");
    let loc = |bulk: &str| -> String {
        ops.iter().find(|o| o["bulkId"] == bulk).unwrap()["location"]
            .as_str()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap()
            .to_owned()
    };
    let (group, user) = (loc("qwerty"), loc("ytrewq"));
    assert_eq!(s.member_ids(&group).await, vec![user.clone()]);
    assert!(ops
        .iter()
        .all(|o| o["version"].as_str().is_some_and(|v| v.starts_with("W/"))));
    // PATCH and DELETE in bulk too.
    let a = s
        .post("/Bulk", &json!({"Operations": [
            {"method": "PATCH", "path": format!("/Users/{user}"), "data": {"Operations": [{"op": "replace", "path": "active", "value": false}]}},
            {"method": "DELETE", "path": format!("/Groups/{group}")}
        ]}))
        .await;
    let statuses: Vec<&Value> = a.expect(200)["Operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| &o["status"])
        .collect();
    assert_eq!(statuses, [&json!("200"), &json!("204")]);
    assert_eq!(s.get(&format!("/Users/{user}")).await.body["active"], false);
}

async fn bulk_fail_on_errors_stops_processing(b: Backend) {
    let s = Scim::start(b).await;
    s.user("taken@example.com").await;
    let a = s
        .post("/Bulk", &json!({"failOnErrors": 1, "Operations": [
            {"method": "POST", "path": "/Users", "bulkId": "1", "data": {"userName": "taken@example.com"}},
            {"method": "POST", "path": "/Users", "bulkId": "2", "data": {"userName": "never@example.com"}}
        ]}))
        .await;
    let ops = a.expect(200)["Operations"].as_array().unwrap();
    assert_eq!(ops.len(), 1, "processing stops at the first error: {ops:?}");
    assert_eq!(ops[0]["status"], "409");
    assert_eq!(ops[0]["response"]["scimType"], "uniqueness");
    let found = s
        .get(&format!(
            "/Users?filter={}",
            super::enc(r#"userName eq "never@example.com""#)
        ))
        .await;
    assert_eq!(found.expect(200)["totalResults"], 0);
    // Unknown bulkId references are an error of that operation only.
    let a = s
        .post("/Bulk", &json!({"Operations": [
            {"method": "POST", "path": "/Groups", "bulkId": "g", "data": {"displayName": "G", "members": [{"value": "bulkId:nope"}]}},
            {"method": "POST", "path": "/Users", "bulkId": "u", "data": {"userName": "fine@example.com"}}
        ]}))
        .await;
    let ops = a.expect(200)["Operations"].as_array().unwrap();
    assert_eq!(ops[0]["status"], "400");
    assert_eq!(ops[1]["status"], "201");
}

async fn bulk_limits_are_advertised_and_enforced(b: Backend) {
    let s = Scim::start(b).await;
    let spc = s.get("/ServiceProviderConfig").await;
    let bulk = &spc.expect(200)["bulk"];
    assert_eq!(bulk["supported"], true);
    let max = bulk["maxOperations"].as_u64().unwrap() as usize;
    assert!(bulk["maxPayloadSize"].as_u64().unwrap() > 0);
    let ops: Vec<Value> = (0..=max)
        .map(|i| json!({"method": "DELETE", "path": format!("/Users/{i}")}))
        .collect();
    s.post("/Bulk", &json!({"Operations": ops}))
        .await
        .expect_error(413, None);
    s.post("/Bulk", &json!({"Operations": "nope"}))
        .await
        .expect_error(400, Some("invalidSyntax"));
}
