//! The schemas the bridge implements (RFC 7643 §4 User and Group, §4.3 Enterprise User) with
//! every attribute's characteristics (§2.2, §7), and case-insensitive lookup (§2.1).
//!
//! This is the single source of truth: validation, filtering, PATCH, projection and the
//! `/Schemas` discovery documents all read these tables. Pure data; no I/O.

/// The core User schema URI.
pub const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// The Enterprise User extension URI.
pub const ENTERPRISE_USER: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// The core Group schema URI.
pub const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

/// An attribute's data type (RFC 7643 §2.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttrType {
    /// A string.
    String,
    /// true or false.
    Boolean,
    /// A real number.
    Decimal,
    /// A whole number.
    Integer,
    /// An xsd:dateTime, compared as an instant.
    DateTime,
    /// Base64 data.
    Binary,
    /// A URI.
    Reference,
    /// Sub-attributes.
    Complex,
}

impl AttrType {
    /// The RFC spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            AttrType::String => "string",
            AttrType::Boolean => "boolean",
            AttrType::Decimal => "decimal",
            AttrType::Integer => "integer",
            AttrType::DateTime => "dateTime",
            AttrType::Binary => "binary",
            AttrType::Reference => "reference",
            AttrType::Complex => "complex",
        }
    }
}

/// Who may change an attribute (RFC 7643 §7).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mutability {
    /// Only the server sets it.
    ReadOnly,
    /// Clients may change it.
    ReadWrite,
    /// Set once, then unchangeable.
    Immutable,
    /// Clients may set it; it is never returned.
    WriteOnly,
}

impl Mutability {
    /// The RFC spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Mutability::ReadOnly => "readOnly",
            Mutability::ReadWrite => "readWrite",
            Mutability::Immutable => "immutable",
            Mutability::WriteOnly => "writeOnly",
        }
    }
}

/// When an attribute appears in responses (RFC 7643 §7).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Returned {
    /// Always, even when excluded.
    Always,
    /// Never.
    Never,
    /// Unless excluded.
    Default,
    /// Only when named in `attributes`.
    Request,
}

impl Returned {
    /// The RFC spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Returned::Always => "always",
            Returned::Never => "never",
            Returned::Default => "default",
            Returned::Request => "request",
        }
    }
}

/// How unique values must be (RFC 7643 §7).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Uniqueness {
    /// No constraint.
    None,
    /// Unique within this server.
    Server,
    /// Globally unique.
    Global,
}

impl Uniqueness {
    /// The RFC spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Uniqueness::None => "none",
            Uniqueness::Server => "server",
            Uniqueness::Global => "global",
        }
    }
}

/// One attribute definition.
#[derive(Clone, Copy, Debug)]
pub struct Attribute {
    /// The name, in its canonical spelling.
    pub name: &'static str,
    /// The data type.
    pub ty: AttrType,
    /// Whether the value is an array.
    pub multi_valued: bool,
    /// A human-readable description.
    pub description: &'static str,
    /// Whether a value is required.
    pub required: bool,
    /// Whether string comparison is case-sensitive.
    pub case_exact: bool,
    /// Who may change it.
    pub mutability: Mutability,
    /// When it is returned.
    pub returned: Returned,
    /// How unique it must be.
    pub uniqueness: Uniqueness,
    /// Suggested values (e.g. `work`, `home`).
    pub canonical_values: &'static [&'static str],
    /// For references: what they point at.
    pub reference_types: &'static [&'static str],
    /// For complex attributes: the sub-attributes.
    pub sub_attributes: &'static [Attribute],
}

impl Attribute {
    /// A sub-attribute by name, case-insensitively.
    pub fn sub(&self, name: &str) -> Option<&'static Attribute> {
        find_in(self.sub_attributes, name)
    }
}

/// A schema: a URI and its attributes.
#[derive(Debug)]
pub struct Schema {
    /// The URI.
    pub id: &'static str,
    /// A short name.
    pub name: &'static str,
    /// A description.
    pub description: &'static str,
    /// The top-level attributes.
    pub attributes: &'static [Attribute],
}

impl Schema {
    /// A top-level attribute by name, case-insensitively.
    pub fn attribute(&self, name: &str) -> Option<&'static Attribute> {
        find_in(self.attributes, name)
    }
}

fn find_in(attrs: &'static [Attribute], name: &str) -> Option<&'static Attribute> {
    attrs.iter().find(|a| a.name.eq_ignore_ascii_case(name))
}

mod tables;

pub use tables::{COMMON_ATTRS, ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, USER_SCHEMA};

/// Every schema, in discovery order.
pub static ALL: [&Schema; 3] = [&USER_SCHEMA, &ENTERPRISE_USER_SCHEMA, &GROUP_SCHEMA];

/// A schema by URI, case-insensitively.
pub fn by_id(id: &str) -> Option<&'static Schema> {
    ALL.iter().copied().find(|s| s.id.eq_ignore_ascii_case(id))
}

/// The kinds of resource the bridge serves: the one name for "User or Group" in code, so no
/// layer compares names or endpoint strings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ResourceKind {
    /// `/Users`.
    User,
    /// `/Groups`.
    Group,
}

impl ResourceKind {
    /// Every kind.
    pub const ALL: [ResourceKind; 2] = [ResourceKind::User, ResourceKind::Group];

    /// Its resource type.
    pub fn resource_type(self) -> &'static ResourceType {
        match self {
            ResourceKind::User => &USER_TYPE,
            ResourceKind::Group => &GROUP_TYPE,
        }
    }

    /// The kind served at the endpoint segment `segment` (`Users`, `Groups`), in any case.
    pub fn from_segment(segment: &str) -> Option<ResourceKind> {
        Self::ALL.into_iter().find(|k| {
            k.resource_type()
                .endpoint
                .trim_start_matches('/')
                .eq_ignore_ascii_case(segment)
        })
    }
}

/// A resource type: its core schema and its extensions.
#[derive(Debug)]
pub struct ResourceType {
    /// Which one it is.
    pub kind: ResourceKind,
    /// The name (`User`, `Group`).
    pub name: &'static str,
    /// The endpoint (`/Users`).
    pub endpoint: &'static str,
    /// A description.
    pub description: &'static str,
    /// The core schema.
    pub schema: &'static Schema,
    /// The extension schemas (none is required).
    pub extensions: &'static [&'static Schema],
}

/// The User resource type.
pub static USER_TYPE: ResourceType = ResourceType {
    kind: ResourceKind::User,
    name: "User",
    endpoint: "/Users",
    description: "User Account",
    schema: &USER_SCHEMA,
    extensions: &[&ENTERPRISE_USER_SCHEMA],
};

/// The Group resource type.
pub static GROUP_TYPE: ResourceType = ResourceType {
    kind: ResourceKind::Group,
    name: "Group",
    endpoint: "/Groups",
    description: "Group",
    schema: &GROUP_SCHEMA,
    extensions: &[],
};

impl ResourceType {
    /// Resolves an attribute name, optionally URN-qualified (`urn:…:User:userName`,
    /// `urn:…:enterprise:2.0:User:manager`), to the schema it belongs to and its definition.
    /// Common attributes resolve with the core schema. Case-insensitive.
    pub fn resolve(&self, name: &str) -> Option<(&'static Schema, &'static Attribute)> {
        for schema in std::iter::once(self.schema).chain(self.extensions.iter().copied()) {
            if let Some(rest) = strip_urn(name, schema.id) {
                return schema.attribute(rest).map(|a| (schema, a)).or_else(|| {
                    (schema.id == self.schema.id)
                        .then(|| find_in(COMMON_ATTRS, rest).map(|a| (self.schema, a)))
                        .flatten()
                });
            }
        }
        if let Some(a) = find_in(COMMON_ATTRS, name) {
            return Some((self.schema, a));
        }
        if let Some(a) = self.schema.attribute(name) {
            return Some((self.schema, a));
        }
        // Entra ID sends extension attributes without their URN (`"path": "manager"`);
        // accept a bare name when exactly one extension defines it.
        let mut found = self
            .extensions
            .iter()
            .filter_map(|s| s.attribute(name).map(|a| (*s, a)));
        match (found.next(), found.next()) {
            (Some(hit), None) => Some(hit),
            _ => None,
        }
    }

    /// The extension schema with this URI, case-insensitively.
    pub fn extension(&self, urn: &str) -> Option<&'static Schema> {
        self.extensions
            .iter()
            .copied()
            .find(|s| s.id.eq_ignore_ascii_case(urn))
    }
}

/// `name` without the `schema_id:` prefix, when it has it (case-insensitive).
pub fn strip_urn<'a>(name: &'a str, schema_id: &str) -> Option<&'a str> {
    let head = name.get(..schema_id.len())?;
    if head.eq_ignore_ascii_case(schema_id) && name.as_bytes().get(schema_id.len()) == Some(&b':') {
        Some(&name[schema_id.len() + 1..])
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_are_case_insensitive_and_urn_aware() {
        let (s, a) = USER_TYPE.resolve("USERNAME").unwrap();
        assert_eq!((s.id, a.name), (USER, "userName"));
        assert_eq!(a.uniqueness, Uniqueness::Server);
        assert!(!a.case_exact);
        let (s, a) = USER_TYPE
            .resolve("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber")
            .unwrap();
        assert_eq!((s.id, a.name), (ENTERPRISE_USER, "employeeNumber"));
        let (_, a) = USER_TYPE
            .resolve("urn:ietf:params:scim:schemas:core:2.0:User:name")
            .unwrap();
        assert_eq!(a.sub("GIVENNAME").unwrap().name, "givenName");
        assert_eq!(
            USER_TYPE.resolve("id").unwrap().1.mutability,
            Mutability::ReadOnly
        );
        let (s, a) = USER_TYPE.resolve("manager").unwrap();
        assert_eq!(
            (s.id, a.name),
            (ENTERPRISE_USER, "manager"),
            "bare extension names resolve"
        );
        assert!(USER_TYPE.resolve("members").is_none());
        assert_eq!(
            GROUP_TYPE
                .resolve("members")
                .unwrap()
                .1
                .sub("value")
                .unwrap()
                .mutability,
            Mutability::Immutable
        );
    }

    #[test]
    fn password_is_write_only_and_never_returned() {
        let a = USER_SCHEMA.attribute("password").unwrap();
        assert_eq!(a.mutability, Mutability::WriteOnly);
        assert_eq!(a.returned, Returned::Never);
    }

    #[test]
    fn every_complex_attribute_has_sub_attributes_and_names_are_unique() {
        for schema in ALL {
            let mut names: Vec<String> = schema
                .attributes
                .iter()
                .map(|a| a.name.to_lowercase())
                .collect();
            names.sort();
            names.dedup();
            assert_eq!(names.len(), schema.attributes.len(), "{}", schema.id);
            for a in schema.attributes {
                assert!(!a.description.is_empty(), "{}", a.name);
                assert_eq!(
                    a.ty == AttrType::Complex,
                    !a.sub_attributes.is_empty(),
                    "{}",
                    a.name
                );
            }
        }
    }
}
