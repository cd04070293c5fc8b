//! Criterion benches for the hot pure code of the SCIM layer: filter parsing and evaluation
//! (every identity-provider lookup), PATCH parsing and application (every update), and input
//! normalisation (every create and replace), and writing a stored user as its representation
//! (every read), from the stored bytes and through the tree.
//!
//! Run: `cargo bench --bench scim` (HTML reports in target/criterion).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use serde_json::{json, Value};

use scim_bridge::scim::{
    filter, patch,
    project::Projection,
    quirk::Quirks,
    records::Stored,
    resource::{normalize_input, splice, with_meta, Meta},
    schema::{GROUP_TYPE, USER_TYPE},
};

fn user() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "barbara.jensen@example.com",
        "externalId": "00u1a2b3c4",
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "displayName": "Babs Jensen",
        "active": true,
        "emails": [
            {"value": "barbara.jensen@example.com", "type": "work", "primary": true},
            {"value": "babs@home.example", "type": "home"}
        ],
        "phoneNumbers": [{"value": "+1 555 0100", "type": "mobile"}],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "701984", "department": "Tour Operations"}
    })
}

fn filters(c: &mut Criterion) {
    let simple = r#"userName eq "barbara.jensen@example.com""#;
    let complex = r#"(userName sw "barbara" and active eq true) or (emails[type eq "work" and value co "example.com"] and not (title pr)) or meta.lastModified gt "2011-05-13T04:42:34Z""#;
    c.bench_function("filter/parse userName eq", |b| {
        b.iter(|| filter::parse(black_box(simple)).unwrap())
    });
    c.bench_function("filter/parse complex", |b| {
        b.iter(|| filter::parse(black_box(complex)).unwrap())
    });
    let doc = normalize_input(user(), &USER_TYPE, &mut Quirks::default()).unwrap();
    let f_simple = filter::parse(simple).unwrap();
    let f_complex = filter::parse(complex).unwrap();
    c.bench_function("filter/evaluate userName eq", |b| {
        b.iter(|| f_simple.matches(black_box(&doc), &USER_TYPE))
    });
    c.bench_function("filter/evaluate complex", |b| {
        b.iter(|| f_complex.matches(black_box(&doc), &USER_TYPE))
    });
}

fn patches(c: &mut Criterion) {
    let doc = normalize_input(user(), &USER_TYPE, &mut Quirks::default()).unwrap();
    let entra = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
        {"op": "Replace", "path": "active", "value": "False"},
        {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "new@example.com"},
        {"op": "replace", "value": {"name.givenName": "Barb", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "Ops"}}
    ]});
    c.bench_function("patch/parse Entra request", |b| {
        b.iter(|| patch::parse_request(black_box(&entra), &mut Quirks::default()).unwrap())
    });
    let ops = patch::parse_request(&entra, &mut Quirks::default()).unwrap();
    c.bench_function("patch/apply Entra request", |b| {
        b.iter(|| {
            let mut d = doc.clone();
            patch::apply(&mut d, black_box(&ops), &USER_TYPE, &mut Quirks::default()).unwrap();
            d
        })
    });
    let members: Vec<Value> = (0..256)
        .map(|i| json!({"value": format!("user-{i}")}))
        .collect();
    let okta = json!({"Operations": [{"op": "add", "path": "members", "value": members}]});
    c.bench_function("patch/split 256-member Okta add", |b| {
        b.iter(|| {
            let ops = patch::parse_request(black_box(&okta), &mut Quirks::default()).unwrap();
            patch::split_members(ops, &GROUP_TYPE, &mut Quirks::default()).unwrap()
        })
    });
}

/// A PATCH adding `n` emails to a user; the 20,000 case must cost at most 5× the 5,000 case.
fn large_adds(c: &mut Criterion) {
    let doc = normalize_input(user(), &USER_TYPE, &mut Quirks::default()).unwrap();
    let mut group = c.benchmark_group("patch/apply add emails");
    group.sample_size(10);
    for n in [5_000usize, 20_000] {
        let emails: Vec<Value> = (0..n)
            .map(|i| json!({"value": format!("user{i}@example.com"), "type": "work"}))
            .collect();
        let body = json!({"Operations": [{"op": "add", "path": "emails", "value": emails}]});
        let ops = patch::parse_request(&body, &mut Quirks::default()).unwrap();
        group.bench_function(format!("{n}"), |b| {
            b.iter(|| {
                let mut d = doc.clone();
                patch::apply(&mut d, black_box(&ops), &USER_TYPE, &mut Quirks::default()).unwrap();
                d
            })
        });
    }
    // Removing 20,000 listed values from a 100,000-value list (36.9 s before indexing).
    let emails = |from: usize, n: usize| -> Vec<Value> {
        (from..from + n)
            .map(|i| json!({"value": format!("user{i}@example.com"), "type": "work"}))
            .collect()
    };
    let big = json!({"userName": "u", "emails": emails(0, 100_000)});
    let body = json!({"Operations": [{"op": "remove", "path": "emails", "value": emails(40_000, 20_000)}]});
    let ops = patch::parse_request(&body, &mut Quirks::default()).unwrap();
    group.bench_function("remove 20000 of 100000", |b| {
        b.iter(|| {
            let mut d = big.clone();
            patch::apply(&mut d, black_box(&ops), &USER_TYPE, &mut Quirks::default()).unwrap();
            d
        })
    });
    group.finish();
}

fn normalise(c: &mut Criterion) {
    let body = user();
    c.bench_function("resource/normalize_input user", |b| {
        b.iter(|| {
            normalize_input(black_box(body.clone()), &USER_TYPE, &mut Quirks::default()).unwrap()
        })
    });
}

/// What every SCIM request adds for the status page's charts: one slot claim and two atomic
/// increments (`Metrics::observe_scim`), alone and with a second thread recording at once.
fn charts(c: &mut Criterion) {
    use scim_bridge::operator::charts::Charts;
    let charts = std::sync::Arc::new(Charts::new());
    let took = std::time::Duration::from_micros(830);
    c.bench_function("charts/record a request", |b| {
        b.iter(|| charts.request(black_box(200), black_box(took)))
    });
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let other = {
        let (charts, stop) = (charts.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                charts.request(201, took);
            }
        })
    };
    c.bench_function("charts/record a request, another thread recording", |b| {
        b.iter(|| charts.request(black_box(200), black_box(took)))
    });
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    other.join().expect("the other recorder");
    c.bench_function("charts/the hour as JSON", |b| b.iter(|| charts.to_json()));
}

/// A GET's body from a stored user: spliced from the stored bytes (what a default read does)
/// and through a `Value` tree (what a read with `attributes` does), each with its one group.
fn render(c: &mut Criterion) {
    let doc = normalize_input(user(), &USER_TYPE, &mut Quirks::default()).unwrap();
    let stored = serde_json::to_vec(&Stored {
        created: "2026-11-30T08:15:00Z".into(),
        last_modified: "2026-12-01T17:42:09.123Z".into(),
        doc,
    })
    .unwrap();
    let groups = vec![json!({
        "value": "9c5d2a4e-0d1f-4a51-9b9e-3f6f1c2b7a10",
        "$ref": "https://scim.example.com/scim/v2/Groups/9c5d2a4e-0d1f-4a51-9b9e-3f6f1c2b7a10",
        "display": "Engineering",
        "type": "direct",
    })];
    let (id, base) = (
        "2819c223-7f76-453a-919d-413861904646",
        "https://scim.example.com/scim/v2",
    );
    let spliced = |stored: &[u8]| {
        let mut out = Vec::with_capacity(1024);
        splice::write(
            &mut out,
            &USER_TYPE,
            stored,
            id,
            base,
            7,
            &[("groups", &groups)],
        )
        .unwrap();
        out
    };
    let projection = Projection::default_for(&USER_TYPE);
    let tree = |stored: &[u8]| {
        let mut s: Stored = serde_json::from_slice(stored).unwrap();
        s.doc["groups"] = Value::Array(groups.clone());
        let meta = Meta::new(
            &USER_TYPE,
            base,
            id,
            splice::parse_time(&s.created),
            splice::parse_time(&s.last_modified),
            7,
        );
        let mut doc = with_meta(s.doc, id, &meta);
        projection.apply(&mut doc, &USER_TYPE);
        serde_json::to_vec(&doc).unwrap()
    };
    // Like with like: both write the same representation.
    assert_eq!(
        serde_json::from_slice::<Value>(&spliced(&stored)).unwrap(),
        serde_json::from_slice::<Value>(&tree(&stored)).unwrap()
    );
    c.bench_function("render/user from the stored bytes", |b| {
        b.iter(|| spliced(black_box(&stored)))
    });
    c.bench_function("render/user through the tree", |b| {
        b.iter(|| tree(black_box(&stored)))
    });
}

criterion_group!(benches, filters, patches, large_adds, normalise, charts, render);
criterion_main!(benches);
