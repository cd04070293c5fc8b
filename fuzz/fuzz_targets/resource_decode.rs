//! Arbitrary bytes as a POST/PUT body for a User and a Group: decoding and normalisation (the
//! identity-provider quirks) never panic, and what they accept is a fixed point: normalising
//! the result again succeeds, changes nothing and applies no quirk.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scim_bridge::scim::{quirk::Quirks, resource::normalize_input, schema};
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    for rt in [&schema::USER_TYPE, &schema::GROUP_TYPE] {
        if let Ok(once) = normalize_input(body.clone(), rt, &mut Quirks::default()) {
            let mut again = Quirks::default();
            let twice = normalize_input(once.clone(), rt, &mut again)
                .unwrap_or_else(|e| panic!("a normalised document is refused: {e:?}"));
            assert_eq!(once, twice, "normalisation is not idempotent");
            assert!(
                again.is_empty(),
                "a normalised document applies {:?}",
                again.names()
            );
        }
    }
});
