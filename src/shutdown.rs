//! shutdown (in progress).
