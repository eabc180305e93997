#![allow(clippy::unwrap_used, clippy::expect_used)]
//! A small fleet in known states, for the update and view tests.

use chrono::TimeZone;

use crate::app::logbuf::LogLine;
use crate::app::{update, Model, Msg};
use crate::config::Config;
use crate::keymap::Keymap;
use crate::model::{BucardoStatus, Container, DaemonState, HostFailure, HostState, Time};
use crate::observation::{
    BucardoRead, FleetRead, HostObservation, OpsEvent, OpsRead, Pending, RegisteredSlave, SyncRow,
};
use crate::sanitize::sanitize;
use crate::status::SyncFacts;

pub const CONFIG: &str = r#"
[[hosts]]
name = "cavaforgepad"
role = "master"
ssh = "cavaforgepad"

[[hosts]]
name = "jukebox"
role = "slave"
ssh = "jukebox"
"#;

pub fn at(s: i64) -> Time {
    chrono::Utc.timestamp_opt(1_700_000_000 + s, 0).unwrap()
}

pub fn config() -> Config {
    Config::parse(CONFIG, std::path::Path::new("test.toml")).unwrap()
}

/// A model at time `at(100)` with nothing observed yet.
pub fn model() -> Model {
    let mut m = Model::new(config(), Keymap::default(), at(100));
    m.size = (80, 24);
    m
}

fn container(service: &str, health: &str, restarts: i64) -> Container {
    Container {
        service: service.into(),
        name: format!("archive-{service}-1"),
        state: "running".into(),
        health: (!health.is_empty()).then(|| health.into()),
        restarts,
        started_at: Some(at(-3600)),
        image: format!("archive-{service}:latest"),
    }
}

pub fn host_obs(m: &Model, i: usize, observed: i64) -> HostObservation {
    let host = m.config.hosts()[i].clone();
    let containers = vec![
        container("app", "healthy", 0),
        container("bucardo", "healthy", if i == 0 { 2 } else { 0 }),
        container("db", "healthy", 0),
    ];
    HostObservation {
        host,
        state: HostState::Up,
        error: None,
        observed_at: at(observed),
        containers,
        heartbeat: Some(at(observed - 1)),
        bucardo: None,
        fleet: None,
        health: None,
    }
}

/// jukebox's own daemon as its control database, process list and
/// supervisor show it; `controller` false with `paused_by` a pause.
pub fn bucardo(observed: i64, controller: bool, paused_by: Option<&str>) -> BucardoRead {
    let mut titles =
        vec!["Bucardo Master Control Program v5.6.0. Active syncs: archive_jukebox".to_string()];
    if controller {
        titles.push(
            r#"Bucardo Controller. Sync "archive_jukebox" for relgroup "archive" to dbs "jukebox_grp""#
                .into(),
        );
    }
    let mut events = vec![OpsEvent {
        at: at(0),
        kind: "main_loop".into(),
        sync: None,
        detail: None,
    }];
    if let Some(by) = paused_by {
        events.push(OpsEvent {
            at: at(97),
            kind: "paused".into(),
            sync: Some("archive_jukebox".into()),
            detail: Some(by.into()),
        });
    }
    BucardoRead {
        status: BucardoStatus {
            host: "jukebox".into(),
            daemon: DaemonState::Unknown,
            detail: None,
            since: None,
            version: Some("5.6.0".into()),
            error: None,
            observed_at: at(observed),
        },
        syncs: vec![SyncRow {
            name: "archive_jukebox".into(),
            dbgroup: "jukebox_grp".into(),
            targets: "jukebox".into(),
            facts: SyncFacts {
                sync_status: "active".into(),
                last_good: Some(at(observed - 4)),
                ..Default::default()
            },
            last_error: None,
            inserts: Some(120),
            deletes: Some(3),
            conflicts: Some(0),
        }],
        processes: Some(titles),
        ops: Some(OpsRead {
            phase: "running".into(),
            phase_since: at(0),
            detail: None,
            events,
        }),
    }
}

/// The master's registry: jukebox with `pending` rows, the oldest `lag` s old.
pub fn registry(observed: i64, pending: i64, lag: f64) -> FleetRead {
    FleetRead {
        slaves: vec![RegisteredSlave {
            name: "jukebox".into(),
            address: "192.168.1.201:5432".into(),
            seen_at: Some(at(observed - 2)),
            retired_at: None,
            pending: Some(Pending {
                rows: pending,
                lag_seconds: lag,
            }),
        }],
        error: None,
    }
}

/// One round: the master's lag read, then jukebox's own read.
fn round(m: &mut Model, t: i64, slave: BucardoRead, pending: i64, lag: f64) {
    let mut master = host_obs(m, 0, t);
    master.fleet = Some(registry(t, pending, lag));
    send(m, master);
    let mut s = host_obs(m, 1, t);
    s.bucardo = Some(slave);
    send(m, s);
}

fn send(m: &mut Model, o: HostObservation) {
    update(m, Msg::Observation(Box::new(o)));
}

/// Both hosts up, the sync good, with some lag history.
pub fn healthy() -> Model {
    let mut m = model();
    for (k, lag) in [0.5, 1.0, 3.0, 2.0, 0.2, 6.0, 1.5, 0.4].iter().enumerate() {
        let t = 40 + 5 * k as i64;
        round(&mut m, t, bucardo(t, true, None), 0, *lag);
    }
    round(&mut m, 99, bucardo(99, true, None), 0, 0.3);
    m
}

/// jukebox stopped answering 40 s after it was last heard.
pub fn jukebox_unreachable() -> Model {
    let mut m = healthy();
    let host = m.config.hosts()[1].clone();
    let o = HostObservation::failed(
        &host,
        HostFailure::new(
            HostState::Unreachable,
            "ssh jukebox: connection not answering within 1 s",
        ),
        at(99),
    );
    send(&mut m, o);
    m.now = at(138);
    m
}

/// The sync paused by an operator, with rows piling up on the master.
pub fn sync_paused() -> Model {
    let mut m = healthy();
    for (k, t) in [100, 105, 110].iter().enumerate() {
        let mut read = bucardo(*t, false, Some("archtui (alice@laptop)"));
        read.syncs[0].facts.last_good = Some(at(96));
        round(
            &mut m,
            *t,
            read,
            1500 * (k as i64 + 1),
            20.0 + 40.0 * k as f64,
        );
    }
    m.now = at(111);
    m
}

pub fn log_line(source: u16, i: usize) -> LogLine {
    let text = match i % 7 {
        0 => format!("2024-05-01 10:00:{:02} UTC [{}] LOG:  checkpoint starting: time", i % 60, 100 + i),
        3 => format!("\x1b[31mERROR\x1b[0m:  duplicate key value violates unique constraint (row {i})"),
        5 => format!("statement: INSERT INTO archive_item VALUES ({i}, 'a fairly long value that goes past the edge of a small terminal window')"),
        _ => format!("LOG:  connection received: host=10.77.0.1 port={}", 40000 + i),
    };
    LogLine {
        source,
        ts: Some(at(i as i64)),
        line: sanitize(text.as_bytes(), crate::sanitize::MAX_LINE_CHARS),
    }
}

/// `healthy()` with jukebox's db tailed and `n` lines in the pane.
pub fn with_log(n: usize) -> Model {
    use crate::key::{KeyCode, KeyEvent};
    let mut m = healthy();
    let press = |m: &mut Model, c| update(m, Msg::Key(KeyEvent::from(c)));
    press(&mut m, KeyCode::Down);
    press(&mut m, KeyCode::Enter);
    press(&mut m, KeyCode::Down);
    press(&mut m, KeyCode::Down);
    press(&mut m, KeyCode::Enter);
    let stream = m.log.as_ref().unwrap().stream;
    update(
        &mut m,
        Msg::LogLines {
            stream,
            lines: (0..n).map(|i| log_line(0, i)).collect(),
        },
    );
    m
}

/// One round of the healthy fleet as `archtui status` observes it.
pub struct Round {
    pub config: Config,
    pub hosts: Vec<HostObservation>,
}

pub fn fleet_round() -> Round {
    let m = model();
    let mut master = host_obs(&m, 0, 99);
    master.fleet = Some(registry(99, 0, 0.3));
    let mut slave = host_obs(&m, 1, 98);
    slave.bucardo = Some(bucardo(98, true, None));
    Round {
        config: m.config,
        hosts: vec![master, slave],
    }
}

impl Round {
    /// The round as `archtui status` assembles it.
    pub fn status(&self) -> crate::fleet::FleetStatus<'_> {
        crate::fleet::assemble(&self.config, self.config.thresholds, &self.hosts, at(100))
    }
}
