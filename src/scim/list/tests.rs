use serde_json::json;

use super::*;
use crate::scim::schema::{ENTERPRISE_USER, GROUP_TYPE, USER_TYPE};

#[test]
fn an_empty_list_has_integer_fields_and_empty_resources() {
    let bytes = ListResponse::of(0, 1, &[]).into_bytes();
    let doc: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(doc["schemas"][0], LIST_SCHEMA);
    assert_eq!(doc["totalResults"], 0);
    assert_eq!(doc["itemsPerPage"], 0);
    assert_eq!(doc["startIndex"], 1);
    assert!(doc["Resources"].as_array().unwrap().is_empty());
}

#[test]
fn a_list_is_the_bytes_of_its_document() {
    let users = [json!({"id": "a", "userName": "ä\"b"}), json!({"id": "b"})];
    let bytes = ListResponse::of(7, 3, &users).into_bytes();
    let want = json!({
        "schemas": [LIST_SCHEMA],
        "totalResults": 7,
        "itemsPerPage": 2,
        "startIndex": 3,
        "Resources": users,
    });
    assert_eq!(bytes, serde_json::to_vec(&want).unwrap());
}

#[test]
fn page_parameters_follow_rfc_7644_3_4_2_4() {
    let cases: &[(Option<&str>, Option<&str>, usize, usize)] = &[
        (None, None, 1, 100),
        (Some("1"), Some("10"), 1, 10),
        (Some("0"), Some("-5"), 1, 0),
        (Some("-3"), Some("0"), 1, 0),
        (Some(" 101 "), Some("100"), 101, 100),
        (Some("+7"), Some("1000"), 7, 100),
        (
            Some("99999999999999999999999"),
            None,
            i64::MAX as usize,
            100,
        ),
    ];
    for (start, count, want_start, want_count) in cases {
        let page = Page::parse(*start, *count, 100).unwrap();
        assert_eq!(
            (page.start_index, page.count),
            (*want_start, *want_count),
            "{start:?} {count:?}"
        );
    }
    for (start, count) in [
        (Some("one"), None),
        (None, Some("1.5")),
        (None, Some("")),
        (Some("-"), None),
    ] {
        let err = Page::parse(start, count, 100).unwrap_err();
        assert!(
            matches!(err, ScimError::InvalidValue(_)),
            "{start:?} {count:?}"
        );
    }
}

#[test]
fn page_ranges_stay_within_the_results() {
    let page = |s, c| Page {
        start_index: s,
        count: c,
    };
    assert_eq!(page(1, 100).range(250), 0..100);
    assert_eq!(page(201, 100).range(250), 200..250);
    assert_eq!(page(300, 100).range(250), 250..250);
    assert_eq!(page(usize::MAX, usize::MAX).range(3), 3..3);
    assert_eq!(page(0, 2).range(3), 0..2);
}

#[test]
fn sort_order_is_case_insensitive_and_defaults_to_ascending() {
    assert_eq!(SortOrder::parse(None).unwrap(), SortOrder::Ascending);
    assert_eq!(
        SortOrder::parse(Some("DESCENDING")).unwrap(),
        SortOrder::Descending
    );
    assert_eq!(
        SortOrder::parse(Some("Ascending")).unwrap(),
        SortOrder::Ascending
    );
    assert!(matches!(
        SortOrder::parse(Some("up")),
        Err(ScimError::InvalidValue(_))
    ));
}

fn ids(docs: &[Value]) -> Vec<&str> {
    docs.iter().map(|d| d["id"].as_str().unwrap()).collect()
}

fn sorted(mut docs: Vec<Value>, by: &str, order: SortOrder) -> Vec<String> {
    sort(&mut docs, by, order, &USER_TYPE);
    ids(&docs).into_iter().map(String::from).collect()
}

#[test]
fn strings_sort_case_insensitively_with_missing_values_last() {
    let docs = vec![
        json!({"id": "1", "userName": "bob"}),
        json!({"id": "2"}),
        json!({"id": "3", "userName": "Alice"}),
        json!({"id": "4", "userName": "carol"}),
        json!({"id": "5", "userName": "BOB"}),
    ];
    assert_eq!(
        sorted(docs.clone(), "userName", SortOrder::Ascending),
        ["3", "1", "5", "4", "2"]
    );
    // Descending reverses the values but keeps ties stable.
    assert_eq!(
        sorted(docs, "USERNAME", SortOrder::Descending),
        ["2", "4", "1", "5", "3"]
    );
}

#[test]
fn case_exact_attributes_sort_by_code_point() {
    let docs = vec![json!({"id": "b"}), json!({"id": "B"}), json!({"id": "a"})];
    assert_eq!(sorted(docs, "id", SortOrder::Ascending), ["B", "a", "b"]);
}

#[test]
fn multi_valued_attributes_sort_by_primary_else_first() {
    let docs = vec![
        json!({"id": "1", "emails": [{"value": "z@x"}, {"value": "a@x", "primary": true}]}),
        json!({"id": "2", "emails": [{"value": "m@x"}, {"value": "b@x"}]}),
        json!({"id": "3", "emails": []}),
    ];
    assert_eq!(
        sorted(docs.clone(), "emails", SortOrder::Ascending),
        ["1", "2", "3"]
    );
    assert_eq!(
        sorted(docs, "emails.value", SortOrder::Ascending),
        ["1", "2", "3"]
    );
}

#[test]
fn date_times_compare_as_instants_and_extensions_by_urn() {
    let docs = vec![
        json!({"id": "1", "meta": {"lastModified": "2024-01-01T12:00:00+02:00"}}),
        json!({"id": "2", "meta": {"lastModified": "2024-01-01T11:00:00Z"}}),
    ];
    // 12:00+02:00 is 10:00Z, earlier than 11:00Z although it is the larger string.
    assert_eq!(
        sorted(docs, "meta.lastModified", SortOrder::Ascending),
        ["1", "2"]
    );
    let docs = vec![
        json!({"id": "1", ENTERPRISE_USER: {"employeeNumber": "b"}}),
        json!({"id": "2", ENTERPRISE_USER: {"employeeNumber": "a"}}),
    ];
    let by = format!("{ENTERPRISE_USER}:employeeNumber");
    assert_eq!(sorted(docs, &by, SortOrder::Ascending), ["2", "1"]);
}

#[test]
fn unknown_sort_paths_keep_the_order() {
    let mut docs = vec![
        json!({"id": "2", "displayName": "b"}),
        json!({"id": "1", "displayName": "a"}),
    ];
    sort(&mut docs, "nosuch", SortOrder::Ascending, &GROUP_TYPE);
    sort(
        &mut docs,
        "members[value eq \"x\"]",
        SortOrder::Ascending,
        &GROUP_TYPE,
    );
    assert_eq!(ids(&docs), ["2", "1"]);
    sort(&mut docs, "displayName", SortOrder::Ascending, &GROUP_TYPE);
    assert_eq!(ids(&docs), ["1", "2"]);
}
