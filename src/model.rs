//! Plain data about the fleet: what was observed, and when. No I/O.
//!
//! These types serialize as the `archtui status --json` document, so a
//! field renamed here is a change of the public JSON shape.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::config::Role;
use crate::verdict::Verdict;

pub type Time = DateTime<Utc>;

/// Connection state of one host; every state but `Up` carries a reason.
/// Does a sync's comma-separated target list name this host?
pub fn targets_host(targets: &str, host: &str) -> bool {
    targets.split(',').any(|t| t == host)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
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

#[derive(Debug, Clone, PartialEq, Serialize)]
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

#[derive(Debug, Clone, Serialize)]
pub struct HostStatus {
    pub name: String,
    pub role: Role,
    pub state: HostState,
    pub error: Option<String>,
    pub observed_at: Time,
    pub containers: Vec<Container>,
    /// Newest heartbeat value in this host's archive database (master's clock).
    pub heartbeat: Option<Time>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DaemonState {
    /// Answered `bucardo_mcp_ping`.
    Up,
    /// Did not answer the ping in time.
    Down,
    /// The control database could not be read at all.
    Unknown,
}

#[derive(Debug, Clone, Serialize)]
pub struct BucardoStatus {
    pub host: String,
    pub daemon: DaemonState,
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
    Paused,
    Stalled,
    Inactive,
    NeverRun,
}

impl SyncState {
    pub fn as_str(self) -> &'static str {
        match self {
            SyncState::Good => "good",
            SyncState::Bad => "bad",
            SyncState::Running => "running",
            SyncState::Empty => "empty",
            SyncState::Paused => "paused",
            SyncState::Stalled => "stalled",
            SyncState::Inactive => "inactive",
            SyncState::NeverRun => "never_run",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct SyncStatus {
    pub name: String,
    /// The target Bucardo db(s), which are the slaves' names.
    pub target: String,
    pub dbgroup: String,
    pub state: SyncState,
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

#[derive(Debug, Clone, Serialize)]
pub struct FleetStatus {
    pub generated_at: Time,
    pub hosts: Vec<HostStatus>,
    pub bucardo: Option<BucardoStatus>,
    pub syncs: Vec<SyncStatus>,
    pub verdict: Verdict,
}
