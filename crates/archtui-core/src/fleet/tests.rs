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
const CTL: &str = r#"Bucardo Controller. Sync "archive_s" for relgroup "archive" to dbs "s_grp""#;

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
    let round = [m, s];
    let fleet = assemble(&c, c.thresholds, &round, at(0));
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
    let round = [m, s];
    let fleet = assemble(&c, c.thresholds, &round, at(0));
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
    let round = [m, s];
    let fleet = assemble(&c, c.thresholds, &round, at(0));
    assert_eq!(fleet.syncs[0].state, SyncState::Dropped);
    assert_eq!(fleet.verdict.exit_code, 2);
}

#[test]
fn a_registered_slave_missing_from_the_config_shows() {
    let c = config();
    let mut m = master(&c, None);
    m.fleet.as_mut().unwrap().slaves[0].name = "other".into();
    let round = [m, obs(&c, 1, None)];
    let fleet = assemble(&c, c.thresholds, &round, at(0));
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
    let round = [m, s];
    let fleet = assemble(&c, c.thresholds, &round, at(0));
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
    let round = [m, s];
    let fleet = assemble(&c, c.thresholds, &round, at(0));
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
        sync["last_good"].is_string() && sync["last_bad"].is_null() && sync["last_error"].is_null()
    );
    assert_eq!(v["verdict"]["level"], "ok");
    assert_eq!(v["verdict"]["exit_code"], 0);
}

/// `archtui status --json`'s HOST, byte for byte: lab tests and operators'
/// scripts parse it, so its fields, their order and values are pinned.
#[test]
fn a_host_in_the_json_is_pinned() {
    let c = config();
    let mut m = obs(&c, 0, Some(at(10)));
    m.containers = vec![
        crate::model::Container {
            service: "db".into(),
            name: "archive-db-1".into(),
            state: "running".into(),
            health: Some("healthy".into()),
            restarts: 2,
            started_at: Some(at(-60)),
            image: "postgres:16".into(),
        },
        crate::model::Container {
            service: "app".into(),
            name: "archive-app-1".into(),
            state: "exited".into(),
            health: None,
            restarts: 0,
            started_at: None,
            image: "archive-app:latest".into(),
        },
    ];
    let s = HostObservation::failed(
        &c.hosts()[1],
        HostFailure::new(HostState::Unreachable, "ssh s: connection lost"),
        at(1),
    );
    let json = serde_json::to_string(&assemble(&c, c.thresholds, &[m, s], at(2))).unwrap();
    assert!(
        json.starts_with(r#"{"generated_at":"2023-11-14T22:13:22Z","hosts":["#),
        "{json}"
    );
    let hosts = &json[json.find(r#""hosts":"#).unwrap()..json.find(r#","daemons":"#).unwrap()];
    assert_eq!(
        hosts,
        concat!(
            r#""hosts":["#,
            r#"{"name":"m","role":"master","state":"up","error":null,"observed_at":"2023-11-14T22:13:20Z","#,
            r#""containers":["#,
            r#"{"service":"db","name":"archive-db-1","state":"running","health":"healthy","restarts":2,"started_at":"2023-11-14T22:12:20Z","image":"postgres:16"},"#,
            r#"{"service":"app","name":"archive-app-1","state":"exited","health":null,"restarts":0,"started_at":null,"image":"archive-app:latest"}"#,
            r#"],"heartbeat":"2023-11-14T22:13:30Z"},"#,
            r#"{"name":"s","role":"slave","state":"unreachable","error":"ssh s: connection lost","observed_at":"2023-11-14T22:13:21Z","containers":[],"heartbeat":null}"#,
            r#"]"#
        )
    );
}
