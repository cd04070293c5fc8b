//! Versions: weak ETags on every resource response, If-Match → 412, If-None-Match → 304.

use reqwest::Method;
use serde_json::json;

use super::{on_both_stores, Backend, Scim};

on_both_stores!(etags_preconditions_and_not_modified);

async fn etags_preconditions_and_not_modified(b: Backend) {
    let s = Scim::start(b).await;
    let id = s.user("v@example.com").await;
    let first = s.get(&format!("/Users/{id}")).await;
    let v1 = first.header("etag").unwrap().to_owned();
    assert!(v1.starts_with("W/\""));

    let not_modified = s
        .send(
            Method::GET,
            &format!("/Users/{id}"),
            None,
            &[("If-None-Match", &v1)],
        )
        .await;
    assert_eq!(not_modified.status.as_u16(), 304);

    let change = json!({"Operations": [{"op": "replace", "path": "title", "value": "A"}]});
    let ok = s
        .send(
            Method::PATCH,
            &format!("/Users/{id}"),
            Some(&change),
            &[("If-Match", &v1)],
        )
        .await;
    let v2 = ok.header("etag").unwrap().to_owned();
    ok.expect(200);
    assert_ne!(v1, v2, "every change moves the version");
    assert_eq!(ok.body["meta"]["version"], v2);

    let stale = s
        .send(
            Method::PATCH,
            &format!("/Users/{id}"),
            Some(&change),
            &[("If-Match", &v1)],
        )
        .await;
    stale.expect_error(412, None);
    let stale_put = s
        .send(
            Method::PUT,
            &format!("/Users/{id}"),
            Some(&json!({"userName": "v@example.com"})),
            &[("If-Match", &v1)],
        )
        .await;
    stale_put.expect_error(412, None);
    let stale_delete = s
        .send(
            Method::DELETE,
            &format!("/Users/{id}"),
            None,
            &[("If-Match", &v1)],
        )
        .await;
    stale_delete.expect_error(412, None);
    s.get(&format!("/Users/{id}")).await.expect(200);

    let modified = s
        .send(
            Method::GET,
            &format!("/Users/{id}"),
            None,
            &[("If-None-Match", &v1)],
        )
        .await;
    modified.expect(200);
    let any = s
        .send(
            Method::DELETE,
            &format!("/Users/{id}"),
            None,
            &[("If-Match", "*")],
        )
        .await;
    any.expect(204);
}
