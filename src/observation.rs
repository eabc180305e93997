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
            fleet: None,
            health: None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct BucardoRead {
    pub status: BucardoStatus,
    pub syncs: Vec<SyncRow>,
    /// Process titles of the host's bucardo container; `None` if unreadable.
    pub processes: Option<Vec<String>>,
    /// The supervisor's record (`archive_ops`); `None` if absent or unreadable.
    pub ops: Option<OpsRead>,
}

/// What the slave's supervisor recorded about its daemon.
#[derive(Debug, Clone, PartialEq)]
pub struct OpsRead {
    /// starting, running, restarting, stopped, retired.
    pub phase: String,
    pub phase_since: Time,
    pub detail: Option<String>,
    /// Since the latest daemon start (that start included), oldest first.
    pub events: Vec<OpsEvent>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OpsEvent {
    pub at: Time,
    /// daemon_start, main_loop, validation_failed, daemon_died, paused,
    /// resumed, heal, registered, retired, reload.
    pub kind: String,
    pub sync: Option<String>,
    pub detail: Option<String>,
}

/// The master's registry of slaves (`archive_fleet.slave`) and the
/// pending changes of each registered slave's sync.
#[derive(Debug, Clone)]
pub struct FleetRead {
    pub slaves: Vec<RegisteredSlave>,
    /// Why the registry could not be read.
    pub error: Option<String>,
}

#[derive(Debug, Clone)]
pub struct RegisteredSlave {
    pub name: String,
    pub address: String,
    pub seen_at: Option<Time>,
    pub retired_at: Option<Time>,
    /// `None` when unreadable or not validated yet.
    pub pending: Option<Pending>,
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
}

/// Pending changes for one target dbgroup.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pending {
    /// Rows outside the heartbeat table.
    pub rows: i64,
    /// Age of the oldest pending change (heartbeat included), 0 when none.
    pub lag_seconds: f64,
}
