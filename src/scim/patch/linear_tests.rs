//! Multi-valued add, replace and remove: the semantics the hash indexes must keep (equality as
//! `serde_json`'s `==`, case rules of the schema) and the cost they promise (linear).

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::tests::{ops, patch, user};
use crate::scim::{
    filter::{element_matches, parse_patch_path},
    schema::{USER_SCHEMA, USER_TYPE},
};

fn emails(doc: &Value) -> Vec<Value> {
    doc["emails"].as_array().cloned().unwrap_or_default()
}

#[test]
fn add_keeps_equal_values_once_and_compares_exactly() {
    let doc = patch(
        user(),
        &USER_TYPE,
        ops(json!([{"op": "add", "path": "emails", "value": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"type": "home", "value": "b@home.example"},
            {"value": "b@home.example", "type": "home"},
            {"value": "B@HOME.example", "type": "home"}
        ]}])),
    )
    .unwrap();
    let values: Vec<Value> = emails(&doc).iter().map(|e| e["value"].clone()).collect();
    // Equal objects (keys in any order) once; values differing only in case are distinct, as
    // they were with the linear `contains`.
    assert_eq!(
        values,
        [
            json!("bjensen@example.com"),
            json!("b@home.example"),
            json!("B@HOME.example")
        ]
    );
}

#[test]
fn replace_deduplicates_the_new_list() {
    let doc = patch(
        user(),
        &USER_TYPE,
        ops(json!([{"op": "replace", "path": "emails", "value": [
            {"value": "a@x"}, {"value": "a@x"}, {"value": "b@x"}
        ]}])),
    )
    .unwrap();
    assert_eq!(
        emails(&doc),
        [json!({"value": "a@x"}), json!({"value": "b@x"})]
    );
}

#[test]
fn listed_remove_matches_on_value_exactly_or_on_the_whole_element() {
    let start = patch(
        user(),
        &USER_TYPE,
        ops(json!([{"op": "add", "path": "emails", "value": [
            {"value": "a@x", "type": "home"}, {"value": "A@X"}, {"type": "other"}
        ]}])),
    )
    .unwrap();
    let doc = patch(
        start,
        &USER_TYPE,
        ops(json!([{"op": "remove", "path": "emails", "value": [
            {"value": "a@x", "type": "work"}, {"type": "other"}, {"value": "nobody@x"}
        ]}])),
    )
    .unwrap();
    // `a@x` goes whatever its type; `A@X` stays (exact); `{"type":"other"}` matched whole.
    let values: Vec<Value> = emails(&doc).iter().map(|e| e["value"].clone()).collect();
    assert_eq!(values, [json!("bjensen@example.com"), json!("A@X")]);
}

#[test]
fn or_filter_removes_exactly_what_the_evaluator_selects() {
    let list: Vec<Value> = ["a@x", "A@X", "b@x", "c@x", "B@x"]
        .iter()
        .map(|v| json!({"value": v}))
        .collect();
    let start = json!({"userName": "u", "emails": list});
    let emails_attr = USER_SCHEMA.attribute("emails").unwrap();
    for path in [
        r#"emails[value eq "a@x" or value eq "b@X"]"#,
        r#"emails[value eq "C@X"]"#,
        r#"emails[value eq "z@x" or type eq "work"]"#,
        r#"emails[value eq "a@x" or display eq "x"]"#,
    ] {
        let filter = parse_patch_path(path).unwrap().filter.unwrap();
        let expected: Vec<Value> = list
            .iter()
            .filter(|e| !element_matches(&filter, e, emails_attr))
            .cloned()
            .collect();
        let doc = patch(
            start.clone(),
            &USER_TYPE,
            ops(json!([{"op": "remove", "path": path}])),
        )
        .unwrap();
        assert_eq!(emails(&doc), expected, "{path}");
    }
}

fn many(n: usize, from: usize) -> Vec<Value> {
    (from..from + n)
        .map(|i| json!({"value": format!("user{i}@example.com"), "type": "work"}))
        .collect()
}

/// On the old quadratic code, this was 20,000 × 100,000 comparisons (36.9 s in a release
/// build); indexed, it is well under a second even unoptimised.
#[test]
fn removing_20000_listed_values_from_100000_is_linear() {
    let doc = json!({"userName": "u", "emails": many(100_000, 0)});
    let started = Instant::now();
    let doc = patch(
        doc,
        &USER_TYPE,
        ops(json!([{"op": "remove", "path": "emails", "value": many(20_000, 40_000)}])),
    )
    .unwrap();
    let took = started.elapsed();
    assert_eq!(emails(&doc).len(), 80_000);
    assert!(took < Duration::from_secs(10), "took {took:?}");
    let started = Instant::now();
    let doc = patch(
        doc,
        &USER_TYPE,
        ops(json!([{"op": "add", "path": "emails", "value": many(20_000, 90_000)}])),
    )
    .unwrap();
    let took = started.elapsed();
    assert_eq!(emails(&doc).len(), 90_000);
    assert!(took < Duration::from_secs(10), "took {took:?}");
}
