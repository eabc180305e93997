//! The last verify of each slave, as kept for the metrics
//! (`archtui_verify_differences`); `archtui_remote::verify::store` keeps it
//! in archtui's state directory.

use std::collections::BTreeMap;

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

impl Last {
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
