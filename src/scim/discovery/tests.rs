use serde_json::{json, Value};

use super::*;
use crate::scim::schema::{ENTERPRISE_USER, GROUP, USER};

const BASE: &str = "https://scim.example.com/scim/v2/";

const LIMITS: BulkLimits = BulkLimits {
    max_operations: 1000,
    max_payload_size: 1_048_576,
};

fn every_document() -> Vec<Value> {
    let mut docs = vec![service_provider_config(BASE, LIMITS, 200)];
    docs.extend(resource_types(BASE));
    docs.extend(schemas(BASE));
    docs
}

/// The JSON pointers of every `null` in `value`.
fn nulls(value: &Value, at: String, found: &mut Vec<String>) {
    match value {
        Value::Null => found.push(at),
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                nulls(v, format!("{at}/{i}"), found);
            }
        }
        Value::Object(map) => {
            for (k, v) in map {
                nulls(v, format!("{at}/{k}"), found);
            }
        }
        _ => {}
    }
}

#[test]
fn no_document_contains_a_null() {
    let mut found = Vec::new();
    for doc in every_document() {
        nulls(
            &doc,
            doc["id"].as_str().unwrap_or("spc").to_owned(),
            &mut found,
        );
    }
    assert!(found.is_empty(), "nulls at {found:?}");
}

#[test]
fn the_walker_finds_nested_nulls() {
    let mut found = Vec::new();
    nulls(&json!({"a": [1, {"b": null}]}), String::new(), &mut found);
    assert_eq!(found, ["/a/1/b"]);
}

const CHARACTERISTICS: [&str; 9] = [
    "name",
    "type",
    "multiValued",
    "description",
    "required",
    "caseExact",
    "mutability",
    "returned",
    "uniqueness",
];

/// Checks one attribute document and its sub-attributes; returns how many were checked.
fn check_attribute(attr: &Value) -> usize {
    let name = attr["name"].as_str().unwrap();
    for c in CHARACTERISTICS {
        assert!(attr.get(c).is_some(), "{name} lacks {c}");
    }
    assert_eq!(
        attr["type"] == "reference",
        attr.get("referenceTypes").is_some(),
        "{name}"
    );
    let subs = attr.get("subAttributes").and_then(Value::as_array);
    assert_eq!(
        attr["type"] == "complex",
        subs.is_some_and(|s| !s.is_empty()),
        "{name}"
    );
    1 + subs
        .into_iter()
        .flatten()
        .map(check_attribute)
        .sum::<usize>()
}

#[test]
fn every_attribute_carries_every_characteristic() {
    let docs = schemas(BASE);
    let ids: Vec<&str> = docs.iter().map(|d| d["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [USER, ENTERPRISE_USER, GROUP]);
    let mut checked = 0;
    for doc in &docs {
        assert_eq!(doc["schemas"], json!([SCHEMA]));
        assert_eq!(doc["meta"]["resourceType"], "Schema");
        let attrs = doc["attributes"].as_array().unwrap();
        checked += attrs.iter().map(check_attribute).sum::<usize>();
    }
    assert!(checked > 80, "only {checked} attributes");
    let user = &docs[0]["attributes"];
    let password = user
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "password")
        .unwrap();
    assert_eq!(
        (&password["mutability"], &password["returned"]),
        (&json!("writeOnly"), &json!("never"))
    );
    let emails = user
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "emails")
        .unwrap();
    assert_eq!(emails["multiValued"], true);
    assert_eq!(
        emails["subAttributes"][2]["canonicalValues"],
        json!(["work", "home", "other"])
    );
}

#[test]
fn service_provider_config_advertises_what_the_server_does() {
    let doc = service_provider_config(BASE, LIMITS, 200);
    assert_eq!(doc["schemas"], json!([SERVICE_PROVIDER_CONFIG]));
    assert_eq!(
        doc["bulk"],
        json!({"supported": true, "maxOperations": 1000, "maxPayloadSize": 1_048_576})
    );
    assert_eq!(doc["filter"], json!({"supported": true, "maxResults": 200}));
    assert_eq!(doc["changePassword"]["supported"], false);
    for feature in ["patch", "sort", "etag"] {
        assert_eq!(doc[feature]["supported"], true, "{feature}");
    }
    let scheme = &doc["authenticationSchemes"][0];
    assert_eq!(
        (&scheme["type"], &scheme["primary"]),
        (&json!("oauthbearertoken"), &json!(true))
    );
    assert!(scheme["name"].is_string() && scheme["description"].is_string());
    assert_eq!(
        doc["meta"],
        json!({"resourceType": "ServiceProviderConfig",
               "location": "https://scim.example.com/scim/v2/ServiceProviderConfig"})
    );
}

#[test]
fn resource_types_name_their_schemas_and_extensions() {
    let docs = resource_types(BASE);
    assert_eq!(docs.len(), 2);
    let user = &docs[0];
    assert_eq!(user["schemas"], json!([RESOURCE_TYPE]));
    assert_eq!(
        (&user["id"], &user["endpoint"], &user["schema"]),
        (&json!("User"), &json!("/Users"), &json!(USER))
    );
    assert_eq!(
        user["schemaExtensions"],
        json!([{"schema": ENTERPRISE_USER, "required": false}])
    );
    assert_eq!(
        user["meta"]["location"],
        "https://scim.example.com/scim/v2/ResourceTypes/User"
    );
    assert_eq!(docs[1]["schema"], GROUP);
    assert_eq!(docs[1]["schemaExtensions"], json!([]));
}

#[test]
fn lookups_by_id() {
    assert_eq!(resource_type(BASE, "group").unwrap()["endpoint"], "/Groups");
    assert!(resource_type(BASE, "Device").is_none());
    let ext = schema(BASE, ENTERPRISE_USER).unwrap();
    assert_eq!(ext["name"], "EnterpriseUser");
    assert_eq!(
        ext["meta"]["location"],
        format!("https://scim.example.com/scim/v2/Schemas/{ENTERPRISE_USER}")
    );
    assert!(schema(BASE, "urn:nope").is_none());
}
