//! OneLogin, JumpCloud, Rippling and Google's probes.

use serde_json::json;

use super::{on_both_stores, Backend, Scim};

on_both_stores!(
    onelogin_single_email_object_without_primary,
    jumpcloud_test_connection_user_and_group,
    rippling_updates_memberships_of_existing_groups,
    google_probe_count_one,
);

async fn onelogin_single_email_object_without_primary(b: Backend) {
    let s = Scim::start(b).await;
    let a = s.post("/Users", &json!({"userName": "ol@example.com", "emails": {"value": "ol@example.com", "type": "work"}})).await;
    assert_eq!(
        a.expect(201)["emails"],
        json!([{"value": "ol@example.com", "type": "work"}])
    );
}

async fn jumpcloud_test_connection_user_and_group(b: Backend) {
    let s = Scim::start(b).await;
    let u = s
        .post(
            "/Users",
            &json!({"userName": "jc-test-user@example.com", "active": true}),
        )
        .await;
    let u = u.expect(201)["id"].as_str().unwrap().to_owned();
    let g = s
        .post("/Groups", &json!({"displayName": "jc-test-group"}))
        .await;
    let g = g.expect(201)["id"].as_str().unwrap().to_owned();
    s.delete(&format!("/Users/{u}")).await.expect(204);
    s.delete(&format!("/Groups/{g}")).await.expect(204);
    assert_eq!(s.get("/Users").await.expect(200)["totalResults"], 0);
}

async fn rippling_updates_memberships_of_existing_groups(b: Backend) {
    let s = Scim::start(b).await;
    let g = s.group("Department: Sales", &[]).await;
    let u = s.user("rip@example.com").await;
    s.patch(
        &format!("/Groups/{g}"),
        &json!({"Operations": [{"op": "add", "value": {"members": [{"value": u}]}}]}),
    )
    .await
    .expect(204);
    assert_eq!(s.member_ids(&g).await, vec![u]);
}

async fn google_probe_count_one(b: Backend) {
    let s = Scim::start(b).await;
    let a = s.get("/Users?count=1").await;
    assert_eq!(a.expect(200)["itemsPerPage"], 0);
    assert_eq!(a.body["totalResults"], 0);
}
