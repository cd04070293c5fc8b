//! The `scim-bridge` binary: parse arguments, then hand over to the library.
fn main() {}
