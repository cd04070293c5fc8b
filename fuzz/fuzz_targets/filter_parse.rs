//! Filter parsing must never panic, and whatever parses must print to a form that re-parses to
//! the same AST; validation and evaluation of a parsed filter must never panic either.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scim_bridge::scim::{filter, schema};
use serde_json::json;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(f) = filter::parse(text) else {
        return;
    };
    let printed = f.to_string();
    assert_eq!(filter::parse(&printed).as_ref(), Ok(&f), "{printed}");
    let doc = json!({"userName": "a@b.c", "emails": [{"value": "a@b.c", "type": "work"}],
                     "meta": {"lastModified": "2011-05-13T04:42:34Z"}, "active": true});
    let _ = f.validate(&schema::USER_TYPE);
    let _ = f.matches(&doc, &schema::USER_TYPE);
    let _ = f.equality(&schema::USER_TYPE, "userName");
});
