//! Discovery documents: ListResponses, lookups by id, every characteristic, no nulls.

use serde_json::Value;

use super::{on_both_stores, Backend, Scim};

on_both_stores!(discovery_endpoints_describe_what_is_implemented);

fn assert_no_nulls(v: &Value, at: &str) {
    match v {
        Value::Null => panic!("null at {at}"),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .for_each(|(i, x)| assert_no_nulls(x, &format!("{at}[{i}]"))),
        Value::Object(map) => map
            .iter()
            .for_each(|(k, x)| assert_no_nulls(x, &format!("{at}.{k}"))),
        _ => {}
    }
}

async fn discovery_endpoints_describe_what_is_implemented(b: Backend) {
    let s = Scim::start(b).await;
    let spc = s.get("/ServiceProviderConfig").await;
    let body = spc.expect(200).clone();
    assert_no_nulls(&body, "ServiceProviderConfig");
    assert_eq!(body["patch"]["supported"], true);
    assert_eq!(body["filter"]["supported"], true);
    assert_eq!(body["sort"]["supported"], true);
    assert_eq!(body["etag"]["supported"], true);
    assert_eq!(body["changePassword"]["supported"], false);
    assert_eq!(body["authenticationSchemes"][0]["type"], "oauthbearertoken");

    let types = s.get("/ResourceTypes").await;
    let body = types.expect(200).clone();
    assert_no_nulls(&body, "ResourceTypes");
    assert_eq!(
        body["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:ListResponse"
    );
    assert_eq!(body["totalResults"], 2);
    let user = s.get("/ResourceTypes/User").await;
    assert_eq!(user.expect(200)["endpoint"], "/Users");
    assert_eq!(
        user.body["schemaExtensions"][0]["schema"],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
    );

    let schemas = s.get("/Schemas").await;
    let body = schemas.expect(200).clone();
    assert_no_nulls(&body, "Schemas");
    assert_eq!(body["totalResults"], 3);
    for schema in body["Resources"].as_array().unwrap() {
        for attr in schema["attributes"].as_array().unwrap() {
            for key in [
                "name",
                "type",
                "multiValued",
                "description",
                "required",
                "caseExact",
                "mutability",
                "returned",
                "uniqueness",
            ] {
                assert!(attr.get(key).is_some(), "{} lacks {key}", attr["name"]);
            }
        }
    }
    let core = s
        .get("/Schemas/urn:ietf:params:scim:schemas:core:2.0:User")
        .await;
    let attrs = core.expect(200)["attributes"].as_array().unwrap();
    let user_name = attrs.iter().find(|a| a["name"] == "userName").unwrap();
    assert_eq!(user_name["uniqueness"], "server");
    assert_eq!(user_name["required"], true);
    assert_eq!(user_name["caseExact"], false);
    let password = attrs.iter().find(|a| a["name"] == "password").unwrap();
    assert_eq!(password["returned"], "never");
    assert_eq!(password["mutability"], "writeOnly");
    s.get("/Schemas/urn:nope").await.expect_error(404, None);
    s.get("/Me").await.expect_error(501, None);
}
