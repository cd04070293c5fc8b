//! SCIM filters (RFC 7644 §3.4.2.2, the `FILTER` grammar of Figure 1): the AST, its canonical
//! text form, parsing (split by phase into `lexer` and `parser`), schema-aware validation
//! (`validate`) and evaluation against a JSON resource (`eval`).
//!
//! It owns filter syntax and the meaning of comparisons; it must not know about storage,
//! indexes or HTTP. The one hook for the engine's planner is [`Filter::equality`]. Pure; no I/O.

mod eval;
mod lexer;
mod parser;
mod validate;

use std::fmt;

use super::{error::ScimError, path::AttrPath};

pub(crate) use eval::{element_matches, get_ci};
pub(crate) use parser::parse_patch_path;
pub(crate) use validate::validate_element;

/// The longest filter accepted, in bytes.
pub const MAX_LEN: usize = 8 * 1024;
/// The deepest nesting of parentheses, `not` and value paths accepted.
pub const MAX_DEPTH: usize = 64;

/// A comparison operator (RFC 7644 Table 3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompareOp {
    /// Equal.
    Eq,
    /// Not equal.
    Ne,
    /// Contains (substring).
    Co,
    /// Starts with.
    Sw,
    /// Ends with.
    Ew,
    /// Greater than.
    Gt,
    /// Greater than or equal.
    Ge,
    /// Less than.
    Lt,
    /// Less than or equal.
    Le,
}

impl CompareOp {
    /// The operator in its canonical lower-case spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Co => "co",
            CompareOp::Sw => "sw",
            CompareOp::Ew => "ew",
            CompareOp::Gt => "gt",
            CompareOp::Ge => "ge",
            CompareOp::Lt => "lt",
            CompareOp::Le => "le",
        }
    }

    /// The operator for a word, case-insensitively.
    pub fn from_word(word: &str) -> Option<CompareOp> {
        const ALL: [CompareOp; 9] = [
            CompareOp::Eq,
            CompareOp::Ne,
            CompareOp::Co,
            CompareOp::Sw,
            CompareOp::Ew,
            CompareOp::Gt,
            CompareOp::Ge,
            CompareOp::Lt,
            CompareOp::Le,
        ];
        ALL.into_iter()
            .find(|op| op.as_str().eq_ignore_ascii_case(word))
    }

    /// Whether this is an ordering operator (gt, ge, lt, le).
    pub fn is_ordering(self) -> bool {
        matches!(
            self,
            CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le
        )
    }

    /// Whether this is a substring operator (co, sw, ew).
    pub fn is_substring(self) -> bool {
        matches!(self, CompareOp::Co | CompareOp::Sw | CompareOp::Ew)
    }
}

/// A comparison value (`compValue` of RFC 7644 Figure 1).
#[derive(Clone, Debug, PartialEq)]
pub enum CompValue {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A JSON number.
    Number(serde_json::Number),
    /// A JSON string, unescaped.
    String(String),
}

/// A parsed filter.
#[derive(Clone, Debug, PartialEq)]
pub enum Filter {
    /// `path op value`.
    Compare {
        /// The attribute compared.
        path: AttrPath,
        /// The operator.
        op: CompareOp,
        /// The value compared with.
        value: CompValue,
    },
    /// `path pr`.
    Present(AttrPath),
    /// `left and right`.
    And(Box<Filter>, Box<Filter>),
    /// `left or right`.
    Or(Box<Filter>, Box<Filter>),
    /// `not (inner)`.
    Not(Box<Filter>),
    /// `attr[filter]`, optionally followed by a test on a sub-attribute of the same element
    /// (`emails[type eq "work"].value eq "x"`, which Entra uses for uniqueness checks).
    ValuePath {
        /// The multi-valued (or complex) attribute.
        attr: AttrPath,
        /// The filter on its elements; paths inside are sub-attribute names.
        filter: Box<Filter>,
        /// A `Compare` or `Present` on a sub-attribute, written after `].`.
        sub: Option<Box<Filter>>,
    },
}

/// Parses a filter, case-insensitively for operators and keywords.
pub fn parse(input: &str) -> Result<Filter, ScimError> {
    parser::parse_filter(input)
}

impl fmt::Display for CompValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompValue::Null => f.write_str("null"),
            CompValue::Bool(b) => write!(f, "{b}"),
            CompValue::Number(n) => write!(f, "{n}"),
            CompValue::String(s) => {
                let quoted = serde_json::to_string(s).map_err(|_| fmt::Error)?;
                f.write_str(&quoted)
            }
        }
    }
}

/// Writes `filter`, in parentheses when `paren` says its precedence is too low for its place.
fn write_operand(f: &mut fmt::Formatter<'_>, filter: &Filter, paren: bool) -> fmt::Result {
    if paren {
        write!(f, "({filter})")
    } else {
        write!(f, "{filter}")
    }
}

impl fmt::Display for Filter {
    /// The canonical form: lower-case keywords, single spaces, JSON strings, and parentheses
    /// only where precedence (not > and > or, left-associative) needs them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::Compare { path, op, value } => write!(f, "{path} {} {value}", op.as_str()),
            Filter::Present(path) => write!(f, "{path} pr"),
            Filter::And(l, r) => {
                write_operand(f, l, matches!(**l, Filter::Or(..)))?;
                f.write_str(" and ")?;
                write_operand(f, r, matches!(**r, Filter::Or(..) | Filter::And(..)))
            }
            Filter::Or(l, r) => {
                write!(f, "{l} or ")?;
                write_operand(f, r, matches!(**r, Filter::Or(..)))
            }
            Filter::Not(inner) => write!(f, "not ({inner})"),
            Filter::ValuePath { attr, filter, sub } => {
                write!(f, "{attr}[{filter}]")?;
                match sub {
                    Some(sub) => write!(f, ".{sub}"),
                    None => Ok(()),
                }
            }
        }
    }
}

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
