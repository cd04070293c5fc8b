//! The status page's charts: the last hour, minute by minute, of SCIM requests by outcome
//! (2xx, 4xx, 5xx), their p50/p99 latency, and each webhook endpoint's delivery lag.
//!
//! Kept in memory by this replica (lost on restart, like the activity list); the request side
//! is lock-free, since every SCIM request records into it. Latencies go into logarithmic
//! buckets a quarter of a power of two wide; a percentile is its bucket's upper bound, at most
//! 19 % above the true value.

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicU32, AtomicU64, Ordering},
        Mutex,
    },
    time::Duration,
};

use serde_json::{json, Value};

/// Minutes kept: one hour.
pub const MINUTES: usize = 60;

/// Latency buckets: bucket `i` holds latencies below `FIRST_US · 2^((i + 1) / 4)`; the last one
/// everything slower (about 13 s and up).
const BUCKETS: usize = 72;
const FIRST_US: f64 = 50.0;

/// One minute of requests.
struct Slot {
    /// The minute (unix seconds / 60) the counts belong to.
    minute: AtomicU64,
    /// 2xx (and the rare 1xx/3xx), 4xx, 5xx.
    outcomes: [AtomicU32; 3],
    latency: [AtomicU32; BUCKETS],
}

impl Slot {
    fn new() -> Self {
        Self {
            minute: AtomicU64::new(u64::MAX),
            outcomes: std::array::from_fn(|_| AtomicU32::new(0)),
            latency: std::array::from_fn(|_| AtomicU32::new(0)),
        }
    }

    /// Makes the slot `minute`'s, clearing an older minute's counts. Two requests racing at
    /// the turn of a minute may lose a count to the clearing; a chart can afford that.
    fn claim(&self, minute: u64) {
        let held = self.minute.load(Ordering::Acquire);
        if held != minute
            && self
                .minute
                .compare_exchange(held, minute, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            for c in self.outcomes.iter().chain(self.latency.iter()) {
                c.store(0, Ordering::Relaxed);
            }
        }
    }
}

/// The per-minute series of this replica.
pub struct Charts {
    slots: Box<[Slot]>,
    /// Endpoint name → (minute, the largest lag seen in it in seconds) per slot.
    lag: Mutex<HashMap<String, Vec<(u64, f64)>>>,
}

impl std::fmt::Debug for Charts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Charts").finish_non_exhaustive()
    }
}

impl Default for Charts {
    fn default() -> Self {
        Self::new()
    }
}

/// The current minute in unix time.
fn this_minute() -> u64 {
    crate::outbox::now_ms() / 60_000
}

/// The upper bounds of the buckets but the last, in nanoseconds, ascending.
static BOUNDS_NS: std::sync::LazyLock<[u64; BUCKETS - 1]> =
    std::sync::LazyLock::new(|| std::array::from_fn(|i| (bucket_ms(i) * 1e6).round() as u64));

/// The bucket of a latency: a binary search of the bounds (no floating point on the request
/// path).
fn bucket(took: Duration) -> usize {
    let ns = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
    BOUNDS_NS.partition_point(|&bound| bound <= ns)
}

/// The upper bound of bucket `i`, in milliseconds.
fn bucket_ms(i: usize) -> f64 {
    FIRST_US * 2f64.powf((i + 1) as f64 / 4.0) / 1000.0
}

/// The bucket bound under which `q` of the `counts` fall, in milliseconds.
fn quantile(counts: &[u32], q: f64) -> Option<f64> {
    let total: u64 = counts.iter().map(|&c| u64::from(c)).sum();
    if total == 0 {
        return None;
    }
    let rank = (q * total as f64).ceil().max(1.0) as u64;
    let mut seen = 0;
    for (i, &c) in counts.iter().enumerate() {
        seen += u64::from(c);
        if seen >= rank {
            return Some((bucket_ms(i) * 100.0).round() / 100.0);
        }
    }
    None
}

impl Charts {
    /// Empty series.
    pub fn new() -> Self {
        Self {
            slots: (0..MINUTES).map(|_| Slot::new()).collect(),
            lag: Mutex::new(HashMap::new()),
        }
    }

    /// Records one SCIM request's status and latency.
    pub fn request(&self, status: u16, took: Duration) {
        self.request_at(this_minute(), status, took);
    }

    fn request_at(&self, minute: u64, status: u16, took: Duration) {
        let slot = &self.slots[(minute % MINUTES as u64) as usize];
        slot.claim(minute);
        let outcome = match status {
            500.. => 2,
            400..=499 => 1,
            _ => 0,
        };
        slot.outcomes[outcome].fetch_add(1, Ordering::Relaxed);
        slot.latency[bucket(took)].fetch_add(1, Ordering::Relaxed);
    }

    /// Records a delivery lag of `endpoint` (a configured name: bounded): an event's age when
    /// delivered, or the oldest undelivered event's age when a report reads the backlog.
    pub fn lag(&self, endpoint: &str, seconds: f64) {
        self.lag_at(this_minute(), endpoint, seconds);
    }

    fn lag_at(&self, minute: u64, endpoint: &str, seconds: f64) {
        let mut lag = self.lag.lock().unwrap_or_else(|p| p.into_inner());
        let slots = match lag.get_mut(endpoint) {
            Some(s) => s,
            None => lag
                .entry(endpoint.to_owned())
                .or_insert_with(|| vec![(u64::MAX, 0.0); MINUTES]),
        };
        let slot = &mut slots[(minute % MINUTES as u64) as usize];
        if slot.0 != minute {
            *slot = (minute, seconds);
        } else if seconds > slot.1 {
            slot.1 = seconds;
        }
    }

    /// The last hour as JSON, oldest minute first, ending with the current one: `start` (the
    /// first minute, RFC 3339), `requests` (per minute `2xx`, `4xx`, `5xx`, `p50Ms`, `p99Ms`;
    /// the percentiles `null` in a minute without requests) and `lag` (per endpoint, the largest
    /// lag in seconds seen each minute, `null` where none was seen).
    pub fn to_json(&self) -> Value {
        self.json_at(this_minute())
    }

    fn json_at(&self, now: u64) -> Value {
        let first = now + 1 - MINUTES as u64;
        let minutes = first..=now;
        let requests: Vec<Value> = minutes
            .clone()
            .map(|m| {
                let slot = &self.slots[(m % MINUTES as u64) as usize];
                if slot.minute.load(Ordering::Acquire) != m {
                    return json!({"2xx": 0, "4xx": 0, "5xx": 0, "p50Ms": null, "p99Ms": null});
                }
                let n = |i: usize| slot.outcomes[i].load(Ordering::Relaxed);
                let latency: Vec<u32> = slot
                    .latency
                    .iter()
                    .map(|c| c.load(Ordering::Relaxed))
                    .collect();
                json!({
                    "2xx": n(0), "4xx": n(1), "5xx": n(2),
                    "p50Ms": quantile(&latency, 0.5), "p99Ms": quantile(&latency, 0.99),
                })
            })
            .collect();
        let lag = self.lag.lock().unwrap_or_else(|p| p.into_inner());
        let lag: serde_json::Map<String, Value> = lag
            .iter()
            .map(|(name, slots)| {
                let series = minutes
                    .clone()
                    .map(|m| {
                        let (at, s) = slots[(m % MINUTES as u64) as usize];
                        if at == m {
                            json!((s * 10.0).round() / 10.0)
                        } else {
                            Value::Null
                        }
                    })
                    .collect();
                (name.clone(), Value::Array(series))
            })
            .collect();
        let start = time::OffsetDateTime::from_unix_timestamp(
            i64::try_from(first * 60).unwrap_or_default(),
        )
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
        json!({
            "start": super::rfc3339(start),
            "requests": requests,
            "lag": lag,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_counted_by_outcome_in_their_minute() {
        let c = Charts::new();
        let now = 29_000_000;
        for status in [200, 201, 204, 404, 409, 503] {
            c.request_at(now, status, Duration::from_millis(2));
        }
        c.request_at(now - 3, 500, Duration::from_millis(2));
        let doc = c.json_at(now);
        let r = doc["requests"].as_array().unwrap();
        assert_eq!(r.len(), MINUTES);
        assert_eq!(
            r[59],
            json!({"2xx": 3, "4xx": 2, "5xx": 1, "p50Ms": 2.26, "p99Ms": 2.26})
        );
        assert_eq!(r[56]["5xx"], 1);
        assert_eq!(
            r[58],
            json!({"2xx": 0, "4xx": 0, "5xx": 0, "p50Ms": null, "p99Ms": null})
        );
        // An hour later the slot is another minute's: the old counts are gone.
        c.request_at(now + 60, 200, Duration::from_millis(2));
        let later = c.json_at(now + 60);
        assert_eq!(later["requests"][59]["2xx"], 1);
        assert_eq!(later["requests"][59]["4xx"], 0);
        assert_eq!(
            later["requests"][0]["2xx"], 0,
            "minute now+1 was never written"
        );
    }

    #[test]
    fn percentiles_come_from_the_buckets_within_a_fifth() {
        let c = Charts::new();
        let now = 29_000_000;
        // 98 fast requests of 1 ms and 2 slow ones of 250 ms: p50 ≈ 1 ms, p99 ≈ 250 ms.
        for _ in 0..98 {
            c.request_at(now, 200, Duration::from_millis(1));
        }
        for _ in 0..2 {
            c.request_at(now, 200, Duration::from_millis(250));
        }
        let r = &c.json_at(now)["requests"][59];
        let p50 = r["p50Ms"].as_f64().unwrap();
        let p99 = r["p99Ms"].as_f64().unwrap();
        assert!((1.0..=1.2).contains(&p50), "{p50}");
        assert!((250.0..=300.0).contains(&p99), "{p99}");
        assert_eq!(bucket(Duration::from_secs(3600)), BUCKETS - 1);
        assert_eq!(bucket(Duration::ZERO), 0);
        assert_eq!(bucket(Duration::from_micros(59)), 0, "below 50·2^¼ µs");
        assert_eq!(bucket(Duration::from_micros(60)), 1);
        assert_eq!(
            bucket(Duration::from_micros(100)),
            4,
            "50·2^(4/4) is bucket 3's bound"
        );
        assert_eq!(bucket(Duration::from_micros(99)), 3);
    }

    #[test]
    fn lag_keeps_each_minutes_largest_per_endpoint() {
        let c = Charts::new();
        let now = 29_000_000;
        c.lag_at(now - 1, "billing", 4.0);
        c.lag_at(now, "billing", 0.5);
        c.lag_at(now, "billing", 2.25);
        c.lag_at(now, "billing", 1.0);
        c.lag_at(now, "crm", 0.0);
        let doc = c.json_at(now);
        assert_eq!(doc["lag"]["billing"][59], 2.3);
        assert_eq!(doc["lag"]["billing"][58], 4.0);
        assert_eq!(doc["lag"]["billing"][57], Value::Null);
        assert_eq!(doc["lag"]["crm"][59], 0.0);
        assert_eq!(doc["start"], "2025-02-19T20:21:00Z");
    }
}
