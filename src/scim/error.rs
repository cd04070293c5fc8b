//! SCIM error documents (RFC 7644 §3.12): one enum of failures, one exhaustive mapping to
//! HTTP status and `scimType`, so a new kind of failure forces a decision here.

use std::sync::Arc;

use serde_json::{json, Value};

/// The schema URI of an error document.
pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// Everything a SCIM request can fail with.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ScimError {
    /// 400 invalidFilter: the filter syntax or an operator is not valid.
    #[error("{0}")]
    InvalidFilter(String),
    /// 400 tooMany: the query would return more results than allowed.
    #[error("{0}")]
    TooMany(String),
    /// 409 uniqueness: a value that must be unique is taken.
    #[error("{0}")]
    Uniqueness(String),
    /// 400 mutability: an attempt to change a read-only or immutable attribute.
    #[error("{0}")]
    Mutability(String),
    /// 400 invalidSyntax: the request body is not a valid SCIM message.
    #[error("{0}")]
    InvalidSyntax(String),
    /// 400 invalidPath: a PATCH or attribute path is not valid.
    #[error("{0}")]
    InvalidPath(String),
    /// 400 noTarget: a PATCH path selected nothing where something was required.
    #[error("{0}")]
    NoTarget(String),
    /// 400 invalidValue: a value is missing, of the wrong type, or not allowed.
    #[error("{0}")]
    InvalidValue(String),
    /// 400 invalidVers: the SCIM version in the request is not supported.
    #[error("{0}")]
    InvalidVersion(String),
    /// 401: no valid bearer token.
    #[error("{0}")]
    Unauthorized(String),
    /// 403: the caller may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// 404: no such resource or endpoint.
    #[error("{0}")]
    NotFound(String),
    /// 405: the endpoint exists but not with this method.
    #[error("{0}")]
    MethodNotAllowed(String),
    /// 409: a conflicting concurrent change.
    #[error("{0}")]
    Conflict(String),
    /// 410: the events after a cursor are no longer kept; `oldest` (also in the document)
    /// names the oldest event that is.
    #[error("{detail}")]
    Gone {
        /// What happened.
        detail: String,
        /// The oldest event kept.
        oldest: u64,
    },
    /// 412: `If-Match` named a version that is not current.
    #[error("{0}")]
    PreconditionFailed(String),
    /// 413: the request body is larger than allowed.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// 415: the request body is not JSON.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 501: a part of the protocol this server does not offer.
    #[error("{0}")]
    NotImplemented(String),
    /// 429: too many requests of a kind from one client (RFC 7644 §3.12 allows it); the
    /// caller adds `Retry-After`.
    #[error("{0}")]
    TooManyRequests(String),
    /// 503: a dependency (the store) is unavailable; retry later.
    #[error("{0}")]
    Unavailable(String),
    /// 503: the deprovisioning guard holds this deactivation or deletion until an operator
    /// releases it; a retry within seconds would be refused again (`Retry-After` says
    /// [`HELD_RETRY_AFTER_SECS`]).
    #[error("{0}")]
    Held(String),
    /// 500: a write was handed to the store, which did not confirm it in time, so it may or may
    /// not have been applied; the client should read the resource before retrying.
    #[error("{0}")]
    OutcomeUnknown(String),
    /// 500: a fault on our side. Clients get a generic detail; the cause is kept for the one
    /// log line the handler writes (`error_chain::chain` prints it).
    #[error("internal server error")]
    Internal(#[source] Fault),
}

/// The `Retry-After` of a request the deprovisioning guard holds: long enough not to invite
/// a hammering of retries, short enough that a retry lands soon after a release.
pub const HELD_RETRY_AFTER_SECS: u32 = 60;

/// The cause of an internal error: its own message and sources, never shown to clients.
/// Shared (`Arc`) so the error stays `Clone`; two faults are equal when their messages are.
#[derive(Clone, Debug)]
pub struct Fault(Arc<dyn std::error::Error + Send + Sync>);

impl Fault {
    /// A fault caused by `e`.
    pub fn new(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self(Arc::new(e))
    }

    /// A fault with no error value behind it: a broken invariant, described.
    pub fn broken(what: &str) -> Self {
        Self(Arc::from(Box::<dyn std::error::Error + Send + Sync>::from(
            what.to_owned(),
        )))
    }
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for Fault {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

impl PartialEq for Fault {
    fn eq(&self, other: &Self) -> bool {
        self.to_string() == other.to_string()
    }
}

impl Eq for Fault {}

impl ScimError {
    /// The HTTP status and `scimType` of this error.
    pub fn status_and_type(&self) -> (u16, Option<&'static str>) {
        match self {
            ScimError::InvalidFilter(_) => (400, Some("invalidFilter")),
            ScimError::TooMany(_) => (400, Some("tooMany")),
            ScimError::Uniqueness(_) => (409, Some("uniqueness")),
            ScimError::Mutability(_) => (400, Some("mutability")),
            ScimError::InvalidSyntax(_) => (400, Some("invalidSyntax")),
            ScimError::InvalidPath(_) => (400, Some("invalidPath")),
            ScimError::NoTarget(_) => (400, Some("noTarget")),
            ScimError::InvalidValue(_) => (400, Some("invalidValue")),
            ScimError::InvalidVersion(_) => (400, Some("invalidVers")),
            ScimError::Unauthorized(_) => (401, None),
            ScimError::Forbidden(_) => (403, None),
            ScimError::NotFound(_) => (404, None),
            ScimError::MethodNotAllowed(_) => (405, None),
            ScimError::Conflict(_) => (409, None),
            ScimError::Gone { .. } => (410, None),
            ScimError::PreconditionFailed(_) => (412, None),
            ScimError::PayloadTooLarge(_) => (413, None),
            ScimError::UnsupportedMediaType(_) => (415, None),
            ScimError::NotImplemented(_) => (501, None),
            ScimError::TooManyRequests(_) => (429, None),
            ScimError::Unavailable(_) | ScimError::Held(_) => (503, None),
            ScimError::OutcomeUnknown(_) | ScimError::Internal(_) => (500, None),
        }
    }

    /// The error document; `status` is a string, as RFC 7644 §3.12 specifies.
    pub fn to_document(&self) -> Value {
        let (status, scim_type) = self.status_and_type();
        let mut doc = json!({
            "schemas": [ERROR_SCHEMA],
            "status": status.to_string(),
            "detail": self.to_string(),
        });
        if let Some(t) = scim_type {
            doc["scimType"] = Value::from(t);
        }
        if let ScimError::Gone { oldest, .. } = self {
            doc["oldest"] = Value::from(*oldest);
        }
        doc
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_carry_string_status_and_scim_type() {
        let doc = ScimError::Uniqueness("userName is taken".into()).to_document();
        assert_eq!(doc["status"], "409");
        assert_eq!(doc["scimType"], "uniqueness");
        assert_eq!(doc["detail"], "userName is taken");
        assert_eq!(doc["schemas"][0], ERROR_SCHEMA);
        let doc = ScimError::NotFound("no such user".into()).to_document();
        assert_eq!(doc["status"], "404");
        assert!(doc.get("scimType").is_none());
        let doc = ScimError::Gone {
            detail: "trimmed".into(),
            oldest: 41,
        }
        .to_document();
        assert_eq!(
            (doc["status"].as_str(), doc["oldest"].as_u64()),
            (Some("410"), Some(41))
        );
    }

    #[test]
    fn internal_errors_give_a_generic_detail() {
        let e = ScimError::Internal(Fault::new(std::io::Error::other("disk on fire")));
        let doc = e.to_document();
        assert_eq!(doc["status"], "500");
        assert_eq!(doc["detail"], "internal server error");
        // The cause is for the log line, not the client.
        assert!(!doc.to_string().contains("disk"));
        assert_eq!(
            crate::error_chain::chain(&e),
            "internal server error: disk on fire"
        );
    }

    #[test]
    fn invalid_version_uses_the_rfc_spelling() {
        let (status, t) = ScimError::InvalidVersion("x".into()).status_and_type();
        assert_eq!((status, t), (400, Some("invalidVers")));
    }
}
