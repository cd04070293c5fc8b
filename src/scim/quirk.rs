//! The identity-provider quirks the bridge accepts, each with a stable name, so that an event
//! can say which ones it applied to the request that caused it (the events' `normalized`).
//!
//! A quirk is a way of sending a value or an operation that RFC 7643/7644 does not define (or
//! defines otherwise) and that a real identity provider uses; the bridge reads it as the
//! provider means it. Where a change surprises an operator ("why is she still active?"), the
//! names answer how the bridge read the request. Names are `provider.camelCase`, after the
//! provider the quirk is known from; `lenient.` marks the ones several providers share. The
//! README's "Accepted quirks" lists them all. Pure: the parsers note what they applied in a
//! [`Quirks`] set passed down to them.

use serde::{ser::SerializeSeq, Serialize, Serializer};

/// One accepted quirk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quirk {
    /// A PATCH `op` not in lower case (`"Replace"`).
    CapitalizedOp,
    /// A boolean sent as a string in any case (`"True"`, `"False"`).
    StringBoolean,
    /// A no-path `add`/`replace` whose value has dotted keys (`"name.givenName"`).
    NoPathDottedKeys,
    /// A no-path `add`/`replace` whose value has URN-qualified attribute keys
    /// (`"urn:…:enterprise:2.0:User:department"`).
    NoPathUrnKeys,
    /// A path naming an extension attribute without its schema URN (`"path": "manager"`).
    ExtensionWithoutUrn,
    /// A one-element array where a single complex value belongs (`"manager": [{…}]`).
    ArrayForSingle,
    /// A bare value where a complex value with a `value` sub-attribute belongs
    /// (`"manager": "id"`).
    ScalarForComplex,
    /// A `remove` on a multi-valued attribute with a list of the values to remove (legacy
    /// member removal) instead of a value filter.
    RemoveByValueList,
    /// An `add`/`replace` on a value path that matches no element, creating that element.
    ValuePathCreate,
    /// A no-path `replace` of `{"active": false}`: a deactivation.
    NoPathDeactivate,
    /// A `password`, accepted and never stored.
    PasswordIgnored,
    /// A single value or object where an array belongs (`"emails": {…}`).
    SingleForArray,
    /// A number sent for a string attribute (`"employeeNumber": 1234`), stored as its text.
    NumberAsString,
    /// A number sent as a string for an integer or decimal attribute.
    StringAsNumber,
    /// A PUT without `active`: the user keeps the state they had.
    PutKeepsActive,
    /// A PUT of a group without `members`: the group keeps its members.
    PutKeepsMembers,
}

impl Quirk {
    /// Every quirk, in the order names are listed.
    pub const ALL: [Quirk; 16] = [
        Quirk::CapitalizedOp,
        Quirk::StringBoolean,
        Quirk::NoPathDottedKeys,
        Quirk::NoPathUrnKeys,
        Quirk::ExtensionWithoutUrn,
        Quirk::ArrayForSingle,
        Quirk::ScalarForComplex,
        Quirk::RemoveByValueList,
        Quirk::ValuePathCreate,
        Quirk::NoPathDeactivate,
        Quirk::PasswordIgnored,
        Quirk::SingleForArray,
        Quirk::NumberAsString,
        Quirk::StringAsNumber,
        Quirk::PutKeepsActive,
        Quirk::PutKeepsMembers,
    ];

    /// The stable name events carry.
    pub fn name(self) -> &'static str {
        match self {
            Quirk::CapitalizedOp => "entra.capitalizedOp",
            Quirk::StringBoolean => "entra.stringBoolean",
            Quirk::NoPathDottedKeys => "entra.noPathDottedKeys",
            Quirk::NoPathUrnKeys => "entra.noPathUrnKeys",
            Quirk::ExtensionWithoutUrn => "entra.extensionWithoutUrn",
            Quirk::ArrayForSingle => "entra.arrayForSingle",
            Quirk::ScalarForComplex => "entra.scalarForComplex",
            Quirk::RemoveByValueList => "entra.removeByValueList",
            Quirk::ValuePathCreate => "entra.valuePathCreate",
            Quirk::NoPathDeactivate => "okta.noPathDeactivate",
            Quirk::PasswordIgnored => "okta.passwordIgnored",
            Quirk::SingleForArray => "onelogin.singleForArray",
            Quirk::NumberAsString => "lenient.numberAsString",
            Quirk::StringAsNumber => "lenient.stringAsNumber",
            Quirk::PutKeepsActive => "lenient.putKeepsActive",
            Quirk::PutKeepsMembers => "lenient.putKeepsMembers",
        }
    }

    fn bit(self) -> u32 {
        1 << self as u32
    }
}

/// The quirks applied to one request: a set, so noting one twice (a retried attempt, a quirk
/// in every element) lists it once. Serialises as the array of names, in [`Quirk::ALL`] order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Quirks(u32);

impl Quirks {
    /// Notes that `quirk` was applied.
    pub fn note(&mut self, quirk: Quirk) {
        self.0 |= quirk.bit();
    }

    /// Whether `quirk` was applied.
    pub fn has(self, quirk: Quirk) -> bool {
        self.0 & quirk.bit() != 0
    }

    /// Whether none was.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The ones applied, in [`Quirk::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = Quirk> {
        Quirk::ALL.into_iter().filter(move |q| self.has(*q))
    }

    /// Their names, in [`Quirk::ALL`] order.
    pub fn names(self) -> Vec<&'static str> {
        self.iter().map(Quirk::name).collect()
    }
}

impl Serialize for Quirks {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(None)?;
        for q in self.iter() {
            seq.serialize_element(q.name())?;
        }
        seq.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_quirk_has_one_distinct_bit_and_name() {
        let mut all = Quirks::default();
        for (i, q) in Quirk::ALL.into_iter().enumerate() {
            assert_eq!(q as u32 as usize, i, "ALL is in declaration order");
            assert!(!all.has(q));
            all.note(q);
        }
        assert_eq!(all.iter().count(), Quirk::ALL.len());
        let mut names = all.names();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Quirk::ALL.len());
        assert!(names.iter().all(|n| n.split_once('.').is_some()));
    }

    #[test]
    fn a_set_lists_each_once_in_a_fixed_order() {
        let mut q = Quirks::default();
        assert!(q.is_empty());
        q.note(Quirk::NoPathDeactivate);
        q.note(Quirk::StringBoolean);
        q.note(Quirk::NoPathDeactivate);
        assert_eq!(
            serde_json::to_string(&q).unwrap(),
            r#"["entra.stringBoolean","okta.noPathDeactivate"]"#
        );
    }
}
