//! Drills: the incidents operators meet, injected for real while rows are
//! written on the master. Each drill asserts that no row is lost (every
//! replicated table's count and digest equal on master and slave), that
//! replication resumes with no operator action within a bound, and that
//! `status --json` shows only states that are really happening (never a
//! `paused` nobody asked for). Each prints
//! `figure: drill <name>: <rows> rows written during the fault, 0 lost, healed in N s`.
//! Run with the lab up and ARCHTUI_LAB=1 (README).

// Its helpers unwrap outside #[test] fns (clippy.toml covers only those).
#![allow(clippy::unwrap_used)]

use crate::common;

use std::collections::BTreeSet;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::common::cli::{Checkout, Running, State};
use crate::common::Lab;
use serde_json::Value;

const MASTER: &str = "cavaforgepad";
const SLAVE: &str = "jukebox";
const SPARE: &str = "turntable";
/// Goal: every drill heals within this after its fault is cleared.
const HEAL_WITHIN: Duration = Duration::from_secs(30);
/// What the drills assert: a bound the goal leaves room under.
const HEAL_BOUND: Duration = Duration::from_secs(60);

fn addr(host: &str) -> &'static str {
    match host {
        MASTER => "10.77.0.1",
        SLAVE => "10.77.0.2",
        _ => "10.77.0.3",
    }
}

fn password(lab: &Lab) -> String {
    std::fs::read_to_string(lab.state.join("secrets/bucardo_password"))
        .unwrap()
        .trim()
        .to_string()
}

async fn connect(pw: &str, host: &str) -> Option<tokio_postgres::Client> {
    let mut cfg = tokio_postgres::Config::new();
    cfg.host(addr(host))
        .port(5432)
        .user("bucardo")
        .password(pw)
        .dbname(common::ARCHIVE_DB)
        .connect_timeout(Duration::from_secs(2));
    let (client, conn) = cfg.connect(tokio_postgres::NoTls).await.ok()?;
    tokio::spawn(conn);
    Some(client)
}

/// Writes a row on the master every 50 ms (20 rows/s), reconnecting
/// whenever the master goes away; counts the rows it knows committed.
struct Writer {
    stop: Arc<AtomicBool>,
    written: Arc<AtomicU64>,
    handle: Option<JoinHandle<()>>,
}

impl Writer {
    fn start(lab: &Lab, tag: &str) -> Writer {
        let stop = Arc::new(AtomicBool::new(false));
        let written = Arc::new(AtomicU64::new(0));
        let (s, w, pw, tag) = (
            stop.clone(),
            written.clone(),
            password(lab),
            tag.to_string(),
        );
        let handle = std::thread::spawn(move || {
            let rt = tokio::runtime::Runtime::new().unwrap();
            rt.block_on(async move {
                let mut client = None;
                let mut n = 0u64;
                while !s.load(Ordering::Relaxed) {
                    if client.is_none() {
                        client = connect(&pw, MASTER).await;
                    }
                    if let Some(c) = &client {
                        let name = format!("{tag}-{n}");
                        let r = tokio::time::timeout(
                            Duration::from_secs(5),
                            c.execute("INSERT INTO collections (name) VALUES ($1)", &[&name]),
                        )
                        .await;
                        match r {
                            Ok(Ok(_)) => {
                                n += 1;
                                w.store(n, Ordering::Relaxed);
                            }
                            _ => client = None,
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            });
        });
        Writer {
            stop,
            written,
            handle: Some(handle),
        }
    }

    fn written(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }

    fn finish(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
        self.written()
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// `status --json` every second in the background: which states each
/// slave's sync was shown in, and when.
struct Watch {
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Vec<(Instant, String, String)>>>,
    handle: Option<JoinHandle<()>>,
}

impl Watch {
    fn start(config: &std::path::Path) -> Watch {
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (s, out, config) = (stop.clone(), seen.clone(), config.to_path_buf());
        let handle = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                let o = Command::new(env!("CARGO_BIN_EXE_archtui"))
                    .args(["status", "--json"])
                    .env("ARCHTUI_CONFIG", &config)
                    .output();
                if let Ok(o) = o {
                    if let Ok(v) = serde_json::from_slice::<Value>(&o.stdout) {
                        for sync in v["syncs"].as_array().cloned().unwrap_or_default() {
                            let host = sync["host"].as_str().unwrap_or("?").to_string();
                            let state = sync["state"].as_str().unwrap_or("?").to_string();
                            out.lock().unwrap().push((Instant::now(), host, state));
                        }
                    }
                }
                std::thread::sleep(Duration::from_millis(700));
            }
        });
        Watch {
            stop,
            seen,
            handle: Some(handle),
        }
    }

    /// States shown for `host`'s sync between `from` and `to`.
    fn states(&self, host: &str, from: Instant, to: Instant) -> BTreeSet<String> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|(t, h, _)| h == host && *t >= from && *t <= to)
            .map(|(_, _, s)| s.clone())
            .collect()
    }

    fn all(&self) -> BTreeSet<String> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .map(|(_, _, s)| s.clone())
            .collect()
    }

    fn stop(mut self) -> Watch {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
        self
    }
}

const GOOD: [&str; 3] = ["good", "running", "empty"];

/// Writes a marker row on the master and times its arrival on `slave`.
fn time_to_replicate(lab: &Lab, slave: &str, marker: &str, within: Duration) -> Option<Duration> {
    let start = Instant::now();
    let written = common::wait_until(within, Duration::from_millis(200), || {
        lab.try_psql(
            MASTER,
            common::ARCHIVE_DB,
            &format!("INSERT INTO collections (name) VALUES ('{marker}')"),
        )
        .ok()
    });
    written.ok()?;
    let left = within.saturating_sub(start.elapsed());
    common::wait_until(left, Duration::from_millis(100), || {
        (lab.try_psql(
            slave,
            common::ARCHIVE_DB,
            &format!("SELECT count(*) FROM collections WHERE name = '{marker}'"),
        )
        .ok()?
            == "1")
            .then_some(())
    })
    .ok()?;
    Some(start.elapsed())
}

struct Drill<'a> {
    lab: &'a Lab,
    /// The archtui config status reads (the lab's, or one with turntable).
    config: std::path::PathBuf,
    name: &'static str,
    slaves: &'static [&'static str],
    /// States `status` may truly show for the slaves' syncs during the
    /// fault and the heal; `must_see`: at least one of these during it.
    allowed: &'static [&'static str],
    must_see: &'static [&'static str],
}

impl Drill<'_> {
    /// Writes during `fault` (which injects the fault and clears it, and
    /// returns when it is cleared), then measures the heal and checks
    /// every row arrived and every state shown was true.
    fn run(&self, fault: impl FnOnce()) -> Duration {
        let lab = self.lab;
        wait_all_good(&self.config, self.slaves, Duration::from_secs(180));
        let tag = common::tag(&format!("drill-{}", self.name));
        let writer = Writer::start(lab, &tag);
        let watch = Watch::start(&self.config);
        std::thread::sleep(Duration::from_secs(2));
        let before = writer.written();
        let fault_start = Instant::now();
        fault();
        let cleared = Instant::now();
        let during = writer.written() - before;
        // Healed: a row written now reaches every slave.
        let mut healed = Duration::ZERO;
        for s in self.slaves {
            let took = time_to_replicate(lab, s, &format!("{tag}-marker-{s}"), HEAL_BOUND)
                .unwrap_or_else(|| {
                    panic!(
                        "drill {}: {s} did not replicate within {HEAL_BOUND:?} after the fault cleared:\n{}",
                        self.name,
                        common::all_text(&lab.compose(s, "slave", "logs --tail 40 bucardo"))
                    )
                });
            healed = healed.max(took);
        }
        wait_all_good(&self.config, self.slaves, Duration::from_secs(60));
        let good_at = Instant::now();
        let written = writer.finish();
        // No row lost: every table the same on master and each slave.
        for s in self.slaves {
            lab.wait_same_as_master(s, Duration::from_secs(60));
        }
        let lost = count_missing(lab, &tag);
        let watch = watch.stop();
        for s in self.slaves {
            let shown = watch.states(s, fault_start, good_at);
            let wrong: Vec<&String> = shown
                .iter()
                .filter(|st| !self.allowed.contains(&st.as_str()))
                .collect();
            assert!(
                wrong.is_empty(),
                "drill {}: {s}'s sync was shown {wrong:?}, which did not happen (shown: {shown:?})",
                self.name
            );
            if !self.must_see.is_empty() {
                assert!(
                    shown.iter().any(|st| self.must_see.contains(&st.as_str())),
                    "drill {}: {s}'s sync never showed the fault ({:?}); shown: {shown:?}",
                    self.name,
                    self.must_see
                );
            }
        }
        assert!(
            !watch.all().contains("paused"),
            "drill {}: a paused nobody asked for: {:?}",
            self.name,
            watch.all()
        );
        assert_eq!(lost, 0, "drill {}: rows lost", self.name);
        eprintln!(
            "figure: drill {}: {during} rows written during the fault ({:.0} s), {lost} lost, healed in {:.1} s after it cleared (goal {} s: {}; {written} written in all)",
            self.name,
            cleared.duration_since(fault_start).as_secs_f64(),
            healed.as_secs_f64(),
            HEAL_WITHIN.as_secs(),
            if healed <= HEAL_WITHIN { "met" } else { "MISSED" }
        );
        assert!(
            healed <= HEAL_BOUND,
            "drill {}: healed in {healed:?}",
            self.name
        );
        healed
    }
}

/// The writer's rows the master has and some slave lacks (the digests
/// already compared equal; this names the figure).
fn count_missing(lab: &Lab, tag: &str) -> i64 {
    let q = format!("SELECT count(*) FROM collections WHERE name LIKE '{tag}-%'");
    let m: i64 = lab.psql(MASTER, &q).parse().unwrap_or(-1);
    let s: i64 = lab.psql(SLAVE, &q).parse().unwrap_or(-1);
    m - s
}

/// Every listed slave's sync good in `status --json`.
fn wait_all_good(config: &std::path::Path, slaves: &[&str], within: Duration) {
    let mut last = Value::Null;
    common::wait_until(within, Duration::from_millis(500), || {
        let o = Command::new(env!("CARGO_BIN_EXE_archtui"))
            .args(["status", "--json"])
            .env("ARCHTUI_CONFIG", config)
            .output()
            .ok()?;
        let v: Value = serde_json::from_slice(&o.stdout).ok()?;
        last = v.clone();
        slaves
            .iter()
            .all(|s| {
                v["syncs"].as_array().is_some_and(|a| {
                    a.iter().any(|y| {
                        y["host"] == *s && GOOD.contains(&y["state"].as_str().unwrap_or(""))
                    })
                })
            })
            .then_some(())
    })
    .unwrap_or_else(|w| panic!("syncs of {slaves:?} not good after {w:?}: {last:#}"));
}

fn lab_cmd(lab: &Lab, tool: &str, args: &[&str]) {
    let out = lab.run(tool, args);
    assert!(
        out.status.success(),
        "tests/lab/{tool} {args:?}: {}",
        common::all_text(&out)
    );
}

fn compose_ok(lab: &Lab, host: &str, role: &str, args: &str) {
    let out = lab.compose(host, role, args);
    assert!(
        out.status.success(),
        "{host}: compose {args}: {}",
        common::all_text(&out)
    );
}

/// What losing a database or a link truly shows: the slave unknown while
/// unreachable, the daemon starting or down, the sync dropped, or `bad`
/// when a run was cut off (Bucardo records it failed) until the next one.
const DURING_LOSS: &[&str] = &[
    "bad",
    "good",
    "running",
    "empty",
    "unknown",
    "daemon_starting",
    "daemon_down",
    "dropped",
];

#[test]
#[cfg_attr(not(archtui_lab), ignore = "needs the lab: ARCHTUI_LAB=1")]
fn drill_slave_db_container_recreated() {
    let Some(lab) = common::lab("drill: slave db recreated") else {
        return;
    };
    Drill {
        lab: &lab,
        config: lab.config(),
        name: "slave db recreated",
        slaves: &[SLAVE],
        allowed: DURING_LOSS,
        must_see: &["unknown", "daemon_starting", "daemon_down", "dropped"],
    }
    .run(|| {
        compose_ok(&lab, SLAVE, "slave", "up -d --force-recreate --no-deps db");
    });
}

#[test]
#[cfg_attr(not(archtui_lab), ignore = "needs the lab: ARCHTUI_LAB=1")]
fn drill_slave_dockerd_restarted() {
    let Some(lab) = common::lab("drill: slave dockerd restarted") else {
        return;
    };
    Drill {
        lab: &lab,
        config: lab.config(),
        name: "slave dockerd restarted",
        slaves: &[SLAVE],
        allowed: DURING_LOSS,
        must_see: &["unknown", "daemon_starting", "daemon_down", "dropped"],
    }
    .run(|| lab_cmd(&lab, "dockerd", &[SLAVE, "restart"]));
}

#[test]
#[cfg_attr(not(archtui_lab), ignore = "needs the lab: ARCHTUI_LAB=1")]
fn drill_slave_link_down_60_s() {
    let Some(lab) = common::lab("drill: slave link down") else {
        return;
    };
    let _up = common::restore(|| lab_cmd(&lab, "link", &[SLAVE, "up"]));
    Drill {
        lab: &lab,
        config: lab.config(),
        name: "slave link down 60 s",
        slaves: &[SLAVE],
        allowed: DURING_LOSS,
        must_see: &["unknown"],
    }
    .run(|| {
        lab_cmd(&lab, "link", &[SLAVE, "down"]);
        std::thread::sleep(Duration::from_secs(60));
        lab_cmd(&lab, "link", &[SLAVE, "up"]);
    });
}

#[test]
#[cfg_attr(not(archtui_lab), ignore = "needs the lab: ARCHTUI_LAB=1")]
fn drill_slave_link_flapping() {
    let Some(lab) = common::lab("drill: link flapping") else {
        return;
    };
    let _up = common::restore(|| lab_cmd(&lab, "link", &[SLAVE, "up"]));
    Drill {
        lab: &lab,
        config: lab.config(),
        name: "link flapping 5 times in 30 s",
        slaves: &[SLAVE],
        allowed: DURING_LOSS,
        must_see: &[],
    }
    .run(|| {
        for _ in 0..5 {
            lab_cmd(&lab, "link", &[SLAVE, "down"]);
            std::thread::sleep(Duration::from_secs(3));
            lab_cmd(&lab, "link", &[SLAVE, "up"]);
            std::thread::sleep(Duration::from_secs(3));
        }
    });
}

#[test]
#[cfg_attr(not(archtui_lab), ignore = "needs the lab: ARCHTUI_LAB=1")]
fn drill_master_bucardo_container_restarted() {
    let Some(lab) = common::lab("drill: master bucardo restarted") else {
        return;
    };
    // The master's bucardo only writes the heartbeat: replication goes on.
    Drill {
        lab: &lab,
        config: lab.config(),
        name: "master bucardo restarted",
        slaves: &[SLAVE],
        allowed: &GOOD,
        must_see: &[],
    }
    .run(|| compose_ok(&lab, MASTER, "master", "restart bucardo"));
}

#[test]
#[cfg_attr(not(archtui_lab), ignore = "needs the lab: ARCHTUI_LAB=1")]
fn drill_master_db_restarted() {
    let Some(lab) = common::lab("drill: master db restarted") else {
        return;
    };
    Drill {
        lab: &lab,
        config: lab.config(),
        name: "master db restarted",
        slaves: &[SLAVE],
        allowed: DURING_LOSS,
        must_see: &[],
    }
    .run(|| compose_ok(&lab, MASTER, "master", "restart db"));
}

#[test]
#[cfg_attr(not(archtui_lab), ignore = "needs the lab: ARCHTUI_LAB=1")]
fn drill_daemon_killed_9() {
    let Some(lab) = common::lab("drill: daemon killed") else {
        return;
    };
    Drill {
        lab: &lab,
        config: lab.config(),
        name: "slave daemon killed -9",
        slaves: &[SLAVE],
        allowed: DURING_LOSS,
        must_see: &[],
    }
    .run(|| {
        lab.sh_ok(
            SLAVE,
            "docker exec archive-bucardo-1 sh -c 'kill -9 $(head -1 /var/run/bucardo/bucardo.mcp.pid)'",
        );
        // Cleared at once: what follows is the supervisor's repair.
    });
}

#[test]
#[cfg_attr(not(archtui_lab), ignore = "needs the lab: ARCHTUI_LAB=1")]
fn drill_deploy_interrupted_during_the_recreate() {
    let Some(lab) = common::lab("drill: deploy interrupted") else {
        return;
    };
    let original = common::cli::checkout(&lab, "drill-orig");
    let (changed, _) = common::cli::db_changing_checkout(&lab, "drill");
    let _restore = common::restore(|| common::cli::redeploy(&lab, &original));
    let state = State::new("drill");
    let changed: &Checkout = &changed;
    Drill {
        lab: &lab,
        config: lab.config(),
        name: "deploy interrupted during the recreate",
        slaves: &[SLAVE],
        allowed: DURING_LOSS,
        must_see: &[],
    }
    .run(|| {
        let mut run = Running::start(
            &lab,
            &state,
            &["deploy", "jukebox", "--yes", "--from", changed.path()],
        );
        run.wait_for(&["archive-db-1", "Recreate"], 300);
        run.signal("-TERM");
        assert_eq!(run.wait(20), Some(5), "interrupted: {}", run.text());
        // The job goes on on the host: the fault clears when it is done.
        common::cli::wait_all_healthy(&lab, 300);
    });
    let last = state.audit().last().cloned().unwrap_or(Value::Null);
    assert_eq!(last["result"], "interrupted", "{last}");
}

/// One slave's link down for 3 minutes while the other's latency is
/// measured every few seconds: it stays under 2 s throughout. Then both
/// slaves down at once. turntable is deployed as a second slave first and
/// retired after.
#[test]
#[cfg_attr(not(archtui_lab), ignore = "needs the lab: ARCHTUI_LAB=1")]
fn drill_one_slave_down_3_min_the_other_keeps_its_latency_then_two_down() {
    let Some(lab) = common::lab("drill: one slave down, the other's latency") else {
        return;
    };
    lab_cmd(&lab, "deploy", &[SPARE, "slave"]);
    // status must know turntable to judge its sync: the lab's config plus it.
    let config = std::env::temp_dir().join(format!("archtui-drills-{}.toml", std::process::id()));
    let text = std::fs::read_to_string(lab.config()).unwrap()
        + &format!("\n[[hosts]]\nname = \"{SPARE}\"\nrole = \"slave\"\nssh = \"{SPARE}\"\n");
    std::fs::write(&config, text).unwrap();
    let _retire = common::restore(|| {
        let _ = lab.run("link", &[SLAVE, "up"]);
        let _ = lab.run("link", &[SPARE, "up"]);
        let _ = lab.compose(
            MASTER,
            "master",
            &format!("exec -T bucardo archive-retire-slave {SPARE}"),
        );
        let _ = lab.sh(
            SPARE,
            "cd /srv/archive && docker compose down -v >/dev/null 2>&1; rm -rf /srv/archive",
        );
    });
    let samples = Arc::new(Mutex::new(Vec::<Duration>::new()));
    Drill {
        lab: &lab,
        config: config.clone(),
        name: "one slave's link down 3 min",
        slaves: &[SLAVE, SPARE],
        allowed: DURING_LOSS,
        must_see: &[],
    }
    .run(|| {
        lab_cmd(&lab, "link", &[SLAVE, "down"]);
        let start = Instant::now();
        let mut i = 0;
        while start.elapsed() < Duration::from_secs(180) {
            let took = time_to_replicate(
                &lab,
                SPARE,
                &format!("{}-lat-{i}", common::tag("drill-latency")),
                Duration::from_secs(30),
            )
            .unwrap_or(Duration::from_secs(30));
            samples.lock().unwrap().push(took);
            i += 1;
            std::thread::sleep(Duration::from_secs(3));
        }
        lab_cmd(&lab, "link", &[SLAVE, "up"]);
    });
    let mut s = samples.lock().unwrap().clone();
    s.sort();
    let max = *s.last().unwrap();
    eprintln!(
        "figure: drill one slave's link down 3 min: {SPARE}'s latency over {} samples: median {:.2} s, max {:.2} s",
        s.len(),
        s[s.len() / 2].as_secs_f64(),
        max.as_secs_f64()
    );
    assert!(
        max < Duration::from_secs(2),
        "{SPARE}'s latency reached {max:?} while {SLAVE} was down"
    );

    Drill {
        lab: &lab,
        config: config.clone(),
        name: "two slaves down at once",
        slaves: &[SLAVE, SPARE],
        allowed: DURING_LOSS,
        must_see: &["unknown"],
    }
    .run(|| {
        lab_cmd(&lab, "link", &[SLAVE, "down"]);
        lab_cmd(&lab, "link", &[SPARE, "down"]);
        std::thread::sleep(Duration::from_secs(45));
        lab_cmd(&lab, "link", &[SLAVE, "up"]);
        lab_cmd(&lab, "link", &[SPARE, "up"]);
    });
}
