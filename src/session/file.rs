//! The session file's on-disk JSON form, and writing it safely (0600, atomic replace).

use std::{
    fs,
    io::Write,
    os::unix::fs::{OpenOptionsExt, PermissionsExt},
    path::Path,
};

use base64::{engine::general_purpose::STANDARD, Engine};
use serde::{Deserialize, Serialize};
use time::{format_description::well_known::Rfc3339, OffsetDateTime};

use super::{
    BearerToken, EncryptionKey, Scope, Session, SessionError, TokenEntry, Verifier, FORMAT_VERSION,
};

const VERIFIER_PREFIX: &str = "sha256:";

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct FileV1 {
    format: String,
    version: u32,
    created_at: String,
    tokens: Vec<TokenV1>,
    encryption_key: String,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct TokenV1 {
    label: String,
    /// Absent for `scim`, so files without scoped tokens stay as earlier releases wrote them
    /// (and an earlier release, which knows no scopes, refuses a file with an `events` token
    /// rather than letting it in as a SCIM token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
    verifier: String,
    created_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires_at: Option<String>,
}

const FORMAT_NAME: &str = "scim-bridge-session";

fn timestamp(t: OffsetDateTime) -> String {
    t.format(&Rfc3339)
        .expect("an OffsetDateTime always formats as RFC 3339")
}

fn to_file(session: &Session) -> FileV1 {
    FileV1 {
        format: FORMAT_NAME.into(),
        version: FORMAT_VERSION,
        created_at: timestamp(session.created_at),
        tokens: session
            .tokens
            .iter()
            .map(|t| TokenV1 {
                label: t.label.clone(),
                scope: (t.scope != Scope::Scim).then(|| t.scope.as_str().to_owned()),
                verifier: format!("{VERIFIER_PREFIX}{}", STANDARD.encode(t.verifier.0)),
                created_at: timestamp(t.created_at),
                expires_at: t.expires_at.map(timestamp),
            })
            .collect(),
        encryption_key: STANDARD.encode(session.encryption_key.0),
    }
}

fn decode_32(text: &str, what: &str) -> Result<[u8; 32], String> {
    let bytes = STANDARD
        .decode(text)
        .map_err(|_| format!("{what} is not base64"))?;
    bytes
        .try_into()
        .map_err(|_| format!("{what} is not 32 bytes"))
}

fn parse_time(text: &str, what: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(text, &Rfc3339).map_err(|_| format!("{what} is not an RFC 3339 time"))
}

fn from_file(file: FileV1) -> Result<Session, String> {
    if file.format != FORMAT_NAME {
        return Err(format!("format is not {FORMAT_NAME:?}"));
    }
    if file.version != FORMAT_VERSION {
        return Err(format!(
            "format version {} is not supported (this build reads {FORMAT_VERSION})",
            file.version
        ));
    }
    if file.tokens.is_empty() {
        return Err("it lists no token".into());
    }
    let mut tokens = Vec::with_capacity(file.tokens.len());
    for (i, t) in file.tokens.into_iter().enumerate() {
        let digest = t
            .verifier
            .strip_prefix(VERIFIER_PREFIX)
            .ok_or_else(|| format!("tokens[{i}].verifier is not a sha256 verifier"))?;
        let scope = match t.scope.as_deref() {
            None => Scope::Scim,
            Some(name) => Scope::parse(name).ok_or_else(|| {
                format!("tokens[{i}].scope is {name:?}, not \"scim\" or \"events\"")
            })?,
        };
        tokens.push(TokenEntry {
            scope,
            verifier: Verifier(decode_32(digest, &format!("tokens[{i}].verifier"))?),
            created_at: parse_time(&t.created_at, &format!("tokens[{i}].createdAt"))?,
            expires_at: t
                .expires_at
                .map(|e| parse_time(&e, &format!("tokens[{i}].expiresAt")))
                .transpose()?,
            label: t.label,
        });
    }
    Ok(Session {
        created_at: parse_time(&file.created_at, "createdAt")?,
        tokens,
        encryption_key: EncryptionKey(decode_32(&file.encryption_key, "encryptionKey")?),
    })
}

/// Parses a session from the file's bytes; `path` only names it in errors.
pub fn parse(bytes: &[u8], path: &Path) -> Result<Session, SessionError> {
    let malformed = |reason: String| SessionError::Malformed {
        path: path.to_path_buf(),
        reason,
    };
    // serde_json's messages quote no input beyond a token, but we give only the position anyway.
    let file: FileV1 = serde_json::from_slice(bytes).map_err(|e| {
        malformed(format!(
            "not a session document (line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    from_file(file).map_err(malformed)
}

/// Reads and parses the session file.
pub fn load(path: &Path) -> Result<Session, SessionError> {
    parse(&read(path)?, path)
}

/// Reads the session file's bytes after checking who else may read or change it.
///
/// Whoever can write the file can add a token, and whoever can read it holds the key that seals
/// the TLS private key at rest, so a file that others may read or write, or that its group may
/// write, is refused. A group-readable file (0640, 0440) is accepted: that is how Kubernetes
/// mounts a Secret with `defaultMode: 0440` and `fsGroup`, and how compose mounts secrets. The
/// mode checked is that of the file opened, so a symlink (Kubernetes mounts are symlinks) is
/// judged by its target, and the bytes read are those of the file checked.
pub(crate) fn read(path: &Path) -> Result<Vec<u8>, SessionError> {
    let io = |source: std::io::Error| match source.kind() {
        std::io::ErrorKind::NotFound => SessionError::Missing {
            path: path.to_path_buf(),
        },
        _ => SessionError::Io {
            path: path.to_path_buf(),
            source,
        },
    };
    let mut file = fs::File::open(path).map_err(io)?;
    let mode = file.metadata().map_err(io)?.permissions().mode() & 0o7777;
    if let Some(who) = exposure(mode) {
        return Err(SessionError::Permissions {
            path: path.to_path_buf(),
            mode,
            who,
        });
    }
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut file, &mut bytes).map_err(io)?;
    Ok(bytes)
}

/// Who besides the owner may read or change a file with these permission bits, if anyone
/// should not.
fn exposure(mode: u32) -> Option<&'static str> {
    match (mode & 0o006 != 0, mode & 0o020 != 0) {
        (true, _) => Some("other users may read or change it"),
        (false, true) => Some("its group may change it"),
        (false, false) => None,
    }
}

/// How [`create`] treats an existing file.
#[derive(Clone, Copy, Debug, Default)]
pub struct CreateOptions {
    /// Replace an existing file.
    pub force: bool,
}

/// Writes a fresh session to `path` (mode 0600) and returns the token to show once.
///
/// Without `force` an existing file is never touched. With it, the new file replaces the old
/// one atomically (write to a sibling, fsync, rename), so a reader never sees half a file.
pub fn create(path: &Path, options: CreateOptions) -> Result<(Session, BearerToken), SessionError> {
    let (session, token) = Session::generate();
    write(path, &session, options)?;
    Ok((session, token))
}

/// Writes `session` to `path` with mode 0600.
pub(crate) fn write(
    path: &Path,
    session: &Session,
    options: CreateOptions,
) -> Result<(), SessionError> {
    let io = |source| SessionError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut json =
        serde_json::to_vec_pretty(&to_file(session)).expect("a session document always serialises");
    json.push(b'\n');
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(io)?;
    }
    if !options.force {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::AlreadyExists => SessionError::Exists {
                    path: path.to_path_buf(),
                },
                _ => io(e),
            })?;
        f.write_all(&json).map_err(io)?;
        return f.sync_all().map_err(io);
    }
    crate::secret_file::replace(path, &json).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_then_load_round_trips_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/scimsession");
        let (session, token) = create(&path, CreateOptions::default()).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let loaded = load(&path).unwrap();
        assert_eq!(loaded.tokens.len(), 1);
        assert_eq!(loaded.tokens[0].verifier, token.verifier());
        assert_eq!(loaded.encryption_key.0, session.encryption_key.0);
        let text = fs::read_to_string(&path).unwrap();
        assert!(
            !text.contains(token.reveal()),
            "the token must never be stored"
        );
    }

    #[test]
    fn scopes_round_trip_and_an_unknown_scope_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("scimsession");
        let (session, _) = create(&path, CreateOptions::default()).unwrap();
        let (next, _) =
            crate::session::rotate::add(&session, OffsetDateTime::now_utc(), "app", Scope::Events)
                .unwrap();
        write(&path, &next, CreateOptions { force: true }).unwrap();
        let loaded = load(&path).unwrap();
        assert_eq!(loaded.tokens[0].scope, Scope::Scim);
        assert_eq!(loaded.tokens[1].scope, Scope::Events);
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(
            text.matches("\"scope\"").count(),
            1,
            "scim is not written: {text}"
        );
        let bad = text.replace("\"events\"", "\"admin\"");
        let err = parse(bad.as_bytes(), &path).unwrap_err();
        assert!(err.to_string().contains("tokens[1].scope"), "{err}");
    }

    #[test]
    fn create_refuses_to_overwrite_without_force() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("scimsession");
        let (first, _) = create(&path, CreateOptions::default()).unwrap();
        let err = create(&path, CreateOptions::default()).unwrap_err();
        assert!(matches!(err, SessionError::Exists { .. }));
        assert_eq!(
            load(&path).unwrap().encryption_key.0,
            first.encryption_key.0
        );
        let (second, _) = create(&path, CreateOptions { force: true }).unwrap();
        assert_eq!(
            load(&path).unwrap().encryption_key.0,
            second.encryption_key.0
        );
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn malformed_files_are_refused_without_echoing_content() {
        let p = Path::new("/x/scimsession");
        for bad in [
            &b"not json at all: sbt_secret"[..],
            br#"{"format":"scim-bridge-session","version":2,"createdAt":"2026-01-01T00:00:00Z","tokens":[],"encryptionKey":""}"#,
            br#"{"format":"scim-bridge-session","version":1,"createdAt":"2026-01-01T00:00:00Z","tokens":[],"encryptionKey":""}"#,
            br#"{"format":"scim-bridge-session","version":1,"createdAt":"2026-01-01T00:00:00Z","tokens":[{"label":"a","verifier":"md5:AA==","createdAt":"2026-01-01T00:00:00Z"}],"encryptionKey":""}"#,
        ] {
            let err = parse(bad, p).unwrap_err();
            assert!(matches!(err, SessionError::Malformed { .. }), "{err}");
            assert!(!err.to_string().contains("sbt_secret"));
        }
    }

    #[test]
    fn a_file_others_may_read_or_write_or_its_group_may_write_is_refused_naming_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("scimsession");
        create(&path, CreateOptions::default()).unwrap();
        for mode in [0o666, 0o644, 0o604, 0o602, 0o620, 0o660, 0o664] {
            fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
            let err = load(&path).unwrap_err();
            assert!(
                matches!(err, SessionError::Permissions { .. }),
                "{mode:o}: {err}"
            );
            let text = err.to_string();
            assert!(text.contains(path.to_str().unwrap()), "{text}");
            assert!(text.contains(&format!("{mode:04o}")), "{text}");
            assert!(text.contains("chmod 600"), "{text}");
        }
        for mode in [0o600, 0o400, 0o640, 0o440, 0o700] {
            fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
            load(&path).unwrap_or_else(|e| panic!("{mode:o} must be accepted: {e}"));
        }
    }

    #[test]
    fn a_symlink_is_judged_by_its_target() {
        // Kubernetes mounts a Secret as a symlink (mode 0777 itself) to a file with defaultMode.
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("..data/scimsession");
        create(&target, CreateOptions::default()).unwrap();
        let link = dir.path().join("scimsession");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        fs::set_permissions(&target, fs::Permissions::from_mode(0o440)).unwrap();
        load(&link).expect("a 0440 target through a symlink is accepted");
        fs::set_permissions(&target, fs::Permissions::from_mode(0o666)).unwrap();
        let err = load(&link).unwrap_err();
        assert!(
            matches!(err, SessionError::Permissions { mode: 0o666, .. }),
            "{err}"
        );
    }

    #[test]
    fn missing_file_names_the_path() {
        let err = load(Path::new("/nonexistent/dir/scimsession")).unwrap_err();
        assert!(matches!(err, SessionError::Missing { .. }));
        assert!(err.to_string().contains("/nonexistent/dir/scimsession"));
    }
}
