//! Request handlers, one file per endpoint group: parse → act → render.

pub mod ops;
pub mod scim;
pub mod status;
