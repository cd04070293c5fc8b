//! Quick throughput/latency measurements of the embedded store (ignored; run on demand):
//! `cargo test --release --test it -- --ignored --nocapture embedded_throughput`

use std::{sync::Arc, time::Instant};

use scim_bridge::store::{embedded::EmbeddedStore, StateStore, StoreKey, WriteBatch};

const WRITERS: usize = 32;
const PER_WRITER: usize = 250;

#[tokio::test(flavor = "multi_thread")]
#[ignore = "measurement, not a check; run with --ignored --nocapture"]
async fn embedded_throughput() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Arc::new(EmbeddedStore::open(dir.path()).expect("open"));
    let value = vec![b'x'; 1024];
    let started = Instant::now();
    let tasks: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (store, value) = (Arc::clone(&store), value.clone());
            tokio::spawn(async move {
                for i in 0..PER_WRITER {
                    let key = StoreKey::new("perf", format!("{w:02}-{i:05}"));
                    store
                        .write(WriteBatch::new().put(key, value.clone()))
                        .await
                        .expect("write");
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("writer task");
    }
    let elapsed = started.elapsed();
    let total = WRITERS * PER_WRITER;
    println!(
        "embedded write: {total} durable 1 KiB single-put batches from {WRITERS} writers in {elapsed:?} = {:.0}/s",
        total as f64 / elapsed.as_secs_f64()
    );
    assert_eq!(store.count("perf").await.expect("count"), total);

    let n = 20_000;
    let mut lat: Vec<u128> = Vec::with_capacity(n);
    for i in 0..n {
        let key = StoreKey::new("perf", format!("{:02}-{:05}", i % WRITERS, i % PER_WRITER));
        let t = Instant::now();
        let rec = store.get(&key).await.expect("get");
        lat.push(t.elapsed().as_micros());
        assert!(rec.is_some());
    }
    lat.sort_unstable();
    println!(
        "embedded get (sequential, spawn_blocking): p50 {} us, p99 {} us, max {} us over {n}",
        lat[n / 2],
        lat[n * 99 / 100],
        lat[n - 1]
    );
}
