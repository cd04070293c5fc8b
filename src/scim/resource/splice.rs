//! The default representation written straight from a stored envelope's bytes: `schemas`,
//! `id`, the stored attributes as stored, the computed ones, then `meta`, with no
//! `serde_json::Value` tree built for the document (a read's largest cost after the HTTP
//! stack, issue 16).
//!
//! It writes exactly the bytes the tree would serialise to ([`super::with_meta`], then
//! [`Projection::apply`](crate::scim::project::Projection::apply) under the default projection);
//! where it cannot tell without the tree (an empty value the projection would remove, an
//! attribute it would edit inside, a stored member named like a computed one) it writes
//! nothing and says so, and the caller renders the tree. Pure: no I/O.

use std::borrow::Cow;

use serde::{
    de::{MapAccess, Visitor},
    Deserialize, Deserializer,
};
use serde_json::{value::RawValue, Value};
use time::{format_description::well_known::Rfc3339, OffsetDateTime};

use super::{etag, Meta};
use crate::scim::{
    project::{by_default, ByDefault},
    schema::ResourceType,
};

/// The stored envelope (`records::Stored`), its document left as JSON text.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    created: Cow<'a, str>,
    #[serde(rename = "lastModified", borrow)]
    last_modified: Cow<'a, str>,
    #[serde(borrow)]
    doc: &'a RawValue,
}

/// A member name, borrowed from the input when it has no escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

/// The top-level members of a document, in order, their values as JSON text.
struct Members<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de> Deserialize<'de> for Members<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct MembersVisitor;
        impl<'de> Visitor<'de> for MembersVisitor {
            type Value = Members<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members<'de>, A::Error> {
                let mut out = Vec::with_capacity(map.size_hint().unwrap_or(16));
                while let Some((Key(k), v)) = map.next_entry::<Key<'de>, &'de RawValue>()? {
                    out.push((k, v));
                }
                Ok(Members(out))
            }
        }
        d.deserialize_map(MembersVisitor)
    }
}

/// Why [`write`] wrote nothing.
#[derive(Debug)]
pub enum Unspliced {
    /// The envelope is not a stored document (the tree reports it the same way).
    Corrupt(serde_json::Error),
    /// Only the tree can render this document (see the module's description).
    NeedsTree,
}

/// A stored timestamp (always written by the engine's clock); the epoch if it was tampered
/// with. The tree renderer reads it the same way.
pub fn parse_time(text: &str) -> OffsetDateTime {
    OffsetDateTime::parse(text, &Rfc3339).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// Whether a stored value's text may hold something the default projection removes (an
/// empty array or object, at any depth). Compact JSON (how the store writes) spells those
/// `[]` and `{}`; a string containing them is a false positive that only costs the tree.
fn maybe_emptied(raw: &RawValue) -> bool {
    let text = raw.get().as_bytes();
    text.windows(2).any(|w| w == b"[]" || w == b"{}")
}

/// Appends to `out` the default representation of the stored envelope `stored` of resource
/// `id` (type `rt`, `version`, located under `base_url`), with the computed attributes
/// `computed` (name and non-empty list, appended after the stored ones, as the tree inserts
/// them). On `Err`, `out` is as it was.
pub fn write(
    out: &mut Vec<u8>,
    rt: &'static ResourceType,
    stored: &[u8],
    id: &str,
    base_url: &str,
    version: u64,
    computed: &[(&str, &[Value])],
) -> Result<(), Unspliced> {
    let start = out.len();
    let result = write_inner(out, rt, stored, id, base_url, version, computed);
    if result.is_err() {
        out.truncate(start);
    }
    result
}

fn write_inner(
    out: &mut Vec<u8>,
    rt: &'static ResourceType,
    stored: &[u8],
    id: &str,
    base_url: &str,
    version: u64,
    computed: &[(&str, &[Value])],
) -> Result<(), Unspliced> {
    let envelope: Envelope = serde_json::from_slice(stored).map_err(Unspliced::Corrupt)?;
    let Ok(Members(members)) = serde_json::from_str::<Members>(envelope.doc.get()) else {
        // Not an object: the tree renders it as an empty one.
        return Err(Unspliced::NeedsTree);
    };
    let mut schemas = None;
    let mut kept = Vec::with_capacity(members.len());
    for (key, value) in &members {
        match key.as_ref() {
            "id" | "meta" => continue,
            "schemas" => {
                schemas = Some(*value);
                continue;
            }
            k if computed.iter().any(|(name, _)| *name == k) => {
                return Err(Unspliced::NeedsTree);
            }
            _ => {}
        }
        match by_default(rt, key) {
            ByDefault::Dropped => continue,
            ByDefault::Edited => return Err(Unspliced::NeedsTree),
            ByDefault::Extension if !value.get().starts_with('{') => {
                return Err(Unspliced::NeedsTree)
            }
            ByDefault::Kept | ByDefault::Extension if maybe_emptied(value) => {
                return Err(Unspliced::NeedsTree)
            }
            ByDefault::Kept | ByDefault::Extension => kept.push((key, *value)),
        }
    }
    if schemas.is_some_and(maybe_emptied) {
        // `schemas` loses the URN of an extension the projection removes; none is removed
        // here, but an empty list is the tree's to copy.
        return Err(Unspliced::NeedsTree);
    }
    let json = |out: &mut Vec<u8>, s: &str| {
        serde_json::to_writer(&mut *out, s).expect("writing a string into a Vec cannot fail");
    };
    out.reserve(stored.len() + 256);
    out.extend_from_slice(b"{\"schemas\":");
    out.extend_from_slice(schemas.map_or("[]", RawValue::get).as_bytes());
    out.extend_from_slice(b",\"id\":");
    json(out, id);
    for (key, value) in kept {
        out.push(b',');
        json(out, key);
        out.push(b':');
        out.extend_from_slice(value.get().as_bytes());
    }
    for (name, list) in computed {
        out.push(b',');
        json(out, name);
        out.push(b':');
        serde_json::to_writer(&mut *out, list).expect("a list of JSON values always serialises");
    }
    out.extend_from_slice(b",\"meta\":");
    let meta = Meta::new(
        rt,
        base_url,
        id,
        parse_time(&envelope.created),
        parse_time(&envelope.last_modified),
        version,
    );
    write_meta(out, &meta);
    out.push(b'}');
    Ok(())
}

/// `meta` as [`super::meta_document`] serialises it.
fn write_meta(out: &mut Vec<u8>, meta: &Meta) {
    let json = |out: &mut Vec<u8>, s: &str| {
        serde_json::to_writer(&mut *out, s).expect("writing a string into a Vec cannot fail");
    };
    out.extend_from_slice(b"{\"resourceType\":");
    json(out, meta.resource_type);
    if let Ok(created) = meta.created.format(&Rfc3339) {
        out.extend_from_slice(b",\"created\":");
        json(out, &created);
    }
    if let Ok(modified) = meta.last_modified.format(&Rfc3339) {
        out.extend_from_slice(b",\"lastModified\":");
        json(out, &modified);
    }
    out.extend_from_slice(b",\"location\":");
    json(out, &meta.location);
    out.extend_from_slice(b",\"version\":");
    json(out, &etag(meta.version));
    out.push(b'}');
}

#[cfg(test)]
mod tests;
