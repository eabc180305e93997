//! The last verify of each slave, kept in archtui's state directory
//! (`verify.json`) for the metrics (`archtui_verify_differences`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::report::{Outcome, SlaveReport};
use crate::model::Time;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Last {
    #[serde(default)]
    pub slaves: BTreeMap<String, LastSlave>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LastSlave {
    pub at: Time,
    /// equal, differ, refused, unreachable
    pub outcome: String,
    #[serde(default)]
    pub tables: BTreeMap<String, LastTable>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LastTable {
    pub missing: u64,
    pub extra: u64,
    pub changed: u64,
    #[serde(default)]
    pub unsettled: u64,
}

impl LastTable {
    #[cfg_attr(not(test), allow(dead_code))]
    pub fn differences(&self) -> u64 {
        self.missing + self.extra + self.changed
    }
}

pub fn path() -> PathBuf {
    crate::actions::audit::state_dir().join("verify.json")
}

impl Last {
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
            crate::actions::audit::ensure_dir(dir)?;
        }
        let held = crate::files::lock(path)?;
        let mut last = Last::load(path);
        for r in reports {
            last.merge(r);
        }
        let text = serde_json::to_string_pretty(&last).map_err(std::io::Error::other)?;
        crate::files::replace(path, text.as_bytes(), 0o600, &held)
    }

    /// Pure: one slave's report into the record.
    pub fn merge(&mut self, r: &SlaveReport) {
        let outcome = serde_json::to_value(r.outcome)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default();
        let compared = matches!(r.outcome, Outcome::Equal | Outcome::Differ);
        let tables = if compared {
            r.tables
                .iter()
                .map(|t| {
                    (
                        t.table.clone(),
                        LastTable {
                            missing: t.missing.count,
                            extra: t.extra.count,
                            changed: t.changed.count,
                            unsettled: t.unsettled.count,
                        },
                    )
                })
                .collect()
        } else {
            self.slaves
                .get(&r.slave)
                .map(|s| s.tables.clone())
                .unwrap_or_default()
        };
        self.slaves.insert(
            r.slave.clone(),
            LastSlave {
                at: r.started_at,
                outcome,
                tables,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::report::TableReport;

    #[test]
    fn the_last_verify_is_kept_per_slave() {
        let dir = std::env::temp_dir().join(format!("archtui-verify-{}", std::process::id()));
        let p = dir.join("verify.json");
        assert_eq!(Last::load(&p), Last::default());
        let mut s = SlaveReport::new("jukebox", chrono::Utc::now());
        let mut t = TableReport {
            table: "public.items".into(),
            ..Default::default()
        };
        t.missing.push(vec!["1".into()]);
        t.changed.push(vec!["2".into()]);
        s.tables.push(t);
        s.conclude();
        Last::record(&p, &[s.clone()]).unwrap();
        let gone = SlaveReport::failed(
            "jukebox",
            chrono::Utc::now(),
            Outcome::Unreachable,
            "x".into(),
        );
        let other = SlaveReport::new("turntable", chrono::Utc::now());
        Last::record(&p, &[gone, other]).unwrap();
        let last = Last::load(&p);
        let j = &last.slaves["jukebox"];
        assert_eq!(j.outcome, "unreachable");
        assert_eq!(j.tables["public.items"].differences(), 2, "tables kept");
        assert!(last.slaves.contains_key("turntable"));
        std::fs::write(&p, "{not json").unwrap();
        assert_eq!(Last::load(&p), Last::default());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
