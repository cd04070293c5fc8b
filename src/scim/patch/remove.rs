//! The remove writes behind PATCH (RFC 7644 §3.5.2.2): a whole attribute, the listed elements
//! of a multi-valued one (Entra's legacy member removal), a sub-attribute, or the elements a
//! value filter selects. Selecting nothing is not an error, so retries are idempotent.

use serde_json::{Map, Value};

use super::{
    index::{EqualitySet, Listed},
    slots::{get_mut_ci, prune, take_ci},
    write::Target,
};
use crate::scim::{
    error::ScimError,
    filter::element_matches,
    quirk::{Quirk, Quirks},
    schema::Attribute,
    value,
};

/// Removes a whole attribute, or with a value list (Entra's legacy member removal) only the
/// listed elements of a multi-valued one.
pub(super) fn remove_attr(
    holder: &mut Map<String, Value>,
    attr: &Attribute,
    listed: Option<&Value>,
    q: &mut Quirks,
) -> Result<(), ScimError> {
    match listed {
        Some(list) if attr.multi_valued && !list.is_null() => {
            q.note(Quirk::RemoveByValueList);
            let listed = match value::normalize(attr, list.clone(), q)? {
                Value::Array(items) => items,
                other => vec![other],
            };
            // Two elements are the same member or value when their `value`s are equal.
            let listed = Listed::new(&listed);
            if let Some(Value::Array(items)) = get_mut_ci(holder, attr.name) {
                items.retain(|e| !listed.names(e));
            }
        }
        _ if attr.required => {
            return Err(ScimError::Mutability(format!(
                "attribute '{}' is required and cannot be removed",
                attr.name
            )))
        }
        _ => {
            take_ci(holder, attr.name);
        }
    }
    prune(holder, attr);
    Ok(())
}

/// `remove` at `t` (RFC 7644 §3.5.2.2); selecting nothing is not an error.
pub(super) fn remove(
    holder: &mut Map<String, Value>,
    t: &Target<'_>,
    listed: Option<&Value>,
    q: &mut Quirks,
) -> Result<(), ScimError> {
    let attr = t.attr;
    if t.filter.is_none() && t.sub.is_none() {
        return remove_attr(holder, attr, listed, q);
    }
    let Some(current) = get_mut_ci(holder, attr.name) else {
        return Ok(());
    };
    match (t.filter, t.sub) {
        (Some(filter), None) => {
            if let Value::Array(items) = current {
                // One pass; `value eq "a" or value eq "b" …` is one set lookup per element.
                match EqualitySet::of(filter, attr) {
                    Some(set) => items.retain(|e| !set.matches(e)),
                    None => items.retain(|e| !element_matches(filter, e, attr)),
                }
            } else if element_matches(filter, current, attr) {
                *current = Value::Null;
            }
        }
        (filter, Some(sub)) => {
            let elements: &mut [Value] = match current {
                Value::Array(items) => items,
                other => std::slice::from_mut(other),
            };
            for e in elements {
                if filter.is_none_or(|f| element_matches(f, e, attr)) {
                    if let Value::Object(m) = e {
                        take_ci(m, sub.name);
                    }
                }
            }
        }
        (None, None) => {}
    }
    prune(holder, attr);
    Ok(())
}
