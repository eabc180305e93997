//! What every host link shares: the config, the password, and the run
//! directory for control sockets and forwards (one per process, one
//! subdirectory per context).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use archtui_core::config::Config;
use archtui_core::credentials::Password;

/// What every host link shares.
pub struct Context {
    pub config: Config,
    pub password: Password,
    /// Private directory for control sockets and forwards; short, because
    /// unix socket paths are limited to 108 bytes.
    pub run_dir: PathBuf,
}

impl Context {
    pub fn new(config: Config, password: Password) -> std::io::Result<Arc<Context>> {
        // One dir per process, one subdir per context: the console makes a
        // new context when its config changes while actions of the old one
        // may still run, and each removes only its own dir.
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // Under the process dir's lock, so that the last context's drop
        // cannot remove the process dir while this one is being made in it.
        let mut process = PROCESS.lock().unwrap_or_else(|e| e.into_inner());
        let run_dir = process_dir(&mut process.0)?.join(n.to_string());
        make_private_dir(&run_dir)?;
        crate::local::files::check_private(&run_dir)?;
        process.1 += 1;
        drop(process);
        Ok(Arc::new(Context {
            config,
            password,
            run_dir,
        }))
    }

    /// The password resolved and the run dir made, for the commands; the
    /// error is one line that says which failed.
    pub fn open(config: Config) -> Result<Arc<Context>, OpenError> {
        let password =
            Password::resolve(&config.database).map_err(|e| OpenError::Password(e.to_string()))?;
        Context::new(config, password)
            .map_err(|e| OpenError::RunDir(format!("cannot create a private run directory: {e}")))
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.config.database.query_timeout_secs)
    }
}

/// Why `Context::open` failed: the config's password, or this machine.
#[derive(Debug)]
pub enum OpenError {
    Password(String),
    RunDir(String),
}

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpenError::Password(e) | OpenError::RunDir(e) => f.write_str(e),
        }
    }
}

impl Drop for Context {
    fn drop(&mut self) {
        let mut process = PROCESS.lock().unwrap_or_else(|e| e.into_inner());
        let _ = std::fs::remove_dir_all(&self.run_dir);
        process.1 = process.1.saturating_sub(1);
        // Only when no other context of this process is left.
        if process.1 == 0 {
            if let Some(parent) = self.run_dir.parent() {
                let _ = std::fs::remove_dir(parent);
            }
        }
    }
}

/// The process dir (once made) and how many contexts live in it.
static PROCESS: std::sync::Mutex<(Option<PathBuf>, usize)> = std::sync::Mutex::new((None, 0));

/// Longest run dir: a control socket inside it
/// (`h1000/.ssh-connectionXXXXXX/master.` and ssh's 16-character suffix)
/// and the forwards must stay under the 108 bytes of a unix socket path.
pub(super) const MAX_RUN_DIR: usize = 48;

/// This process's private directory: `$XDG_RUNTIME_DIR/archtui/<random>`
/// (the `archtui` dir made 0700, its owner and mode checked, refused when
/// another user could enter it), else a random `mkdtemp` dir in the temp
/// dir; never a name another user can guess and prepare. Made again when
/// the last context removed it.
pub(super) fn process_dir(dir: &mut Option<PathBuf>) -> std::io::Result<PathBuf> {
    if let Some(d) = dir.as_ref().filter(|d| d.is_dir()) {
        crate::local::files::check_private(d)?;
        return Ok(d.clone());
    }
    let made = make_process_dir(std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from))?;
    *dir = Some(made.clone());
    Ok(made)
}

/// A new random private dir under `$XDG_RUNTIME_DIR/archtui` (`runtime`),
/// or under the temp dir.
pub(super) fn make_process_dir(runtime: Option<PathBuf>) -> std::io::Result<PathBuf> {
    let runtime = runtime
        .filter(|p| p.is_absolute())
        .map(|p| p.join("archtui"));
    let base = match runtime {
        Some(r) if r.as_os_str().len() + 8 <= MAX_RUN_DIR => {
            crate::local::files::private_dir(&r)?;
            r
        }
        // Too long for socket paths (or unset): the temp dir, else /tmp.
        _ if std::env::temp_dir().as_os_str().len() + 16 <= MAX_RUN_DIR => std::env::temp_dir(),
        _ => PathBuf::from("/tmp"),
    };
    let made = tempfile::Builder::new()
        .prefix("archtui-")
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700))
        .tempdir_in(&base)?
        .keep();
    crate::local::files::check_private(&made)?;
    Ok(made)
}

/// A fresh directory only the user can enter (whatever was there is gone);
/// only ever called inside the checked run dir.
pub fn make_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    let _ = std::fs::remove_dir_all(dir);
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// A link number for `HostLink::open` (its private dir): the observers use
/// their host's place in the config; everything else takes one from here.
pub fn next_link() -> usize {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(1000);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

#[cfg(test)]
mod tests;
