//! `archtui status` against the local fleet lab: the healthy fleet, a
//! paused sync, a stopped container and a host whose link goes down.

// Its helpers unwrap outside #[test] fns (clippy.toml covers only those).
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

const SYNC: &str = "archive_jukebox";

/// One `archtui status --json`: the document and the exit code.
fn status(lab: &common::Lab, extra: &[&str]) -> (Value, i32) {
    let o = Command::new(env!("CARGO_BIN_EXE_archtui"))
        .args(["status", "--json"])
        .args(extra)
        .env("ARCHTUI_CONFIG", lab.config())
        .output()
        .expect("run archtui");
    let v = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    });
    (v, o.status.code().expect("exit code"))
}

fn host<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["name"] == name)
        .unwrap_or_else(|| panic!("no host {name}: {v}"))
}

fn sync(v: &Value) -> &Value {
    v["syncs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == SYNC)
        .unwrap_or_else(|| panic!("no sync {SYNC}: {v}"))
}

fn container<'a>(v: &'a Value, h: &str, service: &str) -> Option<&'a Value> {
    host(v, h)["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["service"] == service)
}

/// Waits (up to `secs`) for a fully healthy fleet, as a test's start and end.
fn wait_healthy(lab: &common::Lab, secs: u64) -> Value {
    let mut last = Value::Null;
    let r = common::wait_until(
        Duration::from_secs(secs),
        Duration::from_millis(500),
        || {
            let (v, code) = status(lab, &[]);
            last = v.clone();
            (code == 0).then_some(v)
        },
    );
    r.unwrap_or_else(|_| panic!("fleet not healthy within {secs} s: {last:#}"))
        .0
}

#[test]
#[cfg_attr(not(archtui_lab), ignore = "needs the lab: ARCHTUI_LAB=1")]
fn status_on_the_healthy_lab() {
    let Some(lab) = common::lab("status_on_the_healthy_lab") else {
        return;
    };
    let v = wait_healthy(&lab, 120);
    for h in ["cavaforgepad", "jukebox"] {
        assert_eq!(host(&v, h)["state"], "up", "{v:#}");
        for s in ["db", "bucardo", "app"] {
            let c = container(&v, h, s).unwrap_or_else(|| panic!("{h} has no {s}: {v:#}"));
            assert_eq!(c["state"], "running", "{h}/{s}: {v:#}");
            assert_eq!(c["health"], "healthy", "{h}/{s}: {v:#}");
            assert!(c["started_at"].is_string() && c["restarts"].is_number());
        }
    }
    // jukebox runs its own daemon.
    assert_eq!(v["daemons"][0]["host"], "jukebox", "{v:#}");
    assert_eq!(v["daemons"][0]["daemon"], "up", "{v:#}");
    assert!(v["daemons"][0]["version"]
        .as_str()
        .unwrap()
        .starts_with('5'));
    let s = sync(&v);
    assert_eq!(s["host"], "jukebox");
    assert_eq!(s["target"], "jukebox");
    assert!(
        ["good", "running", "empty"].contains(&s["state"].as_str().unwrap()),
        "{s}"
    );
    assert!(s["lag_seconds"].as_f64().unwrap() < 2.0, "{s}");
    assert_eq!(v["verdict"]["exit_code"], 0);
}

#[test]
#[cfg_attr(not(archtui_lab), ignore = "needs the lab: ARCHTUI_LAB=1")]
fn paused_sync_shows_pending_rows_and_growing_lag() {
    let Some(lab) = common::lab("paused_sync_shows_pending_rows_and_growing_lag") else {
        return;
    };
    wait_healthy(&lab, 120);
    let tag = format!("archtui-pause-{}", std::process::id());
    lab.psql(
        "cavaforgepad",
        &format!("INSERT INTO collections (name) VALUES ('{tag}')"),
    );
    let settled = |v: &Value| sync(v)["pending_rows"] == 0;
    common::wait_until(Duration::from_secs(30), Duration::from_millis(300), || {
        settled(&status(&lab, &[]).0).then_some(())
    })
    .expect("the collection row replicates");

    // Resumed, kicked and cleaned up even if an assertion below fails.
    let _restore = common::restore(|| {
        for sql in [
            format!("NOTIFY \"bucardo_resume_sync_{SYNC}\""),
            format!("NOTIFY \"bucardo_kick_sync_{SYNC}\""),
        ] {
            let _ = lab.try_psql("jukebox", "bucardo", &sql);
        }
        let _ = lab.try_psql(
            "cavaforgepad",
            common::ARCHIVE_DB,
            &format!("DELETE FROM items WHERE identifier LIKE '{tag}-%'; DELETE FROM collections WHERE name = '{tag}'"),
        );
    });
    lab.bucardo_sql("jukebox", &format!("NOTIFY \"bucardo_pause_sync_{SYNC}\""));
    common::wait_until(Duration::from_secs(15), Duration::from_millis(300), || {
        (sync(&status(&lab, &[]).0)["state"] == "paused").then_some(())
    })
    .expect("state shows paused");
    lab.psql(
        "cavaforgepad",
        &format!(
            "INSERT INTO items (collection_id, identifier, title) \
             SELECT c.id, '{tag}-' || g, 'pause test' FROM collections c, generate_series(1, 100) g WHERE c.name = '{tag}'"
        ),
    );
    let t1 = Instant::now();
    let (v1, _) = status(&lab, &["--warning", "1", "--critical", "3600"]);
    std::thread::sleep(Duration::from_secs(3));
    let (v2, code) = status(&lab, &["--warning", "1", "--critical", "3600"]);
    let wall = t1.elapsed().as_secs_f64();
    let (s1, s2) = (sync(&v1), sync(&v2));
    assert_eq!(s1["pending_rows"], 100, "{s1}");
    assert_eq!(s2["pending_rows"], 100, "{s2}");
    assert_eq!(s2["state"], "paused");
    let grew = s2["lag_seconds"].as_f64().unwrap() - s1["lag_seconds"].as_f64().unwrap();
    assert!(
        (grew - wall).abs() <= 1.0,
        "lag grew {grew:.2} s in {wall:.2} s of wall time"
    );
    assert_eq!(
        code, 1,
        "lag over --warning is a warning: {}",
        v2["verdict"]
    );
    let (v3, code) = status(&lab, &["--warning", "1", "--critical", "2"]);
    assert_eq!(
        code, 2,
        "lag over --critical is critical: {}",
        v3["verdict"]
    );

    lab.bucardo_sql("jukebox", &format!("NOTIFY \"bucardo_resume_sync_{SYNC}\""));
    lab.bucardo_sql("jukebox", &format!("NOTIFY \"bucardo_kick_sync_{SYNC}\""));
    let (v, _) = common::wait_until(Duration::from_secs(30), Duration::from_millis(300), || {
        let (v, code) = status(&lab, &[]);
        (code == 0 && settled(&v) && sync(&v)["lag_seconds"].as_f64() < Some(2.0)).then_some(v)
    })
    .expect("after resume pending and lag return to 0");
    assert_ne!(sync(&v)["state"], "paused");
}

#[test]
#[cfg_attr(not(archtui_lab), ignore = "needs the lab: ARCHTUI_LAB=1")]
fn stopped_db_container_shows_within_5_s() {
    let Some(lab) = common::lab("stopped_db_container_shows_within_5_s") else {
        return;
    };
    wait_healthy(&lab, 120);
    let _restore = common::restore(|| {
        let _ = lab.compose("jukebox", "slave", "start db");
    });
    let out = lab.compose("jukebox", "slave", "stop db");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stopped = Instant::now();
    let r = common::wait_until(Duration::from_secs(5), Duration::from_millis(200), || {
        let (v, code) = status(&lab, &[]);
        let c = container(&v, "jukebox", "db")?;
        (c["state"] != "running" && code == 2).then_some(())
    });
    let seen = stopped.elapsed();
    let started = lab.compose("jukebox", "slave", "start db");
    assert!(
        started.status.success(),
        "{}",
        String::from_utf8_lossy(&started.stderr)
    );
    r.unwrap_or_else(|_| panic!("stopped db not shown within 5 s"));
    eprintln!("stopped db shown after {seen:?}");
    let v = wait_healthy(&lab, 120);
    assert_eq!(container(&v, "jukebox", "db").unwrap()["health"], "healthy");
}

#[test]
#[cfg_attr(not(archtui_lab), ignore = "needs the lab: ARCHTUI_LAB=1")]
fn link_down_makes_only_that_host_unreachable_and_it_recovers() {
    let Some(lab) = common::lab("link_down_makes_only_that_host_unreachable_and_it_recovers")
    else {
        return;
    };
    wait_healthy(&lab, 120);
    let mut child = Command::new(env!("CARGO_BIN_EXE_archtui"))
        .args(["status", "--json", "--watch", "1"])
        .env("ARCHTUI_CONFIG", lab.config())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start archtui status --watch");
    let (tx, rx) = mpsc::channel::<Value>();
    let stdout = child.stdout.take().unwrap();
    let _stop = common::restore(move || {
        let _ = child.kill();
        let _ = child.wait();
    });
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Ok(v) = serde_json::from_str(&line) {
                if tx.send(v).is_err() {
                    break;
                }
            }
        }
    });
    let next_where =
        |limit: Duration, pred: &dyn Fn(&Value) -> bool| -> Option<(Value, Duration)> {
            let start = Instant::now();
            while start.elapsed() < limit {
                if let Ok(v) = rx.recv_timeout(Duration::from_millis(500)) {
                    if pred(&v) {
                        return Some((v, start.elapsed()));
                    }
                }
            }
            None
        };
    let up = |v: &Value, h: &str| host(v, h)["state"] == "up";
    let ready = next_where(Duration::from_secs(30), &|v| {
        up(v, "jukebox") && up(v, "cavaforgepad")
    });

    let _link_up = common::restore(|| {
        let _ = lab.run("link", &["jukebox", "up"]);
    });
    let down = lab.run("link", &["jukebox", "down"]);
    assert!(
        down.status.success(),
        "{}",
        String::from_utf8_lossy(&down.stderr)
    );
    let unreachable = next_where(Duration::from_secs(15), &|v| {
        host(v, "jukebox")["state"] == "unreachable"
    });
    let _ = lab.run("link", &["jukebox", "up"]);
    let back = next_where(Duration::from_secs(60), &|v| up(v, "jukebox"));

    assert!(ready.is_some(), "both hosts never showed up");
    let (v, after) = unreachable.expect("jukebox never became unreachable");
    eprintln!("jukebox unreachable after {after:?}");
    // Within the connect timeout, plus one --watch interval for the print.
    let limit = Duration::from_secs(connect_timeout(&lab) + 1);
    assert!(
        after <= limit,
        "jukebox unreachable only after {after:?} (limit {limit:?}): {v:#}"
    );
    assert_eq!(
        host(&v, "cavaforgepad")["state"],
        "up",
        "cavaforgepad must stay up: {v:#}"
    );
    let age = chrono_age(&host(&v, "cavaforgepad")["observed_at"]);
    assert!(
        age < 3.0,
        "cavaforgepad's data is {age:.1} s old: a dead host slowed it down"
    );
    let (_, recovered) = back.expect("jukebox did not come back by itself");
    eprintln!("jukebox back after {recovered:?}");
}

/// While `status --watch 10` runs (so it polls every 10 s), the sync is
/// kicked about every 0.7 s: each printed line must carry a completion
/// under 3 s old, which only the LISTEN on `bucardo_syncdone_<sync>` can
/// deliver; a poll-only console would print data about 10 s old.
#[test]
#[cfg_attr(not(archtui_lab), ignore = "needs the lab: ARCHTUI_LAB=1")]
fn sync_completions_show_without_waiting_for_a_poll() {
    let Some(lab) = common::lab("sync_completions_show_without_waiting_for_a_poll") else {
        return;
    };
    wait_healthy(&lab, 120);
    let mut child = Command::new(env!("CARGO_BIN_EXE_archtui"))
        .args(["status", "--json", "--watch", "10"])
        .env("ARCHTUI_CONFIG", lab.config())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start archtui status --watch");
    let stdout = child.stdout.take().unwrap();
    let _stop = common::restore(move || {
        let _ = child.kill();
        let _ = child.wait();
    });
    let kicking = std::sync::atomic::AtomicBool::new(true);
    let docs: Vec<Value> = std::thread::scope(|scope| {
        scope.spawn(|| {
            while kicking.load(std::sync::atomic::Ordering::Relaxed) {
                let kick = format!("NOTIFY \"bucardo_kick_sync_{SYNC}\"");
                let _ = lab.try_psql("jukebox", "bucardo", &kick);
                std::thread::sleep(Duration::from_millis(700));
            }
        });
        let (tx, rx) = mpsc::channel::<Value>();
        std::thread::spawn(move || {
            let lines = BufReader::new(stdout).lines().map_while(Result::ok);
            for v in lines.filter_map(|l| serde_json::from_str(&l).ok()) {
                if tx.send(v).is_err() {
                    break;
                }
            }
        });
        let docs = (0..2)
            .map_while(|_| rx.recv_timeout(Duration::from_secs(30)).ok())
            .collect();
        kicking.store(false, std::sync::atomic::Ordering::Relaxed);
        docs
    });
    assert_eq!(docs.len(), 2, "status --watch printed {} lines", docs.len());
    for v in &docs {
        let s = sync(v);
        let printed = time(&v["generated_at"]);
        let age = (printed - time(&s["last_good"])).num_milliseconds() as f64 / 1000.0;
        eprintln!("completion printed {age:.2} s after it happened");
        assert!(
            age < 3.0,
            "the printed completion is {age:.1} s old: not refreshed on bucardo_syncdone: {s}"
        );
    }
}

fn connect_timeout(lab: &common::Lab) -> u64 {
    let text = std::fs::read_to_string(lab.config()).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("connect_timeout_secs = "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(10)
}

fn time(t: &Value) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(t.as_str().unwrap_or_else(|| panic!("not a time: {t}")))
        .unwrap()
        .to_utc()
}

fn chrono_age(t: &Value) -> f64 {
    let t = chrono::DateTime::parse_from_rfc3339(t.as_str().unwrap()).unwrap();
    (chrono::Utc::now() - t.to_utc()).num_milliseconds() as f64 / 1000.0
}
