//! `archtui status` against the local fleet lab: the healthy fleet, a
//! paused sync, a stopped container and a host whose link goes down.

// Its helpers unwrap outside #[test] fns (clippy.toml covers only those).
#![allow(clippy::unwrap_used)]

use crate::common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

const SYNC: &str = "archive_jukebox";

/// One `archtui status --json`: the document and the exit code.
fn status(lab: &common::Lab, extra: &[&str]) -> (Value, i32) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_archtui"));
    c.args(["status", "--json"])
        .args(extra)
        .env("ARCHTUI_CONFIG", lab.config());
    let (v, code, _) = status_of(c);
    (v, code)
}

/// Runs a prepared `status --json`: the document, the exit code and how
/// long it took.
fn status_of(mut c: Command) -> (Value, i32, Duration) {
    let start = Instant::now();
    let o = c.output().expect("run archtui");
    let took = start.elapsed();
    let v = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    });
    (v, o.status.code().expect("exit code"), took)
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

    let _link_up = link_down(&lab, "jukebox");
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

/// Takes `host`'s link down; it comes up again when the guard goes.
fn link_down<'a>(lab: &'a common::Lab, host: &'a str) -> impl Drop + 'a {
    let up = common::restore(move || {
        let _ = lab.run("link", &[host, "up"]);
    });
    let down = lab.run("link", &[host, "down"]);
    assert!(
        down.status.success(),
        "{}",
        String::from_utf8_lossy(&down.stderr)
    );
    up
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

/// `status --json` with the SSH masters kept under `runtime`
/// (XDG_RUNTIME_DIR) and the config `config`: the document and how long
/// the command took.
fn status_kept(config: &std::path::Path, runtime: &std::path::Path) -> (Value, Duration) {
    let (v, _, took) = status_in(config, runtime, None, &[]);
    (v, took)
}

/// A one-shot `status --json` under `runtime`, with its debug log in
/// `log` when given: the document, the exit code and how long it took.
fn status_in(
    config: &std::path::Path,
    runtime: &std::path::Path,
    log: Option<&std::path::Path>,
    extra: &[&str],
) -> (Value, i32, Duration) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_archtui"));
    c.args(["status", "--json"])
        .args(extra)
        .env("ARCHTUI_CONFIG", config)
        .env("XDG_RUNTIME_DIR", runtime);
    if let Some(log) = log {
        let _ = std::fs::remove_file(log);
        c.env("ARCHTUI_LOG", log);
    }
    status_of(c)
}

/// A private XDG_RUNTIME_DIR for one test's kept masters and sockets,
/// short enough for a socket path.
fn runtime_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("rt")
        .tempdir_in("/tmp")
        .unwrap()
}

fn both_up(v: &Value) -> bool {
    host(v, "cavaforgepad")["state"] == "up" && host(v, "jukebox")["state"] == "up"
}

/// The kept masters' links under `runtime`: link name -> master dir name.
fn kept(runtime: &std::path::Path) -> std::collections::BTreeMap<String, String> {
    let dir = runtime.join("archtui/ssh");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Default::default();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let target = std::fs::read_link(e.path()).ok()?;
            Some((
                e.file_name().to_string_lossy().into_owned(),
                target.to_string_lossy().into_owned(),
            ))
        })
        .collect()
}

/// The pid of the ssh master listening on `<runtime>/archtui/ssh/<dir>/master`.
fn master_pid(runtime: &std::path::Path, dir: &str) -> Option<String> {
    let ctl = runtime.join("archtui/ssh").join(dir).join("master");
    let o = Command::new("pgrep")
        .args(["-f", "--", &format!("-S {}", ctl.display())])
        .output()
        .ok()
        .filter(|o| o.status.code().is_some_and(|c| c <= 1))
        .expect("pgrep runs");
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .next()
        .map(str::to_string)
}

fn signal(pid: &str, sig: &str) {
    let _ = Command::new("kill").args([sig, pid]).status();
}

/// `[ssh] persist_secs`: the next command resumes each host's master
/// instead of shaking hands; a master killed, stopped, or left behind a
/// dead link costs a bounded fresh connect (the truth about the host
/// unchanged); `archtui disconnect` ends them all; `persist_secs = 0`
/// keeps none.
#[test]
#[cfg_attr(not(archtui_lab), ignore = "needs the lab: ARCHTUI_LAB=1")]
fn kept_ssh_masters_serve_the_next_command_and_a_bad_one_costs_a_bound() {
    let Some(lab) = common::lab("kept ssh masters") else {
        return;
    };
    wait_healthy(&lab, 120);
    let rt = runtime_dir();
    let rt = rt.path();
    let config = lab.config();
    let _disconnect = common::restore(|| {
        let _ = Command::new(env!("CARGO_BIN_EXE_archtui"))
            .arg("disconnect")
            .env("XDG_RUNTIME_DIR", rt)
            .output();
    });

    let (v, cold) = status_kept(&config, rt);
    assert!(both_up(&v), "{v:#}");
    let first = kept(rt);
    assert_eq!(first.len(), 2, "one kept master per host: {first:?}");
    let (v, warm) = status_kept(&config, rt);
    assert!(both_up(&v), "{v:#}");
    assert_eq!(kept(rt), first, "the second command made new masters");
    eprintln!("figure: status --json cold {cold:?}, on kept masters {warm:?}");

    // Which link is jukebox's: the one whose master is not cavaforgepad's.
    let pids: Vec<(String, String, String)> = first
        .iter()
        .map(|(k, d)| {
            (
                k.clone(),
                d.clone(),
                master_pid(rt, d).expect("a master process"),
            )
        })
        .collect();
    let (juke_key, _, juke_pid) = pids
        .iter()
        .find(|(_, _, pid)| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains("jukebox"))
        })
        .cloned()
        .expect("jukebox's master");
    let limit = Duration::from_secs(connect_timeout(&lab) + 5);

    // Killed: its socket file stays behind, refusing connections.
    signal(&juke_pid, "-KILL");
    let (v, took) = status_kept(&config, rt);
    assert!(both_up(&v), "after the master was killed: {v:#}");
    assert!(took < limit, "a dead master cost {took:?}");
    let after_kill = kept(rt);
    assert_ne!(
        after_kill[&juke_key], first[&juke_key],
        "a new master for jukebox"
    );
    eprintln!("figure: status --json past a killed master {took:?}");

    // Stopped (SIGSTOP): its socket accepts and never answers.
    let stopped = master_pid(rt, &after_kill[&juke_key]).expect("jukebox's new master");
    signal(&stopped, "-STOP");
    let _cont = common::restore(|| signal(&stopped, "-KILL"));
    let (v, took) = status_kept(&config, rt);
    assert!(both_up(&v), "after the master was stopped: {v:#}");
    assert!(took < limit, "a stuck master cost {took:?}");
    assert_ne!(kept(rt)[&juke_key], after_kill[&juke_key]);
    eprintln!("figure: status --json past a stopped master {took:?}");

    // Behind a dead link a kept master still answers its local check; the
    // host must show unreachable all the same, not as a docker failure.
    let _link_up = link_down(&lab, "jukebox");
    let (v, took) = status_kept(&config, rt);
    let _ = lab.run("link", &["jukebox", "up"]);
    assert_eq!(host(&v, "jukebox")["state"], "unreachable", "{v:#}");
    assert_eq!(host(&v, "cavaforgepad")["state"], "up", "{v:#}");
    assert!(
        took < limit * 2,
        "a dead link behind a kept master cost {took:?}"
    );
    eprintln!("figure: status --json with jukebox's link down behind its kept master {took:?}");
    let back = common::wait_until(Duration::from_secs(60), Duration::from_secs(1), || {
        let (v, _) = status_kept(&config, rt);
        both_up(&v).then_some(())
    });
    assert!(back.is_ok(), "jukebox never came back after the link");

    // disconnect: every master process of this dir ends, the dir is empty.
    let o = Command::new(env!("CARGO_BIN_EXE_archtui"))
        .arg("disconnect")
        .env("XDG_RUNTIME_DIR", rt)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", common::all_text(&o));
    assert!(
        common::all_text(&o).contains("asked to close"),
        "{}",
        common::all_text(&o)
    );
    let ssh_dir = rt.join("archtui/ssh").display().to_string();
    let gone = common::wait_until(Duration::from_secs(10), Duration::from_millis(200), || {
        let o = Command::new("pgrep")
            .args(["-f", "--", &format!("-S {ssh_dir}/")])
            .output()
            .ok()
            .filter(|o| o.status.code().is_some_and(|c| c <= 1))
            .expect("pgrep runs");
        // The stopped one never answers; it is killed by the restore.
        let left: Vec<_> = String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter(|p| *p != stopped)
            .map(str::to_string)
            .collect();
        left.is_empty().then_some(())
    });
    assert!(gone.is_ok(), "ssh masters left after disconnect");
    assert!(kept(rt).is_empty(), "{:?}", kept(rt));

    // persist_secs = 0: nothing kept.
    let zero = rt.join("zero.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &zero,
        text.replacen("[ssh]\n", "[ssh]\npersist_secs = 0\n", 1),
    )
    .unwrap();
    let (v, _) = status_kept(&zero, rt);
    assert!(both_up(&v), "{v:#}");
    assert!(kept(rt).is_empty(), "persist_secs = 0 kept {:?}", kept(rt));
}

/// While `status --watch` runs on a config, a one-shot `status` on it
/// prints the watcher's readings: it names the watcher, opens no database
/// connection of its own, and shows a stopped container as soon as the
/// watcher does. `--fresh` looks anew; a stopped watcher costs at most
/// half a second more, a killed one's socket nothing, and neither is
/// named.
#[test]
#[cfg_attr(not(archtui_lab), ignore = "needs the lab: ARCHTUI_LAB=1")]
fn a_running_watch_serves_one_shot_status_and_a_dead_one_costs_a_bound() {
    let Some(lab) = common::lab("a running watch serves one-shot status") else {
        return;
    };
    wait_healthy(&lab, 120);
    let rt = runtime_dir();
    let rt = rt.path();
    let config = lab.config();
    let log = rt.join("oneshot.log");
    let uses_own_db = |log: &std::path::Path| {
        std::fs::read_to_string(log)
            .unwrap_or_default()
            .contains("postgres connect")
    };

    // No observer yet: the one-shot looks for itself and names nobody.
    let (v, _, alone) = status_in(&config, rt, Some(&log), &[]);
    assert!(both_up(&v), "{v:#}");
    assert!(v.get("observed_by").is_none(), "{v:#}");
    assert!(uses_own_db(&log), "the debug log shows no connection");

    let mut watch = Command::new(env!("CARGO_BIN_EXE_archtui"))
        .args(["status", "--json", "--watch", "1"])
        .env("ARCHTUI_CONFIG", &config)
        .env("XDG_RUNTIME_DIR", rt)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start archtui status --watch");
    let pid = watch.id();
    let _stop = common::restore(|| signal(&pid.to_string(), "-KILL"));
    let (tx, rx) = mpsc::channel::<Value>();
    let out = watch.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if let Ok(v) = serde_json::from_str(&line) {
                let _ = tx.send(v);
            }
        }
    });
    let ready = (0..60).find_map(|_| rx.recv_timeout(Duration::from_secs(1)).ok().filter(both_up));
    assert!(ready.is_some(), "status --watch never showed both hosts up");

    let (v, code, served) = status_in(&config, rt, Some(&log), &[]);
    assert!(both_up(&v), "{v:#}");
    assert_eq!(v["observed_by"]["kind"], "watch", "{v:#}");
    assert_eq!(v["observed_by"]["pid"], pid, "{v:#}");
    let oldest = v["observed_by"]["oldest_reading_secs"].as_f64().unwrap();
    assert!((0.0..=10.0).contains(&oldest), "{v:#}");
    assert!(
        !uses_own_db(&log),
        "a served one-shot connected to a database"
    );
    let (fresh, fresh_code, looked) = status_in(&config, rt, Some(&log), &["--fresh"]);
    assert!(fresh.get("observed_by").is_none(), "{fresh:#}");
    assert!(uses_own_db(&log), "--fresh did not look for itself");
    assert_eq!(
        (code, fresh["verdict"].clone()),
        (fresh_code, v["verdict"].clone())
    );
    eprintln!("figure: status --json alone {alone:?}, --fresh {looked:?}, read from a running watch {served:?}");

    // The truth stands: a container stopped shows in the served reading
    // as soon as the watcher hears Docker's event.
    let _restart = common::restore(|| {
        let _ = lab.compose("jukebox", "slave", "start app");
    });
    let stopped = lab.compose("jukebox", "slave", "stop app");
    assert!(stopped.status.success(), "{}", common::all_text(&stopped));
    let shown = common::wait_until(Duration::from_secs(5), Duration::from_millis(200), || {
        let (v, _, _) = status_in(&config, rt, Some(&log), &[]);
        let c = container(&v, "jukebox", "app")?;
        (c["state"] != "running" && v["observed_by"]["kind"] == "watch").then_some(())
    });
    let started = lab.compose("jukebox", "slave", "start app");
    assert!(started.status.success(), "{}", common::all_text(&started));
    assert!(
        shown.is_ok(),
        "a served status never showed the stopped app"
    );

    // Stopped: its socket accepts and never answers.
    signal(&pid.to_string(), "-STOP");
    let (v, _, took) = status_in(&config, rt, Some(&log), &[]);
    assert!(v.get("observed_by").is_none(), "{v:#}");
    assert!(uses_own_db(&log));
    assert!(
        took < looked + Duration::from_secs(3),
        "a stopped watch cost {took:?}"
    );
    eprintln!("figure: status --json past a stopped watch {took:?}");
    // Killed: its socket file stays, refusing.
    signal(&pid.to_string(), "-KILL");
    let _ = watch.wait();
    let (v, _, took) = status_in(&config, rt, Some(&log), &[]);
    assert_eq!(host(&v, "jukebox")["state"], "up", "{v:#}");
    assert!(v.get("observed_by").is_none(), "{v:#}");
    eprintln!("figure: status --json past a killed watch's socket {took:?}");
    let v = wait_healthy(&lab, 120);
    assert_eq!(container(&v, "jukebox", "app").unwrap()["state"], "running");
}

/// `[ssh] observer_persist_secs`: a one-shot that looked for itself leaves
/// an observer behind, and the next one-shots print its readings, naming
/// it, without a database connection of their own; a reading from before
/// the last operator action is not used; `archtui disconnect` stops it,
/// and left unread for the configured seconds it ends by itself, its
/// socket gone.
#[test]
#[cfg_attr(not(archtui_lab), ignore = "needs the lab: ARCHTUI_LAB=1")]
fn a_one_shot_leaves_an_observer_that_serves_the_next_until_idle_or_disconnect() {
    let Some(lab) = common::lab("an observer left behind") else {
        return;
    };
    wait_healthy(&lab, 120);
    let rt = runtime_dir();
    let rt = rt.path();
    let state = rt.join("state");
    let config = rt.join("observer.toml");
    let text = std::fs::read_to_string(lab.config()).unwrap();
    let text = text.replacen("[ssh]\n", "[ssh]\nobserver_persist_secs = 4\n", 1);
    std::fs::write(&config, text).unwrap();
    let log = rt.join("oneshot.log");
    let archtui = |args: &[&str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_archtui"));
        c.args(args)
            .env("ARCHTUI_CONFIG", &config)
            .env("XDG_RUNTIME_DIR", rt)
            .env("XDG_STATE_HOME", &state)
            .env("ARCHTUI_LOG", &log)
            .stdin(Stdio::null());
        let _ = std::fs::remove_file(&log);
        c
    };
    let one_shot = || {
        let mut c = archtui(&["status", "--json"]);
        c.stderr(Stdio::null());
        status_of(c)
    };
    let uses_own_db = || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("postgres connect")
    };
    let alive = |pid: u64| std::path::Path::new(&format!("/proc/{pid}")).exists();
    let _disconnect = common::restore(|| {
        let _ = archtui(&["disconnect"]).output();
    });
    let served_by_observer = || {
        common::wait_until(Duration::from_secs(30), Duration::from_millis(300), || {
            let (v, _, took) = one_shot();
            (v["observed_by"]["kind"] == "observer" && !uses_own_db()).then_some((v, took))
        })
    };

    let (v, _, alone) = one_shot();
    assert!(both_up(&v), "{v:#}");
    assert!(v.get("observed_by").is_none(), "{v:#}");
    assert!(uses_own_db(), "the first one-shot did not look for itself");
    let ((v, served), _) = served_by_observer().expect("no one-shot was served by an observer");
    assert!(both_up(&v), "{v:#}");
    let pid = v["observed_by"]["pid"].as_u64().unwrap();
    assert!(alive(pid));
    eprintln!("figure: status --json looking for itself {alone:?}, served by the observer it left {served:?}");

    // An action: readings from before it may not show what it changed.
    let o = archtui(&["kick", SYNC]).output().unwrap();
    assert!(o.status.success(), "{}", common::all_text(&o));
    let (v, _, _) = one_shot();
    assert!(v.get("observed_by").is_none(), "{v:#}");
    assert!(uses_own_db(), "a reading older than the kick was used");
    let ((v, _), _) = served_by_observer().expect("the observer never served after the kick");
    assert_eq!(v["observed_by"]["pid"].as_u64(), Some(pid), "{v:#}");

    // disconnect stops it.
    let o = archtui(&["disconnect"]).output().unwrap();
    let said = common::all_text(&o);
    assert!(said.contains("1 background observer(s) stopped"), "{said}");
    let gone = common::wait_until(Duration::from_secs(5), Duration::from_millis(100), || {
        (!alive(pid)).then_some(())
    });
    assert!(gone.is_ok(), "the observer {pid} outlived disconnect");

    // Left unread, the next one ends by itself after 4 s, socket and all.
    let (v, _, _) = one_shot();
    assert!(v.get("observed_by").is_none(), "{v:#}");
    let ((v, _), _) = served_by_observer().expect("no second observer served");
    let pid = v["observed_by"]["pid"].as_u64().unwrap();
    let ((), idle) =
        common::wait_until(Duration::from_secs(20), Duration::from_millis(200), || {
            (!alive(pid)).then_some(())
        })
        .expect("the observer never ended unread");
    assert!(idle >= Duration::from_secs(3), "it ended after {idle:?}");
    let sockets: Vec<_> = std::fs::read_dir(rt.join("archtui/ssh"))
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("o-"))
        .collect();
    assert!(sockets.is_empty(), "left {sockets:?}");
}
