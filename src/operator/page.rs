//! The status page's static files, embedded in the binary (no CDN, no external fonts).
//!
//! The page holds no data: its script asks `/status.json` with the bearer token the operator
//! types, kept only in the tab's `sessionStorage`.

/// One embedded file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Asset {
    /// `/` (the HTML).
    Index,
    /// `/status/style.css`.
    Style,
    /// `/status/app.js`.
    Script,
}

impl Asset {
    /// The asset served at `path`, if any (`/` is matched by the router).
    pub fn from_path(path: &str) -> Option<Asset> {
        match path {
            "/status/style.css" => Some(Asset::Style),
            "/status/app.js" => Some(Asset::Script),
            _ => None,
        }
    }

    /// Its content type.
    pub fn content_type(self) -> &'static str {
        match self {
            Asset::Index => "text/html; charset=utf-8",
            Asset::Style => "text/css; charset=utf-8",
            Asset::Script => "text/javascript; charset=utf-8",
        }
    }

    /// Its bytes.
    pub fn body(self) -> &'static str {
        match self {
            Asset::Index => include_str!("page/index.html"),
            Asset::Style => include_str!("page/style.css"),
            Asset::Script => include_str!("page/app.js"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_has_no_inline_script_or_style_and_no_external_urls() {
        let html = Asset::Index.body();
        assert!(html.contains(r#"<script src="/status/app.js""#));
        assert!(!html.contains("<script>"), "no inline script");
        assert!(!html.contains("<style"), "no inline style element");
        assert!(!html.contains(" style="), "no inline style attribute");
        let handler = html.split(" on").skip(1).any(|rest| {
            let name: String = rest.chars().take_while(char::is_ascii_alphabetic).collect();
            !name.is_empty() && rest[name.len()..].starts_with('=')
        });
        assert!(!handler, "no inline event handler");
        // The SVG namespace is a name the script passes to createElementNS, never fetched.
        const SVG_NAMESPACE: &str = "\"http://www.w3.org/2000/svg\"";
        assert_eq!(Asset::Script.body().matches(SVG_NAMESPACE).count(), 1);
        for a in [Asset::Index, Asset::Style, Asset::Script] {
            let body = a.body().replace(SVG_NAMESPACE, "");
            assert!(!body.contains("http://") && !body.contains("https://"));
        }
        assert!(!Asset::Script.body().contains("document.cookie"));
    }
}
