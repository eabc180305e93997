//! A small fleet in known states, for the update and view tests.

use chrono::TimeZone;

use crate::app::keymap::Keymap;
use crate::app::logbuf::LogLine;
use crate::app::sanitize::sanitize;
use crate::app::{update, Model, Msg};
use crate::config::Config;
use crate::model::{BucardoStatus, Container, DaemonState, HostFailure, HostState, Time};
use crate::observation::{BucardoRead, HostObservation, Pending, SyncRow};
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
    }
}

/// The master's Bucardo read, with `controller` false meaning paused.
pub fn bucardo(observed: i64, controller: bool, pending: i64, lag: f64) -> BucardoRead {
    BucardoRead {
        status: BucardoStatus {
            host: "cavaforgepad".into(),
            daemon: DaemonState::Up,
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
            pending: Some(Pending {
                rows: pending,
                lag_seconds: lag,
            }),
        }],
        controllers: Some(if controller {
            vec!["archive_jukebox".into()]
        } else {
            vec![]
        }),
    }
}

fn send(m: &mut Model, o: HostObservation) {
    update(m, Msg::Observation(Box::new(o)));
}

/// Both hosts up, the sync good, with some lag history.
pub fn healthy() -> Model {
    let mut m = model();
    for (k, lag) in [0.5, 1.0, 3.0, 2.0, 0.2, 6.0, 1.5, 0.4].iter().enumerate() {
        let t = 40 + 5 * k as i64;
        let mut master = host_obs(&m, 0, t);
        master.bucardo = Some(bucardo(t, true, 0, *lag));
        send(&mut m, master);
    }
    let slave = host_obs(&m, 1, 98);
    send(&mut m, slave);
    let mut master = host_obs(&m, 0, 99);
    master.bucardo = Some(bucardo(99, true, 0, 0.3));
    send(&mut m, master);
    m
}

/// jukebox stopped answering 40 s after it was last heard.
pub fn jukebox_unreachable() -> Model {
    let mut m = healthy();
    let host = m.config.hosts()[1].clone();
    let mut o = HostObservation::failed(
        &host,
        HostFailure::new(
            HostState::Unreachable,
            "ssh jukebox: connection not answering within 1 s",
        ),
    );
    o.observed_at = at(99);
    send(&mut m, o);
    m.now = at(138);
    m
}

/// The sync paused on the master with rows piling up.
pub fn sync_paused() -> Model {
    let mut m = healthy();
    for (k, t) in [100, 105, 110].iter().enumerate() {
        let mut master = host_obs(&m, 0, *t);
        master.bucardo = Some(bucardo(
            *t,
            false,
            1500 * (k as i64 + 1),
            20.0 + 40.0 * k as f64,
        ));
        master.bucardo.as_mut().unwrap().syncs[0].facts.last_good = Some(at(96));
        send(&mut m, master);
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
        line: sanitize(text.as_bytes(), crate::app::sanitize::MAX_LINE_CHARS),
    }
}

/// `healthy()` with jukebox's db tailed and `n` lines in the pane.
pub fn with_log(n: usize) -> Model {
    use crossterm::event::{KeyCode, KeyEvent};
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

/// The healthy fleet as `archtui status` assembles it.
pub fn fleet_status() -> crate::model::FleetStatus {
    let m = model();
    let mut master = host_obs(&m, 0, 99);
    master.bucardo = Some(bucardo(99, true, 0, 0.3));
    let slave = host_obs(&m, 1, 98);
    crate::fleet::assemble(&m.config, m.config.thresholds, &[master, slave])
}
