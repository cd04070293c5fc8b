//! The SCIM 2.0 protocol layer (RFC 7643 core schema, RFC 7644 protocol).
//!
//! * [`bulk`]: Bulk requests (RFC 7644 §3.7): `bulkId` resolution, dependency order and the
//!   BulkResponse.
//! * [`discovery`]: `/ServiceProviderConfig`, `/ResourceTypes` and `/Schemas` documents
//!   (RFC 7644 §4), generated from the schema tables.
//! * [`engine`]: the provisioning engine over the store.
//! * [`events`]: provisioning events: the change a write made, as the feed and webhooks carry it.
//! * [`error`]: the error document of RFC 7644 §3.12 and the one mapping from failures to
//!   status and `scimType`.
//! * [`filter`]: the filter grammar of RFC 7644 §3.4.2.2: parse, validate, evaluate.
//! * [`list`]: the ListResponse message of RFC 7644 §3.4.2, pagination and sorting.
//! * [`patch`]: PATCH (RFC 7644 §3.5.2): parsing, atomic application, member changes.
//! * [`path`]: attribute paths (RFC 7644 §3.10) and PATCH paths (§3.5.2).
//! * [`quirk`]: the identity-provider quirks the bridge accepts, named for the events' `normalized`.
//! * [`project`]: `attributes` / `excludedAttributes` projection (RFC 7644 §3.4.2.5).
//! * [`resource`]: POST/PUT bodies into stored documents; `meta`, `location` and ETags.
//! * [`schema`]: the User, Enterprise User and Group schemas with attribute characteristics.
//! * [`records`]: how users, groups, indexes and memberships map onto the store.
//! * [`value`]: coercion of attribute values into their schema shape, with IdP leniency.
//!
//! Pure protocol logic (everything but `engine` and `records`): no sockets, no HTTP types
//! beyond status codes.

pub mod bulk;
pub mod commit_point;
pub mod cpu;
pub mod deprovision;
pub mod discovery;
pub mod engine;
pub mod error;
pub mod events;
pub mod filter;
pub mod list;
pub mod patch;
pub mod path;
pub mod project;
pub mod quirk;
pub mod records;
pub mod resource;
pub mod schema;
pub mod value;

/// The media type of every SCIM response (RFC 7644 §3.1).
pub const CONTENT_TYPE: &str = "application/scim+json";
