//! Raw results of one observation round, before they are judged: plain
//! data handed from the remote layer to the pure core.

use crate::config::Host;
use crate::model::{BucardoStatus, Container, HostFailure, HostState, Time};
use crate::status::SyncFacts;

/// Everything one observation round found on one host.
#[derive(Debug, Clone)]
pub struct HostObservation {
    pub host: Host,
    pub state: HostState,
    pub error: Option<String>,
    pub observed_at: Time,
    pub containers: Vec<Container>,
    pub heartbeat: Option<Time>,
    /// Only on the master.
    pub bucardo: Option<BucardoRead>,
}

impl HostObservation {
    /// Nothing heard from the host yet.
    pub fn connecting(host: &Host) -> Self {
        Self::failed(
            host,
            HostFailure::new(crate::model::HostState::Connecting, "connecting"),
        )
    }

    /// For each host, its latest observation, or `connecting` before one.
    pub fn latest_or_connecting(latest: &[Option<Self>], hosts: &[Host]) -> Vec<Self> {
        latest
            .iter()
            .zip(hosts)
            .map(|(o, h)| o.clone().unwrap_or_else(|| Self::connecting(h)))
            .collect()
    }

    pub fn failed(host: &Host, f: HostFailure) -> Self {
        HostObservation {
            host: host.clone(),
            state: f.state,
            error: Some(f.reason),
            observed_at: chrono::Utc::now(),
            containers: Vec::new(),
            heartbeat: None,
            bucardo: None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct BucardoRead {
    pub status: BucardoStatus,
    pub syncs: Vec<SyncRow>,
    /// Syncs whose controller process runs; `None` if unreadable.
    pub controllers: Option<Vec<String>>,
}

/// One sync as the control database describes it.
#[derive(Debug, Clone)]
pub struct SyncRow {
    pub name: String,
    pub dbgroup: String,
    pub targets: String,
    pub facts: SyncFacts,
    pub last_error: Option<String>,
    pub inserts: Option<i64>,
    pub deletes: Option<i64>,
    pub conflicts: Option<i64>,
    /// Changes on the master its target has not seen; None when they could
    /// not be read (the archive database is read apart from the control's).
    pub pending: Option<Pending>,
}

/// Pending changes for one target dbgroup.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pending {
    /// Rows outside the heartbeat table.
    pub rows: i64,
    /// Age of the oldest pending change (heartbeat included), 0 when none.
    pub lag_seconds: f64,
}
