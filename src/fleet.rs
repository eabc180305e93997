//! Turns one round of per-host observations into the fleet's status:
//! sync states, lag, the heartbeat cross-check and the verdict. Pure.

use chrono::Utc;

use crate::config::{Config, Role, Thresholds};
use crate::model::{DaemonState, FleetStatus, HostStatus, SyncStatus, Time};
use crate::observation::{BucardoRead, HostObservation};
use crate::status::sync_state;
use crate::verdict::{judge, Expectations};

pub fn assemble(
    config: &Config,
    thresholds: Thresholds,
    observations: &[HostObservation],
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
    let read = master.and_then(|m| m.bucardo.as_ref());
    let master_heartbeat = master.and_then(|m| m.heartbeat);
    let syncs = read
        .map(|r| syncs(r, master_heartbeat, observations))
        .unwrap_or_default();
    let bucardo = read.map(|r| r.status.clone());
    let verdict = judge(
        &hosts,
        bucardo.as_ref(),
        &syncs,
        &Expectations {
            services: &config.defaults.services,
            thresholds,
        },
    );
    FleetStatus {
        generated_at: Utc::now(),
        hosts,
        bucardo,
        syncs,
        verdict,
    }
}

fn syncs(
    read: &BucardoRead,
    master_heartbeat: Option<Time>,
    observations: &[HostObservation],
) -> Vec<SyncStatus> {
    read.syncs
        .iter()
        .map(|row| {
            let mut facts = row.facts.clone();
            // A missing controller only means "paused" while the daemon runs.
            facts.controller_running = match (&read.controllers, read.status.daemon) {
                (Some(c), DaemonState::Up) => Some(c.contains(&row.name)),
                _ => None,
            };
            let pending = row.pending;
            let target_heartbeat = observations
                .iter()
                .find(|o| crate::model::targets_host(&row.targets, &o.host.name))
                .and_then(|o| o.heartbeat);
            SyncStatus {
                name: row.name.clone(),
                target: row.targets.clone(),
                dbgroup: row.dbgroup.clone(),
                state: sync_state(&facts),
                run_status: facts.running.clone(),
                last_good: facts.last_success(),
                last_bad: facts.last_bad,
                last_error: row.last_error.clone(),
                inserts: row.inserts,
                deletes: row.deletes,
                conflicts: row.conflicts,
                pending_rows: pending.map(|p| p.rows),
                lag_seconds: pending.map(|p| p.lag_seconds),
                heartbeat_lag_seconds: match (master_heartbeat, target_heartbeat) {
                    (Some(m), Some(t)) => {
                        Some(((m - t).num_milliseconds() as f64 / 1000.0).max(0.0))
                    }
                    _ => None,
                },
                observed_at: read.status.observed_at,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{BucardoStatus, HostState, SyncState};
    use crate::observation::{Pending, SyncRow};
    use crate::status::SyncFacts;
    use chrono::TimeZone;

    fn config() -> Config {
        Config::parse(
            "[[hosts]]\nname = \"m\"\nrole = \"master\"\nssh = \"m\"\n[[hosts]]\nname = \"s\"\nrole = \"slave\"\nssh = \"s\"\n[defaults]\nservices = []\n",
            std::path::Path::new("t.toml"),
        )
        .unwrap()
    }

    fn at(s: i64) -> Time {
        Utc.timestamp_opt(1_700_000_000 + s, 0).unwrap()
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
        }
    }

    fn read(daemon: DaemonState, controllers: Option<Vec<String>>) -> BucardoRead {
        BucardoRead {
            status: BucardoStatus {
                host: "m".into(),
                daemon,
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
                pending: Some(Pending {
                    rows: 100,
                    lag_seconds: 12.5,
                }),
            }],
            controllers,
        }
    }

    #[test]
    fn sync_gets_lag_heartbeat_and_pause() {
        let c = config();
        let mut m = obs(&c, 0, Some(at(10)));
        m.bucardo = Some(read(DaemonState::Up, Some(vec![])));
        let fleet = assemble(&c, c.thresholds, &[m, obs(&c, 1, Some(at(4)))]);
        let s = &fleet.syncs[0];
        assert_eq!(s.state, SyncState::Paused);
        assert_eq!(s.pending_rows, Some(100));
        assert_eq!(s.lag_seconds, Some(12.5));
        assert_eq!(s.heartbeat_lag_seconds, Some(6.0));
        assert_eq!(fleet.verdict.exit_code, 1);
    }

    #[test]
    fn daemon_down_does_not_claim_paused() {
        let c = config();
        let mut m = obs(&c, 0, None);
        m.bucardo = Some(read(DaemonState::Down, Some(vec![])));
        let fleet = assemble(&c, c.thresholds, &[m, obs(&c, 1, None)]);
        assert_eq!(fleet.syncs[0].state, SyncState::Good);
        assert_eq!(fleet.verdict.exit_code, 2);
    }

    #[test]
    fn json_shape() {
        let c = config();
        let mut m = obs(&c, 0, Some(at(10)));
        m.bucardo = Some(read(DaemonState::Up, Some(vec!["archive_s".into()])));
        let fleet = assemble(&c, c.thresholds, &[m, obs(&c, 1, Some(at(10)))]);
        let v = serde_json::to_value(&fleet).unwrap();
        assert_eq!(v["hosts"][0]["name"], "m");
        assert_eq!(v["hosts"][0]["role"], "master");
        assert_eq!(v["hosts"][1]["state"], "up");
        assert!(v["hosts"][0]["containers"].is_array());
        assert_eq!(v["bucardo"]["daemon"], "up");
        assert_eq!(v["bucardo"]["version"], "5.6.0");
        let s = &v["syncs"][0];
        assert_eq!(s["name"], "archive_s");
        assert_eq!(s["target"], "s");
        assert_eq!(s["state"], "good");
        assert_eq!(s["pending_rows"], 100);
        assert_eq!(s["lag_seconds"], 12.5);
        assert!(s["last_good"].is_string() && s["last_bad"].is_null() && s["last_error"].is_null());
        assert_eq!(v["verdict"]["level"], "ok");
        assert_eq!(v["verdict"]["exit_code"], 0);
    }
}
