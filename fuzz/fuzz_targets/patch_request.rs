//! Arbitrary bytes as a PATCH request body: the PatchOp parser never panics, and every path it
//! accepts prints to a form that re-parses to the same path.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scim_bridge::scim::{patch, path, quirk::Quirks};
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    if let Ok(ops) = patch::parse_request(&body, &mut Quirks::default()) {
        for op in ops {
            if let Some(p) = op.path {
                let printed = p.to_string();
                assert_eq!(
                    path::parse_patch_path(&printed).as_ref(),
                    Ok(&p),
                    "{printed}"
                );
            }
        }
    }
});
