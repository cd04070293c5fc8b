//! The ListResponse message (RFC 7644 §3.4.2): 1-based `startIndex`, integer counts; the
//! `startIndex`/`count` pagination parameters (§3.4.2.4) and `sortBy`/`sortOrder` (§3.4.2.3).
//!
//! It shapes and orders results already fetched; it must not know how the store finds them.
//! Pure: no I/O.

use serde_json::Value;

use super::error::ScimError;

mod sort;

pub use sort::sort;

/// The schema URI of a list response.
pub const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

/// One page of query results as the bytes of its ListResponse: the header (counts are
/// integers, `Resources` is always present), then each resource's JSON as it is rendered,
/// written once into one buffer (a page of 100 users never exists as a tree, issue 16).
#[derive(Debug)]
pub struct ListResponse {
    out: Vec<u8>,
    expected: usize,
    written: usize,
}

impl ListResponse {
    /// Begins a page of `items_per_page` resources, of `total_results` matching in all,
    /// starting at (1-based) `start_index`. `size_hint` is the bytes expected.
    pub fn begin(
        total_results: usize,
        start_index: usize,
        items_per_page: usize,
        size_hint: usize,
    ) -> ListResponse {
        let mut out = Vec::with_capacity(size_hint + 160);
        out.extend_from_slice(b"{\"schemas\":[\"");
        out.extend_from_slice(LIST_SCHEMA.as_bytes());
        out.extend_from_slice(b"\"],\"totalResults\":");
        out.extend_from_slice(total_results.to_string().as_bytes());
        out.extend_from_slice(b",\"itemsPerPage\":");
        out.extend_from_slice(items_per_page.to_string().as_bytes());
        out.extend_from_slice(b",\"startIndex\":");
        out.extend_from_slice(start_index.to_string().as_bytes());
        out.extend_from_slice(b",\"Resources\":[");
        ListResponse {
            out,
            expected: items_per_page,
            written: 0,
        }
    }

    /// The buffer to append the next resource's JSON (exactly one value) to.
    pub fn next_item(&mut self) -> &mut Vec<u8> {
        if self.written > 0 {
            self.out.push(b',');
        }
        self.written += 1;
        &mut self.out
    }

    /// Appends a resource already held as a tree.
    pub fn push(&mut self, resource: &Value) {
        let out = self.next_item();
        serde_json::to_writer(out, resource).expect("a serde_json::Value always serialises");
    }

    /// A whole page of resources held as trees (discovery's few documents).
    pub fn of(total_results: usize, start_index: usize, resources: &[Value]) -> ListResponse {
        let mut list = ListResponse::begin(total_results, start_index, resources.len(), 0);
        for r in resources {
            list.push(r);
        }
        list
    }

    /// The document's bytes.
    pub fn into_bytes(mut self) -> Vec<u8> {
        debug_assert_eq!(
            self.written, self.expected,
            "itemsPerPage is what was written"
        );
        self.out.extend_from_slice(b"]}");
        self.out
    }
}

/// The pagination window of RFC 7644 §3.4.2.4.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Page {
    /// The 1-based index of the first result.
    pub start_index: usize,
    /// The most results to return.
    pub count: usize,
}

/// Parses an integer query parameter; out-of-range integers saturate, since both parameters are
/// clamped anyway and "a very large number" is a valid request.
fn parse_int(name: &str, text: &str) -> Result<i64, ScimError> {
    let text = text.trim();
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ScimError::InvalidValue(format!(
            "'{name}' must be an integer, got '{text}'"
        )));
    }
    Ok(text.parse::<i64>().unwrap_or(if text.starts_with('-') {
        i64::MIN
    } else {
        i64::MAX
    }))
}

impl Page {
    /// Parses `startIndex` (below 1 means 1) and `count` (negative means 0, absent or above
    /// `max` means `max`); non-integers are `InvalidValue`.
    pub fn parse(
        start_index: Option<&str>,
        count: Option<&str>,
        max: usize,
    ) -> Result<Page, ScimError> {
        let start_index = match start_index {
            Some(text) => {
                usize::try_from(parse_int("startIndex", text)?.max(1)).unwrap_or(usize::MAX)
            }
            None => 1,
        };
        let count = match count {
            Some(text) => usize::try_from(parse_int("count", text)?.max(0)).unwrap_or(usize::MAX),
            None => max,
        };
        Ok(Page {
            start_index,
            count: count.min(max),
        })
    }

    /// The 0-based index range of this page within `total` results (empty past the end).
    pub fn range(&self, total: usize) -> std::ops::Range<usize> {
        let start = self.start_index.saturating_sub(1).min(total);
        start..start.saturating_add(self.count).min(total)
    }
}

/// The `sortOrder` parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SortOrder {
    /// Smallest first; the default.
    #[default]
    Ascending,
    /// Largest first.
    Descending,
}

impl SortOrder {
    /// Parses `ascending`/`descending` in any case; absent means ascending.
    pub fn parse(text: Option<&str>) -> Result<SortOrder, ScimError> {
        match text.map(str::trim) {
            None => Ok(SortOrder::Ascending),
            Some(t) if t.eq_ignore_ascii_case("ascending") => Ok(SortOrder::Ascending),
            Some(t) if t.eq_ignore_ascii_case("descending") => Ok(SortOrder::Descending),
            Some(t) => Err(ScimError::InvalidValue(format!(
                "sortOrder must be 'ascending' or 'descending', got '{t}'"
            ))),
        }
    }
}

#[cfg(test)]
mod tests;
