//! Schema-aware checks of a parsed [`Filter`] (RFC 7644 §3.4.2.2: operators that make no
//! sense for an attribute's type are `invalidFilter`).
//!
//! Unknown attributes pass: RFC 7644 lets them simply match nothing, and identity providers
//! probe with attributes a server may not have. Evaluation never depends on this having run.

use time::{format_description::well_known::Rfc3339, OffsetDateTime};

use super::{
    eval::{cv_text, define, Scope},
    CompValue, CompareOp, Filter, ScimError,
};
use crate::scim::{
    path::AttrPath,
    schema::{AttrType, Attribute, ResourceType},
};

impl Filter {
    /// Checks operators and values against the attributes' types.
    pub fn validate(&self, rt: &ResourceType) -> Result<(), ScimError> {
        check(self, Scope::Resource(rt))
    }
}

/// Validates a PATCH value filter on the elements of `parent`.
pub(crate) fn validate_element(
    filter: &Filter,
    parent: &'static Attribute,
) -> Result<(), ScimError> {
    check(filter, Scope::Element(parent))
}

fn check(filter: &Filter, scope: Scope<'_>) -> Result<(), ScimError> {
    match filter {
        Filter::Compare { path, op, value } => match define(scope, path) {
            Some((attr, sub, _)) => check_compare(path, attr, sub, *op, value),
            None => Ok(()),
        },
        Filter::Present(_) => Ok(()),
        Filter::And(l, r) | Filter::Or(l, r) => {
            check(l, scope)?;
            check(r, scope)
        }
        Filter::Not(inner) => check(inner, scope),
        Filter::ValuePath { attr, filter, sub } => {
            let Some((def, None, _)) = define(scope, attr) else {
                return Ok(());
            };
            if def.ty != AttrType::Complex {
                return Err(bad(
                    attr,
                    "is not complex, so it cannot have a value filter",
                ));
            }
            check(filter, Scope::Element(def))?;
            match sub {
                Some(sub) => check(sub, Scope::Element(def)),
                None => Ok(()),
            }
        }
    }
}

fn bad(path: &AttrPath, why: &str) -> ScimError {
    ScimError::InvalidFilter(format!("'{path}' {why}"))
}

fn check_compare(
    path: &AttrPath,
    attr: &'static Attribute,
    sub: Option<&'static Attribute>,
    op: CompareOp,
    value: &CompValue,
) -> Result<(), ScimError> {
    if sub.is_none() && attr.ty == AttrType::Complex && op.is_ordering() {
        return Err(bad(path, "is complex and cannot be ordered"));
    }
    // A complex attribute named alone compares its `value` sub-attribute, as evaluation does.
    let leaf = match sub {
        Some(sub) => sub,
        None if attr.ty == AttrType::Complex => attr.sub("value").unwrap_or(attr),
        None => attr,
    };
    let op_name = op.as_str();
    if matches!(value, CompValue::Null) {
        return match op {
            CompareOp::Eq | CompareOp::Ne => Ok(()),
            _ => Err(bad(
                path,
                &format!("cannot be compared with null using '{op_name}'"),
            )),
        };
    }
    let ty = leaf.ty.as_str();
    let needs = |what: &str| Err(bad(path, &format!("is a {ty} and needs {what}")));
    match leaf.ty {
        AttrType::Complex => Err(bad(path, "is complex and has no value to compare")),
        AttrType::Boolean if op != CompareOp::Eq && op != CompareOp::Ne => Err(bad(
            path,
            &format!("is a boolean; '{op_name}' needs an ordered or string attribute"),
        )),
        AttrType::Boolean => match value {
            CompValue::Bool(_) => Ok(()),
            CompValue::String(s)
                if s.eq_ignore_ascii_case("true") || s.eq_ignore_ascii_case("false") =>
            {
                Ok(())
            }
            _ => needs("true or false"),
        },
        AttrType::Integer | AttrType::Decimal if op.is_substring() => Err(bad(
            path,
            &format!("is a number; '{op_name}' needs a string attribute"),
        )),
        AttrType::Integer | AttrType::Decimal => match value {
            CompValue::Number(_) => Ok(()),
            CompValue::String(s) if s.trim().parse::<f64>().is_ok() => Ok(()),
            _ => needs("a number"),
        },
        // dateTime values are instants (RFC 7643 §2.3.5): ordered, but not substrings.
        AttrType::DateTime if op.is_substring() => Err(bad(
            path,
            &format!("is a dateTime; '{op_name}' needs a string attribute"),
        )),
        AttrType::DateTime => match value {
            CompValue::String(s) if OffsetDateTime::parse(s, &Rfc3339).is_ok() => Ok(()),
            _ => needs("an RFC 3339 date-time string"),
        },
        AttrType::String | AttrType::Reference | AttrType::Binary => match cv_text(value) {
            Some(_) => Ok(()),
            None => needs("a string"),
        },
    }
}
