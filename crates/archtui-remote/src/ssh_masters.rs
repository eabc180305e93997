//! SSH control masters that outlive one command (`[ssh] persist_secs`).
//!
//! Each master lives in the directory openssh made for it
//! (`.ssh-connectionXXXX/master`) inside one private per-user directory;
//! a symlink named after the host's destination and ssh settings points at
//! it, so the next archtui process (a one-shot `status`, or a console
//! already running) finds it and resumes it instead of shaking hands again.
//! The names are short: a socket path must fit in 108 bytes.

use std::io;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use archtui_core::config::SshConfig;

/// The private directory of one user's masters, checked.
#[derive(Debug, Clone)]
pub struct Masters {
    dir: PathBuf,
}

/// A socket path may be 108 bytes; the master's own is
/// `<dir>/.ssh-connectionXXXXXX/master`, 29 bytes past the directory.
const MAX_DIR: usize = 70;

impl Masters {
    /// `$XDG_RUNTIME_DIR/archtui/ssh` (`runtime`), else `/tmp/archtui-ssh-UID`;
    /// made mode 0700 when missing, refused when it is not the user's own
    /// private directory (another user could plant a socket there).
    pub fn for_user(runtime: Option<PathBuf>) -> io::Result<Masters> {
        let dir = match runtime.filter(|r| r.is_absolute()) {
            Some(r) if r.as_os_str().len() + 12 <= MAX_DIR => {
                crate::local::files::private_dir(&r.join("archtui"))?;
                r.join("archtui").join("ssh")
            }
            _ => PathBuf::from(format!(
                "/tmp/archtui-ssh-{}",
                rustix::process::geteuid().as_raw()
            )),
        };
        Self::at(dir)
    }

    /// Masters in `dir` (made private if missing, checked if there).
    pub fn at(dir: PathBuf) -> io::Result<Masters> {
        crate::local::files::private_dir(&dir)?;
        Ok(Masters { dir })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Is `ctl` the socket of one of these masters?
    pub fn holds(&self, ctl: &Path) -> bool {
        ctl.parent().and_then(Path::parent) == Some(self.dir.as_path())
    }

    /// The live-looking master for `key`: its control socket and log. A
    /// socket file can outlive its master, so the caller still checks it.
    pub fn find(&self, key: &str) -> Option<(PathBuf, PathBuf)> {
        let target = std::fs::read_link(self.dir.join(key)).ok()?;
        // Only a name made here: never a path that leads out of the dir.
        let name = target.to_str().filter(|n| is_master_dir(n))?;
        let at = self.dir.join(name);
        let ctl = at.join("master");
        use std::os::unix::fs::FileTypeExt;
        let is_socket = std::fs::symlink_metadata(&ctl).is_ok_and(|m| m.file_type().is_socket());
        is_socket.then(|| (ctl, at.join("log")))
    }

    /// Points `key` at the master whose socket is `ctl` (made in this
    /// dir). Atomic: a process racing to do the same leaves one link, and
    /// the master it lost to idles out after `persist_secs`.
    pub fn adopt(&self, key: &str, ctl: &Path) -> io::Result<()> {
        let name = ctl
            .parent()
            .filter(|_| self.holds(ctl))
            .and_then(Path::file_name)
            .and_then(|n| n.to_str())
            .filter(|n| is_master_dir(n))
            .ok_or_else(|| io::Error::other(format!("{} is not a master here", ctl.display())))?;
        let tmp = self.dir.join(format!(".{key}.{}", std::process::id()));
        let _ = std::fs::remove_file(&tmp);
        std::os::unix::fs::symlink(name, &tmp)?;
        std::fs::rename(&tmp, self.dir.join(key))
    }

    /// Drops `key`'s link, and its master's directory once no socket is
    /// left in it (a master that still runs keeps its log).
    pub fn forget(&self, key: &str) {
        let link = self.dir.join(key);
        if let Ok(target) = std::fs::read_link(&link) {
            let _ = std::fs::remove_file(&link);
            if let Some(name) = target.to_str().filter(|n| is_master_dir(n)) {
                let at = self.dir.join(name);
                if std::fs::symlink_metadata(at.join("master")).is_err() {
                    let _ = std::fs::remove_dir_all(at);
                }
            }
        }
    }

    /// Drops every link to the master whose socket is `ctl`, and its
    /// directory once the socket is gone.
    pub fn forget_master(&self, ctl: &Path) {
        let Some(name) = ctl
            .parent()
            .filter(|_| self.holds(ctl))
            .and_then(Path::file_name)
        else {
            return;
        };
        if let Ok(entries) = std::fs::read_dir(&self.dir) {
            for e in entries.filter_map(Result::ok) {
                if std::fs::read_link(e.path()).is_ok_and(|t| t.as_os_str() == name) {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        let at = self.dir.join(name);
        if std::fs::symlink_metadata(at.join("master")).is_err() {
            let _ = std::fs::remove_dir_all(at);
        }
    }

    /// Every master's directory here, linked or not, with its socket.
    pub fn all(&self) -> Vec<PathBuf> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut v: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_str().is_some_and(is_master_dir))
            .map(|e| e.path().join("master"))
            .collect();
        v.sort();
        v
    }

    /// Removes every link and every master directory without a socket.
    pub fn sweep(&self) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        for e in entries.filter_map(Result::ok) {
            let name = e.file_name();
            let Some(name) = name.to_str() else { continue };
            if is_master_dir(name) {
                if std::fs::symlink_metadata(e.path().join("master")).is_err() {
                    let _ = std::fs::remove_dir_all(e.path());
                }
            } else if e.file_type().is_ok_and(|t| t.is_symlink()) {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}

/// openssh names a master's directory `.ssh-connection` plus a random tail.
fn is_master_dir(name: &str) -> bool {
    name.strip_prefix(".ssh-connection")
        .is_some_and(|rest| !rest.is_empty() && rest.chars().all(|c| c.is_ascii_alphanumeric()))
}

/// The link name for a destination: everything that decides how ssh
/// connects and checks the host goes in, so a master made under other
/// settings (another ssh config, strict checking off) is never reused.
pub fn key(ssh: &SshConfig, dest: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"archtui-ssh-master-v1\0");
    h.update(dest.as_bytes());
    h.update(b"\0");
    if let Some(f) = &ssh.config_file {
        // Relative: another file from another directory.
        let f = std::path::absolute(f).unwrap_or_else(|_| f.clone());
        h.update(f.as_os_str().as_encoded_bytes());
    }
    h.update(b"\0");
    h.update([u8::from(ssh.strict_host_key_checking)]);
    h.update(ssh.connect_timeout_secs.to_le_bytes());
    h.update(ssh.persist_secs.to_le_bytes());
    h.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn masters() -> (tempfile::TempDir, Masters) {
        let t = tempfile::tempdir().unwrap();
        let m = Masters::at(t.path().join("ssh")).unwrap();
        (t, m)
    }

    /// A directory like openssh's, with a real listening socket in it.
    fn fake_master(m: &Masters, tail: &str) -> (PathBuf, std::os::unix::net::UnixListener) {
        let at = m.dir().join(format!(".ssh-connection{tail}"));
        std::fs::create_dir(&at).unwrap();
        let ctl = at.join("master");
        let l = std::os::unix::net::UnixListener::bind(&ctl).unwrap();
        (ctl, l)
    }

    #[test]
    fn a_master_adopted_is_found_under_its_key_and_forgotten() {
        let (_t, m) = masters();
        let (ctl, _l) = fake_master(&m, "Ab12");
        assert!(m.find("k1").is_none());
        m.adopt("k1", &ctl).unwrap();
        let (found, log) = m.find("k1").unwrap();
        assert_eq!(found, ctl);
        assert_eq!(log, ctl.parent().unwrap().join("log"));
        // A newer master takes the name over.
        let (ctl2, _l2) = fake_master(&m, "Cd34");
        m.adopt("k1", &ctl2).unwrap();
        assert_eq!(m.find("k1").unwrap().0, ctl2);
        m.adopt("k2", &ctl).unwrap();
        m.forget_master(&ctl);
        assert!(m.find("k2").is_none());
        assert_eq!(m.find("k1").unwrap().0, ctl2, "another master's link stays");
        m.forget("k1");
        assert!(m.find("k1").is_none());
        // Its master still has a socket: its directory stays.
        assert!(ctl2.exists());
        assert_eq!(m.all(), vec![ctl.clone(), ctl2.clone()]);
    }

    #[test]
    fn a_link_that_leads_elsewhere_or_to_no_socket_is_not_found() {
        let (t, m) = masters();
        std::os::unix::fs::symlink(t.path(), m.dir().join("out")).unwrap();
        std::os::unix::fs::symlink("../x", m.dir().join("up")).unwrap();
        std::fs::create_dir(m.dir().join(".ssh-connectionZZ")).unwrap();
        std::os::unix::fs::symlink(".ssh-connectionZZ", m.dir().join("gone")).unwrap();
        for k in ["out", "up", "gone", "missing"] {
            assert!(m.find(k).is_none(), "{k}");
        }
        assert!(m.adopt("k", &t.path().join("master")).is_err());
        m.sweep();
        assert!(std::fs::read_dir(m.dir()).unwrap().next().is_none());
    }

    #[test]
    fn the_dir_must_be_private() {
        use std::os::unix::fs::PermissionsExt;
        let (t, _m) = masters();
        let open = t.path().join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o755)).unwrap();
        let e = Masters::at(open).unwrap_err().to_string();
        assert!(e.contains("open to others"), "{e}");
        let m = Masters::for_user(Some(t.path().to_path_buf())).unwrap();
        assert_eq!(m.dir(), t.path().join("archtui/ssh"));
        // A relative XDG_RUNTIME_DIR is ignored, as the spec says.
        let m = Masters::for_user(Some("rel".into())).unwrap();
        assert!(m.dir().to_string_lossy().starts_with("/tmp/archtui-ssh-"));
    }

    #[test]
    fn keys_differ_by_destination_and_settings_and_are_short() {
        let mut c = SshConfig::default();
        let a = key(&c, "jukebox");
        assert_eq!(a.len(), 16);
        assert_eq!(a, key(&c, "jukebox"));
        assert_ne!(a, key(&c, "cavaforgepad"));
        c.strict_host_key_checking = false;
        assert_ne!(a, key(&c, "jukebox"));
        let c = SshConfig {
            config_file: Some("/x/ssh_config".into()),
            ..Default::default()
        };
        assert_ne!(a, key(&c, "jukebox"));
        // A relative ssh config is the file it names from here.
        let here = std::env::current_dir().unwrap().join("ssh_config");
        let relative = SshConfig {
            config_file: Some("ssh_config".into()),
            ..Default::default()
        };
        let absolute = SshConfig {
            config_file: Some(here),
            ..Default::default()
        };
        assert_eq!(key(&relative, "jukebox"), key(&absolute, "jukebox"));
    }
}
