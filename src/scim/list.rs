//! The ListResponse message (RFC 7644 §3.4.2): 1-based `startIndex`, integer counts.

use serde_json::{json, Value};

/// The schema URI of a list response.
pub const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

/// One page of query results.
#[derive(Clone, Debug, PartialEq)]
pub struct ListResponse {
    /// How many resources match in all.
    pub total_results: usize,
    /// The 1-based index of the first resource on this page.
    pub start_index: usize,
    /// The resources on this page.
    pub resources: Vec<Value>,
}

impl ListResponse {
    /// The JSON document; counts are integers, `Resources` is always present.
    pub fn to_document(&self) -> Value {
        json!({
            "schemas": [LIST_SCHEMA],
            "totalResults": self.total_results,
            "itemsPerPage": self.resources.len(),
            "startIndex": self.start_index,
            "Resources": self.resources,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_list_has_integer_fields_and_empty_resources() {
        let doc = ListResponse {
            total_results: 0,
            start_index: 1,
            resources: vec![],
        }
        .to_document();
        assert_eq!(doc["schemas"][0], LIST_SCHEMA);
        assert_eq!(doc["totalResults"], 0);
        assert_eq!(doc["itemsPerPage"], 0);
        assert_eq!(doc["startIndex"], 1);
        assert!(doc["Resources"].as_array().unwrap().is_empty());
    }
}
