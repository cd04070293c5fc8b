//! Keeps the live session in step with the file, without a restart.
//!
//! Kubernetes updates a mounted secret by swapping a symlink, which file-event APIs report
//! unreliably, so the file is re-read on an interval and compared by digest. A malformed new
//! file is refused with an error log and the session already in memory keeps serving.
//!
//! The live snapshot ([`Live`]) pairs the session with its tokens' last-use clocks; a reload
//! carries the clock of every token the new file keeps (see [`super::last_use`]).

use std::{
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::Duration,
};

use arc_swap::ArcSwap;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

use super::{file, last_use::LastUse, Session, SessionError};

/// The session in force and the last-use clocks of its tokens, swapped together so an index
/// into one is always an index into the other.
#[derive(Debug)]
pub struct Live {
    /// The session.
    pub session: Arc<Session>,
    /// When each of its tokens was last used, index-aligned with `session.tokens`.
    pub last_use: LastUse,
}

impl Live {
    fn new(session: Session, previous: Option<&Live>) -> Self {
        let last_use = LastUse::for_session(&session, previous.map(|p| &p.last_use));
        Self {
            session: Arc::new(session),
            last_use,
        }
    }
}

/// The live session and how its last reload went.
#[derive(Debug)]
pub struct SessionHandle {
    path: PathBuf,
    current: ArcSwap<Live>,
    // A std mutex: held only to copy or replace the report, never across an await.
    report: Mutex<ReloadReport>,
}

/// The outcome of the latest look at the file, for `/health`.
#[derive(Clone, Debug)]
pub struct ReloadReport {
    /// When the file was last read.
    pub checked_at: OffsetDateTime,
    /// When the session in memory was loaded.
    pub loaded_at: OffsetDateTime,
    /// Why the latest change on disk was refused, if it was.
    pub error: Option<String>,
    digest: [u8; 32],
}

/// What [`SessionHandle::reload`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum ReloadOutcome {
    /// The file is as it was.
    Unchanged,
    /// A new valid session is now live.
    Reloaded,
    /// The file changed but was refused; the old session stays live.
    Refused,
}

impl SessionHandle {
    /// Loads the session file at `path`.
    pub fn load(path: &Path) -> Result<Self, SessionError> {
        let bytes = file::read(path)?;
        let session = file::parse(&bytes, path)?;
        Ok(Self::with(path, session, Sha256::digest(&bytes).into()))
    }

    /// Wraps an already-parsed session read from `path`.
    fn with(path: &Path, session: Session, digest: [u8; 32]) -> Self {
        let now = OffsetDateTime::now_utc();
        Self {
            path: path.to_path_buf(),
            current: ArcSwap::from_pointee(Live::new(session, None)),
            report: Mutex::new(ReloadReport {
                checked_at: now,
                loaded_at: now,
                error: None,
                digest,
            }),
        }
    }

    /// The session now in force.
    pub fn current(&self) -> Arc<Session> {
        Arc::clone(&self.current.load().session)
    }

    /// The session now in force with its last-use clocks. Cheap (no reference count change in
    /// the common case); do not hold the guard across an `.await`.
    pub fn live(&self) -> arc_swap::Guard<Arc<Live>> {
        self.current.load()
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How the last reload went.
    pub fn report(&self) -> ReloadReport {
        self.report
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Reads the file once and swaps in a changed, valid session.
    pub fn reload(&self) -> ReloadOutcome {
        let result = file::read(&self.path).and_then(|bytes| {
            let digest: [u8; 32] = Sha256::digest(&bytes).into();
            if digest == self.report().digest {
                return Ok(None);
            }
            file::parse(&bytes, &self.path).map(|s| Some((s, digest)))
        });
        let now = OffsetDateTime::now_utc();
        let mut report = self
            .report
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        report.checked_at = now;
        match result {
            Ok(None) => {
                report.error = None;
                ReloadOutcome::Unchanged
            }
            Ok(Some((session, digest))) => {
                // Under the report lock, so two reloads never race to carry the clocks.
                let live = Live::new(session, Some(&self.current.load()));
                self.current.store(Arc::new(live));
                report.digest = digest;
                report.loaded_at = now;
                report.error = None;
                tracing::info!(path = %self.path.display(), "session file reloaded");
                ReloadOutcome::Reloaded
            }
            Err(e) => {
                if report.error.as_deref() != Some(&e.to_string()) {
                    tracing::error!(error = %e, "session file change refused; the previous session stays in force");
                }
                report.error = Some(e.to_string());
                ReloadOutcome::Refused
            }
        }
    }

    /// Re-reads the file every `interval` until `cancel` fires, reporting each outcome.
    pub async fn watch(
        self: Arc<Self>,
        interval: Duration,
        cancel: CancellationToken,
        on_outcome: impl Fn(ReloadOutcome) + Send + 'static,
    ) {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = ticker.tick() => {
                    let me = Arc::clone(&self);
                    // File reads block; keep them off the async workers.
                    if let Ok(outcome) = tokio::task::spawn_blocking(move || me.reload()).await {
                        on_outcome(outcome);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::{create, CreateOptions};

    #[test]
    fn a_changed_valid_file_is_swapped_in_and_a_bad_one_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("scimsession");
        let (_, first) = create(&path, CreateOptions::default()).unwrap();
        let handle = SessionHandle::load(&path).unwrap();
        assert_eq!(handle.reload(), ReloadOutcome::Unchanged);

        let (_, second) = create(&path, CreateOptions { force: true }).unwrap();
        assert_eq!(handle.reload(), ReloadOutcome::Reloaded);
        assert_eq!(handle.current().tokens[0].verifier, second.verifier());
        assert_ne!(handle.current().tokens[0].verifier, first.verifier());

        std::fs::write(&path, b"{ broken").unwrap();
        assert_eq!(handle.reload(), ReloadOutcome::Refused);
        assert_eq!(handle.current().tokens[0].verifier, second.verifier());
        assert!(handle.report().error.is_some());

        std::fs::remove_file(&path).unwrap();
        assert_eq!(handle.reload(), ReloadOutcome::Refused);
        assert_eq!(handle.current().tokens[0].verifier, second.verifier());
    }

    #[test]
    fn a_file_others_may_write_is_refused_on_reload_and_the_previous_session_serves() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("scimsession");
        let (_, first) = create(&path, CreateOptions { force: true }).unwrap();
        let handle = SessionHandle::load(&path).unwrap();
        // Someone widens the mode and writes a session of their own into the file.
        let (_, planted) = create(&dir.path().join("other"), CreateOptions::default()).unwrap();
        std::fs::copy(dir.path().join("other"), &path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
        assert_eq!(handle.reload(), ReloadOutcome::Refused);
        assert_eq!(handle.current().tokens[0].verifier, first.verifier());
        assert_ne!(handle.current().tokens[0].verifier, planted.verifier());
        let error = handle.report().error.expect("the refusal is reported");
        assert!(
            error.contains("0666") && error.contains("chmod 600"),
            "{error}"
        );
        // Mode alone, with content unchanged, is still refused: the digest is not a shortcut.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(handle.reload(), ReloadOutcome::Reloaded);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o646)).unwrap();
        assert_eq!(handle.reload(), ReloadOutcome::Refused);
    }

    #[test]
    fn a_reload_keeps_the_last_use_of_every_token_the_file_keeps() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("scimsession");
        create(&path, CreateOptions::default()).unwrap();
        let handle = SessionHandle::load(&path).unwrap();
        handle.live().last_use.record(0, 1_000);

        let now = OffsetDateTime::now_utc();
        let (rotated, _) = crate::session::rotate::rotate(
            &handle.current(),
            now,
            Duration::from_secs(60),
            Some("second"),
            crate::session::Scope::Scim,
        )
        .unwrap();
        crate::session::save(&path, &rotated).unwrap();
        assert_eq!(handle.reload(), ReloadOutcome::Reloaded);
        let live = handle.live();
        assert_eq!(live.session.tokens.len(), 2);
        assert_eq!(live.last_use.get(0).map(|(_, at)| at), Some(1_000));
        assert_eq!(live.last_use.last_used(1), None);

        // A refused file changes nothing; a revocation drops only the revoked token's clock.
        live.last_use.record(1, 2_000);
        std::fs::write(&path, b"{ broken").unwrap();
        assert_eq!(handle.reload(), ReloadOutcome::Refused);
        let revoked = crate::session::rotate::revoke(&rotated, "initial", now).unwrap();
        crate::session::save(&path, &revoked).unwrap();
        assert_eq!(handle.reload(), ReloadOutcome::Reloaded);
        let live = handle.live();
        assert_eq!(live.last_use.len(), 1);
        assert_eq!(live.last_use.get(0).map(|(_, at)| at), Some(2_000));
    }
}
