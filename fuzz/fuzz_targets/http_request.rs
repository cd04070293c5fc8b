//! A whole authenticated HTTP request to an in-process bridge, shaped by the input: a method
//! (first byte), a path and query (up to the first newline, printable ASCII only so the request
//! line is valid), and a body (the rest). Every request gets an answer, and never a 500.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scim_bridge_fuzz::{exchange, request, status};

const METHODS: [&str; 6] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"];
const PREFIXES: [&str; 4] = ["/scim/v2/", "/scim/", "/", "/scim/v2/Users/"];

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let method = METHODS[usize::from(first & 0x07) % METHODS.len()];
    let prefix = PREFIXES[usize::from(first >> 6)];
    let split = rest.iter().position(|b| *b == b'\n').unwrap_or(rest.len());
    let (target, body) = rest.split_at(split);
    let body = body.get(1..).unwrap_or_default();
    let target: String = target
        .iter()
        .filter(|b| b.is_ascii_graphic())
        .map(|b| char::from(*b))
        .collect();
    let path = format!("{prefix}{target}");
    let answer = exchange(&request(method, &path, body));
    let code = status(&answer).expect("every request gets an HTTP answer");
    assert_ne!(
        code,
        500,
        "{method} {path}: {}",
        String::from_utf8_lossy(&answer)
    );
});
