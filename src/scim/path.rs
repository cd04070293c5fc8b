//! Attribute paths (RFC 7644 §3.10: `name`, `name.sub`, `urn:…:name.sub`) and PATCH paths
//! (the `PATH` rule of RFC 7644 §3.5.2: `attrPath / valuePath [subAttr]`). The
//! comma-separated `attributes`/`excludedAttributes` lists of RFC 7644 §3.4.2.5 are parsed by
//! [`super::project`], which resolves each name as it goes.
//!
//! It owns the syntax and schema resolution of paths only: what a path selects inside a
//! document belongs to [`super::filter`] (reading) and [`super::patch`] (writing). Pure; no I/O.

use std::fmt;

use super::{
    error::ScimError,
    filter::{self, Filter},
    schema::{AttrType, Attribute, ResourceType, Schema},
};

/// An attribute path: an optional schema URN, an attribute name and an optional sub-attribute.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttrPath {
    /// The schema URN (`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User`), if given.
    pub urn: Option<String>,
    /// The attribute name, as written.
    pub name: String,
    /// The sub-attribute name, as written (`givenName` in `name.givenName`).
    pub sub: Option<String>,
}

/// A PATCH path: an attribute path, an optional value filter and a sub-attribute after it.
///
/// Without a filter the sub-attribute stays in `attr.sub` and `sub` is `None`, so each path
/// has exactly one representation.
#[derive(Clone, Debug, PartialEq)]
pub struct PatchPath {
    /// The attribute (with no sub-attribute when `filter` is set).
    pub attr: AttrPath,
    /// The value selection filter inside `[...]`, relative to the attribute's elements.
    pub filter: Option<Filter>,
    /// The sub-attribute after `]` (`value` in `emails[type eq "work"].value`).
    pub sub: Option<String>,
}

/// What a path resolves to: its schema, its attribute and its sub-attribute if any.
pub type Resolved = (
    &'static Schema,
    &'static Attribute,
    Option<&'static Attribute>,
);

fn invalid(path: &str, why: &str) -> ScimError {
    ScimError::InvalidPath(format!("invalid attribute path '{path}': {why}"))
}

/// `ATTRNAME` of RFC 7643 §2.1, plus `$ref`-style names starting with `$`.
pub(crate) fn is_attr_name(s: &str) -> bool {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '$' => {}
        _ => return false,
    }
    chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Parses `name`, `name.sub` or `urn:…:name[.sub]`; the URN is everything up to the last `:`.
pub fn parse_attr_path(s: &str) -> Result<AttrPath, ScimError> {
    let (urn, rest) = match s.rfind(':') {
        Some(i) => {
            let urn = &s[..i];
            let is_urn = urn.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:"));
            if !is_urn || urn.len() <= 4 || urn.contains(char::is_whitespace) {
                return Err(invalid(s, "a qualified name must start with a schema URN"));
            }
            (Some(urn.to_owned()), &s[i + 1..])
        }
        None => (None, s),
    };
    let (name, sub) = match rest.split_once('.') {
        Some((name, sub)) => (name, Some(sub)),
        None => (rest, None),
    };
    if !is_attr_name(name) {
        return Err(invalid(s, "expected an attribute name"));
    }
    if let Some(sub) = sub {
        if !is_attr_name(sub) {
            return Err(invalid(s, "expected one sub-attribute name after '.'"));
        }
    }
    Ok(AttrPath {
        urn,
        name: name.to_owned(),
        sub: sub.map(str::to_owned),
    })
}

/// Parses a PATCH `path` (`members`, `name.givenName`, `emails[type eq "work"].value`).
pub fn parse_patch_path(s: &str) -> Result<PatchPath, ScimError> {
    filter::parse_patch_path(s).map_err(|e| match e {
        ScimError::InvalidFilter(d) => ScimError::InvalidPath(d),
        other => other,
    })
}

impl AttrPath {
    /// A plain unqualified path to `name`.
    pub fn named(name: &str) -> AttrPath {
        AttrPath {
            urn: None,
            name: name.to_owned(),
            sub: None,
        }
    }

    /// The name with its URN, without the sub-attribute (`urn:…:User:manager`).
    pub fn qualified_name(&self) -> String {
        match &self.urn {
            Some(urn) => format!("{urn}:{}", self.name),
            None => self.name.clone(),
        }
    }

    /// Resolves the path against a resource type; `None` when any part is unknown.
    pub fn resolve(&self, rt: &ResourceType) -> Option<Resolved> {
        let (schema, attr) = rt.resolve(&self.qualified_name())?;
        match &self.sub {
            None => Some((schema, attr, None)),
            Some(sub) if attr.ty == AttrType::Complex => Some((schema, attr, Some(attr.sub(sub)?))),
            Some(_) => None,
        }
    }
}

impl PatchPath {
    /// Resolves the attribute and the sub-attribute (after `]` or after `.`).
    pub fn resolve(&self, rt: &ResourceType) -> Option<Resolved> {
        let (schema, attr, sub) = self.attr.resolve(rt)?;
        match &self.sub {
            None => Some((schema, attr, sub)),
            Some(name) => Some((schema, attr, Some(attr.sub(name)?))),
        }
    }
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(urn) = &self.urn {
            write!(f, "{urn}:")?;
        }
        f.write_str(&self.name)?;
        if let Some(sub) = &self.sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

impl fmt::Display for PatchPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.attr)?;
        if let Some(filter) = &self.filter {
            write!(f, "[{filter}]")?;
        }
        if let Some(sub) = &self.sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::schema::{ENTERPRISE_USER, GROUP_TYPE, USER_TYPE};

    #[test]
    fn rfc_attr_paths_parse_and_print_back() {
        for s in [
            "userName",
            "name.givenName",
            "members",
            "members.$ref",
            "urn:ietf:params:scim:schemas:core:2.0:User:name.familyName",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
        ] {
            let p = parse_attr_path(s).unwrap();
            assert_eq!(p.to_string(), s);
            assert_eq!(parse_attr_path(&p.to_string()).unwrap(), p);
        }
        let p = parse_attr_path(&format!("{ENTERPRISE_USER}:manager.value")).unwrap();
        assert_eq!(p.urn.as_deref(), Some(ENTERPRISE_USER));
        assert_eq!(
            (p.name.as_str(), p.sub.as_deref()),
            ("manager", Some("value"))
        );
    }

    #[test]
    fn malformed_attr_paths_are_invalid_path() {
        for s in [
            "",
            ".",
            "a.",
            "1abc",
            "name.given.name",
            "foo:bar",
            "urn:",
            "a b",
            "emails[x]",
        ] {
            assert!(
                matches!(parse_attr_path(s), Err(ScimError::InvalidPath(_))),
                "{s:?}"
            );
        }
    }

    #[test]
    fn patch_paths_with_value_filters_and_sub_attributes() {
        let p = parse_patch_path(r#"emails[type eq "work"].value"#).unwrap();
        assert_eq!(p.attr, AttrPath::named("emails"));
        assert_eq!(p.sub.as_deref(), Some("value"));
        assert_eq!(p.to_string(), r#"emails[type eq "work"].value"#);
        let p = parse_patch_path(r#"members[value eq "a]b"]"#).unwrap();
        assert!(p.filter.is_some() && p.sub.is_none());
        assert_eq!(parse_patch_path(&p.to_string()).unwrap(), p);
        let p = parse_patch_path("name.givenName").unwrap();
        assert_eq!(
            (p.attr.sub.as_deref(), p.filter, p.sub),
            (Some("givenName"), None, None)
        );
        for bad in [
            "emails[",
            "emails[type eq]",
            "emails[type eq \"x\"]x",
            "emails.value[type pr]",
        ] {
            assert!(
                matches!(parse_patch_path(bad), Err(ScimError::InvalidPath(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn resolve_against_resource_types() {
        let p = parse_patch_path(r#"addresses[type eq "work"].streetAddress"#).unwrap();
        let (_, a, sub) = p.resolve(&USER_TYPE).unwrap();
        assert_eq!(
            (a.name, sub.map(|s| s.name)),
            ("addresses", Some("streetAddress"))
        );
        let p = parse_attr_path("NAME.GIVENNAME").unwrap();
        assert_eq!(p.resolve(&USER_TYPE).unwrap().2.unwrap().name, "givenName");
        assert!(parse_attr_path("userName.x")
            .unwrap()
            .resolve(&USER_TYPE)
            .is_none());
        assert!(parse_attr_path("members")
            .unwrap()
            .resolve(&USER_TYPE)
            .is_none());
        assert!(parse_attr_path("members.$ref")
            .unwrap()
            .resolve(&GROUP_TYPE)
            .is_some());
    }
}
