//! An error and its causes as one line of text (`a: b: c`), for log fields and CLI notes.
//!
//! Must not know any particular error type: everything it prints comes from `Display`, and
//! the errors of this crate never carry secrets in their messages.

/// Formats `e` followed by each of its sources, separated by `": "`.
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

#[cfg(test)]
mod tests {
    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn every_cause_follows_in_order() {
        let e = Outer(std::io::Error::other("inner"));
        assert_eq!(super::chain(&e), "outer: inner");
        assert_eq!(super::chain(&std::io::Error::other("alone")), "alone");
    }
}
