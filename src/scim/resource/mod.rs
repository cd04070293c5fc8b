//! SCIM resources as documents (RFC 7643 §3): POST/PUT bodies normalised into the stored form,
//! the PUT immutability rule, and the full representation with `meta` and a weak ETag
//! (RFC 7643 §3.1, RFC 7644 §3.14).
//!
//! It owns the shape of a stored document; it must not know storage, HTTP or how ids and
//! timestamps are produced: the engine passes them in. Pure: no I/O.

use serde_json::{Map, Value};
use time::{format_description::well_known::Rfc3339, OffsetDateTime};

use super::schema::ResourceType;

mod normalize;
#[cfg(test)]
mod props;
pub mod splice;
#[cfg(test)]
mod tests;

pub use normalize::{check_immutable, normalize_input};

/// The server-maintained metadata of one resource (RFC 7643 §3.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Meta {
    /// The resource type's name (`User`, `Group`).
    pub resource_type: &'static str,
    /// When the resource was created.
    pub created: OffsetDateTime,
    /// When the resource last changed.
    pub last_modified: OffsetDateTime,
    /// The version, rendered as a weak ETag.
    pub version: u64,
    /// The absolute URL of the resource (see [`location`]).
    pub location: String,
}

impl Meta {
    /// The metadata of resource `id` of type `rt`, its location under `base_url`.
    pub fn new(
        rt: &ResourceType,
        base_url: &str,
        id: &str,
        created: OffsetDateTime,
        last_modified: OffsetDateTime,
        version: u64,
    ) -> Meta {
        Meta {
            resource_type: rt.name,
            created,
            last_modified,
            version,
            location: location(base_url, rt, id),
        }
    }
}

/// The absolute URL of resource `id`: `base_url` (with or without a trailing `/`), the
/// resource type's endpoint, the id.
pub fn location(base_url: &str, rt: &ResourceType, id: &str) -> String {
    location_parts(base_url, rt, id).concat()
}

/// The pieces of [`location`], in order, for a writer that copies them without joining them.
pub(crate) fn location_parts<'a>(
    base_url: &'a str,
    rt: &'a ResourceType,
    id: &'a str,
) -> [&'a str; 4] {
    [base_url.trim_end_matches('/'), rt.endpoint, "/", id]
}

/// The full representation: `schemas`, `id`, the stored attributes, then `meta`. Any `id` or
/// `meta` in `doc` is replaced.
pub fn with_meta(doc: Value, id: &str, meta: &Meta) -> Value {
    let mut map = match doc {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    // Edited in place, so no attribute is hashed and inserted again (a rendered page of 100
    // spent a tenth of its time re-inserting). `shift_*` keeps the attributes' order, where
    // plain `remove` would swap the last attribute into the hole (preserve_order semantics).
    map.shift_remove("id");
    map.shift_remove("meta");
    if map.keys().next().map(String::as_str) != Some("schemas") {
        let schemas = map.shift_remove("schemas").unwrap_or(Value::Array(vec![]));
        map.shift_insert(0, "schemas".into(), schemas);
    }
    map.shift_insert(1, "id".into(), Value::from(id));
    map.insert("meta".into(), meta_document(meta));
    Value::Object(map)
}

/// The `meta` attribute of a resource.
pub fn meta_document(meta: &Meta) -> Value {
    let mut out = Map::new();
    out.insert("resourceType".into(), Value::from(meta.resource_type));
    // Formatting fails only for years outside 0..=9999; omitting the field beats a null or a
    // panic, and no clock produces such a year.
    if let Ok(created) = meta.created.format(&Rfc3339) {
        out.insert("created".into(), Value::from(created));
    }
    if let Ok(modified) = meta.last_modified.format(&Rfc3339) {
        out.insert("lastModified".into(), Value::from(modified));
    }
    out.insert("location".into(), Value::from(meta.location.as_str()));
    out.insert("version".into(), Value::from(etag(meta.version)));
    Value::Object(out)
}

/// The weak ETag of a version: `W/"<n>"`.
pub fn etag(version: u64) -> String {
    format!("W/\"{version}\"")
}

/// The version in an `If-Match`/`If-None-Match` value, weak (`W/"n"`) or strong (`"n"`);
/// `None` for anything else, including `*`, which the caller handles.
pub fn parse_etag(text: &str) -> Option<u64> {
    let text = text.trim();
    let quoted = text.strip_prefix("W/").unwrap_or(text);
    let digits = quoted.strip_prefix('"')?.strip_suffix('"')?;
    // `u64::from_str` accepts a leading '+', which no ETag we issued has.
    if digits.bytes().all(|b| b.is_ascii_digit()) {
        digits.parse().ok()
    } else {
        None
    }
}
