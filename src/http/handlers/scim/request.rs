//! Reading a SCIM request: the base URL for `meta.location`, query parameters, JSON bodies,
//! and the `If-Match`/`If-None-Match` versions.

use http::{header, request::Parts};
use serde_json::Value;

use crate::{
    auth::Caller,
    edge::TlsConnection,
    http::{
        client::Client,
        origin::{self, OriginParts},
        AppState,
    },
    scim::{
        engine::Ctx, engine::SearchQuery, error::ScimError, events::Actor, resource::parse_etag,
    },
};

/// The SCIM base URL of this request (its origin, see [`crate::http::origin`], and the prefix
/// the client used) and who made it.
pub(super) fn ctx(state: &AppState, parts: &Parts, v2: bool, caller: &Caller) -> Ctx {
    let host = parts.uri.authority().map(|a| a.as_str()).or_else(|| {
        parts
            .headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
    });
    let forwarded_https = parts
        .extensions
        .get::<Client>()
        .is_some_and(|c| c.forwarded_https);
    let origin = origin::origin(OriginParts {
        public_url: state.posture.public_url.as_deref(),
        host,
        over_tls: parts.extensions.get::<TlsConnection>().is_some(),
        https: forwarded_https || parts.uri.scheme_str() == Some("https"),
        tls_domain: state.posture.tls_domain.as_deref(),
    });
    let prefix = if v2 { "/scim/v2" } else { "/scim" };
    Ctx {
        base_url: format!("{origin}{prefix}"),
        actor: actor(parts, caller),
    }
}

/// Who made the request: the token's label and the client's `User-Agent` (events' `actor`).
pub(crate) fn actor(parts: &Parts, caller: &Caller) -> Actor {
    Actor {
        token: caller.token_label.clone(),
        user_agent: parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    }
}

pub(super) use crate::http::handlers::param;

/// The query of a GET on a collection.
pub(super) fn search_query(parts: &Parts) -> SearchQuery {
    SearchQuery {
        filter: param(parts, "filter"),
        sort_by: param(parts, "sortBy"),
        sort_order: param(parts, "sortOrder"),
        start_index: param(parts, "startIndex"),
        count: param(parts, "count"),
        attributes: param(parts, "attributes"),
        excluded_attributes: param(parts, "excludedAttributes"),
    }
}

/// The query of a `POST /.search` body (RFC 7644 §3.4.3).
pub(super) fn search_body(body: &Value) -> Result<SearchQuery, ScimError> {
    let obj = body
        .as_object()
        .ok_or_else(|| ScimError::InvalidSyntax("a SearchRequest must be a JSON object".into()))?;
    let get = |name: &str| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    };
    let text = |name: &str| -> Result<Option<String>, ScimError> {
        match get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(Value::Array(items)) => Ok(Some(
                items
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(","),
            )),
            Some(_) => Err(ScimError::InvalidValue(format!(
                "{name} has the wrong type"
            ))),
        }
    };
    Ok(SearchQuery {
        filter: text("filter")?,
        sort_by: text("sortBy")?,
        sort_order: text("sortOrder")?,
        start_index: text("startIndex")?,
        count: text("count")?,
        attributes: text("attributes")?,
        excluded_attributes: text("excludedAttributes")?,
    })
}

/// Parses a JSON request body.
pub(super) fn json_body(body: &[u8]) -> Result<Value, ScimError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ScimError::InvalidSyntax("the request body is empty".into()));
    }
    // Decoding a large body is CPU work: off the async workers (see `scim::cpu`).
    crate::scim::cpu::heavy(body.len(), || serde_json::from_slice(body)).map_err(|e| {
        ScimError::InvalidSyntax(format!(
            "the request body is not valid JSON (line {}, column {})",
            e.line(),
            e.column()
        ))
    })
}

/// The version named by `If-Match`: `None` when absent or `*`.
pub(super) fn if_match(parts: &Parts) -> Result<Option<u64>, ScimError> {
    let Some(value) = parts.headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or("").trim();
    if text == "*" {
        return Ok(None);
    }
    parse_etag(text).map(Some).ok_or_else(|| {
        ScimError::PreconditionFailed(format!(
            "If-Match {text:?} is not a version of this resource"
        ))
    })
}

/// Whether `If-None-Match` names `version` (or `*`).
pub(super) fn if_none_match(parts: &Parts, version: u64) -> bool {
    parts
        .headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .map(str::trim)
                .any(|tag| tag == "*" || parse_etag(tag) == Some(version))
        })
}

/// Whether the client asked for a projection (then a group PATCH answers 200 with the body).
pub(super) fn wants_body(parts: &Parts) -> bool {
    param(parts, "attributes").is_some() || param(parts, "excludedAttributes").is_some()
}
