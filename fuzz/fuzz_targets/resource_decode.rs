//! Arbitrary bytes as a POST/PUT body for a User and a Group: decoding and normalisation (the
//! identity-provider quirks) never panic, and what they accept is a fixed point: normalising
//! the result again succeeds and changes nothing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scim_bridge::scim::{resource::normalize_input, schema};
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    for rt in [&schema::USER_TYPE, &schema::GROUP_TYPE] {
        if let Ok(once) = normalize_input(body.clone(), rt) {
            let twice = normalize_input(once.clone(), rt)
                .unwrap_or_else(|e| panic!("a normalised document is refused: {e:?}"));
            assert_eq!(once, twice, "normalisation is not idempotent");
        }
    }
});
