//! conformance backend (in progress).
