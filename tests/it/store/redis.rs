//! Redis backend tests (in progress).
