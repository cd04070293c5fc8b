//! Conformance checks for unique indexes (including racing claims) and sets.
//!
//! Must not know which backend it is testing.

use super::{bounded, fresh, ok};
use crate::store::{Mutation, SharedStore, StoreError, StoreKey, WriteBatch};

fn claim(index: &str, term: &str, owner: &str) -> WriteBatch {
    WriteBatch::new().then(Mutation::Claim {
        index: index.into(),
        term: term.into(),
        owner: owner.into(),
    })
}

fn release(index: &str, term: &str, owner: &str) -> WriteBatch {
    WriteBatch::new().then(Mutation::Release {
        index: index.into(),
        term: term.into(),
        owner: owner.into(),
    })
}

/// Claim, idempotent re-claim, refusal for another owner, release only by the owner.
pub async fn unique_index(store: SharedStore) {
    const C: &str = "unique_index";
    let index = fresh("uniq");
    assert_eq!(
        ok(C, "lookup empty", store.lookup(&index, "alice").await),
        None,
        "[{C}] nothing claimed yet"
    );
    ok(C, "claim", store.write(claim(&index, "alice", "u1")).await);
    ok(
        C,
        "re-claim",
        store.write(claim(&index, "alice", "u1")).await,
    );
    assert_eq!(
        ok(C, "lookup", store.lookup(&index, "alice").await).as_deref(),
        Some("u1"),
        "[{C}] owner u1"
    );
    let r = store.write(claim(&index, "alice", "u2")).await;
    assert!(
        matches!(r, Err(StoreError::Unique { index: ref i, ref owner }) if *i == index && owner == "u1"),
        "[{C}] other owner must get Unique naming u1, got {r:?}"
    );
    ok(
        C,
        "release by non-owner",
        store.write(release(&index, "alice", "u2")).await,
    );
    assert_eq!(
        ok(
            C,
            "lookup after bad release",
            store.lookup(&index, "alice").await
        )
        .as_deref(),
        Some("u1"),
        "[{C}] non-owner release is a no-op"
    );
    assert_eq!(
        ok(C, "other term", store.lookup(&index, "bob").await),
        None,
        "[{C}] terms are independent"
    );
    ok(
        C,
        "release",
        store.write(release(&index, "alice", "u1")).await,
    );
    assert_eq!(
        ok(C, "lookup released", store.lookup(&index, "alice").await),
        None,
        "[{C}] released"
    );
    ok(
        C,
        "claim by u2",
        store.write(claim(&index, "alice", "u2")).await,
    );
    assert_eq!(
        ok(C, "lookup u2", store.lookup(&index, "alice").await).as_deref(),
        Some("u2"),
        "[{C}] u2 may claim after release"
    );
    // Moving a term inside one batch: release then claim for a new owner.
    let moved = release(&index, "alice", "u2").then(Mutation::Claim {
        index: index.clone(),
        term: "alice".into(),
        owner: "u3".into(),
    });
    ok(C, "move", store.write(moved).await);
    assert_eq!(
        ok(C, "lookup moved", store.lookup(&index, "alice").await).as_deref(),
        Some("u3"),
        "[{C}] release+claim in one batch"
    );
}

/// 32 tasks claim one term at once: exactly one wins, the rest get `Unique`.
pub async fn concurrent_claims(store: SharedStore) {
    const C: &str = "concurrent_claims";
    let index = fresh("race");
    let tasks: Vec<_> = (0..32)
        .map(|i| {
            let (store, index) = (store.clone(), index.clone());
            tokio::spawn(async move {
                store
                    .write(claim(&index, "term", &format!("owner-{i}")))
                    .await
            })
        })
        .collect();
    let (mut wins, mut refused) = (0, 0);
    for task in tasks {
        match bounded(C, "join", task)
            .await
            .unwrap_or_else(|e| panic!("[{C}] task panicked: {e}"))
        {
            Ok(_) => wins += 1,
            Err(StoreError::Unique { .. }) => refused += 1,
            Err(e) => panic!("[{C}] unexpected error {e:?}"),
        }
    }
    assert_eq!((wins, refused), (1, 31), "[{C}] exactly one claim must win");
    let owner = ok(C, "lookup", store.lookup(&index, "term").await);
    assert!(
        owner.is_some_and(|o| o.starts_with("owner-")),
        "[{C}] the winner owns the term"
    );
}

/// Add/remove/clear, ordered paging with `after`, membership and length.
pub async fn sets(store: SharedStore) {
    const C: &str = "sets";
    let (set, other) = (fresh("set"), fresh("set"));
    let add = |s: &str, m: &str| Mutation::SetAdd {
        set: s.into(),
        member: m.into(),
    };
    let mut batch = WriteBatch::new();
    for m in ["d", "b", "a", "c", "e", "b", "a:x", "é"] {
        batch = batch.then(add(&set, m));
    }
    ok(C, "add", store.write(batch.then(add(&other, "zzz"))).await);
    assert_eq!(
        ok(C, "len", store.set_len(&set).await),
        7,
        "[{C}] duplicates count once"
    );
    let page1 = ok(C, "page1", store.members(&set, None, 3).await);
    assert_eq!(page1, ["a", "a:x", "b"], "[{C}] first page in order");
    let page2 = ok(C, "page2", store.members(&set, Some("b"), 3).await);
    assert_eq!(page2, ["c", "d", "e"], "[{C}] strictly after b");
    let page3 = ok(C, "page3", store.members(&set, Some("e"), 3).await);
    assert_eq!(page3, ["é"], "[{C}] last page; other sets do not leak");
    assert_eq!(
        ok(C, "after missing", store.members(&set, Some("bb"), 1).await),
        ["c"],
        "[{C}] after a non-member"
    );
    assert!(
        ok(C, "is_member", store.is_member(&set, "c").await),
        "[{C}] c is a member"
    );
    assert!(
        !ok(C, "not member", store.is_member(&set, "zzz").await),
        "[{C}] zzz is in the other set only"
    );
    let rm = WriteBatch::new()
        .then(Mutation::SetRemove {
            set: set.clone(),
            member: "c".into(),
        })
        .then(Mutation::SetRemove {
            set: set.clone(),
            member: "never".into(),
        });
    ok(C, "remove", store.write(rm).await);
    assert!(
        !ok(C, "removed", store.is_member(&set, "c").await),
        "[{C}] c removed"
    );
    assert_eq!(
        ok(C, "len after remove", store.set_len(&set).await),
        6,
        "[{C}] absent remove is a no-op"
    );
    ok(
        C,
        "clear",
        store
            .write(WriteBatch::new().then(Mutation::SetClear { set: set.clone() }))
            .await,
    );
    assert_eq!(
        ok(C, "len after clear", store.set_len(&set).await),
        0,
        "[{C}] cleared"
    );
    assert!(
        ok(
            C,
            "members after clear",
            store.members(&set, None, 10).await
        )
        .is_empty(),
        "[{C}] cleared"
    );
    assert_eq!(
        ok(C, "other len", store.set_len(&other).await),
        1,
        "[{C}] clear touches one set only"
    );
}

/// `members_many` answers in `sets` order, each set's first `limit` members as `members` would,
/// with absent sets empty and other sets not leaking.
pub async fn members_many(store: SharedStore) {
    const C: &str = "members_many";
    let sets: Vec<String> = (0..5).map(|_| fresh("many")).collect();
    let mut batch = WriteBatch::new();
    // Set i holds i * 3 members; set 0 is never written.
    for (i, set) in sets.iter().enumerate() {
        for m in 0..i * 3 {
            batch = batch.then(Mutation::SetAdd {
                set: set.clone(),
                member: format!("{}-m{m:02}", i),
            });
        }
    }
    ok(C, "fill", store.write(batch).await);
    let mut asked = sets.clone();
    asked.reverse();
    asked.push(sets[2].clone());
    let limit = 7;
    let got = ok(C, "read", store.members_many(&asked, limit).await);
    assert_eq!(got.len(), asked.len(), "[{C}] one answer per set asked");
    for (set, members) in asked.iter().zip(&got) {
        let one = ok(C, "members", store.members(set, None, limit).await);
        assert_eq!(members, &one, "[{C}] {set} as members() reads it");
    }
    assert_eq!(got[0].len(), 7, "[{C}] 12 members cut at the limit");
    assert_eq!(got[0][0], "4-m00", "[{C}] in order, from the first");
    assert_eq!(
        got[3],
        ["1-m00", "1-m01", "1-m02"],
        "[{C}] a short set whole"
    );
    assert!(got[4].is_empty(), "[{C}] a set never written is empty");
    assert_eq!(got[5], got[2], "[{C}] a set asked twice answers twice");
    assert!(
        ok(C, "none", store.members_many(&[], limit).await).is_empty(),
        "[{C}] no sets, no answers"
    );
    assert_eq!(
        ok(C, "limit 0", store.members_many(&sets, 0).await),
        vec![Vec::<String>::new(); sets.len()],
        "[{C}] limit 0 reads nothing"
    );
}

/// `get_with_members` answers what `get` and `members` answer, and no members for a missing
/// record, the set's members cut at `limit` (inline and beyond the embedded store's inline
/// bound).
pub async fn get_with_members(store: SharedStore) {
    const C: &str = "get_with_members";
    let space = fresh("with");
    let set = fresh("with-set");
    let mut batch = WriteBatch::new().put(StoreKey::new(&space, "u"), "U");
    for m in 0..300 {
        batch = batch.then(Mutation::SetAdd {
            set: set.clone(),
            member: format!("g{m:03}"),
        });
    }
    ok(C, "fill", store.write(batch).await);
    let key = StoreKey::new(&space, "u");
    for limit in [0, 5, 300, 1_000] {
        let (found, members) = ok(C, "read", store.get_with_members(&key, &set, limit).await);
        let record = ok(C, "get", store.get(&key).await);
        assert_eq!(found, record, "[{C}] the record as get() reads it");
        let one = ok(C, "members", store.members(&set, None, limit).await);
        assert_eq!(members, one, "[{C}] limit {limit}: as members() reads it");
        assert_eq!(members.len(), limit.min(300), "[{C}] cut at the limit");
    }
    let (found, members) = ok(
        C,
        "missing",
        store
            .get_with_members(&StoreKey::new(&space, "nope"), &set, 10)
            .await,
    );
    assert!(found.is_none(), "[{C}] a missing record is None");
    assert!(members.is_empty(), "[{C}] no members for a missing record");
    let (found, members) = ok(
        C,
        "no set",
        store.get_with_members(&key, &fresh("with-none"), 10).await,
    );
    assert!(found.is_some(), "[{C}] the record without a set");
    assert!(members.is_empty(), "[{C}] a set never written is empty");
}
