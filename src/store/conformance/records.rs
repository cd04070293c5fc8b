//! Conformance checks for records: versioned compare-and-set and all-or-nothing batches.
//!
//! Must not know which backend it is testing.

use super::{bounded, fresh, ok};
use crate::store::{Mutation, Precondition, SharedStore, StoreError, StoreKey, WriteBatch};

/// Absent/Exists/Version preconditions, versions 1, 2, 3, and a stale version refused unchanged.
pub async fn versioned_cas(store: SharedStore) {
    const C: &str = "versioned_cas";
    let key = StoreKey::new(fresh("cas"), "user-1");
    let put =
        |v: &'static str, pre: Precondition| WriteBatch::new().require(pre).put(key.clone(), v);

    let exists = bounded(
        C,
        "exists on absent",
        store.write(put("x", Precondition::Exists(key.clone()))),
    )
    .await;
    assert!(
        matches!(exists, Err(StoreError::Conflict { key: ref k }) if *k == key),
        "[{C}] Exists on an absent record must conflict, got {exists:?}"
    );
    let c1 = ok(
        C,
        "create",
        bounded(
            C,
            "create",
            store.write(put("v1", Precondition::Absent(key.clone()))),
        )
        .await,
    );
    assert_eq!(
        c1.version_of(&key),
        Some(1),
        "[{C}] a new record has version 1"
    );
    let again = bounded(
        C,
        "absent again",
        store.write(put("no", Precondition::Absent(key.clone()))),
    )
    .await;
    assert!(
        matches!(again, Err(StoreError::Conflict { .. })),
        "[{C}] Absent on an existing record must conflict, got {again:?}"
    );
    let c2 = ok(
        C,
        "update v1",
        store
            .write(put("v2", Precondition::Version(key.clone(), 1)))
            .await,
    );
    assert_eq!(
        c2.version_of(&key),
        Some(2),
        "[{C}] second put gives version 2"
    );
    let c3 = ok(
        C,
        "update exists",
        store
            .write(put("v3", Precondition::Exists(key.clone())))
            .await,
    );
    assert_eq!(
        c3.version_of(&key),
        Some(3),
        "[{C}] third put gives version 3"
    );

    let stale = store
        .write(put("stale", Precondition::Version(key.clone(), 2)))
        .await;
    assert!(
        matches!(stale, Err(StoreError::Conflict { key: ref k }) if *k == key),
        "[{C}] a stale version must conflict, got {stale:?}"
    );
    let rec =
        ok(C, "get", store.get(&key).await).unwrap_or_else(|| panic!("[{C}] record vanished"));
    assert_eq!(
        (rec.version, rec.value.as_ref()),
        (3, &b"v3"[..]),
        "[{C}] a refused write must change nothing"
    );

    ok(
        C,
        "delete",
        store
            .write(
                WriteBatch::new()
                    .require(Precondition::Version(key.clone(), 3))
                    .delete(key.clone()),
            )
            .await,
    );
    assert_eq!(
        ok(C, "get deleted", store.get(&key).await),
        None,
        "[{C}] a deleted record is gone"
    );
    let recreated = ok(
        C,
        "recreate",
        store
            .write(put("new", Precondition::Absent(key.clone())))
            .await,
    );
    assert_eq!(
        recreated.version_of(&key),
        Some(1),
        "[{C}] a re-created record starts at version 1"
    );
}

/// A batch failing on its last precondition or claim leaves records, claims and sets unchanged.
pub async fn failed_batch_writes_nothing(store: SharedStore) {
    const C: &str = "failed_batch_writes_nothing";
    let space = fresh("atomic");
    let (index, set) = (fresh("idx"), fresh("set"));
    let (a, b, missing) = (
        StoreKey::new(&space, "a"),
        StoreKey::new(&space, "b"),
        StoreKey::new(&space, "missing"),
    );
    ok(
        C,
        "seed",
        store
            .write(
                WriteBatch::new()
                    .put(a.clone(), "a1")
                    .then(Mutation::SetAdd {
                        set: set.clone(),
                        member: "keep".into(),
                    })
                    .then(Mutation::Claim {
                        index: index.clone(),
                        term: "taken".into(),
                        owner: "other".into(),
                    }),
            )
            .await,
    );

    let everything = |batch: WriteBatch| {
        batch
            .put(a.clone(), "a2")
            .put(b.clone(), "b1")
            .delete(a.clone())
            .then(Mutation::Claim {
                index: index.clone(),
                term: "fresh".into(),
                owner: "b".into(),
            })
            .then(Mutation::Release {
                index: index.clone(),
                term: "taken".into(),
                owner: "other".into(),
            })
            .then(Mutation::SetAdd {
                set: set.clone(),
                member: "new".into(),
            })
            .then(Mutation::SetClear { set: set.clone() })
    };
    let pre = everything(
        WriteBatch::new()
            .require(Precondition::Version(a.clone(), 1))
            .require(Precondition::Exists(missing.clone())),
    );
    let r = store.write(pre).await;
    assert!(
        matches!(r, Err(StoreError::Conflict { ref key }) if *key == missing),
        "[{C}] last precondition must fail, got {r:?}"
    );
    // The failing claim comes last, after mutations that would otherwise have applied.
    let claim = everything(WriteBatch::new()).then(Mutation::Claim {
        index: index.clone(),
        term: "taken".into(),
        owner: "b".into(),
    });
    let claim = WriteBatch {
        mutations: claim
            .mutations
            .into_iter()
            .filter(|m| !matches!(m, Mutation::Release { .. }))
            .collect(),
        ..claim
    };
    let r = store.write(claim).await;
    assert!(
        matches!(r, Err(StoreError::Unique { ref owner, .. }) if owner == "other"),
        "[{C}] last claim must fail naming the owner, got {r:?}"
    );

    let rec = ok(C, "get a", store.get(&a).await)
        .unwrap_or_else(|| panic!("[{C}] a was deleted by a failed batch"));
    assert_eq!(
        (rec.version, rec.value.as_ref()),
        (1, &b"a1"[..]),
        "[{C}] a must be unchanged"
    );
    assert_eq!(
        ok(C, "get b", store.get(&b).await),
        None,
        "[{C}] b must not exist"
    );
    assert_eq!(
        ok(C, "count", store.count(&space).await),
        1,
        "[{C}] count unchanged"
    );
    assert_eq!(
        ok(C, "lookup fresh", store.lookup(&index, "fresh").await),
        None,
        "[{C}] claim must not land"
    );
    assert_eq!(
        ok(C, "lookup taken", store.lookup(&index, "taken").await).as_deref(),
        Some("other"),
        "[{C}] release must not land"
    );
    assert_eq!(
        ok(C, "members", store.members(&set, None, 10).await),
        vec!["keep".to_string()],
        "[{C}] set unchanged"
    );
    assert_eq!(
        ok(C, "set_len", store.set_len(&set).await),
        1,
        "[{C}] set length unchanged"
    );
}
