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

const STRING: Attribute = Attribute {
    name: "",
    ty: AttrType::String,
    multi_valued: false,
    description: "",
    required: false,
    case_exact: false,
    mutability: Mutability::ReadWrite,
    returned: Returned::Default,
    uniqueness: Uniqueness::None,
    canonical_values: &[],
    reference_types: &[],
    sub_attributes: &[],
};

const fn string(name: &'static str, description: &'static str) -> Attribute {
    Attribute {
        name,
        description,
        ..STRING
    }
}

const fn boolean(name: &'static str, description: &'static str) -> Attribute {
    Attribute {
        name,
        description,
        ty: AttrType::Boolean,
        ..STRING
    }
}

const fn reference(
    name: &'static str,
    description: &'static str,
    types: &'static [&'static str],
) -> Attribute {
    Attribute {
        name,
        description,
        ty: AttrType::Reference,
        reference_types: types,
        ..STRING
    }
}

const fn complex(
    name: &'static str,
    description: &'static str,
    multi_valued: bool,
    subs: &'static [Attribute],
) -> Attribute {
    Attribute {
        name,
        description,
        ty: AttrType::Complex,
        multi_valued,
        sub_attributes: subs,
        ..STRING
    }
}

/// The sub-attributes of a plain multi-valued attribute (emails, phoneNumbers, ...).
macro_rules! multi_subs {
    ($types:expr) => {
        &[
            string("value", "The value."),
            string(
                "display",
                "A human-readable name, primarily used for display purposes.",
            ),
            Attribute {
                canonical_values: $types,
                ..string("type", "A label indicating the attribute's function.")
            },
            boolean("primary", "Whether this is the preferred value."),
        ]
    };
}

const NAME_SUBS: &[Attribute] = &[
    string("formatted", "The full name, formatted for display."),
    string("familyName", "The family name."),
    string("givenName", "The given name."),
    string("middleName", "The middle name(s)."),
    string("honorificPrefix", "The honorific prefix(es), e.g. Ms."),
    string("honorificSuffix", "The honorific suffix(es), e.g. III."),
];

const ADDRESS_SUBS: &[Attribute] = &[
    string(
        "formatted",
        "The full mailing address, formatted for display.",
    ),
    string("streetAddress", "The full street address component."),
    string("locality", "The city or locality component."),
    string("region", "The state or region component."),
    string("postalCode", "The zip code or postal code component."),
    string("country", "The country name component."),
    Attribute {
        canonical_values: &["work", "home", "other"],
        ..string("type", "A label indicating the attribute's function.")
    },
    boolean("primary", "Whether this is the preferred mailing address."),
];

const USER_GROUP_SUBS: &[Attribute] = &[
    Attribute {
        mutability: Mutability::ReadOnly,
        ..string("value", "The identifier of the User's group.")
    },
    Attribute {
        mutability: Mutability::ReadOnly,
        ..reference(
            "$ref",
            "The URI of the corresponding Group resource.",
            &["Group"],
        )
    },
    Attribute {
        mutability: Mutability::ReadOnly,
        ..string("display", "The Group's displayName.")
    },
    Attribute {
        mutability: Mutability::ReadOnly,
        canonical_values: &["direct", "indirect"],
        ..string("type", "How the membership is derived.")
    },
];

const USER_ATTRS: &[Attribute] = &[
    Attribute {
        required: true,
        uniqueness: Uniqueness::Server,
        ..string(
            "userName",
            "Unique identifier for the User, used to authenticate.",
        )
    },
    complex(
        "name",
        "The components of the user's name.",
        false,
        NAME_SUBS,
    ),
    string("displayName", "The name of the User, suitable for display."),
    string("nickName", "The casual way to address the user."),
    reference(
        "profileUrl",
        "A fully qualified URL to the User's online profile.",
        &["external"],
    ),
    string("title", "The user's title, such as \"Vice President\"."),
    string(
        "userType",
        "The relationship between the organization and the user.",
    ),
    string(
        "preferredLanguage",
        "The User's preferred written or spoken language.",
    ),
    string("locale", "The User's default location for localization."),
    string("timezone", "The User's time zone in IANA format."),
    boolean("active", "The User's administrative status."),
    Attribute {
        mutability: Mutability::WriteOnly,
        returned: Returned::Never,
        ..string(
            "password",
            "The User's cleartext password; accepted, never stored.",
        )
    },
    complex(
        "emails",
        "Email addresses for the user.",
        true,
        multi_subs!(&["work", "home", "other"]),
    ),
    complex(
        "phoneNumbers",
        "Phone numbers for the User.",
        true,
        multi_subs!(&["work", "home", "mobile", "fax", "pager", "other"]),
    ),
    complex(
        "ims",
        "Instant messaging addresses for the User.",
        true,
        multi_subs!(&[]),
    ),
    complex(
        "photos",
        "URLs of photos of the User.",
        true,
        multi_subs!(&["photo", "thumbnail"]),
    ),
    complex(
        "addresses",
        "A physical mailing address for this User.",
        true,
        ADDRESS_SUBS,
    ),
    Attribute {
        mutability: Mutability::ReadOnly,
        ..complex(
            "groups",
            "The groups the user belongs to (direct memberships).",
            true,
            USER_GROUP_SUBS,
        )
    },
    complex(
        "entitlements",
        "Entitlements for the User.",
        true,
        multi_subs!(&[]),
    ),
    complex("roles", "Roles for the User.", true, multi_subs!(&[])),
    complex(
        "x509Certificates",
        "X.509 certificates issued to the User.",
        true,
        multi_subs!(&[]),
    ),
];

const MANAGER_SUBS: &[Attribute] = &[
    string(
        "value",
        "The id of the SCIM resource representing the User's manager.",
    ),
    reference("$ref", "The URI of the manager's User resource.", &["User"]),
    Attribute {
        mutability: Mutability::ReadOnly,
        ..string("displayName", "The displayName of the User's manager.")
    },
];

const ENTERPRISE_ATTRS: &[Attribute] = &[
    string(
        "employeeNumber",
        "Numeric or alphanumeric identifier assigned to a person.",
    ),
    string("costCenter", "Identifies the name of a cost center."),
    string("organization", "Identifies the name of an organization."),
    string("division", "Identifies the name of a division."),
    string("department", "Identifies the name of a department."),
    complex("manager", "The User's manager.", false, MANAGER_SUBS),
];

const MEMBER_SUBS: &[Attribute] = &[
    Attribute {
        mutability: Mutability::Immutable,
        ..string("value", "The identifier of the member of this Group.")
    },
    Attribute {
        mutability: Mutability::Immutable,
        ..reference(
            "$ref",
            "The URI of the member resource.",
            &["User", "Group"],
        )
    },
    Attribute {
        mutability: Mutability::ReadOnly,
        ..string("display", "The member's display name.")
    },
    Attribute {
        mutability: Mutability::Immutable,
        canonical_values: &["User", "Group"],
        ..string("type", "The type of the member.")
    },
];

const GROUP_ATTRS: &[Attribute] = &[
    Attribute {
        required: true,
        ..string("displayName", "A human-readable name for the Group.")
    },
    complex(
        "members",
        "A list of members of the Group.",
        true,
        MEMBER_SUBS,
    ),
];

/// The core User schema.
pub static USER_SCHEMA: Schema = Schema {
    id: USER,
    name: "User",
    description: "User Account",
    attributes: USER_ATTRS,
};

/// The Enterprise User extension.
pub static ENTERPRISE_USER_SCHEMA: Schema = Schema {
    id: ENTERPRISE_USER,
    name: "EnterpriseUser",
    description: "Enterprise User",
    attributes: ENTERPRISE_ATTRS,
};

/// The core Group schema.
pub static GROUP_SCHEMA: Schema = Schema {
    id: GROUP,
    name: "Group",
    description: "Group",
    attributes: GROUP_ATTRS,
};

/// Every schema, in discovery order.
pub static ALL: [&Schema; 3] = [&USER_SCHEMA, &ENTERPRISE_USER_SCHEMA, &GROUP_SCHEMA];

/// A schema by URI, case-insensitively.
pub fn by_id(id: &str) -> Option<&'static Schema> {
    ALL.iter().copied().find(|s| s.id.eq_ignore_ascii_case(id))
}

/// The common attributes every resource has (RFC 7643 §3.1): `id`, `externalId`, `meta`.
pub static COMMON_ATTRS: &[Attribute] = &[
    Attribute {
        mutability: Mutability::ReadOnly,
        returned: Returned::Always,
        uniqueness: Uniqueness::Server,
        case_exact: true,
        ..string(
            "id",
            "Unique identifier for the resource, assigned by the service provider.",
        )
    },
    Attribute {
        case_exact: true,
        ..string(
            "externalId",
            "An identifier for the resource as defined by the provisioning client.",
        )
    },
    Attribute {
        mutability: Mutability::ReadOnly,
        ..complex("meta", "Resource metadata.", false, META_SUBS)
    },
];

const META_SUBS: &[Attribute] = &[
    Attribute {
        mutability: Mutability::ReadOnly,
        case_exact: true,
        ..string("resourceType", "The resource type.")
    },
    Attribute {
        mutability: Mutability::ReadOnly,
        ty: AttrType::DateTime,
        ..string("created", "When the resource was added.")
    },
    Attribute {
        mutability: Mutability::ReadOnly,
        ty: AttrType::DateTime,
        ..string("lastModified", "When the resource was last changed.")
    },
    Attribute {
        mutability: Mutability::ReadOnly,
        case_exact: true,
        ..reference("location", "The URI of the resource.", &["uri"])
    },
    Attribute {
        mutability: Mutability::ReadOnly,
        case_exact: true,
        ..string("version", "The version (ETag) of the resource.")
    },
];

/// A resource type: its core schema and its extensions.
#[derive(Debug)]
pub struct ResourceType {
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
    name: "User",
    endpoint: "/Users",
    description: "User Account",
    schema: &USER_SCHEMA,
    extensions: &[&ENTERPRISE_USER_SCHEMA],
};

/// The Group resource type.
pub static GROUP_TYPE: ResourceType = ResourceType {
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
