//! Client mistakes get SCIM error documents with the right status and scimType; never a 500,
//! never a plain-text or empty body.

use reqwest::Method;
use serde_json::json;

use super::{on_both_stores, Backend, Scim};

on_both_stores!(client_mistakes_get_scim_errors);

async fn client_mistakes_get_scim_errors(b: Backend) {
    let s = Scim::start(b).await;
    let id = s.user("err@example.com").await;
    let raw = |method: Method, path: String, body: &'static str| {
        let s = &s;
        async move {
            let res = crate::helpers::bridge::client()
                .request(method, s.url(&format!("/scim/v2{path}")))
                .header("Authorization", s.bearer())
                .header("Content-Type", "application/scim+json")
                .body(body)
                .send()
                .await
                .unwrap();
            let status = res.status().as_u16();
            assert_eq!(res.headers()["content-type"], "application/scim+json");
            let doc: serde_json::Value = res.json().await.unwrap();
            (status, doc)
        }
    };
    let (status, doc) = raw(Method::POST, "/Users".into(), "{not json").await;
    assert_eq!(
        (status, doc["scimType"].as_str()),
        (400, Some("invalidSyntax"))
    );
    let (status, doc) = raw(Method::POST, "/Users".into(), "").await;
    assert_eq!(
        (status, doc["scimType"].as_str()),
        (400, Some("invalidSyntax"))
    );
    let (status, doc) = raw(Method::POST, "/Users".into(), "[1,2]").await;
    assert_eq!(
        (status, doc["scimType"].as_str()),
        (400, Some("invalidSyntax"))
    );
    let (status, doc) = raw(
        Method::PATCH,
        format!("/Users/{id}"),
        r#"{"Operations": {"op": "add"}}"#,
    )
    .await;
    assert_eq!(status, 400, "{doc}");

    // Numbers for strings are accepted as their text (employeeNumber: 1234); objects are not.
    s.post("/Users", &json!({"userName": {"nested": 1}}))
        .await
        .expect_error(400, Some("invalidValue"));
    s.post(
        "/Users",
        &json!({"userName": "n@example.com", "emails": [{"value": ["a"]}]}),
    )
    .await
    .expect_error(400, Some("invalidValue"));
    s.post("/Users", &json!({"displayName": "no userName"}))
        .await
        .expect_error(400, Some("invalidValue"));
    s.post(
        "/Users",
        &json!({"userName": "x@example.com", "active": "maybe"}),
    )
    .await
    .expect_error(400, Some("invalidValue"));
    s.patch(&format!("/Users/{id}"), &json!({"Operations": [{"op": "replace", "path": "emails[type eq \"work\"", "value": "x"}]}))
        .await
        .expect_error(400, Some("invalidPath"));
    s.patch(
        &format!("/Users/{id}"),
        &json!({"Operations": [{"op": "jump", "path": "title", "value": "x"}]}),
    )
    .await
    .expect_error(400, Some("invalidSyntax"));
    s.patch(
        &format!("/Users/{id}"),
        &json!({"Operations": [{"op": "remove"}]}),
    )
    .await
    .expect_error(400, Some("noTarget"));
    s.patch(
        &format!("/Users/{id}"),
        &json!({"Operations": [{"op": "replace", "path": "meta.created", "value": "x"}]}),
    )
    .await
    .expect_error(400, Some("mutability"));
    s.get(&format!(
        "/Users?filter={}",
        super::enc("userName eq \"unterminated")
    ))
    .await
    .expect_error(400, Some("invalidFilter"));
    s.patch("/Users/missing", &json!({"Operations": []}))
        .await
        .expect_error(404, None);
    s.delete("/Groups/missing").await.expect_error(404, None);
    s.send(Method::PUT, "/Users", Some(&json!({})), &[])
        .await
        .expect_error(405, None);
    // The user is untouched by all of the above.
    let a = s.get(&format!("/Users/{id}")).await;
    assert_eq!(a.expect(200)["userName"], "err@example.com");
}

/// Issue 11, item 4: a fault on our side (here a record Redis holds that is not JSON) is a
/// `500` with a generic detail, logged once by the handler with its whole cause, and no
/// personal data in the line.
#[tokio::test(flavor = "multi_thread")]
async fn an_internal_fault_is_a_generic_500_logged_once_with_its_cause() {
    // The binary: its log output is what is checked.
    let s = Scim::binary(Backend::Redis, crate::helpers::bridge::Options::default());
    let id = s.user("corrupt.person@example.com").await;
    let redis = s.redis().expect("the Redis backend");
    let key = format!("scim-bridge:r:10:scim.users:{id}");
    // A record is `<version>:<document>`; this one's document is not JSON.
    assert_eq!(redis.command(&format!("SET {key} 1:not-json")), "+OK");
    let a = s.get(&format!("/Users/{id}")).await;
    a.expect_error(500, None);
    assert_eq!(a.body["detail"], "internal server error");
    // The bridge's stderr is read by a pump thread: wait (bounded) for the line to arrive.
    let marker = "internal error answering a SCIM request";
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !s.bridge().logs().contains(marker) && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let logs = s.bridge().logs();
    let lines: Vec<&str> = logs.lines().filter(|l| l.contains(marker)).collect();
    assert_eq!(lines.len(), 1, "{logs}");
    assert!(lines[0].contains("store data corrupt"), "{}", lines[0]);
    assert!(lines[0].contains(&id), "{}", lines[0]);
    assert!(!logs.contains("corrupt.person"), "{logs}");
}
