//! Hash indexes over the elements of a multi-valued attribute, so PATCH add, replace and remove
//! cost time linear in the attribute's size and the request's, not their product.
//!
//! [`value_hash`] agrees with `serde_json`'s `==` (object keys in any order, as `preserve_order`
//! maps compare), so an index narrows candidates and `==` still decides: the semantics are
//! those of the linear scans it replaces.

use std::{
    collections::{hash_map::DefaultHasher, HashMap, HashSet},
    hash::{Hash, Hasher},
};

use serde_json::Value;

use crate::scim::{
    filter::{get_ci, CompValue, CompareOp, Filter},
    schema::{AttrType, Attribute},
};

/// A hash of a JSON value such that `a == b` implies `value_hash(a) == value_hash(b)`.
pub(super) fn value_hash(v: &Value) -> u64 {
    let mut h = DefaultHasher::new();
    feed(v, &mut h);
    h.finish()
}

fn feed(v: &Value, h: &mut DefaultHasher) {
    match v {
        Value::Null => 0u8.hash(h),
        Value::Bool(b) => (1u8, b).hash(h),
        Value::Number(n) => {
            2u8.hash(h);
            if let Some(u) = n.as_u64() {
                (0u8, u).hash(h);
            } else if let Some(i) = n.as_i64() {
                (1u8, i).hash(h);
            } else {
                // 0.0 == -0.0, so both hash as 0.0.
                let f = n.as_f64().unwrap_or(0.0);
                let f = if f == 0.0 { 0.0 } else { f };
                (2u8, f.to_bits()).hash(h);
            }
        }
        Value::String(s) => (3u8, s).hash(h),
        Value::Array(items) => {
            (4u8, items.len()).hash(h);
            for item in items {
                feed(item, h);
            }
        }
        Value::Object(map) => {
            // Order-independent: the sum of the entries' own hashes.
            let sum = map.iter().fold(0u64, |acc, (k, v)| {
                let mut e = DefaultHasher::new();
                k.hash(&mut e);
                feed(v, &mut e);
                acc.wrapping_add(e.finish())
            });
            (5u8, map.len(), sum).hash(h);
        }
    }
}

/// The positions of values in a list, by [`value_hash`].
#[derive(Default)]
pub(super) struct ValueIndex(HashMap<u64, Vec<usize>>);

impl ValueIndex {
    /// An index of `items`.
    pub(super) fn of(items: &[Value]) -> Self {
        let mut index = Self(HashMap::with_capacity(items.len()));
        for (i, item) in items.iter().enumerate() {
            index.insert(item, i);
        }
        index
    }

    /// Records that `items[at] == v`.
    pub(super) fn insert(&mut self, v: &Value, at: usize) {
        self.0.entry(value_hash(v)).or_default().push(at);
    }

    /// Whether some indexed element of `items` equals `v`.
    pub(super) fn contains(&self, items: &[Value], v: &Value) -> bool {
        self.0
            .get(&value_hash(v))
            .is_some_and(|at| at.iter().any(|&i| items.get(i) == Some(v)))
    }
}

/// A remove's value list, indexed as `same_element` reads it: elements with a `value` match
/// on it, others match whole.
pub(super) struct Listed<'a> {
    by_value: (Vec<&'a Value>, ValueIndexRef),
    whole: (Vec<&'a Value>, ValueIndexRef),
}

/// Like [`ValueIndex`], over a list of references.
#[derive(Default)]
struct ValueIndexRef(HashMap<u64, Vec<usize>>);

impl ValueIndexRef {
    fn push<'a>(&mut self, list: &mut Vec<&'a Value>, v: &'a Value) {
        self.0.entry(value_hash(v)).or_default().push(list.len());
        list.push(v);
    }

    fn contains(&self, list: &[&Value], v: &Value) -> bool {
        self.0
            .get(&value_hash(v))
            .is_some_and(|at| at.iter().any(|&i| list.get(i).is_some_and(|l| *l == v)))
    }
}

impl<'a> Listed<'a> {
    /// Indexes the listed elements.
    pub(super) fn new(listed: &'a [Value]) -> Self {
        let mut by_value = (Vec::new(), ValueIndexRef::default());
        let mut whole = (Vec::new(), ValueIndexRef::default());
        for l in listed {
            match get_ci(l, "value") {
                Some(v) => by_value.1.push(&mut by_value.0, v),
                None => whole.1.push(&mut whole.0, l),
            }
        }
        Self { by_value, whole }
    }

    /// Whether `e` is one of the listed elements: equal `value`s when both have one, else
    /// equal as a whole (an element with a `value` never equals one without).
    pub(super) fn names(&self, e: &Value) -> bool {
        match get_ci(e, "value") {
            Some(v) => self.by_value.1.contains(&self.by_value.0, v),
            None => self.whole.1.contains(&self.whole.0, e),
        }
    }
}

/// A value filter that is `sub eq "a" or sub eq "b" …` on one string sub-attribute, as a set
/// of the texts it selects (folded when the sub-attribute is not `caseExact`), so selecting
/// elements is one lookup each instead of one comparison per alternative.
pub(super) struct EqualitySet {
    sub: &'static Attribute,
    texts: HashSet<String>,
}

impl EqualitySet {
    /// The set for `filter` on elements of `parent`; `None` for any other shape of filter.
    pub(super) fn of(filter: &Filter, parent: &'static Attribute) -> Option<Self> {
        let mut sub: Option<&'static Attribute> = None;
        let mut texts = HashSet::new();
        let mut stack = vec![filter];
        while let Some(f) = stack.pop() {
            match f {
                Filter::Or(l, r) => {
                    stack.push(r);
                    stack.push(l);
                }
                Filter::Compare {
                    path,
                    op: CompareOp::Eq,
                    value: CompValue::String(s),
                } if path.urn.is_none() && path.sub.is_none() => {
                    let a = parent.sub(&path.name)?;
                    if !matches!(
                        a.ty,
                        AttrType::String | AttrType::Reference | AttrType::Binary
                    ) || sub.is_some_and(|b| b.name != a.name)
                    {
                        return None;
                    }
                    sub = Some(a);
                    texts.insert(fold(a, s));
                }
                _ => return None,
            }
        }
        Some(Self { sub: sub?, texts })
    }

    /// Whether the filter selects `element` (as `element_matches` would).
    pub(super) fn matches(&self, element: &Value) -> bool {
        let stored: &[Value] = match get_ci(element, self.sub.name) {
            Some(Value::Array(items)) => items,
            Some(one) => std::slice::from_ref(one),
            None => &[],
        };
        stored
            .iter()
            .filter_map(Value::as_str)
            .any(|s| self.texts.contains(fold(self.sub, s).as_str()))
    }
}

fn fold(a: &Attribute, s: &str) -> String {
    if a.case_exact {
        s.to_owned()
    } else {
        s.to_lowercase()
    }
}
