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
