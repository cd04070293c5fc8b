//! Arbitrary bytes as a `POST /scim/v2/Bulk` body to an in-process bridge: every request gets
//! an answer, and never a 500 (a panic or an internal fault reached by input alone).
#![no_main]

use libfuzzer_sys::fuzz_target;
use scim_bridge_fuzz::{exchange, request, status};

fuzz_target!(|data: &[u8]| {
    let answer = exchange(&request("POST", "/scim/v2/Bulk", data));
    let code = status(&answer).expect("every Bulk request gets an HTTP answer");
    assert_ne!(code, 500, "{}", String::from_utf8_lossy(&answer));
});
