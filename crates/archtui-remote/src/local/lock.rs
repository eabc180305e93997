//! One action per target at a time, across consoles on this machine: a
//! lock file per target in the state directory, held while the action runs.

use super::LocalError;
use std::fs::File;
use std::path::Path;

/// The one lock a slave's provisioning and its retire share, so neither
/// runs under the other.
pub use archtui_core::actions::provision_target;

pub struct TargetLock {
    _file: File,
}

/// Takes the target's lock, or says another action holds it.
pub fn try_lock(state_dir: &Path, target: &str) -> Result<TargetLock, LocalError> {
    let dir = state_dir.join("locks");
    super::audit::ensure_dir(&dir).map_err(LocalError::io(&dir))?;
    let path = dir.join(format!("{target}.lock"));
    let file = File::create(&path).map_err(LocalError::io(&path))?;
    match file.try_lock() {
        Ok(()) => Ok(TargetLock { _file: file }),
        Err(std::fs::TryLockError::WouldBlock) => Err(LocalError::Busy(target.to_string())),
        Err(std::fs::TryLockError::Error(e)) => Err(LocalError::io(&path)(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_on_a_target_is_refused() {
        let dir = std::env::temp_dir().join(format!("archtui-lock-{}", std::process::id()));
        let first = try_lock(&dir, "jukebox-app").unwrap();
        let err = try_lock(&dir, "jukebox-app").err().unwrap();
        assert!(
            matches!(&err, LocalError::Busy(t) if t == "jukebox-app"),
            "{err:?}"
        );
        assert!(err.to_string().contains("another action"), "{err}");
        let other = try_lock(&dir, "jukebox-db");
        assert!(other.is_ok());
        drop(first);
        // A child another test forks in the meantime holds a copy of the
        // descriptor until its exec closes it (close-on-exec), so the lock
        // may take a moment to come free.
        let free = (0..100).any(|_| {
            std::thread::sleep(std::time::Duration::from_millis(10));
            try_lock(&dir, "jukebox-app").is_ok()
        });
        assert!(free, "the lock stays taken after its holder dropped it");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
