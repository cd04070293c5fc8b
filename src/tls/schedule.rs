//! Pure timing: when to renew, how long to back off. No clocks read here; callers pass `now`
//! and the random draws, so tests are exact.
//!
//! Renewal: when a third of the lifetime remains (Let's Encrypt's advice for 90-day
//! certificates: renew at 60 days), moved earlier by up to 5 % of the lifetime so replicas and
//! restarts spread out. ACME Renewal Information (RFC 9773 §4.2) wins when the CA offers it: a
//! uniformly random point inside the suggested window.
//! Must not know about I/O, the store or the CA.

use std::time::Duration;

use time::OffsetDateTime;

use super::pem::CertMeta;

/// The first retry delay after a failure.
pub const BACKOFF_BASE: Duration = Duration::from_secs(10);
/// The longest retry delay.
pub const BACKOFF_CAP: Duration = Duration::from_secs(3600);

/// When to renew `meta`; `jitter` in `[0, 1)` moves it earlier by up to 5 % of the lifetime.
pub fn renewal_time(meta: &CertMeta, jitter: f64) -> OffsetDateTime {
    let life = meta.lifetime();
    meta.not_after - life / 3 - life * (jitter.clamp(0.0, 1.0) / 20.0)
}

/// A point in an ARI window; `draw` in `[0, 1)`. An inverted window counts as its start.
pub fn ari_time(start: OffsetDateTime, end: OffsetDateTime, draw: f64) -> OffsetDateTime {
    if end <= start {
        return start;
    }
    start + (end - start) * draw.clamp(0.0, 1.0)
}

/// The delay after `failures` consecutive failures (≥ 1): doubling from [`BACKOFF_BASE`], at most
/// [`BACKOFF_CAP`], then scaled by `jitter` in `[0.8, 1.2)`; never less than `retry_after` when
/// the CA asked for it.
pub fn backoff(failures: u32, jitter: f64, retry_after: Option<Duration>) -> Duration {
    let exp = failures.saturating_sub(1).min(16);
    let raw = BACKOFF_BASE.saturating_mul(1 << exp).min(BACKOFF_CAP);
    let delay = raw.mul_f64(jitter.clamp(0.8, 1.2));
    retry_after.map_or(delay, |r| delay.max(r.min(BACKOFF_CAP * 24)))
}

/// Seconds from `now` until `t` (negative when past).
pub fn seconds_until(now: OffsetDateTime, t: OffsetDateTime) -> i64 {
    (t - now).whole_seconds()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn meta(days: i64) -> CertMeta {
        let nb = datetime!(2026-01-01 0:00 UTC);
        CertMeta {
            not_before: nb,
            not_after: nb + time::Duration::days(days),
            names: vec!["a.test".into()],
            issuer: "CN=x".into(),
        }
    }

    #[test]
    fn renew_when_a_third_remains_jittered_earlier() {
        let m = meta(90);
        assert_eq!(renewal_time(&m, 0.0), datetime!(2026-03-02 0:00 UTC));
        let early = renewal_time(&m, 0.999_999);
        assert!(early < renewal_time(&m, 0.0));
        assert!(early >= datetime!(2026-03-02 0:00 UTC) - time::Duration::hours(108));
        // Short-lived: 60 s → renew 40 s in, at the latest.
        let m = CertMeta {
            not_after: m.not_before + time::Duration::seconds(60),
            ..m
        };
        assert_eq!(
            renewal_time(&m, 0.0) - m.not_before,
            time::Duration::seconds(40)
        );
    }

    #[test]
    fn ari_picks_inside_the_window() {
        let (s, e) = (
            datetime!(2026-01-10 0:00 UTC),
            datetime!(2026-01-12 0:00 UTC),
        );
        assert_eq!(ari_time(s, e, 0.0), s);
        assert_eq!(ari_time(s, e, 0.5), datetime!(2026-01-11 0:00 UTC));
        assert_eq!(ari_time(e, s, 0.5), e);
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff(1, 1.0, None), Duration::from_secs(10));
        assert_eq!(backoff(2, 1.0, None), Duration::from_secs(20));
        assert_eq!(backoff(4, 1.0, None), Duration::from_secs(80));
        assert_eq!(backoff(30, 1.0, None), BACKOFF_CAP);
        assert_eq!(backoff(1, 0.8, None), Duration::from_secs(8));
        assert_eq!(backoff(1, 5.0, None), Duration::from_secs(12));
        assert_eq!(
            backoff(1, 1.0, Some(Duration::from_secs(600))),
            Duration::from_secs(600)
        );
    }
}
