//! Plain data about the fleet: what was observed, and when. No I/O.
//!
//! These types serialize as the `archtui status --json` document, so a
//! field renamed here is a change of the public JSON shape.

use chrono::{DateTime, Utc};
use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};

use crate::observation::HostObservation;

pub type Time = DateTime<Utc>;

/// Connection state of one host; every state but `Up` carries a reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HostState {
    Connecting,
    Up,
    Unreachable,
    AuthFailed,
    HostKeyUnknown,
    HostKeyChanged,
    DockerUnavailable,
    DatabaseUnavailable,
}

impl HostState {
    pub fn as_str(self) -> &'static str {
        match self {
            HostState::Connecting => "connecting",
            HostState::Up => "up",
            HostState::Unreachable => "unreachable",
            HostState::AuthFailed => "auth_failed",
            HostState::HostKeyUnknown => "host_key_unknown",
            HostState::HostKeyChanged => "host_key_changed",
            HostState::DockerUnavailable => "docker_unavailable",
            HostState::DatabaseUnavailable => "database_unavailable",
        }
    }
}

/// Why a host is not `Up`.
#[derive(Debug, Clone, PartialEq)]
pub struct HostFailure {
    pub state: HostState,
    pub reason: String,
}

impl HostFailure {
    pub fn new(state: HostState, reason: impl Into<String>) -> Self {
        Self {
            state,
            reason: reason.into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Container {
    pub service: String,
    pub name: String,
    /// Docker's state: running, exited, restarting, ...
    pub state: String,
    /// healthy, unhealthy, starting; `None` when the image has no healthcheck.
    pub health: Option<String>,
    pub restarts: i64,
    pub started_at: Option<Time>,
    pub image: String,
}

/// A host as `archtui status --json` shows it (the document's HOST): a
/// view of its observation rather than a copy, so the two cannot drift.
/// Fields in the document's order.
#[derive(Debug, Clone, Copy)]
pub struct HostStatus<'a>(pub &'a HostObservation);

impl Serialize for HostStatus<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let o = self.0;
        let mut h = s.serialize_struct("HostStatus", 7)?;
        h.serialize_field("name", &o.host.name)?;
        h.serialize_field("role", &o.host.role)?;
        h.serialize_field("state", &o.state)?;
        h.serialize_field("error", &o.error)?;
        h.serialize_field("observed_at", &o.observed_at)?;
        h.serialize_field("containers", &o.containers)?;
        // Newest heartbeat value in this host's archive database (master's clock).
        h.serialize_field("heartbeat", &o.heartbeat)?;
        h.end()
    }
}

/// The document's `hosts`: each observation as its `HostStatus`.
pub fn serialize_hosts<S: Serializer>(hosts: &[&HostObservation], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(hosts.iter().map(|o| HostStatus(o)))
}

/// A slave's Bucardo daemon (every slave runs its own), from its bucardo
/// container's process list and its supervisor's record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DaemonState {
    /// Its MCP process runs its main loop.
    Up,
    /// Starting or respawning: no main loop yet.
    Starting,
    /// No MCP process.
    Down,
    /// Neither the process list nor the supervisor's record could be read.
    Unknown,
}

impl DaemonState {
    pub fn as_str(self) -> &'static str {
        match self {
            DaemonState::Up => "up",
            DaemonState::Starting => "starting",
            DaemonState::Down => "down",
            DaemonState::Unknown => "unknown",
        }
    }
}

#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct BucardoStatus {
    /// The slave whose daemon this is.
    pub host: String,
    pub daemon: DaemonState,
    /// What the daemon is doing or why it is not up, with the supervisor's
    /// reason when it gave one (e.g. "respawning after: ...").
    pub detail: Option<String>,
    /// Since when `daemon` holds, when known.
    pub since: Option<Time>,
    pub version: Option<String>,
    pub error: Option<String>,
    pub observed_at: Time,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncState {
    Good,
    Bad,
    Running,
    Empty,
    /// Paused by an explicit pause (the daemon forgets it when it restarts).
    Paused,
    /// The daemon runs without this sync: it failed validation.
    Dropped,
    /// The daemon is starting or respawning: no controllers yet.
    DaemonStarting,
    /// The slave's daemon is not running.
    DaemonDown,
    /// Bucardo's own stalled state, or no run for long although the
    /// heartbeat changes.
    Stalled,
    Inactive,
    NeverRun,
    /// The slave or its control database could not be read.
    Unknown,
}

impl SyncState {
    pub fn as_str(self) -> &'static str {
        match self {
            SyncState::Good => "good",
            SyncState::Bad => "bad",
            SyncState::Running => "running",
            SyncState::Empty => "empty",
            SyncState::Paused => "paused",
            SyncState::Dropped => "dropped",
            SyncState::DaemonStarting => "daemon_starting",
            SyncState::DaemonDown => "daemon_down",
            SyncState::Stalled => "stalled",
            SyncState::Inactive => "inactive",
            SyncState::NeverRun => "never_run",
            SyncState::Unknown => "unknown",
        }
    }

    /// The words an operator reads (the console, the status table).
    pub fn label(self) -> &'static str {
        match self {
            SyncState::DaemonStarting => "daemon starting",
            SyncState::DaemonDown => "daemon down",
            SyncState::NeverRun => "never run",
            s => s.as_str(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct SyncStatus {
    pub name: String,
    /// The slave whose daemon runs the sync.
    pub host: String,
    /// The target Bucardo db(s), which are the slaves' names.
    pub target: String,
    pub dbgroup: String,
    pub state: SyncState,
    /// Why the sync is in that state, when it is not plainly good: the
    /// daemon's own reason where it gave one.
    pub reason: Option<String>,
    /// Since when the state holds, when known.
    pub since: Option<Time>,
    /// Who paused it (the pausing connection's application_name, which
    /// names the operator when archtui sent it).
    pub paused_by: Option<String>,
    /// Live status text of the running run, when one is running.
    pub run_status: Option<String>,
    pub last_good: Option<Time>,
    pub last_bad: Option<Time>,
    pub last_error: Option<String>,
    pub inserts: Option<i64>,
    pub deletes: Option<i64>,
    pub conflicts: Option<i64>,
    /// Rows changed on the master and not yet applied to the target
    /// (the heartbeat table's own rows are not counted).
    pub pending_rows: Option<i64>,
    /// Age of the oldest pending change, on the master's clock.
    pub lag_seconds: Option<f64>,
    /// Master's newest heartbeat minus the target's: the end-to-end cross-check.
    pub heartbeat_lag_seconds: Option<f64>,
    pub observed_at: Time,
}
