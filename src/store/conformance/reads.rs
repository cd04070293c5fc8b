//! Conformance checks for reads: `get_many` order, listing, counting, and name validation.
//!
//! Must not know which backend it is testing.

use super::{bounded, fresh, ok};
use crate::store::{Mutation, SharedStore, StoreError, StoreKey, WriteBatch};

/// `get_many` answers in `ids` order with `None` for missing ids.
pub async fn get_many_order(store: SharedStore) {
    const C: &str = "get_many_order";
    let space = fresh("many");
    let mut batch = WriteBatch::new();
    for id in ["b", "a", "c"] {
        batch = batch.put(StoreKey::new(&space, id), id.to_uppercase());
    }
    ok(C, "seed", store.write(batch).await);
    let ids: Vec<String> = ["c", "nope", "a", "b", "a"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let got = ok(C, "get_many", store.get_many(&space, &ids).await);
    let values: Vec<Option<&[u8]>> = got
        .iter()
        .map(|r| r.as_ref().map(|r| r.value.as_ref()))
        .collect();
    assert_eq!(
        values,
        vec![Some(&b"C"[..]), None, Some(b"A"), Some(b"B"), Some(b"A")],
        "[{C}] wrong order or content"
    );
    assert!(
        ok(C, "empty", store.get_many(&space, &[]).await).is_empty(),
        "[{C}] no ids, no records"
    );
}

/// Listing is id-ordered with offset/limit; counts are per space; spaces never leak.
pub async fn list_and_count(store: SharedStore) {
    const C: &str = "list_and_count";
    let base = fresh("list");
    // "x:y" + "z" must not collide with "x" + "y:z", whatever the key layout.
    let (s1, s2) = (format!("{base}:x"), base.clone());
    let ids = ["b", "a:1", "ü-unicode", "a", "c:d:e", "Z", "日本"];
    let mut batch = WriteBatch::new();
    for id in ids {
        batch = batch.put(StoreKey::new(&s1, id), format!("1/{id}"));
    }
    batch = batch
        .put(StoreKey::new(&s2, "x:a"), "2/x:a")
        .put(StoreKey::new(&s2, "a"), "2/a");
    ok(C, "seed", store.write(batch).await);

    let mut sorted: Vec<&str> = ids.to_vec();
    sorted.sort();
    let all = ok(C, "list all", store.list(&s1, 0, 100).await);
    let listed: Vec<&str> = all.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(
        listed, sorted,
        "[{C}] list must be in ascending id order and stay in its space"
    );
    for (id, rec) in &all {
        assert_eq!(
            rec.value.as_ref(),
            format!("1/{id}").as_bytes(),
            "[{C}] value of {id}"
        );
    }
    let page = ok(C, "page", store.list(&s1, 2, 3).await);
    let page: Vec<&str> = page.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(page, sorted[2..5].to_vec(), "[{C}] offset 2 limit 3");
    assert!(
        ok(C, "past end", store.list(&s1, 50, 10).await).is_empty(),
        "[{C}] offset past the end"
    );
    assert!(
        ok(C, "limit 0", store.list(&s1, 0, 0).await).is_empty(),
        "[{C}] limit 0"
    );
    assert_eq!(
        ok(C, "count s1", store.count(&s1).await),
        ids.len(),
        "[{C}] count of s1"
    );
    assert_eq!(
        ok(C, "count s2", store.count(&s2).await),
        2,
        "[{C}] count of s2"
    );
    let other: Vec<String> = ok(C, "list s2", store.list(&s2, 0, 10).await)
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(
        other,
        vec!["a".to_string(), "x:a".to_string()],
        "[{C}] s2 lists only its own ids"
    );
    assert_eq!(
        ok(
            C,
            "colliding get",
            store.get(&StoreKey::new(&s2, "x:b")).await
        ),
        None,
        "[{C}] no cross-space collision"
    );
    assert_eq!(
        ok(C, "count empty", store.count(&fresh("none")).await),
        0,
        "[{C}] unknown space counts 0"
    );
    ok(
        C,
        "delete",
        store
            .write(
                WriteBatch::new()
                    .delete(StoreKey::new(&s1, "a"))
                    .delete(StoreKey::new(&s1, "never")),
            )
            .await,
    );
    assert_eq!(
        ok(C, "count after delete", store.count(&s1).await),
        ids.len() - 1,
        "[{C}] delete of absent id must not change count"
    );
}

/// Empty space, index and set names are refused as `Invalid`, writing nothing.
pub async fn invalid_names(store: SharedStore) {
    const C: &str = "invalid_names";
    let invalid = |r: Result<(), StoreError>, what: &str| {
        assert!(
            matches!(r, Err(StoreError::Invalid { .. })),
            "[{C}] {what} must be Invalid, got {r:?}"
        );
    };
    let space = fresh("valid");
    let bad = WriteBatch::new()
        .put(StoreKey::new(&space, "ok"), "x")
        .put(StoreKey::new("", "id"), "x");
    invalid(store.write(bad).await.map(drop), "put into empty space");
    assert_eq!(
        ok(C, "count", store.count(&space).await),
        0,
        "[{C}] an invalid batch writes nothing"
    );
    invalid(
        store
            .write(WriteBatch::new().then(Mutation::SetAdd {
                set: String::new(),
                member: "m".into(),
            }))
            .await
            .map(drop),
        "empty set",
    );
    let claim = Mutation::Claim {
        index: String::new(),
        term: "t".into(),
        owner: "o".into(),
    };
    invalid(
        store.write(WriteBatch::new().then(claim)).await.map(drop),
        "empty index",
    );
    invalid(
        store.get(&StoreKey::new("", "id")).await.map(drop),
        "get in empty space",
    );
    invalid(store.list("", 0, 1).await.map(drop), "list of empty space");
    invalid(store.count("").await.map(drop), "count of empty space");
    invalid(
        store.lookup("", "t").await.map(drop),
        "lookup in empty index",
    );
    invalid(
        store.members("", None, 1).await.map(drop),
        "members of empty set",
    );
    invalid(
        store
            .members_many(&["ok".to_owned(), String::new()], 1)
            .await
            .map(drop),
        "members_many with an empty set name",
    );
    invalid(store.set_len("").await.map(drop), "len of empty set");
}

/// `list` at every offset and limit agrees with one full ordered scan, across ids that spread
/// over many leading characters (uuids, short ids, unicode), before and after deletes.
pub async fn list_offsets(store: SharedStore) {
    const CHECK: &str = "list_offsets";
    let space = fresh("offsets");
    let mut ids: Vec<String> = (0..240).map(|_| uuid::Uuid::new_v4().to_string()).collect();
    ids.extend(
        ["", "a", "é", "zz", "z", "日本", "0", "~"]
            .iter()
            .map(|s| (*s).to_owned()),
    );
    ids.extend((0..30).map(|i| format!("ab{i}")));
    for chunk in ids.chunks(50) {
        let mut batch = WriteBatch::new();
        for id in chunk {
            batch = batch.put(StoreKey::new(&space, id.as_str()), id.clone().into_bytes());
        }
        bounded(CHECK, "seed", store.write(batch))
            .await
            .map(drop)
            .unwrap_or_else(|e| {
                panic!("[{CHECK}] seed: {e:?}");
            });
    }
    for round in 0..2 {
        let mut expected = ids.clone();
        expected.sort();
        let total = expected.len();
        for offset in (0..total + 3).step_by(7) {
            for limit in [1, 10, 64] {
                let got = ok(
                    CHECK,
                    "list",
                    bounded(CHECK, "list", store.list(&space, offset, limit)).await,
                );
                let got: Vec<String> = got.into_iter().map(|(id, _)| id).collect();
                let want: Vec<String> = expected.iter().skip(offset).take(limit).cloned().collect();
                assert_eq!(
                    got, want,
                    "[{CHECK}] round {round}, offset {offset}, limit {limit}"
                );
            }
        }
        if round == 0 {
            // Delete every third id, including whole buckets' worth, and check again.
            let gone: Vec<String> = ids.iter().step_by(3).cloned().collect();
            let mut batch = WriteBatch::new();
            for id in &gone {
                batch = batch.delete(StoreKey::new(&space, id.as_str()));
            }
            ok(
                CHECK,
                "delete",
                bounded(CHECK, "delete", store.write(batch)).await,
            );
            ids.retain(|id| !gone.contains(id));
        }
    }
}
