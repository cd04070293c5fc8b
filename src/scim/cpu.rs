//! CPU-heavy request work (decoding a large body, applying a large PATCH) off the async
//! workers: above a size threshold it runs under `tokio::task::block_in_place`, so the other
//! tasks of this worker (another client's `/ping`) move to a free worker meanwhile.

/// Work on at least this many bytes or elements is moved off the async workers.
pub const HEAVY: usize = 64 * 1024;

/// Runs `f`, off the async workers when `size` is at least [`HEAVY`] and the runtime is
/// multi-threaded (a current-thread runtime, as in unit tests, runs it in place).
pub fn heavy<T>(size: usize, f: impl FnOnce() -> T) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    let multi =
        Handle::try_current().is_ok_and(|h| h.runtime_flavor() == RuntimeFlavor::MultiThread);
    if size >= HEAVY && multi {
        tokio::task::block_in_place(f)
    } else {
        f()
    }
}

/// A rough size of a JSON value: its number of scalars and containers, capped at [`HEAVY`].
pub fn weight(v: &serde_json::Value) -> usize {
    let mut n = 0;
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        n += 1;
        if n >= HEAVY {
            break;
        }
        match v {
            serde_json::Value::Array(items) => stack.extend(items),
            serde_json::Value::Object(map) => stack.extend(map.values()),
            _ => {}
        }
    }
    n
}
