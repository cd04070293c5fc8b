//! The attribute tables of the implemented schemas (RFC 7643 §4.1 User, §4.2 Group, §4.3
//! Enterprise User, §3.1 common attributes), as `const` data. Pure data; the types and
//! lookups live in the parent module.

use super::{
    AttrType, Attribute, Mutability, Returned, Schema, Uniqueness, ENTERPRISE_USER, GROUP, USER,
};

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
        returned: Returned::Never,
        ..string(
            "display",
            "Not stored and never returned: members are identified by value, $ref and type, so \
             what a client reads back is what it wrote. A member's name is on the member.",
        )
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
