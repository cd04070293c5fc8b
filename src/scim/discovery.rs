//! The discovery documents (RFC 7644 §4; RFC 7643 §5 ServiceProviderConfig, §6 ResourceType,
//! §7 Schema), generated from the schema tables so they cannot drift from what the server does.
//!
//! It owns the shape of these documents; it must not know routing or how the ListResponse
//! around them is paged. No document contains a `null`: Entra's validator rejects them.
//! Pure: no I/O.

use serde_json::{json, Map, Value};

use super::schema::{self, Attribute, ResourceType, Schema, GROUP_TYPE, USER_TYPE};

#[cfg(test)]
mod tests;

/// The ServiceProviderConfig schema URI.
pub const SERVICE_PROVIDER_CONFIG: &str =
    "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
/// The ResourceType schema URI.
pub const RESOURCE_TYPE: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
/// The Schema schema URI.
pub const SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";

/// Every resource type the server offers, in discovery order.
static RESOURCE_TYPES: [&ResourceType; 2] = [&USER_TYPE, &GROUP_TYPE];

/// The bulk limits advertised in the ServiceProviderConfig.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BulkLimits {
    /// The most operations one bulk request may carry.
    pub max_operations: usize,
    /// The largest bulk request body, in bytes.
    pub max_payload_size: usize,
}

fn url(base_url: &str, path: &str) -> String {
    format!("{}{path}", base_url.trim_end_matches('/'))
}

fn meta(resource_type: &str, location: String) -> Value {
    json!({"resourceType": resource_type, "location": location})
}

/// The ServiceProviderConfig document (RFC 7643 §5).
pub fn service_provider_config(
    base_url: &str,
    bulk: BulkLimits,
    filter_max_results: usize,
) -> Value {
    json!({
        "schemas": [SERVICE_PROVIDER_CONFIG],
        "patch": {"supported": true},
        "bulk": {
            "supported": true,
            "maxOperations": bulk.max_operations,
            "maxPayloadSize": bulk.max_payload_size,
        },
        "filter": {"supported": true, "maxResults": filter_max_results},
        // Passwords are accepted and discarded, so changing one is not a feature we offer.
        "changePassword": {"supported": false},
        "sort": {"supported": true},
        "etag": {"supported": true},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "Authentication with the bearer token from the scimsession set-up.",
            "specUri": "https://www.rfc-editor.org/info/rfc6750",
            "primary": true,
        }],
        "meta": meta("ServiceProviderConfig", url(base_url, "/ServiceProviderConfig")),
    })
}

fn resource_type_document(base_url: &str, rt: &ResourceType) -> Value {
    let extensions: Vec<Value> = rt
        .extensions
        .iter()
        .map(|s| json!({"schema": s.id, "required": false}))
        .collect();
    json!({
        "schemas": [RESOURCE_TYPE],
        "id": rt.name,
        "name": rt.name,
        "endpoint": rt.endpoint,
        "description": rt.description,
        "schema": rt.schema.id,
        "schemaExtensions": extensions,
        "meta": meta("ResourceType", url(base_url, &format!("/ResourceTypes/{}", rt.name))),
    })
}

/// The ResourceType documents (RFC 7643 §6), User then Group.
pub fn resource_types(base_url: &str) -> Vec<Value> {
    RESOURCE_TYPES
        .iter()
        .map(|rt| resource_type_document(base_url, rt))
        .collect()
}

/// The ResourceType document with this id (`User`, `Group`; any case), for `/ResourceTypes/{id}`.
pub fn resource_type(base_url: &str, id: &str) -> Option<Value> {
    RESOURCE_TYPES
        .iter()
        .find(|rt| rt.name.eq_ignore_ascii_case(id))
        .map(|rt| resource_type_document(base_url, rt))
}

/// One attribute with every characteristic of RFC 7643 §7; optional lists only when non-empty.
fn attribute_document(attr: &Attribute) -> Value {
    let mut out = Map::new();
    out.insert("name".into(), Value::from(attr.name));
    out.insert("type".into(), Value::from(attr.ty.as_str()));
    out.insert("multiValued".into(), Value::from(attr.multi_valued));
    out.insert("description".into(), Value::from(attr.description));
    out.insert("required".into(), Value::from(attr.required));
    out.insert("caseExact".into(), Value::from(attr.case_exact));
    out.insert("mutability".into(), Value::from(attr.mutability.as_str()));
    out.insert("returned".into(), Value::from(attr.returned.as_str()));
    out.insert("uniqueness".into(), Value::from(attr.uniqueness.as_str()));
    if !attr.canonical_values.is_empty() {
        out.insert("canonicalValues".into(), Value::from(attr.canonical_values));
    }
    if !attr.reference_types.is_empty() {
        out.insert("referenceTypes".into(), Value::from(attr.reference_types));
    }
    if !attr.sub_attributes.is_empty() {
        let subs = attr.sub_attributes.iter().map(attribute_document).collect();
        out.insert("subAttributes".into(), Value::Array(subs));
    }
    Value::Object(out)
}

fn schema_document(base_url: &str, schema: &Schema) -> Value {
    let attributes: Vec<Value> = schema.attributes.iter().map(attribute_document).collect();
    json!({
        "schemas": [SCHEMA],
        "id": schema.id,
        "name": schema.name,
        "description": schema.description,
        "attributes": attributes,
        "meta": meta("Schema", url(base_url, &format!("/Schemas/{}", schema.id))),
    })
}

/// The Schema documents (RFC 7643 §7, §8.7): User, Enterprise User, Group.
pub fn schemas(base_url: &str) -> Vec<Value> {
    schema::ALL
        .iter()
        .map(|s| schema_document(base_url, s))
        .collect()
}

/// The Schema document with this URI (any case), for `/Schemas/{id}`.
pub fn schema(base_url: &str, id: &str) -> Option<Value> {
    schema::by_id(id).map(|s| schema_document(base_url, s))
}
