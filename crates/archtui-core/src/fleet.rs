//! Turns one round of per-host observations into the fleet's status:
//! every slave's daemon and sync state, lag from the master, the heartbeat
//! cross-check and the verdict. Pure: `now` is passed in.

use crate::config::{Config, Role, Thresholds};
use crate::model::{BucardoStatus, DaemonState, HostState, HostStatus, SyncStatus, Time};
use crate::observation::{HostObservation, RegisteredSlave, SyncRow};
use crate::status::{sync_state, DaemonFacts, Processes, SyncFacts};
use crate::verdict::{judge, Expectations};
use serde::Serialize;

/// The whole fleet at one moment: what `archtui status --json` prints
/// (a field renamed here changes that document).
#[derive(Debug, Clone, Serialize)]
pub struct FleetStatus {
    pub generated_at: Time,
    pub hosts: Vec<HostStatus>,
    /// Every slave's daemon, in config order.
    pub daemons: Vec<BucardoStatus>,
    pub syncs: Vec<SyncStatus>,
    /// Bucardo's own health: delta tables, conflicts, readiness to take over.
    pub health: crate::health::Health,
    pub verdict: crate::verdict::Verdict,
}

/// A sync that has not run for this long while changes wait is stuck:
/// the heartbeat makes a healthy one run every few seconds.
pub const STALE_AFTER_SECS: i64 = 60;

/// The sync a slave's daemon runs: the stack names it after the slave.
pub fn sync_of(slave: &str) -> String {
    format!("archive_{slave}")
}

pub fn assemble(
    config: &Config,
    thresholds: Thresholds,
    observations: &[HostObservation],
    now: Time,
) -> FleetStatus {
    let hosts: Vec<HostStatus> = observations
        .iter()
        .map(|o| HostStatus {
            name: o.host.name.clone(),
            role: o.host.role,
            state: o.state,
            error: o.error.clone(),
            observed_at: o.observed_at,
            containers: o.containers.clone(),
            heartbeat: o.heartbeat,
        })
        .collect();
    let master = observations.iter().find(|o| o.host.role == Role::Master);
    let master_heartbeat = master.and_then(|m| m.heartbeat);
    let registry = master.and_then(|m| m.fleet.as_ref());
    let registered = |name: &str| -> Option<&RegisteredSlave> {
        registry.and_then(|r| r.slaves.iter().find(|s| s.name == name))
    };

    let mut daemons = Vec::new();
    let mut syncs = Vec::new();
    for o in observations.iter().filter(|o| o.host.role == Role::Slave) {
        let name = &o.host.name;
        let expected = sync_of(name);
        let reg = registered(name);
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
    // Slaves the master knows that the config does not: their lag shows.
    for r in registry.map(|r| r.slaves.as_slice()).unwrap_or_default() {
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
            syncs.push(SyncStatus {
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
    let health = health(observations);
    let verdict = judge(
        &hosts,
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
    .with(crate::health::findings(&health, &thresholds));
    FleetStatus {
        generated_at: now,
        hosts,
        daemons,
        syncs,
        health,
        verdict,
    }
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
fn health(observations: &[HostObservation]) -> crate::health::Health {
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
mod tests {
    use super::*;
    use crate::model::{HostFailure, SyncState};
    use crate::observation::{BucardoRead, FleetRead, OpsEvent, OpsRead, Pending};
    use chrono::TimeZone;

    fn config() -> Config {
        Config::parse(
            "[[hosts]]\nname = \"m\"\nrole = \"master\"\nssh = \"m\"\n[[hosts]]\nname = \"s\"\nrole = \"slave\"\nssh = \"s\"\n[defaults]\nservices = []\n",
            std::path::Path::new("t.toml"),
        )
        .unwrap()
    }

    fn at(s: i64) -> Time {
        chrono::Utc.timestamp_opt(1_700_000_000 + s, 0).unwrap()
    }

    fn obs(c: &Config, i: usize, heartbeat: Option<Time>) -> HostObservation {
        HostObservation {
            host: c.hosts()[i].clone(),
            state: HostState::Up,
            error: None,
            observed_at: at(0),
            containers: Vec::new(),
            heartbeat,
            bucardo: None,
            fleet: None,
            health: None,
        }
    }

    fn master(c: &Config, pending: Option<Pending>) -> HostObservation {
        let mut m = obs(c, 0, Some(at(10)));
        m.fleet = Some(FleetRead {
            slaves: vec![RegisteredSlave {
                name: "s".into(),
                address: "10.0.0.2:5432".into(),
                seen_at: Some(at(0)),
                retired_at: None,
                pending,
            }],
            error: None,
        });
        m
    }

    fn read(titles: &[&str]) -> BucardoRead {
        BucardoRead {
            status: BucardoStatus {
                host: "s".into(),
                daemon: DaemonState::Unknown,
                detail: None,
                since: None,
                version: Some("5.6.0".into()),
                error: None,
                observed_at: at(0),
            },
            syncs: vec![SyncRow {
                name: "archive_s".into(),
                dbgroup: "s_grp".into(),
                targets: "s".into(),
                facts: SyncFacts {
                    sync_status: "active".into(),
                    last_good: Some(at(-3)),
                    ..Default::default()
                },
                last_error: None,
                inserts: Some(1),
                deletes: Some(0),
                conflicts: Some(0),
            }],
            processes: Some(titles.iter().map(|t| t.to_string()).collect()),
            ops: Some(OpsRead {
                phase: "running".into(),
                phase_since: at(-100),
                detail: None,
                events: vec![OpsEvent {
                    at: at(-100),
                    kind: "main_loop".into(),
                    sync: None,
                    detail: None,
                }],
            }),
        }
    }

    const MCP: &str = "Bucardo Master Control Program v5.6.0. Active syncs: archive_s";
    const CTL: &str =
        r#"Bucardo Controller. Sync "archive_s" for relgroup "archive" to dbs "s_grp""#;

    #[test]
    fn sync_gets_lag_from_the_master_and_heartbeat_lag() {
        let c = config();
        let m = master(
            &c,
            Some(Pending {
                rows: 100,
                lag_seconds: 12.5,
            }),
        );
        let mut s = obs(&c, 1, Some(at(4)));
        s.bucardo = Some(read(&[MCP, CTL]));
        let fleet = assemble(&c, c.thresholds, &[m, s], at(0));
        let sync = &fleet.syncs[0];
        assert_eq!(sync.state, SyncState::Good);
        assert_eq!(sync.host, "s");
        assert_eq!(sync.pending_rows, Some(100));
        assert_eq!(sync.lag_seconds, Some(12.5));
        assert_eq!(sync.heartbeat_lag_seconds, Some(6.0));
        assert_eq!(fleet.daemons[0].daemon, DaemonState::Up);
        assert_eq!(fleet.verdict.exit_code, 0, "{:?}", fleet.verdict);
    }

    #[test]
    fn an_unreachable_slave_keeps_its_lag_and_is_unknown() {
        let c = config();
        let m = master(
            &c,
            Some(Pending {
                rows: 5,
                lag_seconds: 40.0,
            }),
        );
        let s = HostObservation::failed(
            &c.hosts()[1],
            HostFailure::new(HostState::Unreachable, "ssh s: connection lost"),
            at(0),
        );
        let fleet = assemble(&c, c.thresholds, &[m, s], at(0));
        let sync = &fleet.syncs[0];
        assert_eq!(sync.state, SyncState::Unknown);
        assert!(sync.reason.as_deref().unwrap().contains("connection lost"));
        assert_eq!(sync.lag_seconds, Some(40.0));
        assert_eq!(fleet.daemons[0].daemon, DaemonState::Unknown);
        assert_eq!(fleet.verdict.exit_code, 2);
    }

    #[test]
    fn a_dropped_sync_is_critical() {
        let c = config();
        let m = master(
            &c,
            Some(Pending {
                rows: 0,
                lag_seconds: 3.0,
            }),
        );
        let mut s = obs(&c, 1, Some(at(4)));
        s.bucardo = Some(read(&[
            "Bucardo Master Control Program v5.6.0. Active syncs: ",
        ]));
        let fleet = assemble(&c, c.thresholds, &[m, s], at(0));
        assert_eq!(fleet.syncs[0].state, SyncState::Dropped);
        assert_eq!(fleet.verdict.exit_code, 2);
    }

    #[test]
    fn a_registered_slave_missing_from_the_config_shows() {
        let c = config();
        let mut m = master(&c, None);
        m.fleet.as_mut().unwrap().slaves[0].name = "other".into();
        let fleet = assemble(&c, c.thresholds, &[m, obs(&c, 1, None)], at(0));
        assert!(fleet.syncs.iter().any(|s| s.name == "archive_other"
            && s.reason
                .as_deref()
                .unwrap()
                .contains("not in archtui's config")));
    }

    #[test]
    fn bucardos_health_shows_and_is_judged() {
        use crate::health::{ConflictRead, DeltaRead, Growth, HealthRead, SeqRead};
        let c = config();
        let mut m = master(
            &c,
            Some(Pending {
                rows: 0,
                lag_seconds: 1.0,
            }),
        );
        let seq = |next, max| SeqRead {
            table: "public.items".into(),
            column: "id".into(),
            sequence: "public.items_id_seq".into(),
            next: Some(next),
            max: Some(max),
        };
        m.health = Some(HealthRead {
            delta: vec![DeltaRead {
                table: "public.items".into(),
                delta_rows: 500_000,
                delta_bytes: 40_000_000,
                track_rows: 10,
                track_bytes: 8192,
                growth: Some(Growth {
                    rows_per_hour: 60_000.0,
                    window_secs: 600.0,
                }),
            }],
            sequences: vec![seq(1001, 1000)],
            ..Default::default()
        });
        let mut s = obs(&c, 1, Some(at(10)));
        s.bucardo = Some(read(&[MCP, CTL]));
        s.health = Some(HealthRead {
            sequences: vec![seq(1, 1000)],
            conflicts: vec![ConflictRead {
                sync: "archive_s".into(),
                total: 2,
                tables: vec!["public.items".into()],
            }],
            copy: Some(("public.items".into(), 10)),
            ..Default::default()
        });
        let fleet = assemble(&c, c.thresholds, &[m, s], at(0));
        let h = &fleet.health;
        assert_eq!(h.delta_tables[0].growth_rows_per_hour, Some(60_000.0));
        let sh = &h.slaves[0];
        assert_eq!(sh.ready_to_take_over, Some(false));
        assert_eq!(sh.sequences[0].drift, Some(1000));
        assert!(
            sh.copy.as_deref().unwrap().contains("public.items 10 rows"),
            "{:?}",
            sh.copy
        );
        assert_eq!(fleet.verdict.exit_code, 2, "a conflict is critical");
        let msgs: Vec<&str> = fleet
            .verdict
            .reasons
            .iter()
            .map(|f| f.message.as_str())
            .collect();
        assert!(
            msgs[0].contains("conflicts on a one-way sync (table public.items)"),
            "{msgs:?}"
        );
        assert!(
            msgs.iter().any(|m| m.contains("growing 60000 rows/h")),
            "{msgs:?}"
        );
        let v = serde_json::to_value(&fleet).unwrap();
        assert_eq!(v["health"]["slaves"][0]["ready_to_take_over"], false);
        assert_eq!(v["health"]["delta_tables"][0]["delta_rows"], 500_000);
    }

    #[test]
    fn json_shape() {
        let c = config();
        let m = master(
            &c,
            Some(Pending {
                rows: 100,
                lag_seconds: 12.5,
            }),
        );
        let mut s = obs(&c, 1, Some(at(10)));
        s.bucardo = Some(read(&[MCP, CTL]));
        let fleet = assemble(&c, c.thresholds, &[m, s], at(0));
        let v = serde_json::to_value(&fleet).unwrap();
        assert_eq!(v["hosts"][0]["name"], "m");
        assert_eq!(v["hosts"][0]["role"], "master");
        assert_eq!(v["hosts"][1]["state"], "up");
        assert!(v["hosts"][0]["containers"].is_array());
        assert_eq!(v["daemons"][0]["host"], "s");
        assert_eq!(v["daemons"][0]["daemon"], "up");
        assert_eq!(v["daemons"][0]["version"], "5.6.0");
        let sync = &v["syncs"][0];
        assert_eq!(sync["name"], "archive_s");
        assert_eq!(sync["host"], "s");
        assert_eq!(sync["target"], "s");
        assert_eq!(sync["state"], "good");
        assert!(sync["reason"].is_null() && sync["paused_by"].is_null() && sync["since"].is_null());
        assert_eq!(sync["pending_rows"], 100);
        assert_eq!(sync["lag_seconds"], 12.5);
        assert!(
            sync["last_good"].is_string()
                && sync["last_bad"].is_null()
                && sync["last_error"].is_null()
        );
        assert_eq!(v["verdict"]["level"], "ok");
        assert_eq!(v["verdict"]["exit_code"], 0);
    }
}
