//! Filter tests: RFC 7644 §3.4.2.2 examples and the filters identity providers send (Entra's
//! and Okta's `userName eq`, Entra's `emails[type eq "work"].value eq`, ...).

use serde_json::{json, Value};

use super::*;
use crate::scim::schema::{GROUP_TYPE, USER_TYPE};

pub(super) fn user() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": "2819c223-7f76-453a-919d-413861904646",
        "externalId": "Bjensen",
        "userName": "Alice@Example.com",
        "title": "Tour Guide",
        "userType": "Employee",
        "active": true,
        "name": {"familyName": "Jensen", "givenName": "Barbara"},
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ],
        "ims": [],
        "meta": {"lastModified": "2011-05-13T04:42:34Z", "created": "2010-01-23T04:56:22Z"},
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
            "employeeNumber": "701984",
            "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d"}
        }
    })
}

fn m(filter: &str) -> bool {
    let f = parse(filter).unwrap_or_else(|e| panic!("{filter}: {e}"));
    f.validate(&USER_TYPE)
        .unwrap_or_else(|e| panic!("{filter}: {e}"));
    f.matches(&user(), &USER_TYPE)
}

#[test]
fn rfc_example_filters_parse_and_evaluate() {
    let cases: &[(&str, bool)] = &[
        (r#"userName Eq "alice@example.com""#, true),
        (r#"name.familyName co "ens""#, true),
        (r#"userName sw "A""#, true),
        (
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "al""#,
            true,
        ),
        ("title pr", true),
        ("nickName pr", false),
        ("ims pr", false),
        (r#"meta.lastModified gt "2011-05-13T04:42:34Z""#, false),
        (r#"meta.lastModified ge "2011-05-13T06:42:34+02:00""#, true),
        (r#"meta.lastModified lt "2011-05-14T00:00:00Z""#, true),
        (r#"title pr and userType eq "Employee""#, true),
        (r#"title pr or userType eq "Intern""#, true),
        // RFC 7644 §3.4.2.2's own example: the user carries the enterprise extension.
        (
            r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#,
            true,
        ),
        (
            r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
            true,
        ),
        (
            r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
            false,
        ),
        (
            r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
            true,
        ),
        (
            r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
            true,
        ),
        (r#"emails[type eq "home" and primary eq true]"#, false),
    ];
    for (f, want) in cases {
        assert_eq!(m(f), *want, "{f}");
    }
}

#[test]
fn entra_uniqueness_filter_with_sub_attribute_after_the_bracket() {
    assert!(m(
        r#"emails[type eq "work"].value eq "BJENSEN@example.com""#
    ));
    assert!(!m(
        r#"emails[type eq "home"].value eq "bjensen@example.com""#
    ));
    let f = parse(r#"emails[type eq "work"].value eq "x""#).unwrap();
    assert!(matches!(&f, Filter::ValuePath { sub: Some(_), .. }));
    assert_eq!(f.to_string(), r#"emails[type eq "work"].value eq "x""#);
}

#[test]
fn okta_r9_username_is_case_insensitive_but_ids_are_exact() {
    assert!(m(r#"userName eq "ALICE@EXAMPLE.COM""#));
    assert!(m(r#"externalId eq "Bjensen""#));
    assert!(!m(r#"externalId eq "bjensen""#));
    assert!(!m(r#"id eq "2819C223-7F76-453A-919D-413861904646""#));
}

#[test]
fn extension_attributes_live_under_their_urn() {
    let urn = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    assert!(m(&format!(r#"{urn}:employeeNumber eq "701984""#)));
    assert!(m(&format!(
        r#"{urn}:manager.value eq "26118915-6090-4610-87e4-49d8ca9f808d""#
    )));
    assert!(m(&format!(
        r#"{urn}:manager eq "26118915-6090-4610-87e4-49d8ca9f808d""#
    )));
    assert!(
        m(r#"employeeNumber eq "701984""#),
        "a bare extension name resolves when one extension defines it (Entra sends them)"
    );
}

#[test]
fn missing_unknown_null_and_ne() {
    assert!(m(r#"nickName ne "x""#), "ne on a missing attribute matches");
    assert!(m("nickName eq null"));
    assert!(!m("title eq null"));
    assert!(m("title ne null"));
    assert!(!m(r#"noSuchAttr eq "x""#) && !m(r#"noSuchAttr ne "x""#));
    assert!(m(r#"emails.value ne "nobody@example.com""#));
    assert!(!m(r#"emails.value ne "babs@jensen.org""#));
    assert!(m("active eq true") && !m("active eq false") && m("active ne false"));
}

#[test]
fn groups_compare_members_by_value() {
    let g = json!({"displayName": "Admins", "members": [{"value": "u1"}, {"value": "u2"}]});
    let f = |s: &str| parse(s).unwrap().matches(&g, &GROUP_TYPE);
    assert!(
        f(r#"members eq "u2""#)
            && f(r#"members[value eq "u1"]"#)
            && f(r#"displayName eq "admins""#)
    );
    assert!(!f(r#"members eq "u3""#));
}

#[test]
fn precedence_not_and_or_and_keywords_any_case() {
    let f = parse(r#"a pr OR b pr AND NOT (c pr) or d pr"#).unwrap();
    assert_eq!(f.to_string(), "a pr or b pr and not (c pr) or d pr");
    let Filter::Or(left, _) = &f else {
        panic!("{f:?}")
    };
    assert!(matches!(&**left, Filter::Or(_, r) if matches!(**r, Filter::And(..))));
    assert_eq!(
        parse("(a pr or b pr) and c pr").unwrap().to_string(),
        "(a pr or b pr) and c pr"
    );
    assert_eq!(
        parse("a pr and (b pr and c pr)").unwrap().to_string(),
        "a pr and (b pr and c pr)"
    );
    assert_eq!(parse("x eq TRUE").unwrap().to_string(), "x eq true");
}

#[test]
fn syntax_errors_are_invalid_filter_with_detail() {
    for s in [
        "",
        "userName",
        "userName eq",
        r#"userName xx "a""#,
        r#"userName eq "a" and"#,
        "(a pr",
        "a pr)",
        "not a pr",
        "emails[type eq \"w\"",
        "emails[a[b pr]]",
        "a pr b pr",
        r#"a eq bare"#,
        "emails.value[type pr]",
        "emails[type pr].",
        "1a pr",
    ] {
        match parse(s) {
            Err(ScimError::InvalidFilter(d)) => assert!(!d.is_empty()),
            other => panic!("{s:?} gave {other:?}"),
        }
    }
}

#[test]
fn nesting_and_length_are_bounded() {
    let deep = format!(
        "{}a pr{}",
        "(".repeat(MAX_DEPTH + 1),
        ")".repeat(MAX_DEPTH + 1)
    );
    assert!(matches!(parse(&deep), Err(ScimError::InvalidFilter(_))));
    let nots = format!("{}a pr{}", "not (".repeat(10_000), ")".repeat(10_000));
    assert!(parse(&nots).is_err());
    let ok = format!(
        "{}a pr{}",
        "(".repeat(MAX_DEPTH - 1),
        ")".repeat(MAX_DEPTH - 1)
    );
    assert!(parse(&ok).is_ok());
}

#[test]
fn validate_rejects_nonsense_operators_but_not_unknown_attributes() {
    for s in [
        "active gt true",
        "active co \"t\"",
        "name gt \"x\"",
        "emails gt \"x\"",
        "active eq \"yes\"",
        "meta.lastModified gt \"yesterday\"",
        "meta.lastModified sw \"2011\"",
        "title gt null",
        "userName eq true",
        "userName[value eq \"x\"]",
        "name.givenName[x pr]",
    ] {
        let r = parse(s).and_then(|f| f.validate(&USER_TYPE));
        assert!(matches!(r, Err(ScimError::InvalidFilter(_))), "{s}: {r:?}");
    }
    for s in [
        "noSuch gt true",
        "emails[type eq \"work\"]",
        "emails co \"x\"",
    ] {
        parse(s).unwrap().validate(&USER_TYPE).unwrap();
    }
}

#[test]
fn equality_planner_only_under_top_level_and() {
    let eq = |s: &str, name: &str| {
        parse(s)
            .unwrap()
            .equality(&USER_TYPE, name)
            .map(str::to_owned)
    };
    assert_eq!(eq(r#"USERNAME eq "a""#, "userName").as_deref(), Some("a"));
    assert_eq!(
        eq(
            r#"active eq true and (title pr and userName eq "b")"#,
            "userName"
        )
        .as_deref(),
        Some("b")
    );
    assert_eq!(
        eq(r#"externalId eq "e""#, "externalId").as_deref(),
        Some("e")
    );
    assert_eq!(eq(r#"userName eq "a" or title pr"#, "userName"), None);
    assert_eq!(eq(r#"not (userName eq "a")"#, "userName"), None);
    assert_eq!(eq(r#"userName ne "a""#, "userName"), None);
    assert_eq!(eq(r#"userName eq "a""#, "externalId"), None);
}

#[test]
fn error_details_name_the_problem_and_position() {
    let detail = |s: &str| match parse(s) {
        Err(ScimError::InvalidFilter(d)) => d,
        other => panic!("{s}: {other:?}"),
    };
    assert_eq!(
        detail("userName eq"),
        "expected a value (a string, number, true, false or null) after 'eq' (at character 12)"
    );
    assert_eq!(
        detail("userName xx \"a\""),
        "expected an operator after 'userName' (at character 10)"
    );
    assert_eq!(detail("(a pr"), "expected ')' (at character 6)");
    assert_eq!(detail("a pr)"), "unbalanced ')' (at character 5)");
}

#[test]
fn rfc7644_3_4_2_2_schemas_is_filterable_and_follows_the_data() {
    let ext = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    assert!(m(&format!(r#"schemas eq "{ext}""#)));
    assert!(m(&format!(r#"schemas eq "{}""#, ext.to_uppercase())));
    assert!(m(
        r#"schemas eq "urn:ietf:params:scim:schemas:core:2.0:User""#
    ));
    assert!(m(r#"schemas pr"#));
    assert!(m(r#"schemas co "enterprise""#));
    assert!(!m(
        r#"schemas eq "urn:ietf:params:scim:schemas:core:2.0:Group""#
    ));
    assert!(m(
        r#"schemas ne "urn:ietf:params:scim:schemas:core:2.0:Group""#
    ));
    // A user without the extension's object does not match, whatever `schemas` it carries.
    let mut plain = user();
    plain.as_object_mut().unwrap().remove(ext);
    let f = parse(&format!(r#"schemas eq "{ext}""#)).unwrap();
    assert!(!f.matches(&plain, &USER_TYPE));
    assert!(parse(&format!(r#"not (schemas eq "{ext}")"#))
        .unwrap()
        .matches(&plain, &USER_TYPE));
}
