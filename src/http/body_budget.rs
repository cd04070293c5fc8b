//! A process-wide budget on the bytes of request bodies being read, decoded or applied at
//! once (`OP_MAX_INFLIGHT_BODY_BYTES`), so memory stays bounded however many large requests
//! arrive together. Byte-weighted semaphores in KiB permits: a request holds the permits of its
//! body from before reading it until its answer is built; beyond the budget it waits (in
//! arrival order) up to its wait, then is answered `503` with `Retry-After`.
//!
//! Large bodies (at least [`LARGE`], the size whose decoding leaves the async workers) may use
//! only half the budget between them, so the other half always serves the small requests an
//! identity provider sends all day: a 4 MiB group PATCH never queues a 1 KB user update. A
//! body decodes to a tree of about ten times its size and a PATCH holds two, so at the default
//! (two maximum-size bodies) one maximum-size request at a time is what fits in 256 MB.

use std::{sync::Arc, time::Duration};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Bodies of at least this many bytes are large.
pub const LARGE: usize = crate::scim::cpu::HEAVY;

/// The shared budget.
#[derive(Clone, Debug)]
pub struct BodyBudget {
    /// Every body's permits.
    all: Arc<Semaphore>,
    /// Large bodies' permits, taken before their share of `all`.
    large: Arc<Semaphore>,
    total_kib: u32,
    large_kib: u32,
    wait: Duration,
}

/// The share of the budget one request holds; released on drop.
#[derive(Debug)]
pub struct BodyShare(#[allow(dead_code)] Vec<OwnedSemaphorePermit>);

impl BodyBudget {
    /// A budget of `bytes` (rounded up to whole KiB); a request waits up to `wait` for its share.
    pub fn new(bytes: usize, wait: Duration) -> Self {
        let total_kib = u32::try_from(bytes.div_ceil(1024).max(2)).unwrap_or(u32::MAX >> 3);
        let total_kib = total_kib.min(Semaphore::MAX_PERMITS as u32);
        let large_kib = total_kib / 2;
        Self {
            all: Arc::new(Semaphore::new(total_kib as usize)),
            large: Arc::new(Semaphore::new(large_kib as usize)),
            total_kib,
            large_kib,
            wait,
        }
    }

    /// Waits for a share of `bytes` (a large body: at most half the budget; a small one at
    /// most the whole); `None` after the wait.
    pub async fn reserve(&self, bytes: usize) -> Option<BodyShare> {
        if bytes == 0 {
            return Some(BodyShare(Vec::new()));
        }
        let kib = u32::try_from(bytes.div_ceil(1024)).unwrap_or(u32::MAX);
        let acquire = async {
            let mut permits = Vec::with_capacity(2);
            let kib = if bytes >= LARGE {
                let kib = kib.min(self.large_kib);
                permits.push(Arc::clone(&self.large).acquire_many_owned(kib).await.ok()?);
                kib
            } else {
                kib.min(self.total_kib)
            };
            permits.push(Arc::clone(&self.all).acquire_many_owned(kib).await.ok()?);
            Some(BodyShare(permits))
        };
        tokio::time::timeout(self.wait, acquire)
            .await
            .ok()
            .flatten()
    }

    /// KiB of the budget free now (for tests and metrics).
    pub fn available_kib(&self) -> usize {
        self.all.available_permits()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WAIT: Duration = Duration::from_millis(200);

    #[tokio::test]
    async fn shares_beyond_the_budget_wait_then_fail() {
        let budget = BodyBudget::new(32 * 1024, WAIT);
        let a = budget.reserve(24 * 1024).await.unwrap();
        assert_eq!(budget.available_kib(), 8);
        assert!(budget.reserve(16 * 1024).await.is_none());
        // An empty body never waits; a small one over the budget takes all of it, not more.
        assert!(budget.reserve(0).await.is_some());
        drop(a);
        let all = budget.reserve(60 * 1024).await.unwrap();
        assert_eq!(budget.available_kib(), 0);
        drop(all);
        assert_eq!(budget.available_kib(), 32);
    }

    #[tokio::test]
    async fn large_bodies_use_half_and_leave_the_rest_to_small_ones() {
        let mib = 1024 * 1024;
        let budget = BodyBudget::new(8 * mib, WAIT);
        // One maximum-size body takes the large half; a second waits and fails.
        let big = budget.reserve(4 * mib).await.unwrap();
        assert!(budget.reserve(LARGE).await.is_none());
        // Small bodies still get the other half, and no more.
        let small: Vec<_> = small_shares(&budget, 64).await;
        assert_eq!(small.len(), 64);
        assert_eq!(budget.available_kib(), 4 * 1024 - 64 * 63);
        drop(big);
        // A large body over the half is capped at it.
        drop(small);
        let capped = budget.reserve(6 * mib).await.unwrap();
        assert_eq!(budget.available_kib(), 4 * 1024);
        drop(capped);
        assert_eq!(budget.available_kib(), 8 * 1024);
    }

    async fn small_shares(budget: &BodyBudget, n: usize) -> Vec<BodyShare> {
        let mut out = Vec::new();
        for _ in 0..n {
            out.push(budget.reserve(LARGE - 1024).await.expect("small share"));
        }
        out
    }
}
