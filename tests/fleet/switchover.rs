//! `archtui switchover` against the local fleet lab: refusals before any
//! change (a typo in the typed name, a candidate with pending rows), then
//! a switchover to jukebox killed in its role swap and run again, writes
//! before and after (none lost, jukebox's new rows reach cavaforgepad,
//! its sequences never collide), every table equal, and the way back,
//! ending with the lab as it started. Run with the lab up and
//! ARCHTUI_LAB=1 (README); "figure:" lines give the wall times.

// Its helpers unwrap outside #[test] fns (clippy.toml covers only those).
#![allow(clippy::unwrap_used)]

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use common::cli::{command, wait_all_healthy, Running, State};
use common::{all_text, lab, restore, wait_until, Lab};

const MASTER: &str = "cavaforgepad";
const SLAVE: &str = "jukebox";

/// A copy of the lab's config: the switchover rewrites the roles in the
/// config it runs with, and the other tests' config must not move.
pub(crate) struct Config(pub(crate) PathBuf);

impl Config {
    pub(crate) fn copy(lab: &Lab, test: &str) -> Config {
        let p = std::env::temp_dir().join(format!("archtui-{test}-{}.toml", std::process::id()));
        std::fs::copy(lab.config(), &p).unwrap();
        Config(p)
    }
    pub(crate) fn text(&self) -> String {
        std::fs::read_to_string(&self.0).unwrap()
    }
    pub(crate) fn master(&self) -> String {
        let c = archtui_core::config::Config::parse(&self.text(), &self.0).unwrap();
        c.hosts()
            .into_iter()
            .find(|h| h.role == archtui_core::config::Role::Master)
            .map(|h| h.name)
            .unwrap()
    }
}

impl Drop for Config {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
        let _ = std::fs::remove_file(self.0.with_extension("toml.bak"));
    }
}

pub(crate) fn run(lab: &Lab, state: &State, cfg: &Config, args: &[&str]) -> Output {
    let o = command(lab, state, args)
        .env("ARCHTUI_CONFIG", &cfg.0)
        .output()
        .unwrap();
    eprintln!("archtui {}: {}\n{}", args.join(" "), o.status, all_text(&o));
    o
}

pub(crate) fn start(lab: &Lab, state: &State, cfg: &Config, args: &[&str]) -> Running {
    let mut c = command(lab, state, args);
    c.env("ARCHTUI_CONFIG", &cfg.0);
    Running::spawn(c)
}

/// An insert as the app's role (`archive`, over TCP on the host itself):
/// what the fence must refuse.
pub(crate) fn app_insert(lab: &Lab, host: &str, name: &str) -> Result<String, String> {
    as_app(
        lab,
        host,
        &format!(
            "INSERT INTO collections (name) VALUES ('{}-{name}') RETURNING id",
            run_tag()
        ),
    )
}

/// Names are unique in `collections`: each run's rows carry its own tag.
pub(crate) fn run_tag() -> &'static str {
    static TAG: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TAG.get_or_init(|| {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis();
        format!("so{t}")
    })
}

/// One statement as the app's role; its password is read on the host,
/// never put on a command line.
pub(crate) fn as_app(lab: &Lab, host: &str, sql: &str) -> Result<String, String> {
    let pw = lab.state.join("secrets/archive_db_password");
    let out = lab.sh(
        host,
        &format!(
            "PGPASSWORD=$(cat {}) PGCONNECT_TIMEOUT=5 psql -X -qAt -v ON_ERROR_STOP=1 -h 127.0.0.1 -U archive -d archive_production -c \"{sql}\"",
            pw.display()
        ),
    );
    if out.status.success() {
        Ok(common::text(&out))
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

pub(crate) fn journal(state: &State) -> Option<serde_json::Value> {
    let p: &Path = &state.0;
    let text = std::fs::read_to_string(p.join("archtui/switchover.json")).ok()?;
    serde_json::from_str(&text).ok()
}

pub(crate) fn same(lab: &Lab, a: &str, b: &str, within: Duration) {
    let mut last = (String::new(), String::new());
    if let Err(w) = wait_until(within, Duration::from_millis(500), || {
        last = (lab.digests(a), lab.digests(b));
        (last.0 == last.1).then_some(())
    }) {
        panic!(
            "{b} differs from {a} after {w:?}:\n{a}:\n{}\n{b}:\n{}",
            last.0, last.1
        );
    }
}

/// Seconds from the outcome line ("this run took N s"), and the writes-refused figure.
pub(crate) fn figures(out: &Output) -> (f64, Option<f64>) {
    let t = all_text(out);
    let num = |after: &str| -> Option<f64> {
        let at = t.find(after)? + after.len();
        t[at..].split_whitespace().next()?.parse().ok()
    };
    (
        num("this run took ").unwrap_or(f64::NAN),
        num("writes were refused for "),
    )
}

#[test]
#[cfg_attr(not(archtui_lab), ignore = "needs the lab: ARCHTUI_LAB=1")]
fn switchover_to_jukebox_and_back_refuses_first_resumes_and_loses_nothing() {
    let Some(lab) = lab("switchover") else {
        return;
    };
    let state = State::new("switchover");
    let cfg = Config::copy(&lab, "switchover");
    let original = cfg.text();
    // Whatever happens below, the lab ends with cavaforgepad the master.
    let _back = restore(|| {
        if cfg.master() != MASTER || journal(&state).is_some() {
            let to = journal(&state)
                .and_then(|j| j["roles"]["candidate"].as_str().map(String::from))
                .unwrap_or_else(|| SLAVE.to_string());
            let _ = run(&lab, &state, &cfg, &["switchover", &to, "--yes"]);
            if cfg.master() != MASTER {
                let _ = run(&lab, &state, &cfg, &["switchover", MASTER, "--yes"]);
            }
        }
        let _ = lab.ctl(SLAVE, "heal on");
    });

    // Refused before any change: the typed name does not match.
    let o = run(
        &lab,
        &state,
        &cfg,
        &["switchover", SLAVE, "--confirm", "jukebx"],
    );
    assert_eq!(o.status.code(), Some(2), "{}", all_text(&o));
    assert!(all_text(&o).contains("the name typed is not jukebox; nothing was changed"));
    assert!(journal(&state).is_none(), "a refused run opens no journal");
    app_insert(&lab, MASTER, "before-refusals").expect("the master still takes writes");

    // Refused before any change: rows pending for the candidate.
    lab.ctl(SLAVE, "heal off");
    lab.ctl(SLAVE, "stop 'switchover test: pending rows'");
    app_insert(&lab, MASTER, "pending-1").unwrap();
    let o = run(&lab, &state, &cfg, &["switchover", SLAVE, "--yes"]);
    let t = all_text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(
        t.contains("FAIL nothing pending") && t.contains("not on jukebox yet"),
        "{t}"
    );
    assert!(
        t.contains("pre-check failed: nothing pending") && t.contains("nothing was changed"),
        "{t}"
    );
    assert!(journal(&state).is_none());
    lab.ctl(SLAVE, "heal on");
    lab.ctl(SLAVE, "restart 'switchover test: pending rows done'");
    same(&lab, MASTER, SLAVE, Duration::from_secs(60));
    // Its healthcheck failed while the daemon was down: healthy again first.
    wait_all_healthy(&lab, 90);

    // Writes before; the id the master's sequence is at.
    let before = app_insert(&lab, MASTER, "before-switchover").unwrap();
    let before: i64 = before.trim().parse().unwrap();
    same(&lab, MASTER, SLAVE, Duration::from_secs(30));

    // There, killed in its role swap, then run again.
    let clock = Instant::now();
    let mut r = start(&lab, &state, &cfg, &["switchover", SLAVE, "--yes"]);
    r.wait_for(&["[6/10] swap", "..."], 240);
    r.signal("-KILL");
    r.wait(10);
    let j = journal(&state).expect("a killed run leaves its journal");
    let done: Vec<&str> = j["done"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s.as_str())
        .collect();
    assert!(
        done.contains(&"fence") && done.contains(&"sequences") && !done.contains(&"repoint"),
        "{j}"
    );
    // While it is open: writes refused on the old master, status says why.
    let refused = app_insert(&lab, MASTER, "while-fenced").unwrap_err();
    assert!(refused.contains("read-only transaction"), "{refused}");
    let st = run(&lab, &state, &cfg, &["status"]);
    assert_eq!(
        st.status.code(),
        Some(2),
        "critical while writes are refused"
    );
    assert!(
        all_text(&st).contains("switchover in progress: cavaforgepad to jukebox"),
        "{}",
        all_text(&st)
    );
    let o = run(&lab, &state, &cfg, &["switchover", SLAVE, "--yes"]);
    let t = all_text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(t.contains("Resuming the switchover to jukebox"), "{t}");
    let there = clock.elapsed().as_secs_f64();
    let (there_run, there_refused) = figures(&o);
    assert!(journal(&state).is_none(), "done: the journal is gone");
    assert_eq!(cfg.master(), SLAVE);
    assert!(
        std::fs::read_to_string(cfg.0.with_extension("toml.bak")).is_ok(),
        "the old config is kept"
    );

    // After: the new master takes writes; they reach the old one, and its
    // sequences continue past every key the old master gave out.
    let mut ids = Vec::new();
    for i in 0..20 {
        ids.push(
            app_insert(&lab, SLAVE, &format!("after-switchover-{i}"))
                .unwrap()
                .trim()
                .parse::<i64>()
                .unwrap(),
        );
    }
    assert!(
        ids.iter().all(|id| *id > before),
        "ids {ids:?} must pass {before}"
    );
    same(&lab, SLAVE, MASTER, Duration::from_secs(60));
    let tag = run_tag();
    let names = lab.psql(
        MASTER,
        // This test's rows: the run's tag is shared with the failover
        // test, which may have run before it in the same process.
        &format!("SELECT string_agg(substr(name, {}), ',' ORDER BY id) FROM collections WHERE name LIKE '{tag}-%' AND id >= (SELECT id FROM collections WHERE name = '{tag}-before-refusals')", tag.len() + 2),
    );
    assert!(
        names.starts_with("before-refusals,pending-1,before-switchover,after-switchover-0,"),
        "{names}"
    );
    assert_eq!(names.matches("after-switchover-").count(), 20);
    let v = run(&lab, &state, &cfg, &["verify"]);
    assert_eq!(
        v.status.code(),
        Some(0),
        "every table equal: {}",
        all_text(&v)
    );
    // The old master's app role is no longer fenced (it writes as any
    // slave's app may; nothing is written here, so the way back verifies).
    let ro = as_app(&lab, MASTER, "SHOW default_transaction_read_only").unwrap();
    assert_eq!(ro.trim(), "off");

    // And back: the lab as it started.
    let clock = Instant::now();
    let o = run(&lab, &state, &cfg, &["switchover", MASTER, "--yes"]);
    let back_wall = clock.elapsed().as_secs_f64();
    assert_eq!(o.status.code(), Some(0), "{}", all_text(&o));
    let (back, back_refused) = figures(&o);
    assert_eq!(cfg.text(), original, "the config is as it was");
    let after_back = app_insert(&lab, MASTER, "after-back")
        .unwrap()
        .trim()
        .parse::<i64>()
        .unwrap();
    assert!(after_back > *ids.iter().max().unwrap());
    same(&lab, MASTER, SLAVE, Duration::from_secs(60));
    let st = run(&lab, &state, &cfg, &["status"]);
    assert_eq!(st.status.code(), Some(0), "{}", all_text(&st));
    println!(
        "figure: switchover to jukebox {there:.1} s wall (killed once and resumed; the resumed run {there_run:.1} s), writes refused {:.1} s",
        there_refused.unwrap_or(f64::NAN)
    );
    println!(
        "figure: switchover back to cavaforgepad {back_wall:.1} s wall with its pre-checks, its steps {back:.1} s, writes refused {:.1} s",
        back_refused.unwrap_or(f64::NAN)
    );
}
