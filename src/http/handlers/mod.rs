//! Request handlers, one file per endpoint group: parse → act → render.

pub mod directory;
pub mod events;
pub mod ops;
pub mod scim;
pub mod status;
pub mod workspace;

/// One query parameter, decoded; names match case-insensitively (clients vary).
pub(crate) fn param(parts: &http::request::Parts, name: &str) -> Option<String> {
    let query = parts.uri.query()?;
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.into_owned())
}
