//! No manual unlock: after a restart the bridge provisions at once, from the session file alone.
//! Nobody signs in to the status page (this test never requests it), and the identity
//! provider's token, its users, groups and memberships are all there on the first request.

use serde_json::json;

use super::{on_both_stores, Backend, Scim};

on_both_stores!(a_restart_provisions_at_once_without_anyone_signing_in);

async fn a_restart_provisions_at_once_without_anyone_signing_in(b: Backend) {
    let s = Scim::start(b).await;
    let ada = s.user("ada@example.com").await;
    let group = s.group("Engineering", &[&ada]).await;
    let before = s.get(&format!("/Users/{ada}")).await;
    let etag = before.header("etag").expect("an ETag").to_owned();
    let old_addr = s.addr().to_string();

    let s = s.restart().await;
    // The very first request after the restart is an identity provider's, and it is served.
    let after = s.get(&format!("/Users/{ada}")).await;
    // The same document, apart from the new listening port in its URLs.
    let was = before
        .expect(200)
        .to_string()
        .replace(&old_addr, &s.addr().to_string());
    assert_eq!(after.expect(200).to_string(), was, "the user changed");
    assert_eq!(after.header("etag"), Some(etag.as_str()));
    assert_eq!(s.member_ids(&group).await, vec![ada.clone()]);

    // Writes work too, including uniqueness against what was stored before the restart.
    let bob = s.user("bob@example.com").await;
    s.patch(
        &format!("/Groups/{group}"),
        &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "add", "path": "members", "value": [{"value": bob}]}]}),
    )
    .await
    .expect(204);
    let mut want = vec![ada, bob];
    want.sort();
    assert_eq!(s.member_ids(&group).await, want);
    s.post(
        "/Users",
        &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": "ADA@example.com"}),
    )
    .await
    .expect_error(409, Some("uniqueness"));
    // The request counters show what was asked since the restart: SCIM, and no status page.
    let metrics = s.metrics().await;
    assert!(
        metrics.contains("route=\"/scim/v2/Users/{id}\""),
        "{metrics}"
    );
    assert!(!metrics.contains("route=\"/status.json\""), "{metrics}");
}
