//! Turns one round of per-host observations into the fleet's status:
//! every slave's daemon and sync state, lag from the master, the heartbeat
//! cross-check and the verdict. Pure: `now` is passed in.

use crate::config::{Config, Role, Thresholds};
use crate::model::{BucardoStatus, DaemonState, HostState, SyncStatus, Time};
use crate::observation::{HostObservation, RegisteredSlave, SyncRow};
use crate::status::{sync_state, DaemonFacts, Processes, SyncFacts};
use crate::verdict::{judge, Expectations, Finding, Level};
use serde::Serialize;

/// The whole fleet at one moment: what `archtui status --json` prints
/// (a field renamed here changes that document). It borrows the round's
/// observations: they are the hosts.
#[derive(Debug, Clone, Serialize)]
pub struct FleetStatus<'a> {
    pub generated_at: Time,
    /// In config order; the document shows each as a `HostStatus`.
    #[serde(serialize_with = "crate::model::serialize_hosts")]
    pub hosts: Vec<&'a HostObservation>,
    /// Every slave's daemon, in config order.
    pub daemons: Vec<BucardoStatus>,
    pub syncs: Vec<SyncStatus>,
    /// Bucardo's own health: delta tables, conflicts, readiness to take over.
    pub health: crate::health::Health,
    pub verdict: crate::verdict::Verdict,
    /// A running observer whose readings a one-shot printed; absent when
    /// the one-shot observed the hosts itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observed_by: Option<crate::served::ObservedBy>,
}

/// A sync that has not run for this long while changes wait is stuck:
/// the heartbeat makes a healthy one run every few seconds.
pub const STALE_AFTER_SECS: i64 = 60;

/// The sync a slave's daemon runs: the stack names it after the slave.
pub fn sync_of(slave: &str) -> String {
    format!("archive_{slave}")
}

pub fn assemble<'a>(
    config: &Config,
    thresholds: Thresholds,
    observations: impl IntoIterator<Item = &'a HostObservation>,
    now: Time,
) -> FleetStatus<'a> {
    let hosts: Vec<&HostObservation> = observations.into_iter().collect();
    let observations = &hosts[..];
    let master = observations
        .iter()
        .copied()
        .find(|o| o.host.role == Role::Master);
    let master_heartbeat = master.and_then(|m| m.heartbeat);
    let registry = master.and_then(|m| m.fleet.as_ref());
    let registered = |name: &str| -> Option<&RegisteredSlave> {
        registry.and_then(|r| r.slaves.iter().find(|s| s.name == name))
    };

    let mut daemons = Vec::new();
    let mut syncs = Vec::new();
    for o in observations.iter().filter(|o| o.host.role == Role::Slave) {
        let reg = registered(&o.host.name);
        slave_daemon_and_syncs(o, reg, master_heartbeat, now, &mut daemons, &mut syncs);
    }
    // Slaves the master knows that the config does not: their lag shows.
    if let Some(r) = registry {
        syncs.extend(unconfigured(&r.slaves, observations, now));
    }
    let health = health(observations);
    let verdict = judge(
        observations,
        &daemons,
        &syncs,
        master
            .filter(|m| m.state == HostState::Up)
            .and_then(|_| registry.and_then(|r| r.error.as_deref())),
        &Expectations {
            services: &config.defaults.services,
            thresholds,
        },
    )
    .with(crate::health::findings(&health, &thresholds))
    .with(fenced(config, observations));
    FleetStatus {
        generated_at: now,
        hosts,
        daemons,
        syncs,
        health,
        verdict,
        observed_by: None,
    }
}

/// Hosts a failover replaced: they must not act as the master; while one
/// runs its app, writes there reach no other host.
fn fenced(config: &Config, observations: &[&HostObservation]) -> Vec<Finding> {
    observations
        .iter()
        .filter(|o| config.is_fenced(&o.host.name))
        .map(|o| {
            let n = &o.host.name;
            let app_runs = o.state == HostState::Up
                && o.containers.iter().any(|c| c.service == "app" && c.state == "running");
            let (level, now) = match o.state {
                _ if app_runs => (
                    Level::Critical,
                    "it is back and its app runs: writes there reach no other host",
                ),
                HostState::Up => (Level::Warning, "it is back"),
                _ => (Level::Warning, "unreachable"),
            };
            Finding {
                level,
                message: format!(
                    "{n} is fenced (a failover replaced it; archtui refuses it as the master): {now}; `archtui rejoin {n}` makes it a slave and reports rows only it holds"
                ),
            }
        })
        .collect()
}

/// One slave's daemon and syncs, as its observation and the master's
/// registry (`reg`) show them.
fn slave_daemon_and_syncs(
    o: &HostObservation,
    reg: Option<&RegisteredSlave>,
    master_heartbeat: Option<Time>,
    now: Time,
    daemons: &mut Vec<BucardoStatus>,
    syncs: &mut Vec<SyncStatus>,
) {
    let name = &o.host.name;
    let expected = sync_of(name);
    let lag = |sync: &str| {
        if sync == expected {
            reg.and_then(|r| r.pending)
        } else {
            None
        }
    };
    match (&o.bucardo, o.state) {
        (Some(read), HostState::Up) if read.status.error.is_none() => {
            let facts = daemon_facts(read);
            let (daemon, detail, since) = facts.state();
            daemons.push(BucardoStatus {
                daemon,
                detail,
                since,
                ..read.status.clone()
            });
            for row in &read.syncs {
                let mut f = row.facts.clone();
                f.daemon = facts.clone();
                let pending = lag(&row.name);
                f.lag_seconds = pending.map(|p| p.lag_seconds);
                syncs.push(judged(row, &f, pending, o, master_heartbeat, now));
            }
            if !read.syncs.iter().any(|r| r.name == expected) {
                syncs.push(unknown(
                    o,
                    &expected,
                    format!("not registered: {name}'s control database has no sync {expected} (its bucardo container registers it on start: docker compose logs bucardo there)"),
                    reg,
                    master_heartbeat,
                ));
            }
        }
        (read, state) => {
            let why = match (state, read) {
                (HostState::Up, Some(r)) => r.status.error.clone(),
                (HostState::Up, None) => None,
                (_, _) => o.error.clone(),
            }
            .unwrap_or_else(|| "not observed yet".into());
            daemons.push(BucardoStatus {
                host: name.clone(),
                daemon: DaemonState::Unknown,
                detail: None,
                since: None,
                version: None,
                error: Some(why.clone()),
                observed_at: o.observed_at,
            });
            syncs.push(unknown(
                o,
                &expected,
                format!("{name} could not be read: {why}"),
                reg,
                master_heartbeat,
            ));
        }
    }
}

/// The slaves registered on the master (not retired) that the config does
/// not name, each as a sync with its lag.
fn unconfigured(
    registered: &[RegisteredSlave],
    observations: &[&HostObservation],
    now: Time,
) -> Vec<SyncStatus> {
    let mut out = Vec::new();
    for r in registered {
        if !observations.iter().any(|o| o.host.name == r.name) && r.retired_at.is_none() {
            let seen = r
                .seen_at
                .map(|t| {
                    format!(
                        ", its supervisor last seen {} s ago",
                        (now - t).num_seconds().max(0)
                    )
                })
                .unwrap_or_default();
            out.push(SyncStatus {
                reason: Some(format!(
                    "slave {} is registered on the master ({}{seen}) but not in archtui's config",
                    r.name, r.address
                )),
                pending_rows: r.pending.map(|p| p.rows),
                lag_seconds: r.pending.map(|p| p.lag_seconds),
                ..blank(&r.name, &sync_of(&r.name), now)
            });
        }
    }
    out
}

/// What a slave's daemon shows, as the state mapping reads it.
pub fn daemon_facts(read: &crate::observation::BucardoRead) -> DaemonFacts {
    DaemonFacts {
        processes: read.processes.as_deref().map(Processes::from_titles),
        ops: read.ops.clone(),
    }
}

/// One sync of a slave's read, judged at `now` without the master's lag
/// (so no stuck check): what recover decides on. `None`: no such sync.
pub fn judge_one(
    read: &crate::observation::BucardoRead,
    sync: &str,
    now: Time,
) -> Option<crate::status::Judged> {
    let row = read.syncs.iter().find(|r| r.name == sync)?;
    let mut f = row.facts.clone();
    f.daemon = daemon_facts(read);
    Some(sync_state(sync, &f, now, STALE_AFTER_SECS))
}

/// Bucardo's health: the master's delta tables, and per slave its
/// conflicts, its copy and whether it could take over.
fn health(observations: &[&HostObservation]) -> crate::health::Health {
    use crate::health as h;
    let master = observations
        .iter()
        .find(|o| o.host.role == Role::Master)
        .and_then(|m| m.health.as_ref());
    let slaves = observations
        .iter()
        .filter(|o| o.host.role == Role::Slave)
        .map(|o| {
            let read = o.health.as_ref();
            let (ready, reason, sequences) = match read {
                Some(r) => h::readiness(master.map_or(&[], |m| &m.sequences), &r.sequences),
                None => (None, Some("not observed".into()), Vec::new()),
            };
            h::SlaveHealth {
                slave: o.host.name.clone(),
                ready_to_take_over: ready,
                reason,
                sequences,
                conflicts: read
                    .map(|r| {
                        r.conflicts
                            .iter()
                            .map(|c| h::ConflictStatus {
                                sync: c.sync.clone(),
                                total: c.total,
                                tables: c.tables.clone(),
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
                copy: read.and_then(|r| h::copy_line(r, master.map_or(&[], |m| &m.estimates))),
                error: read.and_then(|r| r.error.clone()),
            }
        })
        .collect();
    h::Health {
        delta_tables: master
            .map(|m| h::delta_status(&m.delta))
            .unwrap_or_default(),
        slaves,
        error: master.and_then(|m| m.error.clone()),
    }
}

fn heartbeat_lag(master: Option<Time>, target: Option<Time>) -> Option<f64> {
    match (master, target) {
        (Some(m), Some(t)) => Some(((m - t).num_milliseconds() as f64 / 1000.0).max(0.0)),
        _ => None,
    }
}

fn judged(
    row: &SyncRow,
    f: &SyncFacts,
    pending: Option<crate::observation::Pending>,
    o: &HostObservation,
    master_heartbeat: Option<Time>,
    now: Time,
) -> SyncStatus {
    let j = sync_state(&row.name, f, now, STALE_AFTER_SECS);
    SyncStatus {
        name: row.name.clone(),
        host: o.host.name.clone(),
        target: row.targets.clone(),
        dbgroup: row.dbgroup.clone(),
        state: j.state,
        reason: j.reason,
        since: j.since,
        paused_by: j.paused_by,
        run_status: f.running.clone(),
        last_good: f.last_success(),
        last_bad: f.last_bad,
        last_error: row.last_error.clone(),
        inserts: row.inserts,
        deletes: row.deletes,
        conflicts: row.conflicts,
        pending_rows: pending.map(|p| p.rows),
        lag_seconds: pending.map(|p| p.lag_seconds),
        heartbeat_lag_seconds: heartbeat_lag(master_heartbeat, o.heartbeat),
        observed_at: o
            .bucardo
            .as_ref()
            .map_or(o.observed_at, |b| b.status.observed_at),
    }
}

/// A sync whose slave could not be read: its state is unknown, but what
/// the master knows (its lag) still shows.
fn unknown(
    o: &HostObservation,
    sync: &str,
    reason: String,
    reg: Option<&RegisteredSlave>,
    master_heartbeat: Option<Time>,
) -> SyncStatus {
    SyncStatus {
        reason: Some(reason),
        pending_rows: reg.and_then(|r| r.pending).map(|p| p.rows),
        lag_seconds: reg.and_then(|r| r.pending).map(|p| p.lag_seconds),
        heartbeat_lag_seconds: heartbeat_lag(master_heartbeat, o.heartbeat),
        ..blank(&o.host.name, sync, o.observed_at)
    }
}

fn blank(host: &str, sync: &str, observed_at: Time) -> SyncStatus {
    SyncStatus {
        name: sync.to_string(),
        host: host.to_string(),
        target: host.to_string(),
        dbgroup: format!("{host}_grp"),
        state: crate::model::SyncState::Unknown,
        reason: None,
        since: None,
        paused_by: None,
        run_status: None,
        last_good: None,
        last_bad: None,
        last_error: None,
        inserts: None,
        deletes: None,
        conflicts: None,
        pending_rows: None,
        lag_seconds: None,
        heartbeat_lag_seconds: None,
        observed_at,
    }
}

#[cfg(test)]
mod tests;
