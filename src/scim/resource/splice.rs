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

use std::{borrow::Cow, collections::HashMap, sync::OnceLock};

use serde::{
    de::{IgnoredAny, MapAccess, SeqAccess, Visitor},
    Deserialize, Deserializer,
};
use serde_json::{value::RawValue, Value};
use time::{format_description::well_known::Rfc3339, OffsetDateTime};

use super::{etag, location_parts};
use crate::scim::{
    project::{by_default, ByDefault},
    schema::{ResourceType, COMMON_ATTRS, GROUP_TYPE, USER_TYPE},
};

/// The stored envelope (`records::Stored`), read in one pass: its document's top-level
/// members with their values left as JSON text.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    created: Cow<'a, str>,
    #[serde(rename = "lastModified", borrow)]
    last_modified: Cow<'a, str>,
    #[serde(borrow)]
    doc: Doc<'a>,
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

/// A stored document: its top-level members in order, values as JSON text; or something
/// other than an object (which only the tree renders).
enum Doc<'a> {
    Object(Vec<(Key<'a>, &'a RawValue)>),
    Other,
}

impl<'de: 'a, 'a> Deserialize<'de> for Doc<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct DocVisitor;
        impl<'de> Visitor<'de> for DocVisitor {
            type Value = Doc<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Doc<'de>, A::Error> {
                let mut out = Vec::with_capacity(map.size_hint().unwrap_or(16));
                while let Some(entry) = map.next_entry::<Key<'de>, &'de RawValue>()? {
                    out.push(entry);
                }
                Ok(Doc::Object(out))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Doc<'de>, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Doc::Other)
            }
            fn visit_bool<E>(self, _: bool) -> Result<Doc<'de>, E> {
                Ok(Doc::Other)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Doc<'de>, E> {
                Ok(Doc::Other)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Doc<'de>, E> {
                Ok(Doc::Other)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Doc<'de>, E> {
                Ok(Doc::Other)
            }
            fn visit_str<E>(self, _: &str) -> Result<Doc<'de>, E> {
                Ok(Doc::Other)
            }
            fn visit_unit<E>(self) -> Result<Doc<'de>, E> {
                Ok(Doc::Other)
            }
        }
        d.deserialize_any(DocVisitor)
    }
}

/// [`by_default`] for the member names the normaliser writes (each attribute's canonical
/// name, the extensions' URNs), looked up once per resource type: resolving a name walks the
/// schemas case-insensitively, a tenth of a page's rendering before this table.
fn rule(rt: &'static ResourceType, name: &str) -> ByDefault {
    type Table = HashMap<&'static str, ByDefault>;
    fn table(rt: &'static ResourceType) -> Table {
        let names = rt
            .schema
            .attributes
            .iter()
            .chain(COMMON_ATTRS)
            .map(|a| a.name)
            .chain(rt.extensions.iter().map(|e| e.id));
        names.map(|n| (n, by_default(rt, n))).collect()
    }
    static USERS: OnceLock<Table> = OnceLock::new();
    static GROUPS: OnceLock<Table> = OnceLock::new();
    let cached = if std::ptr::eq(rt, &USER_TYPE) {
        USERS.get_or_init(|| table(rt)).get(name)
    } else if std::ptr::eq(rt, &GROUP_TYPE) {
        GROUPS.get_or_init(|| table(rt)).get(name)
    } else {
        None
    };
    cached.copied().unwrap_or_else(|| by_default(rt, name))
}

/// Why [`write()`] wrote nothing.
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
    memchr::memchr2_iter(b'[', b'{', text).any(|i| matches!(text.get(i + 1), Some(b']' | b'}')))
}

/// Appends a string as JSON.
fn string(out: &mut Vec<u8>, s: &str) {
    serde_json::to_writer(&mut *out, s).expect("writing a string into a Vec cannot fail");
}

/// Appends a member name as JSON: as read when it was read without escapes (it then holds no
/// quote, backslash or control character, so serde_json would write it unchanged).
fn key(out: &mut Vec<u8>, key: &Key) {
    match &key.0 {
        Cow::Borrowed(k) => {
            out.push(b'"');
            out.extend_from_slice(k.as_bytes());
            out.push(b'"');
        }
        Cow::Owned(k) => string(out, k),
    }
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
    let Doc::Object(members) = &envelope.doc else {
        // Not an object: the tree renders it as an empty one.
        return Err(Unspliced::NeedsTree);
    };
    let schemas = members.iter().find(|(k, _)| k.0 == "schemas").map(|m| m.1);
    if schemas.is_some_and(maybe_emptied) {
        // An empty `schemas` list is the tree's to copy.
        return Err(Unspliced::NeedsTree);
    }
    out.reserve(stored.len() + 256);
    out.extend_from_slice(b"{\"schemas\":");
    out.extend_from_slice(schemas.map_or("[]", RawValue::get).as_bytes());
    out.extend_from_slice(b",\"id\":");
    string(out, id);
    for (name, value) in members {
        match name.0.as_ref() {
            "id" | "meta" | "schemas" => continue,
            k if computed.iter().any(|(c, _)| *c == k) => return Err(Unspliced::NeedsTree),
            _ => {}
        }
        match rule(rt, &name.0) {
            ByDefault::Dropped => continue,
            ByDefault::Edited => return Err(Unspliced::NeedsTree),
            ByDefault::Extension if !value.get().starts_with('{') => {
                return Err(Unspliced::NeedsTree)
            }
            ByDefault::Kept | ByDefault::Extension if maybe_emptied(value) => {
                return Err(Unspliced::NeedsTree)
            }
            ByDefault::Kept | ByDefault::Extension => {
                out.push(b',');
                key(out, name);
                out.push(b':');
                out.extend_from_slice(value.get().as_bytes());
            }
        }
    }
    for (name, list) in computed {
        out.push(b',');
        string(out, name);
        out.push(b':');
        serde_json::to_writer(&mut *out, list).expect("a list of JSON values always serialises");
    }
    out.extend_from_slice(b",\"meta\":");
    write_meta(
        out,
        rt,
        location_parts(base_url, rt, id),
        parse_time(&envelope.created),
        parse_time(&envelope.last_modified),
        version,
    );
    out.push(b'}');
    Ok(())
}

/// `meta` as [`super::meta_document`] serialises it, written without building it: the
/// location from its parts (see [`super::location`]), the timestamps formatted in place.
fn write_meta(
    out: &mut Vec<u8>,
    rt: &ResourceType,
    location: [&str; 4],
    created: OffsetDateTime,
    last_modified: OffsetDateTime,
    version: u64,
) {
    out.extend_from_slice(b"{\"resourceType\":");
    string(out, rt.name);
    for (name, time) in [
        (&b",\"created\":"[..], created),
        (b",\"lastModified\":", last_modified),
    ] {
        // Formatting fails only for years outside 0..=9999 (before writing anything); the
        // tree then leaves the field out, and so does this.
        let before = out.len();
        out.extend_from_slice(name);
        out.push(b'"');
        if time.format_into(&mut *out, &Rfc3339).is_ok() {
            out.push(b'"');
        } else {
            out.truncate(before);
        }
    }
    out.extend_from_slice(b",\"location\":");
    if location.iter().all(|part| plain(part)) {
        out.push(b'"');
        for part in location {
            out.extend_from_slice(part.as_bytes());
        }
        out.push(b'"');
    } else {
        string(out, &location.concat());
    }
    out.extend_from_slice(b",\"version\":");
    string(out, &etag(version));
    out.push(b'}');
}

/// Whether serde_json writes `s` as a string unchanged (no quote, backslash or control
/// character to escape).
fn plain(s: &str) -> bool {
    !s.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20)
}

#[cfg(test)]
mod tests;
