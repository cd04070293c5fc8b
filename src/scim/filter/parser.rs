//! The second phase of filter parsing: tokens to [`Filter`], by recursive descent over
//! RFC 7644 Figure 1 with precedence not > and > or (both binary operators left-associative).
//!
//! Recursion happens only on `(`, `not` and `[`, each of which counts towards
//! [`MAX_DEPTH`], so no input can overflow the stack. Also parses PATCH paths (RFC 7644
//! §3.5.2), which share the `valuePath` production.

use super::{
    lexer::{err, lex, Spanned, Tok},
    CompValue, CompareOp, Filter, ScimError, MAX_DEPTH,
};
use crate::scim::path::{is_attr_name, parse_attr_path, AttrPath, PatchPath};

/// Parses a whole filter expression.
pub(super) fn parse_filter(input: &str) -> Result<Filter, ScimError> {
    let mut p = Parser::new(input)?;
    if p.toks.is_empty() {
        return Err(ScimError::InvalidFilter("the filter is empty".into()));
    }
    let f = p.or_expr(0, false)?;
    p.expect_end()?;
    Ok(f)
}

/// Parses a PATCH path: `attrPath` or `attrPath "[" valFilter "]" ["." subAttr]`.
pub(crate) fn parse_patch_path(input: &str) -> Result<PatchPath, ScimError> {
    let mut p = Parser::new(input)?;
    let attr = p.attr_path()?;
    if p.peek() != Some(&Tok::LBracket) {
        p.expect_end()?;
        return Ok(PatchPath {
            attr,
            filter: None,
            sub: None,
        });
    }
    if attr.sub.is_some() {
        return Err(err(
            p.offset(),
            "a value filter must follow the attribute, not a sub-attribute",
        ));
    }
    p.pos += 1;
    let filter = p.or_expr(1, true)?;
    p.expect(Tok::RBracket, "expected ']'")?;
    let sub = if p.peek() == Some(&Tok::Dot) {
        p.pos += 1;
        Some(p.sub_attr_name()?)
    } else {
        None
    };
    p.expect_end()?;
    Ok(PatchPath {
        attr,
        filter: Some(filter),
        sub,
    })
}

struct Parser {
    toks: Vec<Spanned>,
    pos: usize,
    len: usize,
}

impl Parser {
    fn new(input: &str) -> Result<Parser, ScimError> {
        Ok(Parser {
            toks: lex(input)?,
            pos: 0,
            len: input.len(),
        })
    }

    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|(t, _)| t)
    }

    fn offset(&self) -> usize {
        self.toks.get(self.pos).map_or(self.len, |(_, at)| *at)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).map(|(t, _)| t.clone());
        self.pos += 1;
        t
    }

    fn expect(&mut self, want: Tok, what: &str) -> Result<(), ScimError> {
        if self.peek() == Some(&want) {
            self.pos += 1;
            Ok(())
        } else {
            Err(err(self.offset(), what))
        }
    }

    fn expect_end(&self) -> Result<(), ScimError> {
        match self.peek() {
            None => Ok(()),
            Some(Tok::RParen) => Err(err(self.offset(), "unbalanced ')'")),
            Some(_) => Err(err(
                self.offset(),
                "expected 'and', 'or' or the end of the filter",
            )),
        }
    }

    /// Whether the next token is the keyword `kw` (case-insensitive).
    fn at_keyword(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(w)) if w.eq_ignore_ascii_case(kw))
    }

    fn or_expr(&mut self, depth: usize, in_brackets: bool) -> Result<Filter, ScimError> {
        let mut left = self.and_expr(depth, in_brackets)?;
        while self.at_keyword("or") {
            self.pos += 1;
            let right = self.and_expr(depth, in_brackets)?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and_expr(&mut self, depth: usize, in_brackets: bool) -> Result<Filter, ScimError> {
        let mut left = self.unary(depth, in_brackets)?;
        while self.at_keyword("and") {
            self.pos += 1;
            let right = self.unary(depth, in_brackets)?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    /// `not (…)`, `(…)` or an attribute expression.
    fn unary(&mut self, depth: usize, in_brackets: bool) -> Result<Filter, ScimError> {
        if depth >= MAX_DEPTH {
            return Err(err(
                self.offset(),
                &format!("filter nests deeper than {MAX_DEPTH} levels"),
            ));
        }
        let negated = self.at_keyword("not")
            && self.toks.get(self.pos + 1).map(|(t, _)| t) == Some(&Tok::LParen);
        if negated {
            self.pos += 1;
        }
        if self.peek() == Some(&Tok::LParen) {
            self.pos += 1;
            let inner = self.or_expr(depth + 1, in_brackets)?;
            self.expect(Tok::RParen, "expected ')'")?;
            return Ok(if negated {
                Filter::Not(Box::new(inner))
            } else {
                inner
            });
        }
        self.attr_exp(depth, in_brackets)
    }

    fn attr_path(&mut self) -> Result<AttrPath, ScimError> {
        let at = self.offset();
        match self.next() {
            Some(Tok::Word(w)) => parse_attr_path(&w).map_err(|e| err(at, &e.to_string())),
            _ => Err(err(at, "expected an attribute path")),
        }
    }

    fn sub_attr_name(&mut self) -> Result<String, ScimError> {
        let at = self.offset();
        match self.next() {
            Some(Tok::Word(w)) if is_attr_name(&w) => Ok(w),
            _ => Err(err(at, "expected a sub-attribute name after '.'")),
        }
    }

    /// `path pr`, `path op value`, or `attr[filter]` with an optional `.sub op value`.
    fn attr_exp(&mut self, depth: usize, in_brackets: bool) -> Result<Filter, ScimError> {
        let at = self.offset();
        let path = self.attr_path()?;
        if self.peek() != Some(&Tok::LBracket) {
            return self.comparison(path);
        }
        if in_brackets {
            return Err(err(self.offset(), "value filters cannot nest"));
        }
        if path.sub.is_some() {
            return Err(err(
                at,
                "a value filter must follow the attribute, not a sub-attribute",
            ));
        }
        self.pos += 1;
        let filter = self.or_expr(depth + 1, true)?;
        self.expect(Tok::RBracket, "expected ']'")?;
        let sub = if self.peek() == Some(&Tok::Dot) {
            self.pos += 1;
            let name = self.sub_attr_name()?;
            Some(Box::new(self.comparison(AttrPath::named(&name))?))
        } else {
            None
        };
        Ok(Filter::ValuePath {
            attr: path,
            filter: Box::new(filter),
            sub,
        })
    }

    fn comparison(&mut self, path: AttrPath) -> Result<Filter, ScimError> {
        let at = self.offset();
        let op = match self.next() {
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("pr") => return Ok(Filter::Present(path)),
            Some(Tok::Word(w)) => CompareOp::from_word(&w),
            _ => None,
        };
        let op = op.ok_or_else(|| err(at, &format!("expected an operator after '{path}'")))?;
        let at = self.offset();
        let value = match self.next() {
            Some(Tok::Str(s)) => CompValue::String(s),
            Some(Tok::Num(n)) => CompValue::Number(n),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("true") => CompValue::Bool(true),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("false") => CompValue::Bool(false),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("null") => CompValue::Null,
            _ => {
                return Err(err(
                    at,
                    &format!(
                        "expected a value (a string, number, true, false or null) after '{}'",
                        op.as_str()
                    ),
                ))
            }
        };
        Ok(Filter::Compare { path, op, value })
    }
}
