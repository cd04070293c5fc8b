//! The single integration-test binary: shared helpers plus one module per area under test.

mod helpers;
mod store;
