//! Raw results of one observation round, before they are judged: plain
//! data handed from the remote layer to the pure core.

use crate::config::Host;
use crate::model::{BucardoStatus, Container, HostFailure, HostState, Time};
pub use crate::status::{OpsEvent, OpsRead, SyncFacts};

/// Everything one observation round found on one host.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct HostObservation {
    pub host: Host,
    pub state: HostState,
    pub error: Option<String>,
    pub observed_at: Time,
    pub containers: Vec<Container>,
    pub heartbeat: Option<Time>,
    /// A slave's own daemon and sync, from its control database.
    pub bucardo: Option<BucardoRead>,
    /// The master's view of the fleet: its registry and what each slave
    /// has not applied yet.
    pub fleet: Option<FleetRead>,
    /// Bucardo's health as this host shows it (crate::health).
    pub health: Option<crate::health::HealthRead>,
}

impl HostObservation {
    /// Nothing heard from the host yet.
    pub fn connecting(host: &Host, now: Time) -> Self {
        Self::failed(
            host,
            HostFailure::new(crate::model::HostState::Connecting, "connecting"),
            now,
        )
    }

    /// For each host, its latest observation, or `connecting` before one.
    pub fn latest_or_connecting(latest: &[Option<Self>], hosts: &[Host], now: Time) -> Vec<Self> {
        latest
            .iter()
            .zip(hosts)
            .map(|(o, h)| o.clone().unwrap_or_else(|| Self::connecting(h, now)))
            .collect()
    }

    /// A round that failed at `now`.
    pub fn failed(host: &Host, f: HostFailure, now: Time) -> Self {
        HostObservation {
            host: host.clone(),
            state: f.state,
            error: Some(f.reason),
            observed_at: now,
            containers: Vec::new(),
            heartbeat: None,
            bucardo: None,
            fleet: None,
            health: None,
        }
    }
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct BucardoRead {
    pub status: BucardoStatus,
    pub syncs: Vec<SyncRow>,
    /// Process titles of the host's bucardo container; `None` if unreadable.
    pub processes: Option<Vec<String>>,
    /// The supervisor's record (`archive_ops`); `None` if absent or unreadable.
    pub ops: Option<OpsRead>,
}

/// The master's registry of slaves (`archive_fleet.slave`) and the
/// pending changes of each registered slave's sync.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct FleetRead {
    pub slaves: Vec<RegisteredSlave>,
    /// Why the registry could not be read.
    pub error: Option<String>,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct RegisteredSlave {
    pub name: String,
    pub address: String,
    pub seen_at: Option<Time>,
    pub retired_at: Option<Time>,
    /// `None` when unreadable or not validated yet.
    pub pending: Option<Pending>,
}

/// One sync as the control database describes it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct SyncRow {
    pub name: String,
    pub dbgroup: String,
    pub targets: String,
    pub facts: SyncFacts,
    pub last_error: Option<String>,
    pub inserts: Option<i64>,
    pub deletes: Option<i64>,
    pub conflicts: Option<i64>,
}

/// Pending changes for one target dbgroup.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Pending {
    /// Rows outside the heartbeat table.
    pub rows: i64,
    /// Age of the oldest pending change (heartbeat included), 0 when none.
    pub lag_seconds: f64,
}
