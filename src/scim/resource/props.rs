//! Property tests: `normalize_input` on arbitrary nested JSON.

use proptest::prelude::*;
use serde_json::{json, Value};

use crate::scim::quirk::Quirks;
use crate::scim::schema::{ENTERPRISE_USER, GROUP_TYPE, USER, USER_TYPE};

/// Arbitrary nested JSON whose keys are often attribute names the normaliser knows.
pub(super) fn arb_json() -> impl Strategy<Value = Value> {
    let known = [
        "userName",
        "password",
        "PASSWORD",
        "emails",
        "name",
        "active",
        "members",
        "value",
        "groups",
        "schemas",
        "id",
        "meta",
        "displayName",
        "manager",
        "$ref",
        "primary",
    ];
    let key = prop_oneof![
        proptest::sample::select(known.to_vec()).prop_map(String::from),
        Just(ENTERPRISE_USER.to_owned()),
        Just(format!("{ENTERPRISE_USER}:employeeNumber")),
        Just(format!("{ENTERPRISE_USER}:manager")),
        Just(format!("{USER}:password")),
        "[a-zA-Z$:.]{0,10}",
    ]
    .boxed();
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f)
            .map(Value::Number)),
        prop_oneof![Just("True".to_owned()), Just(String::new()), ".{0,8}"].prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 64, 6, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::vec((key.clone(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

fn has_password(doc: &Value) -> bool {
    let top = doc.as_object().into_iter().flat_map(|m| m.keys());
    let ext = doc
        .get(ENTERPRISE_USER)
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|m| m.keys());
    top.chain(ext)
        .any(|k| k.to_ascii_lowercase().contains("password"))
}

proptest! {
    #[test]
    fn normalize_input_never_panics_or_stores_a_password(
        body in arb_json(),
        required in any::<bool>(),
    ) {
        for rt in [&USER_TYPE, &GROUP_TYPE] {
            let mut body = body.clone();
            if let (true, Some(map)) = (required, body.as_object_mut()) {
                map.insert("userName".into(), json!("u"));
                map.insert("displayName".into(), json!("g"));
                map.insert("password".into(), json!("secret"));
            }
            if let Ok(doc) = super::normalize_input(body, rt, &mut Quirks::default()) {
                prop_assert!(!has_password(&doc), "{}", doc);
                prop_assert_eq!(&doc["schemas"][0], &json!(rt.schema.id));
                // The stored form is a fixed point: normalising it again changes nothing and
                // applies no quirk (so a PATCH's re-validation can never add one).
                let mut again = Quirks::default();
                prop_assert_eq!(super::normalize_input(doc.clone(), rt, &mut again), Ok(doc));
                prop_assert_eq!(again.names(), Vec::<&str>::new());
            }
        }
    }
}
