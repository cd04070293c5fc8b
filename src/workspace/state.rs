//! What the connector keeps in the store, so a restart or a moved pod loses nothing: the
//! groups picked on the status page, the last sync's summary, and which SCIM resources the
//! connector owns (created or adopted by it; a sync changes no other).

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::store::{SharedStore, StoreError, StoreKey, WriteBatch};

/// The connector's settings and summary.
pub const SPACE: &str = "workspace";
/// Ownership marks, keyed by SCIM id.
pub const OWNED: &str = "workspace.owned";

const SELECTION: &str = "selection";
const SUMMARY: &str = "summary";

/// Which groups are synced.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Selection {
    /// Every group, and everyone in the directory.
    All,
    /// These groups (emails, lowercase) and their members.
    Groups(Vec<String>),
}

impl Selection {
    /// `*`, or comma-separated group emails (`OP_WORKSPACE_GROUPS`); `None` when empty.
    pub fn parse(text: &str) -> Option<Selection> {
        let text = text.trim();
        if text == "*" {
            return Some(Selection::All);
        }
        let mut emails: Vec<String> = text
            .split(',')
            .map(|e| e.trim().to_ascii_lowercase())
            .filter(|e| !e.is_empty())
            .collect();
        emails.sort();
        emails.dedup();
        (!emails.is_empty()).then_some(Selection::Groups(emails))
    }

    /// As the status page and the API show it: `"*"`, or the list of group emails.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Selection::All => serde_json::json!("*"),
            Selection::Groups(g) => serde_json::json!(g),
        }
    }

    /// Whether the group with this email is selected.
    pub fn includes(&self, email: &str) -> bool {
        match self {
            Selection::All => true,
            Selection::Groups(g) => g.iter().any(|e| e.eq_ignore_ascii_case(email)),
        }
    }
}

/// What a mark records.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Mark {
    /// `User` or `Group`.
    pub kind: String,
    /// The Google id it mirrors.
    pub google: String,
    /// Whether it existed before the connector took it over.
    #[serde(default)]
    pub adopted: bool,
}

/// The selection stored from the status page, if any.
pub async fn selection(store: &SharedStore) -> Result<Option<Selection>, StoreError> {
    let record = store.get(&StoreKey::new(SPACE, SELECTION)).await?;
    Ok(record.and_then(|r| serde_json::from_slice(&r.value).ok()))
}

/// The groups to sync: `configured` (`OP_WORKSPACE_GROUPS`) when set, else the stored pick.
pub async fn chosen(
    configured: Option<&Selection>,
    store: &SharedStore,
) -> Result<Option<Selection>, StoreError> {
    match configured {
        Some(s) => Ok(Some(s.clone())),
        None => selection(store).await,
    }
}

/// Stores the selection.
pub async fn set_selection(store: &SharedStore, selection: &Selection) -> Result<(), StoreError> {
    let value = serde_json::to_vec(selection).expect("a selection serialises");
    store
        .write(WriteBatch::new().put(StoreKey::new(SPACE, SELECTION), value))
        .await
        .map(|_| ())
}

/// The last summary (any JSON the sync wrote), if any.
pub async fn summary(store: &SharedStore) -> Result<Option<serde_json::Value>, StoreError> {
    let record = store.get(&StoreKey::new(SPACE, SUMMARY)).await?;
    Ok(record.and_then(|r| serde_json::from_slice(&r.value).ok()))
}

/// Stores the summary.
pub async fn set_summary(
    store: &SharedStore,
    summary: &serde_json::Value,
) -> Result<(), StoreError> {
    let value = serde_json::to_vec(summary).expect("a summary serialises");
    store
        .write(WriteBatch::new().put(StoreKey::new(SPACE, SUMMARY), value))
        .await
        .map(|_| ())
}

/// The mark of a SCIM resource, if the connector owns it.
pub async fn mark(store: &SharedStore, id: &str) -> Result<Option<Mark>, StoreError> {
    let record = store.get(&StoreKey::new(OWNED, id)).await?;
    Ok(record.and_then(|r| serde_json::from_slice(&r.value).ok()))
}

/// Marks a SCIM resource as owned.
pub async fn set_mark(store: &SharedStore, id: &str, mark: &Mark) -> Result<(), StoreError> {
    let value = Bytes::from(serde_json::to_vec(mark).expect("a mark serialises"));
    store
        .write(WriteBatch::new().put(StoreKey::new(OWNED, id), value))
        .await
        .map(|_| ())
}

/// Drops a mark (its resource was deleted).
pub async fn drop_mark(store: &SharedStore, id: &str) -> Result<(), StoreError> {
    store
        .write(WriteBatch::new().delete(StoreKey::new(OWNED, id)))
        .await
        .map(|_| ())
}

/// Every mark, in SCIM id order, a chunk at a time.
pub async fn marks(store: &SharedStore) -> Result<Vec<(String, Mark)>, StoreError> {
    const CHUNK: usize = 1_000;
    let mut out = Vec::new();
    let mut offset = 0;
    loop {
        let chunk = store.list(OWNED, offset, CHUNK).await?;
        let n = chunk.len();
        offset += n;
        out.extend(
            chunk
                .into_iter()
                .filter_map(|(id, r)| serde_json::from_slice(&r.value).ok().map(|m| (id, m))),
        );
        if n < CHUNK {
            return Ok(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_selection_is_star_or_group_emails() {
        assert_eq!(Selection::parse("*"), Some(Selection::All));
        assert_eq!(
            Selection::parse(" Eng@Example.com, ops@example.com,,eng@example.com "),
            Some(Selection::Groups(vec![
                "eng@example.com".into(),
                "ops@example.com".into()
            ]))
        );
        assert_eq!(Selection::parse(" , "), None);
        let s = Selection::parse("eng@example.com").unwrap();
        assert!(s.includes("ENG@example.com") && !s.includes("ops@example.com"));
    }
}
