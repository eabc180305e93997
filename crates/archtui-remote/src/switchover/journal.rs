//! The journal of a switchover under way: `<state dir>/switchover.json`,
//! rewritten atomically (0600) after every step; gone once it is done.
//! One at a time: a second switchover is refused while one is open.

use std::path::{Path, PathBuf};

use archtui_core::switchover::Journal;

pub fn journal_path(state_dir: &Path) -> PathBuf {
    state_dir.join("switchover.json")
}

/// The open journal, if any. A damaged one is an error that says what to
/// do: starting over is not safe once a step changed a host.
pub fn load(path: &Path) -> Result<Option<Journal>, String> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text).map(Some).map_err(|e| {
            format!(
                "{}: unreadable ({e}): the switchover it records may be half done; \
                 compare `archtui status` with its steps, and remove the file only once every host is as you want it",
                path.display()
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

pub fn save(path: &Path, journal: &Journal) -> Result<(), String> {
    let dir = path.parent().unwrap_or(Path::new("."));
    crate::local::audit::ensure_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let text = serde_json::to_string_pretty(journal).map_err(|e| e.to_string())?;
    crate::local::files::write(path, (text + "\n").as_bytes(), 0o600)
        .map_err(|e| format!("{}: {e}", path.display()))
}

pub fn remove(path: &Path) -> Result<(), String> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use archtui_core::switchover::{Roles, Step};

    #[test]
    fn save_load_remove_and_a_damaged_one() {
        let dir = std::env::temp_dir().join(format!("archtui-so-journal-{}", std::process::id()));
        let p = journal_path(&dir);
        assert_eq!(load(&p).unwrap(), None);
        let mut j = Journal::new(
            Roles {
                old_master: "a".into(),
                candidate: "b".into(),
                others: vec![],
                left_behind: vec![],
            },
            "2026-12-01T00:00:00Z".into(),
        );
        j.mark(Step::Fence);
        save(&p, &j).unwrap();
        assert_eq!(load(&p).unwrap(), Some(j));
        std::fs::write(&p, "{\"roles\":").unwrap();
        let e = load(&p).unwrap_err();
        assert!(e.contains("half done"), "{e}");
        remove(&p).unwrap();
        remove(&p).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }
}
