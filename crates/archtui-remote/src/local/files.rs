//! The files archtui keeps (the config it edits, the provision journal,
//! the console state, the audit log) and its private run directory.
//!
//! Every rewrite is atomic against a crash (a temporary file in the same
//! directory, fsync, rename, fsync of the directory) and locked against
//! other archtui processes (an advisory lock on `<file>.lock` beside the
//! file, held across read-modify-write). A symlink is written through to
//! its target (the link stays) and the file's mode is kept.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// How many symlinks are followed before giving up (a loop).
const MAX_LINKS: usize = 40;

/// The file a path names once its symlinks are followed; the last one
/// need not exist yet (a dangling link is written through too).
pub fn target(path: &Path) -> io::Result<PathBuf> {
    let mut p = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        match std::fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => {
                let link = std::fs::read_link(&p)?;
                p = match p.parent() {
                    Some(dir) if link.is_relative() => dir.join(link),
                    _ => link,
                };
            }
            _ => return Ok(p),
        }
    }
    Err(io::Error::other(format!(
        "{}: more than {MAX_LINKS} symlinks (a loop?)",
        path.display()
    )))
}

/// An exclusive advisory lock on `<target>.lock`, held until dropped.
pub struct Lock {
    _file: File,
}

/// Waits for the lock of the file `path` names (its symlinks followed, so
/// two names of one file share one lock).
pub fn lock(path: &Path) -> io::Result<Lock> {
    let mut name = target(path)?.into_os_string();
    name.push(".lock");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(PathBuf::from(name))?;
    file.lock()?;
    Ok(Lock { _file: file })
}

/// Replaces the file `path` names with `contents`, atomically; the caller
/// holds its `lock`. The file keeps its mode; a new one gets `new_mode`.
pub fn replace(path: &Path, contents: &[u8], new_mode: u32, held: &Lock) -> io::Result<()> {
    replace_as(path, contents, new_mode, false, held)
}

/// `replace`, the file getting `mode` whatever it had (a `.bak` is 0600
/// even when an older one was not).
pub fn replace_with_mode(path: &Path, contents: &[u8], mode: u32, held: &Lock) -> io::Result<()> {
    replace_as(path, contents, mode, true, held)
}

fn replace_as(
    path: &Path,
    contents: &[u8],
    new_mode: u32,
    force: bool,
    _held: &Lock,
) -> io::Result<()> {
    let target = target(path)?;
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mode = match std::fs::metadata(&target) {
        Ok(_) if force => new_mode,
        Ok(m) => m.permissions().mode() & 0o7777,
        Err(e) if e.kind() == io::ErrorKind::NotFound => new_mode,
        Err(e) => return Err(e),
    };
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(&dir)?;
    tmp.write_all(contents)?;
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(mode))?;
    tmp.as_file().sync_all()?;
    tmp.persist(&target).map_err(|e| e.error)?;
    File::open(&dir)?.sync_all()
}

/// `lock` then `replace`, for a write that reads nothing first.
pub fn write(path: &Path, contents: &[u8], new_mode: u32) -> io::Result<()> {
    let held = lock(path)?;
    replace(path, contents, new_mode, &held)
}

/// Appends one line under the file's lock, in one write, and syncs it.
pub fn append(path: &Path, line: &[u8], new_mode: u32) -> io::Result<()> {
    let _held = lock(path)?;
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(new_mode)
        .open(target(path)?)?;
    f.write_all(line)?;
    f.sync_data()
}

/// Creates `dir` (and its parents) 0700 if missing; an existing `dir`
/// must be a directory of this user that no one else may enter.
pub fn private_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    match std::fs::symlink_metadata(dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .and_then(|()| check_private(dir)),
        Err(e) => Err(e),
        Ok(_) => check_private(dir),
    }
}

/// Refuses a directory that is a symlink, not this user's, or open to
/// others: another local user could put their own socket there.
pub fn check_private(dir: &Path) -> io::Result<()> {
    let m = std::fs::symlink_metadata(dir)?;
    let me = rustix::process::geteuid().as_raw();
    let why = if m.file_type().is_symlink() {
        Some("is a symlink".to_string())
    } else if !m.is_dir() {
        Some("is not a directory".to_string())
    } else if m.uid() != me {
        Some(format!("belongs to uid {}, not to you (uid {me})", m.uid()))
    } else if m.mode() & 0o077 != 0 {
        Some(format!(
            "has mode {:04o}, open to others",
            m.mode() & 0o7777
        ))
    } else {
        None
    };
    match why {
        None => Ok(()),
        Some(why) => Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "{} {why}: it must be a directory of yours with mode 0700 (remove it, or chmod 700 it if it is yours)",
                dir.display()
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("archtui-files-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn replace_keeps_mode_and_writes_through_a_symlink() {
        let d = scratch("replace");
        let real = d.join("real.toml");
        std::fs::write(&real, "old").unwrap();
        std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o640)).unwrap();
        let link = d.join("link.toml");
        std::os::unix::fs::symlink("real.toml", &link).unwrap();
        write(&link, b"new", 0o600).unwrap();
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(std::fs::read_to_string(&real).unwrap(), "new");
        assert_eq!(mode(&real), 0o640, "the mode is kept");
        let fresh = d.join("fresh.json");
        write(&fresh, b"{}", 0o600).unwrap();
        assert_eq!(mode(&fresh), 0o600);
        // No temporary file is left behind.
        let names: Vec<String> = std::fs::read_dir(&d)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp"))
            .collect();
        assert!(names.is_empty(), "{names:?}");
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn the_lock_is_exclusive_across_names() {
        let d = scratch("lock");
        let real = d.join("c.toml");
        std::fs::write(&real, "x").unwrap();
        let link = d.join("l.toml");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let held = lock(&real).unwrap();
        let mut name = target(&link).unwrap().into_os_string();
        name.push(".lock");
        let other = File::options()
            .write(true)
            .open(PathBuf::from(name))
            .unwrap();
        assert!(
            matches!(other.try_lock(), Err(std::fs::TryLockError::WouldBlock)),
            "the link's lock is the target's"
        );
        drop(held);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn append_adds_whole_lines() {
        let d = scratch("append");
        let p = d.join("audit.log");
        append(&p, b"one\n", 0o600).unwrap();
        append(&p, b"two\n", 0o600).unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "one\ntwo\n");
        assert_eq!(mode(&p), 0o600);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn private_dirs_are_checked() {
        let d = scratch("private");
        let mine = d.join("mine");
        private_dir(&mine).unwrap();
        assert_eq!(mode(&mine), 0o700);
        private_dir(&mine).unwrap();
        std::fs::set_permissions(&mine, std::fs::Permissions::from_mode(0o755)).unwrap();
        let e = private_dir(&mine).unwrap_err().to_string();
        assert!(e.contains("mode 0755") && e.contains("0700"), "{e}");
        let link = d.join("link");
        std::os::unix::fs::symlink(&mine, &link).unwrap();
        let e = check_private(&link).unwrap_err().to_string();
        assert!(e.contains("symlink"), "{e}");
        let _ = std::fs::remove_dir_all(&d);
    }
}
