//! User and group counts for the status page: users (total, active, inactive) and groups.
//!
//! Totals come from the store's counters on every call (cheap). Active and inactive need each
//! user's `active` attribute, so they come from a full scan that is cached: a scan is reused
//! until it is older than twenty times its own duration, at least [`MIN_TTL`] and at most
//! [`MAX_TTL`]. A small user base is thus fresh within a second; 100 000 users (a scan of about
//! a second) are rescanned at most every ~20 s, keeping the scan under 5 % of one core however
//! many status pages are open. One scan runs at a time; concurrent callers wait for it.
//! A user without `active` counts as active (RFC 7643 leaves it optional; identity providers
//! send `false` to deprovision).

use std::time::{Duration, Instant};

use time::OffsetDateTime;

use crate::{
    scim::{
        records::Records,
        schema::{GROUP_TYPE, USER_TYPE},
    },
    store::StoreError,
};

/// The shortest reuse of a scan.
pub const MIN_TTL: Duration = Duration::from_secs(1);
/// The longest reuse of a scan.
pub const MAX_TTL: Duration = Duration::from_secs(30);
/// Users read per store round trip during a scan.
const PAGE: usize = 1_000;

#[derive(Clone, Copy, Debug)]
struct Scan {
    at: Instant,
    time: OffsetDateTime,
    ttl: Duration,
    active: u64,
    inactive: u64,
}

/// The counts at one moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// Users now.
    pub users: u64,
    /// Groups now.
    pub groups: u64,
    /// Active users at `scanned_at`.
    pub active: u64,
    /// Inactive users at `scanned_at`.
    pub inactive: u64,
    /// When active and inactive were counted.
    pub scanned_at: OffsetDateTime,
}

/// Counts with a cached active/inactive scan.
pub struct Counts {
    records: Records,
    scan: tokio::sync::Mutex<Option<Scan>>,
    min_ttl: Duration,
}

impl Counts {
    /// Counts over `records`.
    pub fn new(records: Records) -> Self {
        Self::with_min_ttl(records, MIN_TTL)
    }

    /// Counts whose scans are reused for at least `min_ttl` (at most the larger of `min_ttl`
    /// and [`MAX_TTL`]).
    pub fn with_min_ttl(records: Records, min_ttl: Duration) -> Self {
        Self {
            records,
            scan: tokio::sync::Mutex::new(None),
            min_ttl,
        }
    }

    /// The current counts, scanning users when the cached scan has expired.
    pub async fn snapshot(&self) -> Result<Snapshot, StoreError> {
        let users = self.records.count(&USER_TYPE).await? as u64;
        let groups = self.records.count(&GROUP_TYPE).await? as u64;
        let scan = {
            let mut cached = self.scan.lock().await;
            match *cached {
                Some(s) if s.at.elapsed() < s.ttl => s,
                _ => {
                    let s = self.scan_users().await?;
                    *cached = Some(s);
                    s
                }
            }
        };
        Ok(Snapshot {
            users,
            groups,
            active: scan.active,
            inactive: scan.inactive,
            scanned_at: scan.time,
        })
    }

    async fn scan_users(&self) -> Result<Scan, StoreError> {
        let started = Instant::now();
        let time = OffsetDateTime::now_utc();
        let (mut active, mut inactive, mut offset) = (0u64, 0u64, 0usize);
        loop {
            let page = self.records.page(&USER_TYPE, offset, PAGE).await?;
            for user in &page {
                if user.stored.doc.get("active") == Some(&serde_json::Value::Bool(false)) {
                    inactive += 1;
                } else {
                    active += 1;
                }
            }
            offset += page.len();
            if page.len() < PAGE {
                break;
            }
        }
        let ttl = (started.elapsed() * 20).clamp(self.min_ttl, MAX_TTL.max(self.min_ttl));
        Ok(Scan {
            at: Instant::now(),
            time,
            ttl,
            active,
            inactive,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::*;
    use crate::{
        scim::records::{Changes, Expect, Stored},
        store::embedded::EmbeddedStore,
    };

    async fn add_user(records: &Records, id: &str, doc: serde_json::Value) {
        let mut c = Changes::new();
        let stored = Stored {
            created: "2026-01-01T00:00:00Z".into(),
            last_modified: "2026-01-01T00:00:00Z".into(),
            doc,
        };
        c.put(&USER_TYPE, id, &stored, Expect::Absent);
        records.commit(c).await.unwrap();
    }

    #[tokio::test]
    async fn active_and_inactive_come_from_a_cached_scan() {
        let tmp = tempfile::tempdir().unwrap();
        let records = Records::new(Arc::new(EmbeddedStore::open(tmp.path()).unwrap()));
        add_user(&records, "u1", json!({"userName": "a", "active": true})).await;
        add_user(&records, "u2", json!({"userName": "b", "active": false})).await;
        add_user(&records, "u3", json!({"userName": "c"})).await;

        let counts = Counts::with_min_ttl(records.clone(), Duration::from_secs(3600));
        let first = counts.snapshot().await.unwrap();
        assert_eq!((first.users, first.active, first.inactive), (3, 2, 1));
        assert_eq!(first.groups, 0);

        add_user(&records, "u4", json!({"userName": "d", "active": false})).await;
        let second = counts.snapshot().await.unwrap();
        assert_eq!(second.users, 4, "totals are read every time");
        assert_eq!(
            (second.active, second.inactive),
            (2, 1),
            "the scan is reused"
        );
        assert_eq!(second.scanned_at, first.scanned_at);

        let fresh = Counts::with_min_ttl(records, Duration::ZERO)
            .snapshot()
            .await
            .unwrap();
        assert_eq!((fresh.active, fresh.inactive), (2, 2));
    }
}
