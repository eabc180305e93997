//! The last verify of each slave, kept in archtui's state directory
//! (`verify.json`) for the metrics (`archtui_verify_differences`).

use std::path::{Path, PathBuf};

use super::report::SlaveReport;
pub use archtui_core::verify::last::{Last, LastSlave, LastTable};

pub fn path() -> PathBuf {
    crate::local::audit::state_dir().join("verify.json")
}

/// The saved results; a missing or unreadable file is none.
pub fn load(path: &Path) -> Last {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

/// Records the slaves of a verify, under the file's lock, keeping the
/// others'. A slave that could not be looked at keeps its last tables.
pub fn record(path: &Path, reports: &[SlaveReport]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        crate::local::audit::ensure_dir(dir)?;
    }
    let held = crate::local::files::lock(path)?;
    let mut last = load(path);
    for r in reports {
        last.merge(r);
    }
    let text = serde_json::to_string_pretty(&last).map_err(std::io::Error::other)?;
    crate::local::files::replace(path, text.as_bytes(), 0o600, &held)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::report::{Outcome, TableReport};

    #[test]
    fn the_last_verify_is_kept_per_slave() {
        let dir = std::env::temp_dir().join(format!("archtui-verify-{}", std::process::id()));
        let p = dir.join("verify.json");
        assert_eq!(load(&p), Last::default());
        let mut s = SlaveReport::new("jukebox", chrono::Utc::now());
        let mut t = TableReport {
            table: "public.items".into(),
            ..Default::default()
        };
        t.missing.push(vec!["1".into()]);
        t.changed.push(vec!["2".into()]);
        s.tables.push(t);
        s.conclude();
        record(&p, &[s.clone()]).unwrap();
        let gone = SlaveReport::failed(
            "jukebox",
            chrono::Utc::now(),
            Outcome::Unreachable,
            "x".into(),
        );
        let other = SlaveReport::new("turntable", chrono::Utc::now());
        record(&p, &[gone, other]).unwrap();
        let last = load(&p);
        let j = &last.slaves["jukebox"];
        assert_eq!(j.outcome, "unreachable");
        assert_eq!(j.tables["public.items"].differences(), 2, "tables kept");
        assert!(last.slaves.contains_key("turntable"));
        std::fs::write(&p, "{not json").unwrap();
        assert_eq!(load(&p), Last::default());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
