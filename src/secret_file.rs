//! Writing files that hold secrets (the session file, token last use): a new file beside the
//! target with an unpredictable name, created exclusively with mode 0600, fsynced, then renamed
//! over the target, so a reader never sees half a file and nobody can plant a symlink or a file
//! of their own where the bridge writes.

use std::{fs, io::Write, os::unix::fs::PermissionsExt, path::Path};

/// Replaces the file at `path` with `bytes` atomically. The temporary file is created with
/// `O_CREAT | O_EXCL` (never an existing file, never through a symlink) and a random name, mode
/// 0600; it is removed again when anything fails before the rename.
pub fn replace(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut prefix = std::ffi::OsString::from(".");
    prefix.push(path.file_name().unwrap_or_default());
    prefix.push(".tmp-");
    let mut tmp = tempfile::Builder::new()
        .prefix(&prefix)
        .permissions(fs::Permissions::from_mode(0o600))
        .tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_atomically_with_mode_0600_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        fs::write(&path, b"old").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        replace(&path, b"new").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new");
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("secret")]);
    }

    #[test]
    fn the_temporary_name_is_not_predictable_so_a_planted_symlink_is_never_followed() {
        // The old code wrote `<name>.tmp-<pid>`; an attacker who can write the directory could
        // plant a symlink there. Now every name is fresh and created with O_EXCL.
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        fs::write(&victim, b"untouched").unwrap();
        let path = dir.path().join("secret");
        std::os::unix::fs::symlink(
            &victim,
            dir.path()
                .join(format!("secret.tmp-{}", std::process::id())),
        )
        .unwrap();
        std::os::unix::fs::symlink(
            &victim,
            dir.path()
                .join(format!(".secret.tmp-{}", std::process::id())),
        )
        .unwrap();
        replace(&path, b"new").unwrap();
        assert_eq!(fs::read(&victim).unwrap(), b"untouched");
        assert_eq!(fs::read(&path).unwrap(), b"new");
    }

    #[test]
    fn a_failed_write_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        // The target is a directory: the rename fails, and the temporary file goes away.
        let path = dir.path().join("taken");
        fs::create_dir(&path).unwrap();
        fs::write(path.join("inside"), b"x").unwrap();
        assert!(replace(&path, b"new").is_err());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
