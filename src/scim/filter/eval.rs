//! Evaluation of a [`Filter`] against a JSON resource (RFC 7644 §3.4.2.2 semantics).
//!
//! Attribute characteristics come from the schema: `caseExact` decides string folding,
//! `dateTime` values compare as instants, numbers numerically. JSON keys are matched
//! case-insensitively (RFC 7643 §2.1). A multi-valued attribute matches when any element
//! does, and `ne` is the negation of `eq` (so a missing attribute is `ne` anything).

use std::cmp::Ordering;

use serde_json::Value;
use time::{format_description::well_known::Rfc3339, OffsetDateTime};

use super::{CompValue, CompareOp, Filter};
use crate::scim::{
    path::AttrPath,
    schema::{AttrType, Attribute, ResourceType},
};

/// Where paths are resolved: a resource, or an element of a complex attribute (inside `[...]`).
#[derive(Clone, Copy)]
pub(super) enum Scope<'a> {
    /// Top-level paths of a resource type.
    Resource(&'a ResourceType),
    /// Sub-attribute names of this complex attribute.
    Element(&'static Attribute),
}

/// A path's attribute, its sub-attribute, and the key of the object holding the attribute
/// (`None` for the document itself, `Some(urn)` for an extension).
pub(super) type Definition = (
    &'static Attribute,
    Option<&'static Attribute>,
    Option<&'static str>,
);

/// Resolves `path` in `scope`; `None` for unknown attributes.
pub(super) fn define(scope: Scope<'_>, path: &AttrPath) -> Option<Definition> {
    match scope {
        Scope::Resource(rt) => {
            let (schema, attr, sub) = path.resolve(rt)?;
            let container = (schema.id != rt.schema.id).then_some(schema.id);
            Some((attr, sub, container))
        }
        Scope::Element(parent) if path.urn.is_none() && path.sub.is_none() => {
            Some((parent.sub(&path.name)?, None, None))
        }
        Scope::Element(_) => None,
    }
}

/// `v[key]` with the key matched case-insensitively, preferring an exact match.
pub(crate) fn get_ci<'v>(v: &'v Value, key: &str) -> Option<&'v Value> {
    let map = v.as_object()?;
    map.get(key).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

/// Whether `filter` selects `element`, an element of the complex attribute `parent`.
pub(crate) fn element_matches(
    filter: &Filter,
    element: &Value,
    parent: &'static Attribute,
) -> bool {
    eval(filter, element, Scope::Element(parent))
}

impl Filter {
    /// Whether the resource document matches this filter.
    pub fn matches(&self, resource: &Value, rt: &ResourceType) -> bool {
        eval(self, resource, Scope::Resource(rt))
    }

    /// The value `v` when this filter is `canonical_name eq "v"`, alone or in a top-level
    /// conjunction, so the engine can answer it from a unique index.
    pub fn equality(&self, rt: &ResourceType, canonical_name: &str) -> Option<&str> {
        match self {
            Filter::Compare {
                path,
                op: CompareOp::Eq,
                value: CompValue::String(v),
            } => match path.resolve(rt) {
                Some((_, attr, None)) if attr.name == canonical_name => Some(v),
                _ => None,
            },
            Filter::And(l, r) => l
                .equality(rt, canonical_name)
                .or_else(|| r.equality(rt, canonical_name)),
            _ => None,
        }
    }
}

fn eval(filter: &Filter, doc: &Value, scope: Scope<'_>) -> bool {
    match filter {
        Filter::Compare { path, op, value } => match schemas_of(doc, scope, path) {
            Some(uris) => compare_schemas(&uris, *op, value),
            None => compare_path(doc, scope, path, *op, value),
        },
        Filter::Present(path) => match schemas_of(doc, scope, path) {
            Some(uris) => !uris.is_empty(),
            None => define(scope, path)
                .is_some_and(|d| leaves(doc, d, false).1.into_iter().any(non_empty)),
        },
        Filter::And(l, r) => eval(l, doc, scope) && eval(r, doc, scope),
        Filter::Or(l, r) => eval(l, doc, scope) || eval(r, doc, scope),
        Filter::Not(inner) => !eval(inner, doc, scope),
        Filter::ValuePath { attr, filter, sub } => {
            let Some(def @ (parent, None, _)) = define(scope, attr) else {
                return false;
            };
            if parent.ty != AttrType::Complex {
                return false;
            }
            let top = located(doc, def);
            elements(top).any(|e| {
                eval(filter, e, Scope::Element(parent))
                    && sub
                        .as_ref()
                        .is_none_or(|s| eval(s, e, Scope::Element(parent)))
            })
        }
    }
}

/// The schema URIs of a resource when `path` is the bare `schemas` attribute (RFC 7643 §3: an
/// attribute of every resource, though no schema describes it): the core schema and each
/// extension whose object the document carries, so the answer follows the data whatever a
/// client once sent as `schemas`.
fn schemas_of<'a>(doc: &Value, scope: Scope<'a>, path: &AttrPath) -> Option<Vec<&'a str>> {
    let Scope::Resource(rt) = scope else {
        return None;
    };
    if path.urn.is_some() || path.sub.is_some() || !path.name.eq_ignore_ascii_case("schemas") {
        return None;
    }
    let mut uris = vec![rt.schema.id];
    for ext in rt.extensions {
        if get_ci(doc, ext.id).is_some_and(|v| v.as_object().is_some_and(|m| !m.is_empty())) {
            uris.push(ext.id);
        }
    }
    Some(uris)
}

/// Compares schema URIs with a filter value; URIs compare ignoring case (RFC 8141 URNs).
fn compare_schemas(uris: &[&str], op: CompareOp, cv: &CompValue) -> bool {
    let Some(want) = cv_text(cv) else {
        return matches!((op, cv), (CompareOp::Ne, CompValue::Null));
    };
    let any = |op| uris.iter().any(|u| text(false, u, &want, op));
    match op {
        CompareOp::Ne => !any(CompareOp::Eq),
        op => any(op),
    }
}

/// The attribute's value in `doc`, if any.
fn located(doc: &Value, (attr, _, container): Definition) -> Option<&Value> {
    let holder = match container {
        Some(urn) => get_ci(doc, urn)?,
        None => doc,
    };
    get_ci(holder, attr.name)
}

/// The elements of a value: an array's items, or the value itself.
fn elements<'v>(v: Option<&'v Value>) -> impl Iterator<Item = &'v Value> {
    let items: &'v [Value] = match v {
        Some(Value::Array(items)) => items,
        Some(other) => std::slice::from_ref(other),
        None => &[],
    };
    items.iter()
}

/// The definition and the values a comparison looks at. With `value_sub`, a complex attribute
/// named without a sub-attribute stands for its `value` sub-attribute.
fn leaves(doc: &Value, def: Definition, value_sub: bool) -> (&'static Attribute, Vec<&Value>) {
    let (attr, sub, _) = def;
    let top = located(doc, def);
    let sub = sub.or_else(|| {
        (value_sub && attr.ty == AttrType::Complex)
            .then(|| attr.sub("value"))
            .flatten()
    });
    match sub {
        Some(sub) => {
            let vals = elements(top)
                .filter_map(|e| get_ci(e, sub.name))
                .flat_map(|v| elements(Some(v)));
            (sub, vals.collect())
        }
        None => (attr, elements(top).collect()),
    }
}

/// `pr`: present and not null, an empty string, an empty array or an empty object.
fn non_empty(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(items) => items.iter().any(non_empty),
        Value::Object(map) => !map.is_empty(),
        Value::Bool(_) | Value::Number(_) => true,
    }
}

fn compare_path(
    doc: &Value,
    scope: Scope<'_>,
    path: &AttrPath,
    op: CompareOp,
    cv: &CompValue,
) -> bool {
    // Unknown attributes match nothing, whatever the operator.
    let Some(def) = define(scope, path) else {
        return false;
    };
    let (leaf, values) = leaves(doc, def, true);
    let any = |op| values.iter().any(|v| compare(leaf, v, op, cv));
    match (op, cv) {
        // `eq null` means "has no value" (RFC 7644 §3.4.2.2 treats null as unassigned).
        (CompareOp::Eq, CompValue::Null) => !values.iter().any(|v| non_empty(v)),
        (CompareOp::Ne, CompValue::Null) => values.iter().any(|v| non_empty(v)),
        (_, CompValue::Null) => false,
        (CompareOp::Ne, _) => !any(CompareOp::Eq),
        _ => any(op),
    }
}

fn ordered(op: CompareOp, ord: Ordering) -> bool {
    match op {
        CompareOp::Eq => ord == Ordering::Equal,
        CompareOp::Ne => ord != Ordering::Equal,
        CompareOp::Gt => ord == Ordering::Greater,
        CompareOp::Ge => ord != Ordering::Less,
        CompareOp::Lt => ord == Ordering::Less,
        CompareOp::Le => ord != Ordering::Greater,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}

/// Compares one stored value with the filter's value under `attr`'s type.
fn compare(attr: &Attribute, stored: &Value, op: CompareOp, cv: &CompValue) -> bool {
    match attr.ty {
        AttrType::Complex => false,
        AttrType::Boolean => {
            let want = match cv {
                CompValue::Bool(b) => Some(*b),
                CompValue::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
                CompValue::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
                _ => None,
            };
            match (stored.as_bool(), want, op) {
                (Some(a), Some(b), CompareOp::Eq) => a == b,
                (Some(a), Some(b), CompareOp::Ne) => a != b,
                _ => false,
            }
        }
        AttrType::Integer | AttrType::Decimal => match (number(stored), cv_number(cv)) {
            (Some(a), Some(b)) => a.partial_cmp(&b).is_some_and(|o| ordered(op, o)),
            _ => false,
        },
        AttrType::DateTime => {
            let (Some(a), Some(b)) = (stored.as_str(), cv_text(cv)) else {
                return false;
            };
            match (instant(a), instant(&b), op.is_substring()) {
                (Some(x), Some(y), false) => ordered(op, x.cmp(&y)),
                _ => text(true, a, &b, op),
            }
        }
        AttrType::String | AttrType::Reference | AttrType::Binary => {
            match (stored.as_str(), cv_text(cv)) {
                (Some(a), Some(b)) => text(attr.case_exact, a, &b, op),
                _ => false,
            }
        }
    }
}

fn text(case_exact: bool, a: &str, b: &str, op: CompareOp) -> bool {
    let (a, b) = if case_exact {
        (a.to_owned(), b.to_owned())
    } else {
        (a.to_lowercase(), b.to_lowercase())
    };
    match op {
        CompareOp::Co => a.contains(&b),
        CompareOp::Sw => a.starts_with(&b),
        CompareOp::Ew => a.ends_with(&b),
        _ => ordered(op, a.cmp(&b)),
    }
}

fn instant(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).ok()
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn cv_number(cv: &CompValue) -> Option<f64> {
    match cv {
        CompValue::Number(n) => n.as_f64(),
        CompValue::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The filter value as text: strings as they are, numbers in their decimal form.
pub(super) fn cv_text(cv: &CompValue) -> Option<String> {
    match cv {
        CompValue::String(s) => Some(s.clone()),
        CompValue::Number(n) => Some(n.to_string()),
        _ => None,
    }
}
