//! embedded backend (in progress).
