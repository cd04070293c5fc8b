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
    let s = Scim::start(b).await;
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
    let s = Scim::start(b).await;
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
    let s = Scim::start(b).await;
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
    let s = Scim::start(b).await;
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
    let s = Scim::start(b).await;
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

on_both_stores!(rfc7644_3_7_4_an_oversized_body_gets_a_413_the_client_can_read);

/// A 6 MiB `/Bulk` body against the default 4 MiB limit, over HTTP/1.1 with a length, over
/// HTTP/1.1 raw with the client still writing, and over HTTP/2: each client reads the `413`.
async fn rfc7644_3_7_4_an_oversized_body_gets_a_413_the_client_can_read(b: Backend) {
    let s = Scim::start(b).await;
    let ops: Vec<serde_json::Value> = (0..40_000)
        .map(|i| {
            json!({"method": "POST", "bulkId": format!("b{i}"), "path": "/Users",
                   "data": {"userName": format!("bulk-{i}@example.com"), "displayName": "x".repeat(100)}})
        })
        .collect();
    let body = serde_json::to_vec(&json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": ops}))
    .unwrap();
    assert!(body.len() > 6 * 1024 * 1024, "{}", body.len());
    let url = s.url("/scim/v2/Bulk");
    let h1 = crate::helpers::bridge::client();
    let h2 = reqwest::Client::builder()
        .no_proxy()
        .http2_prior_knowledge()
        .timeout(std::time::Duration::from_secs(20))
        .build()
        .unwrap();
    for (name, client) in [("HTTP/1.1", &h1), ("HTTP/2", &h2)] {
        let res = client
            .post(&url)
            .header("Authorization", s.bearer())
            .header("Content-Type", "application/scim+json")
            .body(body.clone())
            .send()
            .await
            .unwrap_or_else(|e| panic!("{name}: the client must read an answer, got {e:?}"));
        assert_eq!(res.status().as_u16(), 413, "{name}");
        let doc: serde_json::Value = res.json().await.unwrap();
        assert_eq!(doc["status"], "413", "{name}: {doc}");
        assert_eq!(
            doc["schemas"][0],
            "urn:ietf:params:scim:api:messages:2.0:Error"
        );
    }
    // curl over HTTP/2 treats a stream the server resets before reading the request body as a
    // failure (exit 92) even after a complete response: that is what the drain fixes.
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &body).unwrap();
    for (name, extra) in [
        ("curl HTTP/2", "--http2-prior-knowledge"),
        ("curl HTTP/1.1", "--http1.1"),
    ] {
        let out = std::process::Command::new("curl")
            .args([
                "-s",
                "-o",
                "-",
                "-w",
                "\n%{http_code}",
                "--max-time",
                "20",
                extra,
            ])
            .arg("-H")
            .arg(format!("Authorization: {}", s.bearer()))
            .args(["-H", "Content-Type: application/scim+json", "--data-binary"])
            .arg(format!("@{}", file.path().display()))
            .arg(&url)
            .output()
            .expect("curl runs");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{name}: curl failed ({:?}): {text}",
            out.status
        );
        assert!(text.ends_with("\n413"), "{name}: {text}");
        assert!(
            text.contains("urn:ietf:params:scim:api:messages:2.0:Error"),
            "{name}: {text}"
        );
    }
    // The same for an early 401 (a stale token) with a body the bridge never needed.
    let out = std::process::Command::new("curl")
        .args([
            "-s",
            "-o",
            "-",
            "-w",
            "\n%{http_code}",
            "--max-time",
            "20",
            "--http2-prior-knowledge",
        ])
        .args([
            "-H",
            "Authorization: Bearer sbt_stale",
            "-H",
            "Content-Type: application/scim+json",
        ])
        .arg("--data-binary")
        .arg(format!("@{}", file.path().display()))
        .arg(&url)
        .output()
        .expect("curl runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.ends_with("\n401"),
        "{:?}: {text}",
        out.status
    );
    // A raw client that writes the whole body in one go, then reads: it must see the 413, not
    // a reset.
    let addr = s.addr();
    let bearer = s.bearer();
    let answer = tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(20)))
            .unwrap();
        let head = format!(
            "POST /scim/v2/Bulk HTTP/1.1\r\nHost: x\r\nAuthorization: {bearer}\r\n\
             Content-Type: application/scim+json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).unwrap();
        let _ = stream.write_all(&body);
        let mut answer = vec![0u8; 4096];
        let n = stream.read(&mut answer).expect("an answer, not a reset");
        String::from_utf8_lossy(&answer[..n]).into_owned()
    })
    .await
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    // Nothing of it was applied.
    let listed = s.get("/Users?filter=userName%20sw%20%22bulk-%22").await;
    assert_eq!(listed.expect(200)["totalResults"], 0);
}
