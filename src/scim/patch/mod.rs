//! SCIM PATCH (RFC 7644 §3.5.2): parsing a PatchOp request leniently ([`parse_request`]),
//! applying its operations to a resource document all-or-nothing ([`apply`], §3.5.2.1–3), and
//! lifting group membership changes out of it ([`split_members`]) so the engine can keep
//! members in a set instead of the document.
//!
//! The document is a `serde_json::Value` object with canonical attribute names at the top and
//! extension attributes under their schema URN. This module knows schemas and values, not
//! storage, versions (`meta`) or HTTP. The identity-provider quirks it accepts are listed in the
//! README (section "The SCIM API", "Accepted quirks") and each has a test named after its
//! provider under `tests/it/scim/`. Pure; no I/O.

mod apply;
mod index;
mod members;
mod remove;
mod request;
mod slots;
mod write;

use serde_json::Value;

use super::{filter::Filter, path::PatchPath};

pub mod primary;
pub use apply::{apply, apply_owned};
pub use members::split_members;
pub use request::{parse_request, parse_request_owned};

/// The URI of a PATCH request message.
pub const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// A PATCH operation's kind; parsed case-insensitively (Entra sends `Add`, `Replace`, `Remove`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpKind {
    /// Add values (RFC 7644 §3.5.2.1).
    Add,
    /// Replace values (§3.5.2.3).
    Replace,
    /// Remove values (§3.5.2.2).
    Remove,
}

/// One operation of a PATCH request.
#[derive(Clone, Debug, PartialEq)]
pub struct PatchOp {
    /// What to do.
    pub op: OpKind,
    /// Where; `None` means the value is an object of attribute paths.
    pub path: Option<PatchPath>,
    /// The value, as sent.
    pub value: Option<Value>,
}

/// A change to a group's member set, in request order.
#[derive(Clone, Debug, PartialEq)]
pub enum MemberChange {
    /// Add these member objects (each has a `value`).
    Add(Vec<Value>),
    /// Remove the members with these ids.
    Remove(Vec<String>),
    /// Remove the members a filter on member objects selects.
    RemoveMatching(Filter),
    /// Remove every member.
    Clear,
    /// Make the member set exactly these member objects.
    Replace(Vec<Value>),
}

/// The parsers with the quirks they note thrown away, for tests about other things.
#[cfg(test)]
mod unnoted {
    use serde_json::Value;

    use super::{MemberChange, PatchOp};
    use crate::scim::{error::ScimError, quirk::Quirks, schema::ResourceType};

    pub(super) fn parse_request(body: &Value) -> Result<Vec<PatchOp>, ScimError> {
        super::parse_request(body, &mut Quirks::default())
    }

    pub(super) fn apply(
        doc: &mut Value,
        ops: &[PatchOp],
        rt: &ResourceType,
    ) -> Result<(), ScimError> {
        super::apply(doc, ops, rt, &mut Quirks::default())
    }

    pub(super) fn split_members(
        ops: Vec<PatchOp>,
        rt: &ResourceType,
    ) -> Result<(Vec<PatchOp>, Vec<MemberChange>), ScimError> {
        super::split_members(ops, rt, &mut Quirks::default())
    }
}

#[cfg(test)]
mod linear_tests;
#[cfg(test)]
mod member_tests;
#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
