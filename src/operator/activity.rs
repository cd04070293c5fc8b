//! Recent provisioning activity: the last [`CAPACITY`] SCIM requests, kept in memory for the
//! status page. The HTTP layer records one [`Entry`] per SCIM request.
//!
//! Holds no attribute values and no personal data: the time, the client's `User-Agent`
//! (trimmed), the method, the resource type and id (opaque UUIDs), the status and the latency.
//! Lost on restart by design.

use std::{collections::VecDeque, sync::Mutex, time::Duration};

use serde_json::{json, Value};
use time::OffsetDateTime;

/// How many entries are kept.
pub const CAPACITY: usize = 200;

/// The longest `User-Agent` kept, in characters.
const MAX_AGENT_CHARS: usize = 120;

/// One SCIM request.
#[derive(Clone, Debug)]
pub struct Entry {
    /// When it finished.
    pub time: OffsetDateTime,
    /// The client's `User-Agent`, trimmed to printable ASCII.
    pub user_agent: String,
    /// The method.
    pub method: String,
    /// `User`, `Group`, `Bulk`, `Search`, `Discovery` or `Other`.
    pub resource_type: &'static str,
    /// The resource id, when the request named one or created one.
    pub resource_id: Option<String>,
    /// The response status.
    pub status: u16,
    /// How long the answer took.
    pub latency: Duration,
}

/// A bounded ring buffer of entries, newest last.
#[derive(Debug, Default)]
pub struct Activity {
    entries: Mutex<VecDeque<Entry>>,
}

/// Keeps printable ASCII only (no control characters for log or page injection), bounded.
pub fn clean_agent(raw: &[u8]) -> String {
    raw.iter()
        .filter(|b| (0x20..0x7f).contains(*b))
        .take(MAX_AGENT_CHARS)
        .map(|&b| b as char)
        .collect()
}

/// Keeps an id only when it looks like an opaque id (UUID-like characters), bounded.
pub fn clean_id(raw: &str) -> Option<String> {
    let ok = !raw.is_empty()
        && raw.len() <= 64
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    ok.then(|| raw.to_owned())
}

impl Activity {
    /// An empty buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an entry, dropping the oldest beyond [`CAPACITY`].
    pub fn record(&self, entry: Entry) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() == CAPACITY {
            entries.pop_front();
        }
        entries.push_back(entry);
    }

    /// The entries, newest first.
    pub fn recent(&self) -> Vec<Entry> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.iter().rev().cloned().collect()
    }

    /// The entries as JSON, newest first.
    pub fn to_json(&self) -> Value {
        Value::Array(
            self.recent()
                .iter()
                .map(|e| {
                    json!({
                        "time": super::rfc3339(e.time),
                        "userAgent": e.user_agent,
                        "method": e.method,
                        "resourceType": e.resource_type,
                        "resourceId": e.resource_id,
                        "status": e.status,
                        "latencyMs": (e.latency.as_secs_f64() * 1000.0 * 10.0).round() / 10.0,
                    })
                })
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(status: u16) -> Entry {
        Entry {
            time: OffsetDateTime::now_utc(),
            user_agent: "idp".into(),
            method: "POST".into(),
            resource_type: "User",
            resource_id: None,
            status,
            latency: Duration::from_millis(3),
        }
    }

    #[test]
    fn the_buffer_keeps_the_newest_entries_first() {
        let a = Activity::new();
        for i in 0..(CAPACITY as u16 + 5) {
            a.record(entry(i));
        }
        let r = a.recent();
        assert_eq!(r.len(), CAPACITY);
        assert_eq!(r[0].status, CAPACITY as u16 + 4);
        assert_eq!(r[CAPACITY - 1].status, 5);
        assert_eq!(a.to_json()[0]["latencyMs"], 3.0);
    }

    #[test]
    fn agents_and_ids_are_cleaned() {
        assert_eq!(clean_agent(b"Okta\r\n<x>\x1b[31m"), "Okta<x>[31m");
        assert_eq!(clean_agent(&[b'a'; 500]).len(), MAX_AGENT_CHARS);
        assert_eq!(clean_id("2819c223-7f76").as_deref(), Some("2819c223-7f76"));
        assert_eq!(clean_id("a b"), None);
        assert_eq!(clean_id(""), None);
    }
}
