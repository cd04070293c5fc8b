//! A process-wide budget on the bytes of request bodies being read, decoded or applied at
//! once (`OP_MAX_INFLIGHT_BODY_BYTES`), so memory stays bounded however many large requests
//! arrive together. A byte-weighted semaphore in KiB permits: a request holds the permits of its
//! body from before reading it until its answer is built; beyond the budget it waits up to
//! [`BodyBudget::WAIT`], then is answered `503` with `Retry-After`.

use std::{sync::Arc, time::Duration};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The shared budget.
#[derive(Clone, Debug)]
pub struct BodyBudget {
    permits: Arc<Semaphore>,
    total_kib: u32,
}

/// The share of the budget one request holds; released on drop.
#[derive(Debug)]
pub struct BodyShare(#[allow(dead_code)] Option<OwnedSemaphorePermit>);

impl BodyBudget {
    /// How long a request waits for its share before `503`.
    pub const WAIT: Duration = Duration::from_secs(2);

    /// A budget of `bytes` (rounded up to whole KiB).
    pub fn new(bytes: usize) -> Self {
        let total_kib = u32::try_from(bytes.div_ceil(1024).max(1)).unwrap_or(u32::MAX >> 3);
        let total_kib = total_kib.min(Semaphore::MAX_PERMITS as u32);
        Self {
            permits: Arc::new(Semaphore::new(total_kib as usize)),
            total_kib,
        }
    }

    /// Waits for a share of `bytes` (at most the whole budget); `None` after [`Self::WAIT`].
    pub async fn reserve(&self, bytes: usize) -> Option<BodyShare> {
        if bytes == 0 {
            return Some(BodyShare(None));
        }
        let kib = u32::try_from(bytes.div_ceil(1024))
            .unwrap_or(u32::MAX)
            .min(self.total_kib);
        let acquire = Arc::clone(&self.permits).acquire_many_owned(kib);
        match tokio::time::timeout(Self::WAIT, acquire).await {
            Ok(Ok(permit)) => Some(BodyShare(Some(permit))),
            _ => None,
        }
    }

    /// KiB of the budget free now (for tests and metrics).
    pub fn available_kib(&self) -> usize {
        self.permits.available_permits()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn shares_beyond_the_budget_wait_then_fail() {
        let budget = BodyBudget::new(8 * 1024);
        let a = budget.reserve(6 * 1024).await.unwrap();
        assert_eq!(budget.available_kib(), 2);
        assert!(budget.reserve(4 * 1024).await.is_none());
        // An empty body never waits; an oversized one takes the whole budget, not more.
        assert!(budget.reserve(0).await.is_some());
        drop(a);
        let all = budget.reserve(100 * 1024).await.unwrap();
        assert_eq!(budget.available_kib(), 0);
        drop(all);
        assert_eq!(budget.available_kib(), 8);
    }
}
