//! The first phase of filter parsing: bytes to tokens with their offsets.
//!
//! Words (attribute paths, operators, keywords) are not classified here, because `and`, `pr`
//! or `true` are keywords only in some positions; the parser decides. Strings are JSON strings
//! (RFC 7644 §3.4.2.2 refers to RFC 7159 for `compValue`), unescaped with serde_json.

use super::{ScimError, MAX_LEN};

/// One token.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Tok {
    /// `(`
    LParen,
    /// `)`
    RParen,
    /// `[`
    LBracket,
    /// `]`
    RBracket,
    /// `.` starting a sub-attribute after `]`.
    Dot,
    /// An attribute path, an operator or a keyword, as written.
    Word(String),
    /// A JSON string, unescaped.
    Str(String),
    /// A JSON number.
    Num(serde_json::Number),
}

/// A token and the byte offset where it starts, for error messages.
pub(super) type Spanned = (Tok, usize);

pub(super) fn err(at: usize, what: &str) -> ScimError {
    ScimError::InvalidFilter(format!("{what} (at character {})", at + 1))
}

fn is_word_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'$' | b':' | b'.')
}

/// Splits `input` into tokens; fails on characters outside the grammar.
pub(super) fn lex(input: &str) -> Result<Vec<Spanned>, ScimError> {
    if input.len() > MAX_LEN {
        return Err(ScimError::InvalidFilter(format!(
            "filter is longer than {MAX_LEN} bytes"
        )));
    }
    let bytes = input.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let start = i;
        let tok = match c {
            b' ' | b'\t' | b'\r' | b'\n' => {
                i += 1;
                continue;
            }
            b'(' => Tok::LParen,
            b')' => Tok::RParen,
            b'[' => Tok::LBracket,
            b']' => Tok::RBracket,
            b'.' => Tok::Dot,
            b'"' => {
                let (s, end) = string(input, i)?;
                i = end;
                out.push((Tok::Str(s), start));
                continue;
            }
            b'-' | b'0'..=b'9' => {
                let (n, end) = number(input, i)?;
                i = end;
                out.push((Tok::Num(n), start));
                continue;
            }
            c if is_word_char(c) => {
                while i < bytes.len() && is_word_char(bytes[i]) {
                    i += 1;
                }
                out.push((Tok::Word(input[start..i].to_owned()), start));
                continue;
            }
            _ => {
                let ch = input[i..].chars().next().unwrap_or('?');
                return Err(err(i, &format!("unexpected character '{ch}'")));
            }
        };
        out.push((tok, start));
        i += 1;
    }
    Ok(out)
}

/// A JSON string starting at the quote at `start`; returns it and the offset after it.
fn string(input: &str, start: usize) -> Result<(String, usize), ScimError> {
    let bytes = input.as_bytes();
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => {
                let s = serde_json::from_str::<String>(&input[start..=i])
                    .map_err(|e| err(start, &format!("invalid string: {e}")))?;
                return Ok((s, i + 1));
            }
            _ => i += 1,
        }
    }
    Err(err(start, "unterminated string"))
}

/// A JSON number starting at `start`; returns it and the offset after it.
fn number(input: &str, start: usize) -> Result<(serde_json::Number, usize), ScimError> {
    let bytes = input.as_bytes();
    let mut i = start;
    // Take the widest run of number characters, then check it against the JSON grammar.
    while i < bytes.len()
        && (bytes[i].is_ascii_alphanumeric() || matches!(bytes[i], b'-' | b'+' | b'.'))
    {
        i += 1;
    }
    let text = &input[start..i];
    json_number(text)
        .map(|n| (n, i))
        .ok_or_else(|| err(start, &format!("invalid number '{text}'")))
}

/// `-? int frac? exp?` of RFC 8259 §6. Floats go through std's correctly rounded parser so
/// that printing and re-parsing a filter gives back the same value.
fn json_number(text: &str) -> Option<serde_json::Number> {
    let digits = |s: &str| s.bytes().take_while(u8::is_ascii_digit).count();
    let body = text.strip_prefix('-').unwrap_or(text);
    let int = digits(body);
    if int == 0 || (int > 1 && body.starts_with('0')) {
        return None;
    }
    let mut rest = &body[int..];
    if let Some(frac) = rest.strip_prefix('.') {
        let n = digits(frac);
        if n == 0 {
            return None;
        }
        rest = &frac[n..];
    }
    if let Some(exp) = rest.strip_prefix(['e', 'E']) {
        let exp = exp.strip_prefix(['+', '-']).unwrap_or(exp);
        let n = digits(exp);
        if n == 0 {
            return None;
        }
        rest = &exp[n..];
    }
    if !rest.is_empty() {
        return None;
    }
    if int == body.len() {
        if let Ok(n) = text.parse::<i64>() {
            return Some(n.into());
        }
        if let Ok(n) = text.parse::<u64>() {
            return Some(n.into());
        }
    }
    text.parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok> {
        lex(s).unwrap().into_iter().map(|(t, _)| t).collect()
    }

    #[test]
    fn words_strings_numbers_and_brackets() {
        assert_eq!(
            toks(r#"emails[type eq "w\"k"].value GE -1.5e3"#),
            vec![
                Tok::Word("emails".into()),
                Tok::LBracket,
                Tok::Word("type".into()),
                Tok::Word("eq".into()),
                Tok::Str("w\"k".into()),
                Tok::RBracket,
                Tok::Dot,
                Tok::Word("value".into()),
                Tok::Word("GE".into()),
                Tok::Num(serde_json::Number::from_f64(-1500.0).unwrap()),
            ]
        );
    }

    #[test]
    fn bad_input_is_an_invalid_filter_with_a_position() {
        for s in [
            "a eq \"x",
            "a eq 01",
            "a eq 1e999",
            "a eq #",
            "a eq \"\\q\"",
        ] {
            let e = lex(s).unwrap_err();
            assert!(
                matches!(&e, ScimError::InvalidFilter(d) if d.contains("at character")),
                "{s}: {e:?}"
            );
        }
        assert!(lex(&"a".repeat(MAX_LEN + 1)).is_err());
    }
}
