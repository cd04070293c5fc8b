//! The SCIM 2.0 protocol layer (RFC 7643 core schema, RFC 7644 protocol).
//!
//! * [`error`]: the error document of RFC 7644 §3.12 and the one mapping from failures to
//!   status and `scimType`.
//! * [`filter`]: the filter grammar of RFC 7644 §3.4.2.2: parsing, validation, evaluation.
//! * [`list`]: the ListResponse message of RFC 7644 §3.4.2.
//! * [`patch`]: PATCH (RFC 7644 §3.5.2): parsing, atomic application, member changes.
//! * [`path`]: attribute paths (RFC 7644 §3.10) and PATCH paths (§3.5.2).
//! * [`schema`]: the User, Enterprise User and Group schemas with attribute characteristics.
//! * [`value`]: coercion of attribute values into their schema shape, with IdP leniency.
//!
//! Pure protocol logic: no sockets, no HTTP types beyond status codes.

pub mod error;
pub mod filter;
pub mod list;
pub mod patch;
pub mod path;
pub mod schema;
pub mod value;

/// The media type of every SCIM response (RFC 7644 §3.1).
pub const CONTENT_TYPE: &str = "application/scim+json";
