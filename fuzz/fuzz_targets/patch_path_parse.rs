//! PATCH path, attribute path and attribute list parsing must never panic, and a parsed PATCH
//! path must print to a form that re-parses to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scim_bridge::scim::{path, schema};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(p) = path::parse_patch_path(text) {
        let printed = p.to_string();
        assert_eq!(path::parse_patch_path(&printed).as_ref(), Ok(&p), "{printed}");
        let _ = p.resolve(&schema::USER_TYPE);
        let _ = p.resolve(&schema::GROUP_TYPE);
    }
    let _ = path::parse_attr_path(text);
    let _ = path::parse_attribute_list(text);
});
