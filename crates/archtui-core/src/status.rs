//! Pure mapping from what a slave's Bucardo control database, its daemon's
//! process list and its supervisor's record say about a sync to the one
//! state the operator sees, with its reason.

use crate::model::{DaemonState, SyncState, Time};

/// What the slave's supervisor recorded about its daemon.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct OpsRead {
    /// starting, running, restarting, stopped, retired.
    pub phase: String,
    pub phase_since: Time,
    pub detail: Option<String>,
    /// Since the latest daemon start (that start included), oldest first.
    pub events: Vec<OpsEvent>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct OpsEvent {
    pub at: Time,
    /// daemon_start, main_loop, validation_failed, daemon_died, paused,
    /// resumed, heal, registered, retired, reload.
    pub kind: String,
    pub sync: Option<String>,
    pub detail: Option<String>,
}

/// Facts about one sync, as read from `bucardo.sync`, `bucardo.syncrun`
/// and `bucardo.db` on the slave, plus what its daemon shows.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SyncFacts {
    /// `bucardo.sync.status`: active, inactive or stalled.
    pub sync_status: String,
    /// Some database of the sync's dbgroup has `db.status = 'stalled'`.
    pub db_stalled: bool,
    /// Status text of a run with `ended IS NULL`.
    pub running: Option<String>,
    pub last_good: Option<Time>,
    pub last_empty: Option<Time>,
    pub last_bad: Option<Time>,
    pub daemon: DaemonFacts,
    /// Age of the oldest change the master holds for it (from the master).
    pub lag_seconds: Option<f64>,
}

/// What the slave's daemon shows about itself and this sync.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DaemonFacts {
    /// From the container's process list; `None`: unreadable.
    pub processes: Option<Processes>,
    /// The supervisor's record; `None`: absent or unreadable.
    pub ops: Option<OpsRead>,
}

/// Bucardo's processes, by their titles.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Processes {
    /// The MCP runs.
    pub mcp: bool,
    /// Syncs the MCP lists as active in its title (`Active syncs: a,b`);
    /// `None` before its first activation.
    pub mcp_active: Option<Vec<String>>,
    /// Syncs with a controller process.
    pub controllers: Vec<String>,
}

impl Processes {
    /// Reads the titles of a bucardo container's processes. Pure.
    pub fn from_titles(titles: &[String]) -> Processes {
        const MCP: &str = "Bucardo Master Control Program";
        const ACTIVE: &str = "Active syncs: ";
        let mcp_title = titles.iter().find(|t| t.starts_with(MCP));
        Processes {
            mcp: mcp_title.is_some(),
            mcp_active: mcp_title.and_then(|t| {
                let list = &t[t.find(ACTIVE)? + ACTIVE.len()..];
                Some(
                    list.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(String::from)
                        .collect(),
                )
            }),
            controllers: controllers_in(titles),
        }
    }
}

/// How long after its main loop starts a daemon may still be starting
/// its controllers: within it, an active sync without one is not paused.
pub const CONTROLLER_GRACE_SECS: i64 = 10;

impl DaemonFacts {
    /// Events since the latest daemon start, oldest first.
    fn events(&self) -> &[OpsEvent] {
        self.ops.as_ref().map_or(&[], |o| &o.events)
    }

    fn last(&self, kind: &str, sync: Option<&str>) -> Option<&OpsEvent> {
        self.events()
            .iter()
            .rev()
            .find(|e| e.kind == kind && (sync.is_none() || e.sync.as_deref() == sync))
    }

    /// The daemon's state, why, and since when.
    pub fn state(&self) -> (DaemonState, Option<String>, Option<Time>) {
        let ops = self.ops.as_ref();
        let phase = ops.map(|o| o.phase.as_str());
        let since = ops.map(|o| o.phase_since);
        let detail = ops.and_then(|o| o.detail.clone());
        match (&self.processes, phase) {
            (None, None) => (DaemonState::Unknown, None, None),
            (Some(p), _) if !p.mcp => match phase {
                Some("stopped" | "retired") => (DaemonState::Down, detail, since),
                // Between its death and its own respawn the MCP has no
                // process for a moment; the supervisor says so.
                Some("restarting" | "starting") => (
                    DaemonState::Starting,
                    detail.map(|d| format!("respawning after: {d}")),
                    since,
                ),
                _ => (
                    DaemonState::Down,
                    Some("no Bucardo MCP process in the bucardo container".into()),
                    None,
                ),
            },
            (_, Some("running")) => (DaemonState::Up, None, since),
            (_, Some("starting")) => (DaemonState::Starting, Some("starting".into()), since),
            (_, Some("restarting")) => (
                DaemonState::Starting,
                detail.map(|d| format!("respawning after: {d}")),
                since,
            ),
            // An MCP process without the supervisor's record: judge by
            // its title, which lists syncs once it has activated them.
            (Some(p), _) if p.mcp_active.is_some() => (DaemonState::Up, None, None),
            (Some(_), _) => (DaemonState::Starting, Some("starting".into()), None),
            (None, Some(other)) => (
                DaemonState::Unknown,
                Some(format!("process list unreadable; supervisor says {other}")),
                since,
            ),
        }
    }
}

/// One sync's state, why, since when, and who paused it. Precedence: what
/// needs an operator's hand first. Persistent states (inactive, stalled)
/// win; then the daemon's (down, starting, dropped, paused: none of which
/// show in `syncrun`); then the live run; then whichever finished run
/// ended last, the way `bucardo status` reads it.
pub fn sync_state(name: &str, f: &SyncFacts, now: Time, stale_after_secs: i64) -> Judged {
    if let Some(j) = persistent(f) {
        return j;
    }
    let d = &f.daemon;
    let (daemon, why, since) = d.state();
    match daemon {
        DaemonState::Down => {
            return plain(
                SyncState::DaemonDown,
                why.or(Some("the daemon is not running".into())),
                since,
            )
        }
        DaemonState::Starting => return plain(SyncState::DaemonStarting, why, since),
        DaemonState::Up | DaemonState::Unknown => {}
    }
    if let Some(j) = process_state(name, d, daemon, since, now) {
        return j;
    }
    run_state(f, now, stale_after_secs)
}

fn plain(state: SyncState, reason: Option<String>, since: Option<Time>) -> Judged {
    Judged {
        state,
        reason,
        since,
        paused_by: None,
    }
}

/// A state the sync keeps until someone acts: inactive or stalled.
fn persistent(f: &SyncFacts) -> Option<Judged> {
    let stalled = |why: &str| Some(plain(SyncState::Stalled, Some(why.into()), None));
    match f.sync_status.as_str() {
        "inactive" => Some(plain(
            SyncState::Inactive,
            Some("bucardo.sync.status is inactive".into()),
            None,
        )),
        "stalled" => stalled("bucardo.sync.status is stalled"),
        _ if f.db_stalled => stalled("one of its databases is stalled"),
        _ => None,
    }
}

/// What the daemon's processes (and its supervisor's record) say of this
/// sync: dropped, paused, or its controllers still starting.
fn process_state(
    name: &str,
    d: &DaemonFacts,
    daemon: DaemonState,
    since: Option<Time>,
    now: Time,
) -> Option<Judged> {
    if let Some(p) = &d.processes {
        let active = p
            .mcp_active
            .as_ref()
            .is_some_and(|a| a.iter().any(|s| s == name));
        if daemon == DaemonState::Up && !active {
            let dropped = d.last("validation_failed", Some(name));
            let reason = match dropped {
                // "validation failed 07:23:31: cannot connect to db master: ..."
                Some(e) => {
                    let detail = e.detail.as_deref().unwrap_or("validation failed");
                    let rest = detail.strip_prefix("validation failed").unwrap_or(detail);
                    format!("validation failed {}{rest}", e.at.format("%H:%M:%S"))
                }
                None => "the daemon runs without this sync".into(),
            };
            return Some(plain(
                SyncState::Dropped,
                Some(reason),
                dropped.map(|e| e.at),
            ));
        }
        if active && !p.controllers.iter().any(|c| c == name) {
            // A pause sent since the daemon started, not resumed since.
            let paused = d.last("paused", Some(name));
            let resumed = d.last("resumed", Some(name));
            if let Some(p) = paused.filter(|p| resumed.is_none_or(|r| r.at < p.at)) {
                return Some(Judged {
                    state: SyncState::Paused,
                    reason: None,
                    since: Some(p.at),
                    paused_by: p.detail.clone(),
                });
            }
            let loop_since = d.last("main_loop", None).map(|e| e.at).or(since);
            if loop_since.is_some_and(|t| (now - t).num_seconds() < CONTROLLER_GRACE_SECS) {
                return Some(plain(
                    SyncState::DaemonStarting,
                    Some("controllers starting".into()),
                    loop_since,
                ));
            }
            return Some(plain(
                SyncState::Paused,
                Some(
                    "no controller process: paused by a NOTIFY archtui did not see, or its controller died"
                        .into(),
                ),
                None,
            ));
        }
    }
    None
}

/// The state its runs say: running, never run, bad, stuck while changes
/// wait, empty or good.
fn run_state(f: &SyncFacts, now: Time, stale_after_secs: i64) -> Judged {
    if f.running.is_some() {
        return plain(SyncState::Running, None, None);
    }
    // None sorts before any time, so "never" loses every comparison.
    let success = f.last_success();
    if success.is_none() && f.last_bad.is_none() {
        return plain(SyncState::NeverRun, None, None);
    }
    if f.last_bad > success {
        return plain(SyncState::Bad, None, f.last_bad);
    }
    // Changes wait on the master (the heartbeat makes one every few
    // seconds) and the sync has not run for long: it is stuck.
    if let (Some(ok), Some(lag)) = (success, f.lag_seconds) {
        let idle = (now - ok).num_seconds();
        if idle > stale_after_secs && lag > stale_after_secs as f64 {
            return plain(
                SyncState::Stalled,
                Some(format!(
                    "no run for {idle} s although changes wait on the master (oldest {lag:.0} s)"
                )),
                Some(ok),
            );
        }
    }
    if f.last_empty > f.last_good {
        plain(SyncState::Empty, None, None)
    } else {
        plain(SyncState::Good, None, None)
    }
}

/// A sync's state with what explains it.
#[derive(Debug, Clone, PartialEq)]
pub struct Judged {
    pub state: SyncState,
    pub reason: Option<String>,
    pub since: Option<Time>,
    pub paused_by: Option<String>,
}

impl SyncFacts {
    /// The last run that ended well, with changes or without.
    pub fn last_success(&self) -> Option<Time> {
        self.last_good.max(self.last_empty)
    }
}

/// Bucardo's failure text reads `Failed : <error> (KID n)`; keep the error.
pub fn error_text(status: &str) -> String {
    let s = status.trim();
    let s = s
        .strip_prefix("Failed")
        .map_or(s, |r| r.trim_start().trim_start_matches(':').trim());
    match s.rfind("(KID ") {
        Some(i) if s.ends_with(')') => s[..i].trim_end().to_string(),
        _ => s.to_string(),
    }
}

/// Names of syncs whose controller appears in a process list. Bucardo
/// titles it `Bucardo Controller. Sync "<sync>" for relgroup ...`.
pub fn controllers_in(process_titles: &[String]) -> Vec<String> {
    const MARK: &str = "Bucardo Controller. Sync \"";
    process_titles
        .iter()
        .filter_map(|t| {
            let rest = &t[t.find(MARK)? + MARK.len()..];
            Some(rest[..rest.find('"')?].to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests;
