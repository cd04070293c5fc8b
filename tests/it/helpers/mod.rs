//! Test helpers shared by the integration tests: external processes and fixtures.

pub(crate) mod redis;
