//! `archtui failover` and `archtui rejoin` against the local fleet lab:
//! refused while the master answers, and a switchover refused while a
//! verify of the candidate fails; cavaforgepad's link down, a row
//! written there that never reached jukebox, `failover jukebox`; jukebox
//! takes writes whose ids pass the lost row's; cavaforgepad is fenced
//! (status says so, deploy refuses it); a third slave whose link is down
//! is left behind and listed; its link back, `rejoin
//! cavaforgepad` makes it a replicating slave and saves and reports the
//! row only it held; then a switchover back, from the console's screen,
//! ends with the lab as it started. Run with the lab up and ARCHTUI_LAB=1 (README).

// Its helpers unwrap outside #[test] fns (clippy.toml covers only those).
#![allow(clippy::unwrap_used)]

use crate::common;
use crate::switchover::{app_insert, journal, run, run_tag, same, Config};

use std::time::{Duration, Instant};

use common::cli::{wait_all_healthy, State};
use common::{all_text, lab, restore, wait_until, Lab};

const MASTER: &str = "cavaforgepad";
const SLAVE: &str = "jukebox";
/// The lab's bare host, configured here as a third slave whose link is
/// down: the other slave a failover cannot reach.
const OTHER: &str = "turntable";
const OTHER_HOST: &str =
    "\n[[hosts]]\nname = \"turntable\"\nrole = \"slave\"\nssh = \"turntable\"\n";

/// A statement on a host's archive db through its own Docker engine's
/// socket, not its network: how a row gets onto cavaforgepad while its
/// link is down (as a client on its LAN side would write it).
fn local_sql(lab: &Lab, host: &str, sql: &str) -> String {
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source '{}/lib.sh' && host_docker {host} exec -u postgres archive-db-1 psql -X -qAt -v ON_ERROR_STOP=1 -d archive_production -c \"$1\"",
            lab.dir.display()
        ))
        .arg("local_sql")
        .arg(sql)
        .output()
        .unwrap();
    assert!(out.status.success(), "{sql}: {}", all_text(&out));
    common::text(&out)
}

fn link(lab: &Lab, host: &str, how: &str) {
    let out = lab.run("link", &[host, how]);
    assert!(
        out.status.success(),
        "link {host} {how}: {}",
        all_text(&out)
    );
}

fn fenced_in(cfg: &Config, host: &str) -> bool {
    archtui_core::config::Config::parse(&cfg.text(), &cfg.0)
        .unwrap()
        .is_fenced(host)
}

#[test]
#[cfg_attr(not(archtui_lab), ignore = "needs the lab: ARCHTUI_LAB=1")]
fn failover_with_the_master_link_down_then_rejoin_reports_its_rows() {
    let Some(lab) = lab("failover") else {
        return;
    };
    let state = State::new("failover");
    let cfg = Config::copy(&lab, "failover");
    let original = cfg.text();
    // Whatever happens below, the lab ends with cavaforgepad the master.
    let _back = restore(|| {
        let _ = lab.run("link", &[MASTER, "up"]);
        let _ = lab.run("link", &[OTHER, "up"]);
        if let Some(t) = archtui_core::wizard::config_edit::remove_host(&cfg.text(), OTHER) {
            std::fs::write(&cfg.0, t).unwrap();
        }
        if let Some(j) = journal(&state) {
            let kind = j["kind"].as_str().unwrap_or("switchover").to_string();
            let to = j["roles"]["candidate"]
                .as_str()
                .unwrap_or(SLAVE)
                .to_string();
            let _ = run(&lab, &state, &cfg, &[&kind, &to, "--yes"]);
        }
        if fenced_in(&cfg, MASTER) {
            let _ = run(&lab, &state, &cfg, &["rejoin", MASTER, "--yes"]);
        }
        if cfg.master() != MASTER {
            let tag = run_tag();
            let _ = lab.try_psql(
                MASTER,
                "archive_production",
                &format!("DELETE FROM collections WHERE name LIKE '{tag}-split%'"),
            );
            let _ = run(&lab, &state, &cfg, &["switchover", MASTER, "--yes"]);
        }
    });

    // Refused before any change while the master answers.
    let o = run(&lab, &state, &cfg, &["failover", SLAVE, "--yes"]);
    let t = all_text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(t.contains("FAIL master unreachable"), "{t}");
    assert!(t.contains("archtui switchover jukebox"), "{t}");
    assert!(journal(&state).is_none() && !fenced_in(&cfg, MASTER));

    let before: i64 = app_insert(&lab, MASTER, "before-failover")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    same(&lab, MASTER, SLAVE, Duration::from_secs(30));

    // Refused before any change: a switchover to a candidate whose verify
    // fails (that row gone on jukebox); the repair mends it.
    lab.psql(
        SLAVE,
        &format!("DELETE FROM collections WHERE id = {before}"),
    );
    let o = run(&lab, &state, &cfg, &["switchover", SLAVE, "--yes"]);
    let t = all_text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(
        t.contains("FAIL verify") && t.contains("archtui verify jukebox --repair"),
        "{t}"
    );
    assert!(
        t.contains("pre-check failed: verify; nothing was changed"),
        "{t}"
    );
    assert!(journal(&state).is_none());
    let v = run(&lab, &state, &cfg, &["verify", SLAVE, "--repair", "--yes"]);
    assert_eq!(v.status.code(), Some(0), "{}", all_text(&v));
    same(&lab, MASTER, SLAVE, Duration::from_secs(60));

    // A third slave in the config, unreachable: the failover goes on
    // without it and lists it.
    std::fs::write(&cfg.0, format!("{}{OTHER_HOST}", cfg.text())).unwrap();
    link(&lab, OTHER, "down");
    // The master's link goes; a row written there never reaches jukebox.
    link(&lab, MASTER, "down");
    let split: i64 = local_sql(
        &lab,
        MASTER,
        &format!(
            "INSERT INTO collections (name) VALUES ('{}-split') RETURNING id",
            run_tag()
        ),
    )
    .trim()
    .parse()
    .unwrap();
    assert!(split > before);

    let clock = Instant::now();
    let o = run(&lab, &state, &cfg, &["failover", SLAVE, "--yes"]);
    let took = clock.elapsed().as_secs_f64();
    let t = all_text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(t.contains("PASS master unreachable"), "{t}");
    assert!(t.contains("candidate #1: jukebox, heartbeat"), "{t}");
    assert!(
        t.contains("may be missing"),
        "the bound on lost writes: {t}"
    );
    assert!(
        t.contains("cavaforgepad is fenced: `archtui rejoin cavaforgepad`"),
        "{t}"
    );
    assert!(journal(&state).is_none());
    assert_eq!(cfg.master(), SLAVE);
    assert!(fenced_in(&cfg, MASTER), "{}", cfg.text());

    // jukebox takes writes; its ids pass the row only cavaforgepad holds.
    let mut ids = Vec::new();
    for i in 0..5 {
        let id: i64 = app_insert(&lab, SLAVE, &format!("after-failover-{i}"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        ids.push(id);
    }
    assert!(
        ids.iter().all(|id| *id > split),
        "ids {ids:?} must pass {split}"
    );

    // Fenced: the status says so, and archtui will not deploy it.
    let st = run(&lab, &state, &cfg, &["status"]);
    assert!(
        all_text(&st).contains("cavaforgepad is fenced (a failover replaced it"),
        "{}",
        all_text(&st)
    );
    let d = run(&lab, &state, &cfg, &["deploy", MASTER, "--yes"]);
    assert_eq!(d.status.code(), Some(2), "{}", all_text(&d));
    assert!(
        all_text(&d).contains("cavaforgepad is fenced"),
        "{}",
        all_text(&d)
    );

    // The slave left behind comes back: it runs no stack here, so its
    // rejoin stops before any change, saying why.
    link(&lab, OTHER, "up");
    let o = run(&lab, &state, &cfg, &["rejoin", OTHER, "--yes"]);
    assert_eq!(o.status.code(), Some(1), "{}", all_text(&o));
    assert!(
        all_text(&o).contains("turntable: no env.slave in its deploy dir"),
        "{}",
        all_text(&o)
    );
    let t = archtui_core::wizard::config_edit::remove_host(&cfg.text(), OTHER).unwrap();
    std::fs::write(&cfg.0, t).unwrap();

    // Back: still fenced, and its app runs (writes there reach no one).
    link(&lab, MASTER, "up");
    wait_until(Duration::from_secs(60), Duration::from_secs(2), || {
        let st = run(&lab, &state, &cfg, &["status"]);
        all_text(&st)
            .contains("it is back and its app runs")
            .then_some(())
    })
    .unwrap();

    let clock = Instant::now();
    let o = run(&lab, &state, &cfg, &["rejoin", MASTER, "--yes"]);
    let rejoin_took = clock.elapsed().as_secs_f64();
    let t = all_text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(t.contains("cavaforgepad replicates from jukebox"), "{t}");
    assert!(
        t.contains("1 row(s) only on cavaforgepad (kept there)"),
        "{t}"
    );
    assert!(!fenced_in(&cfg, MASTER), "{}", cfg.text());
    // The row only it held: saved whole, and still there.
    let saved = std::fs::read_dir(state.0.join("archtui/rejoin"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect::<String>();
    assert!(
        saved.contains(&format!("{}-split", run_tag())) && saved.contains("\"only_here\""),
        "{saved}"
    );
    let still = lab.psql(
        MASTER,
        &format!("SELECT count(*) FROM collections WHERE id = {split}"),
    );
    assert_eq!(still.trim(), "1");

    // It replicates: a write on jukebox arrives.
    let id = app_insert(&lab, SLAVE, "after-rejoin").unwrap();
    wait_until(Duration::from_secs(60), Duration::from_millis(500), || {
        let n = lab.psql(
            MASTER,
            &format!("SELECT count(*) FROM collections WHERE id = {}", id.trim()),
        );
        (n.trim() == "1").then_some(())
    })
    .unwrap();

    // The operator's part: the lost row goes (here: deleted where it is),
    // then a switchover back ends with the lab as it started.
    lab.psql(
        MASTER,
        &format!("DELETE FROM collections WHERE id = {split}"),
    );
    same(&lab, SLAVE, MASTER, Duration::from_secs(60));
    wait_all_healthy(&lab, 90);
    // The switchover back runs from the console's screen: S on
    // cavaforgepad's row (the first), its pre-checks and plan, a wrong
    // name refused, the right one, the steps, the outcome, Esc reloads.
    let clock = Instant::now();
    let t = common::tmux::start_console("failover", "", &cfg.0, Some(&state.0), 160, 45);
    t.wait("both hosts up", 90, |s| {
        s.contains("● cavaforgepad") && s.contains("● jukebox")
    });
    t.keys(&["S"]);
    t.wait("the switchover's prompt", 180, |s| {
        s.contains("Switchover to cavaforgepad")
            && s.contains("Type the new master's name (cavaforgepad) to switch over:")
    });
    t.keys(&["cavaforgepa", "Enter"]);
    t.wait("a wrong name refused", 20, |s| {
        s.contains("the name typed is not cavaforgepad; nothing was changed")
    });
    assert!(journal(&state).is_none(), "a wrong name changes nothing");
    t.keys(&["d", "Enter"]);
    t.wait("the outcome", 300, |s| {
        s.contains("ok: cavaforgepad is the master")
    });
    let console_took = clock.elapsed().as_secs_f64();
    t.keys(&["Escape"]);
    t.wait("the config reloaded", 60, |s| {
        s.contains("switchover to cavaforgepad: ok")
    });
    drop(t);
    assert!(journal(&state).is_none());
    assert_eq!(cfg.text(), original, "the config is as it was");
    let audit: Vec<String> = state
        .audit()
        .iter()
        .map(|a| a["action"].as_str().unwrap_or("").to_string())
        .collect();
    for a in ["failover", "rejoin", "switchover:promote", "switchover"] {
        assert!(audit.iter().any(|x| x == a), "{a} audited: {audit:?}");
    }
    same(&lab, MASTER, SLAVE, Duration::from_secs(60));
    println!("figure: failover to jukebox with cavaforgepad's link down {took:.1} s wall; rejoin of cavaforgepad {rejoin_took:.1} s; switchover back from the console {console_took:.1} s (console start to outcome)");
}
