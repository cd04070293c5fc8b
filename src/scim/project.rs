//! Attribute projection (RFC 7644 §3.4.2.5, §3.9): which attributes of a resource a response
//! carries, from the `attributes` and `excludedAttributes` query parameters and each attribute's
//! `returned` characteristic (RFC 7643 §7).
//!
//! It owns the small attribute-reference parser that `attributes=`, `excludedAttributes=` and
//! `sortBy` share (`name`, `name.sub`, URN-qualified names, a bare extension URN); it must not
//! know filters or PATCH paths, which live in their own modules. Pure: no I/O.

use serde_json::{Map, Value};

use super::{
    error::ScimError,
    schema::{Attribute, Mutability, ResourceType, Returned, Schema},
};

#[cfg(test)]
mod tests;

/// A resolved attribute reference: `name`, `name.sub`, `urn:…:name.sub`, or a whole extension.
#[derive(Clone, Copy, Debug)]
pub(crate) struct AttrRef {
    /// The extension schema holding the attribute; `None` for the core schema.
    pub(crate) ext: Option<&'static Schema>,
    /// The attribute; `None` when the reference names a whole extension.
    pub(crate) attr: Option<&'static Attribute>,
    /// The sub-attribute, for `name.sub`.
    pub(crate) sub: Option<&'static Attribute>,
}

/// RFC 7643 §2.1 ATTRNAME (`ALPHA *(nameChar)`), plus `$ref` which the RFC's own schemas use.
fn is_attr_name(s: &str) -> bool {
    let mut chars = s.chars();
    s == "$ref"
        || (chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
}

impl AttrRef {
    /// Parses and resolves `text`; `Ok(None)` for a well-formed name this resource type does not
    /// have (RFC 7644 says such names are ignored), `InvalidPath` for malformed text (filters).
    pub(crate) fn parse(text: &str, rt: &ResourceType) -> Result<Option<AttrRef>, ScimError> {
        let text = text.trim();
        if let Some(ext) = rt.extension(text) {
            return Ok(Some(AttrRef {
                ext: Some(ext),
                attr: None,
                sub: None,
            }));
        }
        // The URN is everything up to the last ':'; URNs contain dots ("2.0"), names after it
        // contain at most one.
        let name_start = text.rfind(':').map_or(0, |i| i + 1);
        let (head, sub) = match text[name_start..].split_once('.') {
            Some((name, sub)) => (&text[..name_start + name.len()], Some(sub)),
            None => (text, None),
        };
        let name = &head[name_start..];
        if !is_attr_name(name) || sub.is_some_and(|s| !is_attr_name(s)) {
            return Err(ScimError::InvalidPath(format!(
                "'{text}' is not an attribute path"
            )));
        }
        let Some((schema, attr)) = rt.resolve(head) else {
            return Ok(None);
        };
        let sub = match sub {
            None => None,
            Some(s) => match attr.sub(s) {
                Some(found) => Some(found),
                None => return Ok(None),
            },
        };
        Ok(Some(AttrRef {
            ext: ext_of(schema, rt),
            attr: Some(attr),
            sub,
        }))
    }

    /// Whether this reference covers (all of) `attr` in the schema `ext`.
    fn names(&self, ext: Option<&Schema>, attr: &Attribute) -> bool {
        self.ext.map(|s| s.id) == ext.map(|s| s.id) && self.attr.is_none_or(|a| a.name == attr.name)
    }
}

/// `Some(schema)` when `schema` is one of `rt`'s extensions, `None` for the core schema.
pub(crate) fn ext_of(schema: &'static Schema, rt: &ResourceType) -> Option<&'static Schema> {
    (schema.id != rt.schema.id).then_some(schema)
}

/// What a projection asks for.
#[derive(Clone, Debug)]
enum Mode {
    /// Neither parameter: the default set.
    Default,
    /// `attributes=`: only these (plus `returned: always`).
    Include(Vec<AttrRef>),
    /// `excludedAttributes=`: the default set minus these.
    Exclude(Vec<AttrRef>),
}

/// What to do with one attribute.
enum Keep {
    All,
    Nothing,
    /// Keep the attribute, with only (`true`) or without (`false`) these sub-attributes.
    Subs(Vec<&'static Attribute>, bool),
}

/// The attributes a response carries, parsed from `attributes` / `excludedAttributes`.
#[derive(Clone, Debug)]
pub struct Projection {
    rt: &'static ResourceType,
    mode: Mode,
}

fn parse_list(list: &str, rt: &ResourceType) -> Result<Vec<AttrRef>, ScimError> {
    let mut out = Vec::new();
    // Empty items (`a,,b`, a trailing comma) carry no name; skipping them is harmless.
    for item in list.split(',').filter(|s| !s.trim().is_empty()) {
        out.extend(AttrRef::parse(item, rt)?);
    }
    Ok(out)
}

impl Projection {
    /// The default projection of `rt`: every attribute that is returned by default.
    pub fn default_for(rt: &'static ResourceType) -> Projection {
        Projection {
            rt,
            mode: Mode::Default,
        }
    }

    /// Parses the two query parameters; unknown names are ignored, malformed ones are
    /// `InvalidPath`. When both are given, `attributes` wins: it already names everything kept.
    pub fn parse(
        attributes: Option<&str>,
        excluded: Option<&str>,
        rt: &'static ResourceType,
    ) -> Result<Projection, ScimError> {
        let attributes = attributes.filter(|s| !s.trim().is_empty());
        let excluded = excluded.filter(|s| !s.trim().is_empty());
        let mode = match (attributes, excluded) {
            (Some(list), _) => Mode::Include(parse_list(list, rt)?),
            (None, Some(list)) => Mode::Exclude(parse_list(list, rt)?),
            (None, None) => Mode::Default,
        };
        Ok(Projection { rt, mode })
    }

    /// Whether this is the default projection (neither parameter given), which a stored
    /// document can be written under without a tree (`resource::splice`).
    pub fn is_default(&self) -> bool {
        matches!(self.mode, Mode::Default)
    }

    /// Whether any part of the attribute (`members`, `urn:…:User:manager`) will be returned, so
    /// the engine can skip loading expensive ones; unknown names are assumed wanted.
    pub fn wants(&self, canonical_name: &str) -> bool {
        match AttrRef::parse(canonical_name, self.rt) {
            Ok(Some(AttrRef {
                ext,
                attr: Some(attr),
                ..
            })) => !matches!(self.decide(ext, attr), Keep::Nothing),
            _ => !matches!(self.mode, Mode::Include(_)),
        }
    }

    fn decide(&self, ext: Option<&Schema>, attr: &'static Attribute) -> Keep {
        match attr.returned {
            Returned::Always => return Keep::All,
            Returned::Never => return Keep::Nothing,
            Returned::Default | Returned::Request => {}
        }
        let refs = match &self.mode {
            Mode::Default if attr.returned == Returned::Request => return Keep::Nothing,
            Mode::Default => return Keep::All,
            Mode::Include(refs) | Mode::Exclude(refs) => refs,
        };
        let mut subs = Vec::new();
        let mut whole = false;
        for r in refs.iter().filter(|r| r.names(ext, attr)) {
            match r.sub {
                Some(sub) => subs.push(sub),
                None => whole = true,
            }
        }
        match (&self.mode, whole, subs.is_empty()) {
            (Mode::Include(_), true, _) => Keep::All,
            (Mode::Include(_), false, true) => Keep::Nothing,
            (Mode::Include(_), false, false) => Keep::Subs(subs, true),
            (_, true, _) => Keep::Nothing,
            // `returned: request` is outside the default set that exclusion starts from.
            _ if attr.returned == Returned::Request => Keep::Nothing,
            (_, false, true) => Keep::All,
            (_, false, false) => Keep::Subs(subs, false),
        }
    }

    /// Removes from `doc` (a full representation) every attribute this projection leaves out.
    pub fn apply(&self, doc: &mut Value, rt: &ResourceType) {
        let Some(map) = doc.as_object_mut() else {
            return;
        };
        let mut dropped_exts = Vec::new();
        map.retain(|key, value| {
            if key == "schemas" {
                return true;
            }
            if let Some(ext) = rt.extension(key) {
                let keep = self.project_object(value, Some(ext), ext.attributes);
                if !keep {
                    dropped_exts.push(ext.id);
                }
                return keep;
            }
            match rt.resolve(key) {
                Some((schema, attr)) => self.project_value(value, ext_of(schema, rt), attr),
                // Not in the schema (never stored by normalisation): only the default set has it.
                None => matches!(self.mode, Mode::Default | Mode::Exclude(_)),
            }
        });
        if let Some(Value::Array(schemas)) = map.get_mut("schemas") {
            schemas.retain(|s| !dropped_exts.iter().any(|id| s.as_str() == Some(id)));
        }
    }

    /// Projects an extension object in place; `false` when nothing is left of it.
    fn project_object(
        &self,
        value: &mut Value,
        ext: Option<&Schema>,
        attrs: &'static [Attribute],
    ) -> bool {
        let Some(map) = value.as_object_mut() else {
            return false;
        };
        map.retain(|key, v| match attrs.iter().find(|a| a.name == key) {
            Some(attr) => self.project_value(v, ext, attr),
            None => matches!(self.mode, Mode::Default | Mode::Exclude(_)),
        });
        !map.is_empty()
    }

    /// Projects one attribute's value in place; `false` when it is to be removed.
    fn project_value(
        &self,
        value: &mut Value,
        ext: Option<&Schema>,
        attr: &'static Attribute,
    ) -> bool {
        let (subs, only) = match self.decide(ext, attr) {
            Keep::All => (Vec::new(), false),
            Keep::Nothing => return false,
            Keep::Subs(subs, only) => (subs, only),
        };
        // Sub-attributes that are never returned (none in today's schemas) go regardless.
        let hidden = |name: &str| {
            attr.sub(name).is_some_and(|s| {
                s.returned == Returned::Never || s.mutability == Mutability::WriteOnly
            })
        };
        let keep_sub = |name: &str| {
            !hidden(name) && (subs.is_empty() || subs.iter().any(|s| s.name == name) == only)
        };
        match value {
            Value::Object(map) => retain_subs(map, &keep_sub),
            Value::Array(items) => {
                items.retain_mut(|item| match item {
                    Value::Object(map) => retain_subs(map, &keep_sub),
                    _ => true,
                });
                !items.is_empty()
            }
            _ => true,
        }
    }
}

/// What the default projection does with one top-level member of a stored document, for a
/// writer that copies the stored JSON instead of building a tree (`resource::splice`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ByDefault {
    /// Returned as stored, unless it is empty (`[]`, `{}`, or holds an empty object), which
    /// [`Projection::apply`] removes.
    Kept,
    /// An extension's object: returned as stored when it is a (non-empty) object; the
    /// projection removes anything else.
    Extension,
    /// Never returned by default (`returned: never` or `request`).
    Dropped,
    /// The projection would edit inside it (a sub-attribute that is never returned): only
    /// the tree can say what is left.
    Edited,
}

/// [`ByDefault`] for the member `key` of a stored document of `rt`.
pub(crate) fn by_default(rt: &ResourceType, key: &str) -> ByDefault {
    if let Some(ext) = rt.extension(key) {
        return if ext.attributes.iter().all(|a| plain(a) == ByDefault::Kept) {
            ByDefault::Extension
        } else {
            ByDefault::Edited
        };
    }
    match rt.resolve(key) {
        Some((_, attr)) => plain(attr),
        // Not in the schema: the default set keeps it.
        None => ByDefault::Kept,
    }
}

/// [`ByDefault`] of one attribute under the default projection (see [`Projection::decide`]
/// and [`Projection::project_value`]'s hidden sub-attributes).
fn plain(attr: &Attribute) -> ByDefault {
    if matches!(attr.returned, Returned::Never | Returned::Request) {
        return ByDefault::Dropped;
    }
    let hidden = attr
        .sub_attributes
        .iter()
        .any(|s| s.returned == Returned::Never || s.mutability == Mutability::WriteOnly);
    if hidden {
        ByDefault::Edited
    } else {
        ByDefault::Kept
    }
}

/// Keeps the sub-attributes `keep` accepts; `false` when none are left.
fn retain_subs(map: &mut Map<String, Value>, keep: &dyn Fn(&str) -> bool) -> bool {
    map.retain(|k, _| keep(k));
    !map.is_empty()
}
