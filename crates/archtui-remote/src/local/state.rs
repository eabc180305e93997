//! The console's own state (XDG state dir): which syncs it paused. Bucardo
//! forgets a pause when its daemon restarts; the console does not.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ConsoleState {
    #[serde(default)]
    pub paused: BTreeSet<String>,
}

pub fn path() -> PathBuf {
    super::audit::state_dir().join("state.json")
}

impl ConsoleState {
    /// The saved state; a missing or unreadable file is an empty state.
    pub fn load(path: &Path) -> ConsoleState {
        std::fs::read_to_string(path)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default()
    }

    /// Records a pause or resume: read, changed and rewritten atomically
    /// under the file's lock, so two consoles never lose each other's.
    pub fn set_paused(path: &Path, sync: &str, paused: bool) -> std::io::Result<()> {
        if let Some(dir) = path.parent() {
            super::audit::ensure_dir(dir)?;
        }
        let held = crate::local::files::lock(path)?;
        let mut s = Self::load(path);
        if paused {
            s.paused.insert(sync.to_string());
        } else {
            s.paused.remove(sync);
        }
        let text = serde_json::to_string_pretty(&s).map_err(std::io::Error::other)?;
        crate::local::files::replace(path, text.as_bytes(), 0o600, &held)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pause_survives_a_reload_of_the_file() {
        let dir = std::env::temp_dir().join(format!("archtui-state-{}", std::process::id()));
        let p = dir.join("state.json");
        assert_eq!(ConsoleState::load(&p), ConsoleState::default());
        ConsoleState::set_paused(&p, "s1", true).unwrap();
        ConsoleState::set_paused(&p, "s2", true).unwrap();
        ConsoleState::set_paused(&p, "s1", false).unwrap();
        let s = ConsoleState::load(&p);
        assert_eq!(s.paused.iter().collect::<Vec<_>>(), ["s2"]);
        std::fs::write(&p, "not json").unwrap();
        assert_eq!(ConsoleState::load(&p), ConsoleState::default());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
