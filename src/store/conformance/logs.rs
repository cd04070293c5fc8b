//! Conformance checks for logs: numbering without gaps, appends atomic with the batch, reads in
//! order, trimming from the oldest end, and concurrent appenders.
//!
//! Must not know which backend it is testing.

use bytes::Bytes;

use super::{bounded, fresh, ok};
use crate::store::{
    Change, LogBounds, Mutation, Precondition, SharedStore, StoreError, StoreKey, WriteBatch,
};

fn append(log: &str, value: impl Into<Bytes>) -> Mutation {
    Mutation::Append {
        log: log.to_owned(),
        value: value.into(),
        keys: Vec::new(),
    }
}

/// Entries are numbered 1, 2, 3 … in batch order; a refused batch takes no number; a read
/// returns what was appended, after a number, up to a limit; bytes round-trip unchanged.
pub async fn log_appends(store: SharedStore) {
    const C: &str = "log_appends";
    let log = fresh("log");
    let bounds = ok(C, "bounds of a new log", store.log_bounds(&log).await);
    assert_eq!(
        bounds,
        LogBounds::default(),
        "[{C}] a new log is empty at 0"
    );
    assert!(ok(C, "read a new log", store.log_read(&log, 0, 10).await).is_empty());

    let key = StoreKey::new(fresh("logged"), "r1");
    let batch = WriteBatch::new()
        .require(Precondition::Absent(key.clone()))
        .put(key.clone(), "record")
        .then(append(&log, "one"))
        .then(append(&log, Bytes::from_static(b"\x00\xff two")));
    let committed = ok(
        C,
        "append two",
        bounded(C, "append", store.write(batch)).await,
    );
    assert_eq!(
        committed.appended,
        vec![(log.clone(), 1), (log.clone(), 2)],
        "[{C}] two appends in one batch take 1 and 2"
    );
    assert_eq!(committed.version_of(&key), Some(1));

    // Refused by its precondition: neither the record nor the entry is written, and the next
    // committed entry is 3, not 4.
    let refused = WriteBatch::new()
        .require(Precondition::Absent(key.clone()))
        .put(key.clone(), "again")
        .then(append(&log, "lost"));
    let r = bounded(C, "refused append", store.write(refused)).await;
    assert!(matches!(r, Err(StoreError::Conflict { .. })), "[{C}] {r:?}");
    let third = WriteBatch::new().then(append(&log, "three"));
    let committed = ok(C, "append three", store.write(third).await);
    assert_eq!(committed.appended, vec![(log.clone(), 3)], "[{C}] no gap");

    let all = ok(C, "read all", store.log_read(&log, 0, 100).await);
    let seqs: Vec<u64> = all.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, [1, 2, 3], "[{C}]");
    assert_eq!(all[0].value, Bytes::from_static(b"one"));
    assert_eq!(
        all[1].value,
        Bytes::from_static(b"\x00\xff two"),
        "[{C}] binary value"
    );
    assert_eq!(all[2].value, Bytes::from_static(b"three"));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    for e in &all {
        assert!(
            e.at_ms <= now + 5_000 && e.at_ms + 600_000 > now,
            "[{C}] appended-at {} is not about now ({now})",
            e.at_ms
        );
    }
    let page = ok(C, "read after 1", store.log_read(&log, 1, 1).await);
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].seq, 2, "[{C}] strictly after, up to the limit");
    assert!(ok(C, "read after the head", store.log_read(&log, 3, 10).await).is_empty());
    assert!(ok(
        C,
        "read after u64::MAX",
        store.log_read(&log, u64::MAX, 10).await
    )
    .is_empty());
    assert!(ok(C, "read 0 entries", store.log_read(&log, 0, 0).await).is_empty());
    let bounds = ok(C, "bounds", store.log_bounds(&log).await);
    assert_eq!(
        bounds,
        LogBounds {
            oldest: Some(1),
            head: 3
        },
        "[{C}]"
    );
    // Logs are separate: another log starts at 1.
    let other = fresh("log");
    let committed = ok(
        C,
        "append to another log",
        store
            .write(WriteBatch::new().then(append(&other, "x")))
            .await,
    );
    assert_eq!(committed.appended, vec![(other, 1)], "[{C}]");
}

/// Trimming removes entries below a number; numbering continues from the head, even once every
/// entry is gone; reads and bounds follow.
pub async fn log_trim(store: SharedStore) {
    const C: &str = "log_trim";
    let log = fresh("log");
    let mut batch = WriteBatch::new();
    for i in 0..10 {
        batch = batch.then(append(&log, format!("e{i}")));
    }
    ok(C, "append ten", store.write(batch).await);
    let trim = |before| Mutation::Trim {
        log: log.clone(),
        before,
    };
    ok(
        C,
        "trim below 4",
        store.write(WriteBatch::new().then(trim(4))).await,
    );
    let left = ok(C, "read", store.log_read(&log, 0, 100).await);
    assert_eq!(left.first().map(|e| e.seq), Some(4), "[{C}]");
    assert_eq!(left.len(), 7, "[{C}]");
    assert_eq!(
        ok(C, "bounds", store.log_bounds(&log).await),
        LogBounds {
            oldest: Some(4),
            head: 10
        }
    );
    // Trimming below what is already gone changes nothing.
    ok(
        C,
        "trim below 2",
        store.write(WriteBatch::new().then(trim(2))).await,
    );
    assert_eq!(ok(C, "read", store.log_read(&log, 0, 100).await).len(), 7);
    // Everything: the log is empty, and the next entry is still 11.
    ok(
        C,
        "trim all",
        store.write(WriteBatch::new().then(trim(11))).await,
    );
    assert_eq!(
        ok(C, "bounds after trimming all", store.log_bounds(&log).await),
        LogBounds {
            oldest: None,
            head: 10
        },
        "[{C}]"
    );
    let committed = ok(
        C,
        "append after trimming all",
        store
            .write(WriteBatch::new().then(append(&log, "e10")))
            .await,
    );
    assert_eq!(committed.appended, vec![(log.clone(), 11)], "[{C}]");
    // A trim and an append in one batch.
    let both = WriteBatch::new().then(trim(12)).then(append(&log, "e11"));
    ok(C, "trim and append", store.write(both).await);
    let left = ok(C, "read", store.log_read(&log, 0, 100).await);
    assert_eq!(
        left.iter().map(|e| e.seq).collect::<Vec<_>>(),
        [12],
        "[{C}]"
    );
}

/// Many writers appending at once: every entry gets one number, the numbers are 1..=n with no
/// gap or repeat, and each entry's value is the one its writer was told about.
pub async fn log_concurrent_appends(store: SharedStore) {
    const C: &str = "log_concurrent_appends";
    let log = fresh("log");
    let writers = (0..8).map(|w| {
        let (store, log) = (store.clone(), log.clone());
        tokio::spawn(async move {
            let mut told = Vec::new();
            for i in 0..25 {
                let value = format!("w{w}-{i}");
                let batch = WriteBatch::new().then(append(&log, value.clone()));
                let committed = ok(C, "append", store.write(batch).await);
                told.push((committed.appended[0].1, value));
            }
            told
        })
    });
    let mut told: Vec<(u64, String)> = Vec::new();
    for w in futures_util::future::join_all(writers).await {
        told.extend(w.expect("writer task"));
    }
    told.sort();
    let numbers: Vec<u64> = told.iter().map(|(s, _)| *s).collect();
    assert_eq!(
        numbers,
        (1..=200).collect::<Vec<_>>(),
        "[{C}] 1..=200, no gap or repeat"
    );
    let read = ok(C, "read all", store.log_read(&log, 0, 500).await);
    let read: Vec<(u64, String)> = read
        .into_iter()
        .map(|e| (e.seq, String::from_utf8(e.value.to_vec()).unwrap()))
        .collect();
    assert_eq!(read, told, "[{C}] the log holds what each writer was told");
}

/// A batch that appends to a log reaches a watcher subscribed before it as one notice naming
/// the log and the batch's last number, within a bound; a refused batch sends none.
pub async fn log_notices(store: SharedStore) {
    const C: &str = "log_notices";
    let log = fresh("noticed");
    let mut rx = store.watch();
    let key = StoreKey::new(fresh("noticed-record"), "r1");
    let refused = WriteBatch::new()
        .require(Precondition::Exists(key.clone()))
        .then(append(&log, "lost"));
    let r = bounded(C, "refused append", store.write(refused)).await;
    assert!(matches!(r, Err(StoreError::Conflict { .. })), "[{C}] {r:?}");
    let batch = WriteBatch::new()
        .put(key, "record")
        .then(append(&log, "one"))
        .then(append(&log, "two"))
        .then(append(&log, "three"));
    ok(
        C,
        "append three",
        bounded(C, "append", store.write(batch)).await,
    );
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut notices = Vec::new();
    // The record's notice may come before or after the log's; either way both come, and the
    // log's names the last entry.
    while notices.is_empty() {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Ok(Change::Appended { log: l, head })) if l == log => notices.push(head),
            Ok(Ok(_)) | Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => {}
            Ok(Err(e)) => panic!("[{C}] feed closed: {e}"),
            Err(_) => panic!("[{C}] no notice for {log} within 10 s"),
        }
    }
    assert_eq!(notices, vec![3], "[{C}] one notice, with the last seq");
    // Nothing more for this log arrives (a second notice would be a duplicate of the batch).
    let more = tokio::time::timeout(std::time::Duration::from_millis(300), async {
        loop {
            match rx.recv().await {
                Ok(Change::Appended { log: l, head }) if l == log => return Some(head),
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(_) => return None,
            }
        }
    })
    .await;
    assert!(
        matches!(more, Err(_) | Ok(None)),
        "[{C}] a second notice: {more:?}"
    );
}

fn keyed(log: &str, value: &'static str, keys: &[&str]) -> Mutation {
    Mutation::Append {
        log: log.to_owned(),
        value: Bytes::from_static(value.as_bytes()),
        keys: keys.iter().map(|k| (*k).to_owned()).collect(),
    }
}

/// Entries appended with keys are found by each key, in order, after a seq, up to a limit;
/// a refused batch indexes nothing; another log's keys are apart; a trim takes its entries out
/// of the index; bad keys are refused.
pub async fn log_by_key(store: SharedStore) {
    const C: &str = "log_by_key";
    let (log, other) = (fresh("log"), fresh("log"));
    let seqs = |entries: Vec<crate::store::LogEntry>| -> Vec<u64> {
        entries.iter().map(|e| e.seq).collect()
    };
    let batch = WriteBatch::new()
        .then(keyed(&log, "one", &["a"]))
        .then(keyed(&log, "two", &["a", "b"]))
        .then(keyed(&log, "three", &[]));
    ok(C, "append three", store.write(batch).await);
    let key = StoreKey::new(fresh("keyed"), "r");
    ok(
        C,
        "put",
        store.write(WriteBatch::new().put(key.clone(), "x")).await,
    );
    let refused = WriteBatch::new()
        .require(Precondition::Absent(key))
        .then(keyed(&log, "lost", &["a", "c"]));
    let r = store.write(refused).await;
    assert!(matches!(r, Err(StoreError::Conflict { .. })), "[{C}] {r:?}");
    ok(
        C,
        "append four",
        store
            .write(WriteBatch::new().then(keyed(&log, "four", &["b"])))
            .await,
    );
    ok(
        C,
        "other log",
        store
            .write(WriteBatch::new().then(keyed(&other, "x", &["a"])))
            .await,
    );

    let a = ok(C, "a", store.log_by_key(&log, "a", 0, 10).await);
    assert_eq!(seqs(a.clone()), [1, 2], "[{C}] a");
    assert_eq!(
        a[1].value,
        Bytes::from_static(b"two"),
        "[{C}] the entry's bytes"
    );
    assert_eq!(
        seqs(ok(C, "b", store.log_by_key(&log, "b", 0, 10).await)),
        [2, 4],
        "[{C}] b"
    );
    assert_eq!(
        seqs(ok(C, "a after 1", store.log_by_key(&log, "a", 1, 10).await)),
        [2]
    );
    assert_eq!(
        seqs(ok(C, "b limit 1", store.log_by_key(&log, "b", 0, 1).await)),
        [2]
    );
    assert!(
        ok(C, "c", store.log_by_key(&log, "c", 0, 10).await).is_empty(),
        "[{C}] refused"
    );
    assert!(ok(C, "limit 0", store.log_by_key(&log, "a", 0, 0).await).is_empty());
    assert!(ok(
        C,
        "after max",
        store.log_by_key(&log, "a", u64::MAX, 10).await
    )
    .is_empty());
    assert_eq!(
        seqs(ok(C, "other", store.log_by_key(&other, "a", 0, 10).await)),
        [1]
    );

    let trim = WriteBatch::new().then(Mutation::Trim {
        log: log.clone(),
        before: 3,
    });
    ok(C, "trim", store.write(trim).await);
    assert!(
        ok(C, "a trimmed", store.log_by_key(&log, "a", 0, 10).await).is_empty(),
        "[{C}]"
    );
    assert_eq!(
        seqs(ok(C, "b trimmed", store.log_by_key(&log, "b", 0, 10).await)),
        [4]
    );
    assert_eq!(
        seqs(ok(
            C,
            "other kept",
            store.log_by_key(&other, "a", 0, 10).await
        )),
        [1]
    );
    // A second trim over the same range and past the head is harmless.
    let again = WriteBatch::new().then(Mutation::Trim {
        log: log.clone(),
        before: 9,
    });
    ok(C, "trim all", store.write(again).await);
    assert!(ok(C, "b gone", store.log_by_key(&log, "b", 0, 10).await).is_empty());

    for bad in ["", "two\nlines"] {
        let r = store
            .write(WriteBatch::new().then(keyed(&log, "x", &[bad])))
            .await;
        assert!(
            matches!(r, Err(StoreError::Invalid { .. })),
            "[{C}] key {bad:?}: {r:?}"
        );
    }
    let r = store.log_by_key(&log, "", 0, 10).await;
    assert!(
        matches!(r, Err(StoreError::Invalid { .. })),
        "[{C}] read key \"\": {r:?}"
    );
}
