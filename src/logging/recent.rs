//! The recent log lines, kept in memory for the status page's "Download logs": a ring bounded
//! by bytes and by lines (oldest dropped first), with over-long lines cut on a character
//! boundary. It is fed by a tracing layer through [`RecentLogs`]' [`MakeWriter`]: each event's
//! writer buffers the formatted event and pushes it as one line when dropped.
//!
//! Must not know HTTP or how the download is rendered; it holds text that the subscriber has
//! already formatted (and that, like every log line, carries no tokens or attribute values).
//! Lost on restart by design.

use std::{
    collections::VecDeque,
    io,
    sync::{Arc, Mutex, PoisonError},
};

use tracing_subscriber::fmt::MakeWriter;

/// What a cut line ends with.
const CUT_MARK: &str = " …[cut]";

/// The ring's bounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The most bytes kept, over all lines (newlines not counted).
    pub max_bytes: usize,
    /// The most lines kept.
    pub max_lines: usize,
    /// The longest line kept, in bytes; longer ones are cut (never above `max_bytes`).
    pub max_line_bytes: usize,
}

impl Default for Limits {
    /// 1 MiB, 5 000 lines, 8 KiB per line.
    fn default() -> Self {
        Self {
            max_bytes: 1024 * 1024,
            max_lines: 5_000,
            max_line_bytes: 8 * 1024,
        }
    }
}

/// A copy of the ring at one moment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// The lines kept, oldest first.
    pub lines: Vec<Arc<str>>,
    /// How many older lines were dropped to stay within the bounds since the start.
    pub dropped: u64,
}

#[derive(Debug, Default)]
struct Ring {
    lines: VecDeque<Arc<str>>,
    bytes: usize,
    dropped: u64,
}

#[derive(Debug)]
struct Inner {
    limits: Limits,
    // A std mutex: it is held only to push, pop or copy `Arc`s, never across an `.await`, and
    // the subscriber writes from synchronous code on any thread.
    ring: Mutex<Ring>,
}

/// The shared ring of recent log lines; cheap to clone (one `Arc`).
#[derive(Clone, Debug)]
pub struct RecentLogs {
    inner: Arc<Inner>,
}

impl Default for RecentLogs {
    /// An empty ring with the default [`Limits`].
    fn default() -> Self {
        Self::new(Limits::default())
    }
}

/// The longest prefix of `line` of at most `max` bytes that ends on a character boundary.
fn prefix(line: &str, max: usize) -> &str {
    if line.len() <= max {
        return line;
    }
    let mut end = max;
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    &line[..end]
}

impl RecentLogs {
    /// An empty ring with these bounds.
    pub fn new(limits: Limits) -> Self {
        Self {
            inner: Arc::new(Inner {
                limits,
                ring: Mutex::new(Ring::default()),
            }),
        }
    }

    /// The ring's bounds.
    pub fn limits(&self) -> Limits {
        self.inner.limits
    }

    /// Appends one line (a trailing newline is dropped), cutting it when it is too long and
    /// dropping the oldest lines until the bounds hold again.
    pub fn push(&self, line: &str) {
        let limits = self.inner.limits;
        let line = line.strip_suffix('\n').unwrap_or(line);
        let max = limits.max_line_bytes.min(limits.max_bytes);
        let line: Arc<str> = if line.len() <= max {
            line.into()
        } else if max < CUT_MARK.len() {
            prefix(line, max).into()
        } else {
            let mut cut = prefix(line, max - CUT_MARK.len()).to_owned();
            cut.push_str(CUT_MARK);
            cut.into()
        };
        if limits.max_lines == 0 {
            return;
        }
        let mut ring = self
            .inner
            .ring
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        ring.bytes += line.len();
        ring.lines.push_back(line);
        while ring.lines.len() > limits.max_lines || ring.bytes > limits.max_bytes {
            match ring.lines.pop_front() {
                Some(old) => {
                    ring.bytes -= old.len();
                    ring.dropped += 1;
                }
                None => break,
            }
        }
    }

    /// The lines kept now, oldest first, and how many were dropped before them.
    pub fn snapshot(&self) -> Snapshot {
        let ring = self
            .inner
            .ring
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        Snapshot {
            lines: ring.lines.iter().cloned().collect(),
            dropped: ring.dropped,
        }
    }
}

/// The writer of one event: buffers what the formatter writes and pushes it on drop.
#[derive(Debug)]
pub struct LineWriter<'a> {
    logs: &'a RecentLogs,
    buf: Vec<u8>,
}

impl io::Write for LineWriter<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        // Keep a little more than a line may hold (so the cut still lands on a character
        // boundary and carries its mark), and swallow the rest.
        let room = (self.logs.inner.limits.max_line_bytes + 4).saturating_sub(self.buf.len());
        self.buf.extend_from_slice(&bytes[..bytes.len().min(room)]);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for LineWriter<'_> {
    fn drop(&mut self) {
        if !self.buf.is_empty() {
            self.logs.push(&String::from_utf8_lossy(&self.buf));
        }
    }
}

impl<'a> MakeWriter<'a> for RecentLogs {
    type Writer = LineWriter<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        LineWriter {
            logs: self,
            buf: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests;
