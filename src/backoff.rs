//! Exponential backoff with jitter, for every retry loop that talks to another service
//! (webhook receivers, Google's APIs).

use std::time::Duration;

use rand::Rng as _;

/// The pause after the `attempt`-th failure (1-based): `first · 2^(attempt-1)` capped at `max`,
/// then a random point in its upper half, so replicas and callers do not retry in step.
pub fn pause(first: Duration, max: Duration, attempt: u32) -> Duration {
    let doublings = attempt.saturating_sub(1).min(30);
    let full = first.saturating_mul(1u32 << doublings).min(max);
    let half = full / 2;
    half + full.mul_f64(rand::thread_rng().gen_range(0.0..=0.5))
}
