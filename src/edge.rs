//! edge (in progress).
