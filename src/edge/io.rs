//! The byte stream under HTTP, watched: it records when the client's first bytes arrive (the
//! first-byte deadline is enforced by the connection task, see [`super::conn`]), and it fails
//! writes that make no progress for `OP_WRITE_TIMEOUT`, so a client that stops reading its
//! responses cannot hold a connection (and its buffers) forever.

use std::{
    future::Future,
    io,
    pin::Pin,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    task::{ready, Context, Poll},
    time::Duration,
};

use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    time::{Instant, Sleep},
};

/// What the stream saw, for the connection task.
#[derive(Debug, Default)]
pub struct Progress {
    read_any: AtomicBool,
    write_stalled: AtomicBool,
}

impl Progress {
    /// Whether the client has sent any byte.
    pub fn read_any(&self) -> bool {
        self.read_any.load(Ordering::Acquire)
    }

    /// Whether a write failed for making no progress within the write timeout.
    pub fn write_stalled(&self) -> bool {
        self.write_stalled.load(Ordering::Acquire)
    }
}

/// An IO stream with a write-progress deadline.
pub struct WatchedIo<I> {
    inner: I,
    progress: Arc<Progress>,
    write_timeout: Duration,
    /// Running while output is pending (a write, flush or shutdown returned `Pending`).
    stall: Option<Pin<Box<Sleep>>>,
}

impl<I> WatchedIo<I> {
    /// Wraps `inner`; a write pending for `write_timeout` without progress fails with
    /// [`io::ErrorKind::TimedOut`].
    pub fn new(inner: I, write_timeout: Duration) -> Self {
        Self {
            inner,
            progress: Arc::default(),
            write_timeout,
            stall: None,
        }
    }

    /// What the stream has seen so far (shared; stays valid after the stream is gone).
    pub fn progress(&self) -> Arc<Progress> {
        Arc::clone(&self.progress)
    }

    /// Applies the deadline to one write-side poll of the inner stream.
    fn watch<T>(
        &mut self,
        cx: &mut Context<'_>,
        polled: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        if polled.is_ready() {
            self.stall = None;
            return polled;
        }
        let timeout = self.write_timeout;
        let stall = self
            .stall
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(Instant::now() + timeout)));
        ready!(stall.as_mut().poll(cx));
        self.progress.write_stalled.store(true, Ordering::Release);
        Poll::Ready(Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "the client read nothing within the write timeout",
        )))
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for WatchedIo<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before && !self.progress.read_any() {
            self.progress.read_any.store(true, Ordering::Release);
        }
        polled
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for WatchedIo<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.watch(cx, polled)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.watch(cx, polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let polled = Pin::new(&mut self.inner).poll_flush(cx);
        self.watch(cx, polled)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let polled = Pin::new(&mut self.inner).poll_shutdown(cx);
        self.watch(cx, polled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn a_write_nobody_reads_fails_after_the_timeout_and_reading_is_recorded() {
        let (near, mut far) = tokio::io::duplex(64);
        let mut io = WatchedIo::new(near, Duration::from_millis(200));
        let progress = io.progress();
        assert!(!progress.read_any());
        far.write_all(b"x").await.unwrap();
        let mut one = [0u8; 1];
        io.read_exact(&mut one).await.unwrap();
        assert!(progress.read_any());
        let started = Instant::now();
        let err = io.write_all(&[0u8; 4096]).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert!(progress.write_stalled());
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(200) && took < Duration::from_secs(2),
            "{took:?}"
        );
    }

    #[tokio::test]
    async fn a_slow_reader_that_keeps_reading_is_not_cut_off() {
        let (near, mut far) = tokio::io::duplex(64);
        let mut io = WatchedIo::new(near, Duration::from_millis(300));
        let reader = tokio::spawn(async move {
            let mut got = 0;
            let mut buf = [0u8; 64];
            while got < 512 {
                tokio::time::sleep(Duration::from_millis(50)).await;
                got += far.read(&mut buf).await.unwrap();
            }
        });
        io.write_all(&[0u8; 512]).await.unwrap();
        assert!(!io.progress().write_stalled());
        reader.await.unwrap();
    }
}
