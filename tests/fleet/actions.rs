//! Actions against the local fleet lab: kick, pause/resume, recovery of a
//! stalled sync, container restart, read-only mode, the audit log, and
//! deploy (a changed env value, a broken Dockerfile). Every test leaves
//! the lab as it found it: jukebox healthy and replicating.

// Its helpers unwrap outside #[test] fns (clippy.toml covers only those).
#![allow(clippy::unwrap_used)]

use crate::common;

use crate::common::cli::{checkout, Checkout};
use crate::common::tmux::start_console;
use crate::common::Healthy;

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::Value;

const SYNC: &str = "archive_jukebox";

/// A private state dir (audit log, console state) for one test.
struct State(PathBuf);

impl State {
    fn new(test: &str) -> State {
        let p = std::env::temp_dir().join(format!("archtui-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        State(p)
    }
    fn audit(&self) -> Vec<Value> {
        std::fs::read_to_string(self.0.join("archtui/audit.log"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("audit lines are JSON"))
            .collect()
    }
}

impl Drop for State {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `archtui ARGS` with no terminal on stdin.
fn archtui(lab: &common::Lab, state: &State, args: &[&str]) -> Output {
    let o = Command::new(env!("CARGO_BIN_EXE_archtui"))
        .args(args)
        .env("ARCHTUI_CONFIG", lab.config())
        .env("XDG_STATE_HOME", &state.0)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run archtui");
    eprintln!(
        "archtui {}: {}\n{}{}",
        args.join(" "),
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exit code")
}

use crate::common::all_text;

fn status_json(lab: &common::Lab) -> (Value, i32) {
    let o = Command::new(env!("CARGO_BIN_EXE_archtui"))
        .args(["status", "--json"])
        .env("ARCHTUI_CONFIG", lab.config())
        .output()
        .expect("run archtui");
    let v = serde_json::from_slice(&o.stdout).unwrap_or(Value::Null);
    (v, o.status.code().unwrap_or(-1))
}

fn pending(v: &Value) -> Option<i64> {
    v["syncs"].as_array()?.iter().find(|s| s["name"] == SYNC)?["pending_rows"].as_i64()
}

fn sync_status(lab: &common::Lab) -> String {
    lab.bucardo_sql(
        "jukebox",
        &format!("SELECT status FROM bucardo.sync WHERE name = '{SYNC}'"),
    )
}

/// A row written on the master shows on jukebox: replication works.
fn assert_replicating(lab: &common::Lab) {
    let tag = format!("archtui-actions-{}-{}", std::process::id(), rand_tag());
    lab.psql(
        "cavaforgepad",
        &format!("INSERT INTO collections (name) VALUES ('{tag}')"),
    );
    let seen = common::wait_until(Duration::from_secs(60), Duration::from_millis(500), || {
        let _ = lab.try_psql(
            "jukebox",
            "bucardo",
            &format!("NOTIFY \"bucardo_kick_sync_{SYNC}\""),
        );
        (lab.psql(
            "jukebox",
            &format!("SELECT count(*) FROM collections WHERE name = '{tag}'"),
        ) == "1")
            .then_some(())
    });
    let _ = lab.try_psql(
        "cavaforgepad",
        common::ARCHIVE_DB,
        &format!("DELETE FROM collections WHERE name = '{tag}'"),
    );
    seen.expect("a row written on the master reaches jukebox");
}

fn rand_tag() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// Activates the sync (if needed) and waits until it is active.
fn ensure_active(lab: &common::Lab) {
    if sync_status(lab) == "active" {
        return;
    }
    let _ = lab.try_psql(
        "jukebox",
        "bucardo",
        &format!("NOTIFY \"bucardo_activate_sync_{SYNC}\""),
    );
    let _ = common::wait_until(Duration::from_secs(30), Duration::from_millis(500), || {
        (sync_status(lab) == "active").then_some(())
    });
    if sync_status(lab) != "active" {
        let _ = lab.try_psql(
            "jukebox",
            "bucardo",
            &format!("UPDATE bucardo.sync SET status = 'active' WHERE name = '{SYNC}'; NOTIFY bucardo_mcp_reload"),
        );
    }
}

fn started_at(lab: &common::Lab, host: &str, container: &str) -> String {
    lab.sh_ok(
        host,
        &format!("docker inspect -f '{{{{.State.StartedAt}}}}' {container}"),
    )
}

#[test]
#[cfg_attr(not(archtui_lab), ignore = "needs the lab: ARCHTUI_LAB=1")]
fn kick_waits_for_the_outcome_and_fails_on_a_deactivated_sync() {
    let Some(lab) = common::lab("kick_waits_for_the_outcome") else {
        return;
    };
    let state = State::new("kick");
    lab.wait_healthy(Healthy::Fleet, 120);
    let o = archtui(&lab, &state, &["kick", SYNC, "--wait", "30"]);
    assert_eq!(code(&o), 0, "{}", all_text(&o));
    assert!(all_text(&o).contains("ran:"), "{}", all_text(&o));

    let _restore = common::restore(|| ensure_active(&lab));
    lab.bucardo_sql(
        "jukebox",
        &format!("NOTIFY \"bucardo_deactivate_sync_{SYNC}\""),
    );
    common::wait_until(Duration::from_secs(30), Duration::from_millis(300), || {
        (sync_status(&lab) == "inactive").then_some(())
    })
    .expect("sync deactivated");
    let o = archtui(&lab, &state, &["kick", SYNC, "--wait", "5"]);
    assert_eq!(code(&o), 1, "{}", all_text(&o));
    assert!(all_text(&o).contains("inactive"), "{}", all_text(&o));

    let audit = state.audit();
    assert_eq!(audit.len(), 2, "{audit:?}");
    assert_eq!(audit[0]["action"], "kick");
    assert_eq!(audit[0]["result"], "ok");
    assert_eq!(audit[1]["result"], "failed");
    assert_eq!(audit[1]["host"], "jukebox");
    drop(_restore);
    lab.wait_healthy(Healthy::Fleet, 120);
    assert_replicating(&lab);
}

#[test]
#[cfg_attr(not(archtui_lab), ignore = "needs the lab: ARCHTUI_LAB=1")]
fn pause_stops_replication_and_resume_drains_it() {
    let Some(lab) = common::lab("pause_stops_replication") else {
        return;
    };
    let state = State::new("pause");
    lab.wait_healthy(Healthy::Fleet, 120);
    let tag = format!("archtui-pause-{}", rand_tag());
    let _restore = common::restore(|| {
        let _ = lab.try_psql(
            "jukebox",
            "bucardo",
            &format!("NOTIFY \"bucardo_resume_sync_{SYNC}\""),
        );
        let _ = lab.try_psql(
            "cavaforgepad",
            common::ARCHIVE_DB,
            &format!("DELETE FROM collections WHERE name LIKE '{tag}-%'"),
        );
    });
    let write = |n: u32| {
        lab.psql(
            "cavaforgepad",
            &format!(
                "INSERT INTO collections (name) SELECT '{tag}-{n}-' || g FROM generate_series(1, 5) g"
            ),
        )
    };
    let o = archtui(&lab, &state, &["pause", SYNC]);
    assert_eq!(code(&o), 2, "no terminal, no --yes: refused");
    let o = archtui(&lab, &state, &["pause", SYNC, "--yes"]);
    assert_eq!(code(&o), 0, "{}", all_text(&o));
    let remembered = std::fs::read_to_string(state.0.join("archtui/state.json")).unwrap();
    assert!(remembered.contains(SYNC), "{remembered}");
    common::wait_until(Duration::from_secs(15), Duration::from_millis(300), || {
        let (v, _) = status_json(&lab);
        let s = v["syncs"]
            .as_array()?
            .iter()
            .find(|s| s["name"] == SYNC)?
            .clone();
        (s["state"] == "paused").then_some(())
    })
    .expect("the sync shows paused");
    write(1);
    let (first, _) =
        common::wait_until(Duration::from_secs(30), Duration::from_millis(500), || {
            pending(&status_json(&lab).0).filter(|p| *p > 0)
        })
        .expect("pending rows appear while paused");
    write(2);
    let grown = common::wait_until(Duration::from_secs(30), Duration::from_millis(500), || {
        pending(&status_json(&lab).0).filter(|p| *p > first)
    });
    assert!(grown.is_ok(), "pending stayed at {first} while paused");
    // Paused means nothing of it reached the slave itself.
    let rows = format!(
        "SELECT count(*) || ':' || coalesce(md5(string_agg(name, ',' ORDER BY name)), '') \
         FROM collections WHERE name LIKE '{tag}-%'"
    );
    assert_eq!(
        lab.psql("jukebox", &rows),
        "0:",
        "rows reached jukebox while paused"
    );

    let o = archtui(&lab, &state, &["resume", SYNC]);
    assert_eq!(code(&o), 0, "{}", all_text(&o));
    let remembered = std::fs::read_to_string(state.0.join("archtui/state.json")).unwrap();
    assert!(!remembered.contains(SYNC), "{remembered}");
    let o = archtui(&lab, &state, &["kick", SYNC, "--wait", "30"]);
    assert_eq!(code(&o), 0, "{}", all_text(&o));
    common::wait_until(Duration::from_secs(30), Duration::from_millis(500), || {
        (pending(&status_json(&lab).0) == Some(0)).then_some(())
    })
    .expect("pending drains to 0 after resume");
    // And the slave holds exactly the master's rows (a digest, not a count).
    let master = lab.psql("cavaforgepad", &rows);
    assert!(master.starts_with("10:"), "{master}");
    common::wait_until(Duration::from_secs(30), Duration::from_millis(500), || {
        (lab.psql("jukebox", &rows) == master).then_some(())
    })
    .expect("jukebox has the master's rows after resume");
    let audit = state.audit();
    let results: Vec<(&str, &str)> = audit
        .iter()
        .map(|r| (r["action"].as_str().unwrap(), r["result"].as_str().unwrap()))
        .collect();
    assert_eq!(
        results,
        [
            ("pause", "refused"),
            ("pause", "ok"),
            ("resume", "ok"),
            ("kick", "ok")
        ]
    );
}

/// The sync's state as `status --json` shows it, with its reason.
fn sync_state(lab: &common::Lab) -> (String, String) {
    let (v, _) = status_json(lab);
    let s = v["syncs"]
        .as_array()
        .and_then(|a| a.iter().find(|s| s["name"] == SYNC).cloned())
        .unwrap_or(Value::Null);
    (
        s["state"].as_str().unwrap_or("?").to_string(),
        s["reason"].as_str().unwrap_or("").to_string(),
    )
}

fn wait_state(lab: &common::Lab, want: &str, secs: u64) {
    let mut last = (String::new(), String::new());
    common::wait_until(
        Duration::from_secs(secs),
        Duration::from_millis(500),
        || {
            last = sync_state(lab);
            (last.0 == want).then_some(())
        },
    )
    .unwrap_or_else(|w| panic!("sync not {want} after {w:?}: {last:?}"));
}

/// recover from each state a sync can be in: the supervisor's own repairs
/// are off meanwhile, so the state holds until recover acts.
#[test]
#[cfg_attr(not(archtui_lab), ignore = "needs the lab: ARCHTUI_LAB=1")]
fn recover_works_from_every_state() {
    let Some(lab) = common::lab("recover_works_from_every_state") else {
        return;
    };
    let state = State::new("recover");
    lab.wait_healthy(Healthy::Fleet, 120);
    let _restore = common::restore(|| {
        let _ = lab.compose("cavaforgepad", "master", "start db");
        ensure_active(&lab);
        let _ = lab.ctl("jukebox", "heal on");
        let _ = lab.ctl("jukebox", "restart 'test cleanup'");
    });
    lab.ctl("jukebox", "heal off");
    let recover = |was: &str| {
        let o = archtui(&lab, &state, &["recover", SYNC, "--yes"]);
        let text = all_text(&o);
        assert_eq!(code(&o), 0, "recover from {was}: {text}");
        assert!(
            text.contains(&format!("was {was}")),
            "recover from {was}: {text}"
        );
        wait_state(&lab, "good", 30);
        assert_replicating(&lab);
        eprintln!("recover from {was}: {}", text.trim());
    };

    lab.bucardo_sql(
        "jukebox",
        &format!("UPDATE bucardo.sync SET status = 'stalled' WHERE name = '{SYNC}'"),
    );
    wait_state(&lab, "stalled", 15);
    let o = archtui(&lab, &state, &["kick", SYNC, "--wait", "5"]);
    assert_eq!(
        code(&o),
        1,
        "a stalled sync is not kicked: {}",
        all_text(&o)
    );
    assert!(all_text(&o).contains("recover"), "{}", all_text(&o));
    recover("stalled");
    assert_eq!(sync_status(&lab), "active");

    lab.bucardo_sql(
        "jukebox",
        &format!("NOTIFY \"bucardo_deactivate_sync_{SYNC}\""),
    );
    wait_state(&lab, "inactive", 30);
    recover("inactive");

    lab.bucardo_sql("jukebox", &format!("NOTIFY \"bucardo_pause_sync_{SYNC}\""));
    wait_state(&lab, "paused", 15);
    recover("paused");

    lab.ctl("jukebox", "stop 'recover test'");
    wait_state(&lab, "daemon_down", 15);
    recover("daemon down");

    // Dropped: the daemon restarted while the master's db was down, so
    // the sync failed validation; the master is back, the sync is not.
    let out = lab.compose("cavaforgepad", "master", "stop db");
    assert!(out.status.success(), "{out:?}");
    lab.ctl("jukebox", "restart 'recover test: master down'");
    wait_state(&lab, "dropped", 60);
    let out = lab.compose("cavaforgepad", "master", "start db");
    assert!(out.status.success(), "{out:?}");
    lab.wait_healthy(
        Healthy::Service {
            host: "cavaforgepad",
            role: "master",
            service: "db",
        },
        120,
    );
    let (state_now, why) = sync_state(&lab);
    assert_eq!(
        state_now, "dropped",
        "still dropped with the master back: {why}"
    );
    assert!(
        why.contains("validation failed"),
        "the daemon's reason: {why}"
    );
    recover("dropped");

    let actions: Vec<String> = state
        .audit()
        .iter()
        .map(|r| {
            format!(
                "{} {}",
                r["action"].as_str().unwrap_or("?"),
                r["result"].as_str().unwrap_or("?")
            )
        })
        .collect();
    assert_eq!(
        actions.iter().filter(|a| *a == "recover ok").count(),
        5,
        "{actions:?}"
    );
}

#[test]
#[cfg_attr(not(archtui_lab), ignore = "needs the lab: ARCHTUI_LAB=1")]
fn restart_changes_the_start_time_and_returns_healthy() {
    let Some(lab) = common::lab("restart_changes_the_start_time") else {
        return;
    };
    let state = State::new("restart");
    lab.wait_healthy(Healthy::Fleet, 120);
    let before = started_at(&lab, "jukebox", "archive-app-1");
    let o = archtui(&lab, &state, &["restart", "jukebox", "app"]);
    assert_eq!(code(&o), 2, "refused without --yes and a terminal");
    assert_eq!(started_at(&lab, "jukebox", "archive-app-1"), before);
    let o = archtui(&lab, &state, &["restart", "jukebox", "app", "--yes"]);
    assert_eq!(code(&o), 0, "{}", all_text(&o));
    assert!(all_text(&o).contains("healthy"), "{}", all_text(&o));
    assert_ne!(started_at(&lab, "jukebox", "archive-app-1"), before);
    let health = lab.sh_ok(
        "jukebox",
        "docker inspect -f '{{.State.Health.Status}}' archive-app-1",
    );
    assert_eq!(health, "healthy");
    let audit = state.audit();
    assert_eq!(audit.len(), 2);
    assert_eq!(audit[1]["confirmed"], true);
    assert_eq!(audit[1]["args"], serde_json::json!(["jukebox", "app"]));
    assert_eq!(audit[1]["result"], "ok");
    lab.wait_healthy(Healthy::Fleet, 120);
}

#[test]
#[cfg_attr(not(archtui_lab), ignore = "needs the lab: ARCHTUI_LAB=1")]
fn read_only_refuses_every_action() {
    let Some(lab) = common::lab("read_only_refuses_every_action") else {
        return;
    };
    let state = State::new("readonly");
    let before = started_at(&lab, "jukebox", "archive-app-1");
    let sync_before = sync_status(&lab);
    let actions: [&[&str]; 9] = [
        &["kick", SYNC, "--wait", "5"],
        &["pause", SYNC, "--yes"],
        &["resume", SYNC],
        &["reload", "jukebox", "--yes"],
        &["recover", SYNC, "--yes"],
        &["restart", "jukebox", "app", "--yes"],
        &["stop", "jukebox", "app", "--yes"],
        &["start", "jukebox", "app", "--yes"],
        &[
            "deploy",
            "jukebox",
            "--yes",
            "--from",
            env!("CARGO_MANIFEST_DIR"),
        ],
    ];
    for a in actions {
        let mut args = vec!["--read-only"];
        args.extend_from_slice(a);
        let o = archtui(&lab, &state, &args);
        assert_eq!(code(&o), 2, "{a:?}: {}", all_text(&o));
        assert!(
            all_text(&o).contains("read-only"),
            "{a:?}: {}",
            all_text(&o)
        );
    }
    // A deploy's plan changes nothing: it is allowed.
    let o = archtui(
        &lab,
        &state,
        &[
            "--read-only",
            "deploy",
            "jukebox",
            "--plan",
            "--from",
            env!("CARGO_MANIFEST_DIR"),
        ],
    );
    assert_eq!(code(&o), 0, "{}", all_text(&o));
    // The config setting does the same.
    let ro = state.0.join("ro.toml");
    let text = std::fs::read_to_string(lab.config()).unwrap();
    std::fs::write(&ro, format!("read_only = true\n{text}")).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_archtui"))
        .args(["restart", "jukebox", "app", "--yes"])
        .env("ARCHTUI_CONFIG", &ro)
        .env("XDG_STATE_HOME", &state.0)
        .output()
        .unwrap();
    assert_eq!(code(&o), 2, "{}", all_text(&o));
    assert!(all_text(&o).contains("read-only"));

    assert_eq!(started_at(&lab, "jukebox", "archive-app-1"), before);
    assert_eq!(sync_status(&lab), sync_before);
    let audit = state.audit();
    assert_eq!(audit.len(), actions.len() + 2, "one audit line per action");
    assert_eq!(
        audit.iter().filter(|r| r["result"] == "refused").count(),
        actions.len() + 1
    );
}

fn app_env(lab: &common::Lab, host: &str) -> String {
    lab.sh_ok(
        host,
        "docker inspect -f '{{range .Config.Env}}{{println .}}{{end}}' archive-app-1",
    )
}

/// Deploys the original files back to jukebox with archtui's own deploy.
fn redeploy_original(lab: &common::Lab, original: &Checkout) {
    let state = State::new("restore");
    let from = original.0.to_str().unwrap();
    let _ = archtui(lab, &state, &["deploy", "jukebox", "--yes", "--from", from]);
}

#[test]
#[cfg_attr(not(archtui_lab), ignore = "needs the lab: ARCHTUI_LAB=1")]
fn deploy_shows_the_plan_and_applies_an_env_change() {
    let Some(lab) = common::lab("deploy_applies_an_env_change") else {
        return;
    };
    let state = State::new("deploy");
    lab.wait_healthy(Healthy::Fleet, 180);
    let original = checkout(&lab, "orig");
    let changed = checkout(&lab, "changed");
    let _restore = common::restore(|| redeploy_original(&lab, &original));
    let mut slave = std::fs::read_to_string(changed.0.join("env.slave")).unwrap();
    slave.push_str("export RAILS_SERVE_STATIC_FILES=false\n");
    // A secret the plan changes, so that redaction has something to hide.
    let token = format!("tok-{}", rand_tag());
    slave.push_str(&format!("export ARCHIVE_PLAN_TEST_TOKEN={token}\n"));
    std::fs::write(changed.0.join("env.slave"), slave).unwrap();
    let from = changed.0.to_str().unwrap();
    let master_app = started_at(&lab, "cavaforgepad", "archive-app-1");

    let o = archtui(
        &lab,
        &state,
        &["deploy", "jukebox", "--plan", "--from", from],
    );
    assert_eq!(code(&o), 0, "{}", all_text(&o));
    let plan = all_text(&o);
    assert!(plan.contains("+ RAILS_SERVE_STATIC_FILES=false"), "{plan}");
    assert!(plan.contains("changed   env.slave"), "{plan}");
    assert!(
        !plan.contains("PASSWORD="),
        "no secrets in the plan: {plan}"
    );
    assert!(
        plan.contains("+ ARCHIVE_PLAN_TEST_TOKEN=<redacted>"),
        "the new secret is listed, redacted: {plan}"
    );
    assert!(
        !plan.contains(&token),
        "the secret's value in the plan: {plan}"
    );
    assert!(app_env(&lab, "jukebox").contains("RAILS_SERVE_STATIC_FILES=true"));

    let o = archtui(
        &lab,
        &state,
        &["deploy", "jukebox", "--yes", "--from", from],
    );
    assert_eq!(code(&o), 0, "{}", all_text(&o));
    let out = all_text(&o);
    assert!(
        out.contains("archive-app-1"),
        "compose output streamed: {out}"
    );
    assert!(out.contains("deployed to jukebox"), "{out}");
    assert!(
        !out.contains(&token),
        "the secret's value in the output: {out}"
    );
    assert!(app_env(&lab, "jukebox").contains("RAILS_SERVE_STATIC_FILES=false"));
    assert_eq!(
        lab.sh_ok(
            "jukebox",
            "stat -c %a /srv/archive/env.slave /srv/archive/env.common"
        ),
        "600\n600"
    );
    assert_eq!(
        started_at(&lab, "cavaforgepad", "archive-app-1"),
        master_app,
        "the master is untouched"
    );
    let audit = state.audit();
    assert_eq!(audit.len(), 2);
    assert_eq!(audit[1]["action"], "deploy");
    assert_eq!(audit[1]["result"], "ok");
    assert!(!serde_json::to_string(&audit).unwrap().contains("PASSWORD="));
    assert!(!serde_json::to_string(&audit).unwrap().contains(&token));

    drop(_restore);
    assert!(app_env(&lab, "jukebox").contains("RAILS_SERVE_STATIC_FILES=true"));
    lab.wait_healthy(Healthy::Fleet, 180);
    assert_replicating(&lab);
}

#[test]
#[cfg_attr(not(archtui_lab), ignore = "needs the lab: ARCHTUI_LAB=1")]
fn deploy_with_a_broken_dockerfile_fails_and_keeps_serving() {
    let Some(lab) = common::lab("deploy_with_a_broken_dockerfile") else {
        return;
    };
    let state = State::new("broken");
    lab.wait_healthy(Healthy::Fleet, 180);
    let original = checkout(&lab, "orig2");
    let broken = checkout(&lab, "broken");
    let _restore = common::restore(|| redeploy_original(&lab, &original));
    let dockerfile = broken.0.join("assets/app/Dockerfile");
    let mut text = std::fs::read_to_string(&dockerfile).unwrap();
    text.push_str("\nRUN echo archtui-broken-build && false\n");
    std::fs::write(&dockerfile, text).unwrap();
    let before = started_at(&lab, "jukebox", "archive-app-1");
    let from = broken.0.to_str().unwrap();

    let o = archtui(
        &lab,
        &state,
        &["deploy", "jukebox", "--yes", "--from", from],
    );
    assert_eq!(code(&o), 1, "{}", all_text(&o));
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(err.contains("deploy_slave.sh on jukebox failed"), "{err}");
    assert!(
        err.contains("did not complete") || err.contains("failed to solve"),
        "says what failed: {err}"
    );
    assert!(err.contains("keep running"), "{err}");
    assert!(all_text(&o).contains("rebuilds: app"), "{}", all_text(&o));
    assert_eq!(started_at(&lab, "jukebox", "archive-app-1"), before);
    assert_eq!(
        lab.sh_ok(
            "jukebox",
            "docker inspect -f '{{.State.Health.Status}}' archive-app-1"
        ),
        "healthy"
    );
    assert_eq!(state.audit()[0]["result"], "failed");
    drop(_restore);
    lab.wait_healthy(Healthy::Fleet, 180);
    assert_replicating(&lab);
}

#[test]
#[cfg_attr(not(archtui_lab), ignore = "needs the lab: ARCHTUI_LAB=1")]
fn console_restart_key_confirms_cancels_and_restarts() {
    let Some(lab) = common::lab("console_restart_key_confirms_cancels_and_restarts") else {
        return;
    };
    let state = State::new("tui-restart");
    lab.wait_healthy(Healthy::Fleet, 120);
    let before = started_at(&lab, "jukebox", "archive-app-1");
    let t = start_console("restart", "", &lab.config(), Some(&state.0), 120, 36);
    t.wait("both hosts up", 30, |s| {
        s.lines()
            .any(|l| l.contains("jukebox") && l.contains(" up "))
    });
    t.keys(&["Down", "Tab"]);
    t.wait("jukebox's containers", 15, |s| {
        s.contains("containers · jukebox") && s.contains("app")
    });
    t.keys(&["R"]);
    let s = t.wait("the confirmation", 10, |s| {
        s.contains("Restart container app on jukebox?")
    });
    assert!(s.contains("[ Cancel ]") && s.contains("[ Confirm ]"), "{s}");
    t.keys(&["Escape"]);
    t.wait("the confirmation closes", 10, |s| {
        !s.contains("Restart container app")
    });
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        started_at(&lab, "jukebox", "archive-app-1"),
        before,
        "Esc changed nothing"
    );
    let audit = state.audit();
    assert_eq!(audit.len(), 1, "the cancel is logged: {audit:?}");
    assert_eq!(audit[0]["confirmed"], false);
    assert_eq!(audit[0]["result"], "refused");

    t.keys(&["R"]);
    t.wait("the confirmation again", 10, |s| {
        s.contains("Restart container app on jukebox?")
    });
    t.keys(&["Right", "Enter"]);
    let s = t.wait("the restart's outcome", 150, |s| {
        s.contains("ok: restarted archive-app-1") || s.contains("failed:") || s.contains("timeout:")
    });
    assert!(s.contains("ok: restarted archive-app-1"), "{s}");
    assert_ne!(started_at(&lab, "jukebox", "archive-app-1"), before);
    let audit = state.audit();
    assert_eq!(audit.len(), 2, "{audit:?}");
    assert_eq!(audit[1]["action"], "restart");
    assert_eq!(audit[1]["confirmed"], true);
    assert_eq!(audit[1]["result"], "ok");
    t.keys(&["Escape", "q"]);
    t.wait("a clean exit", 10, |s| s.contains("ARCHTUI-EXIT=0"));
    lab.wait_healthy(Healthy::Fleet, 120);
}

#[test]
#[cfg_attr(not(archtui_lab), ignore = "needs the lab: ARCHTUI_LAB=1")]
fn console_deploy_pane_streams_compose_output() {
    let Some(lab) = common::lab("console_deploy_pane_streams_compose_output") else {
        return;
    };
    let state = State::new("tui-deploy");
    lab.wait_healthy(Healthy::Fleet, 180);
    // The files jukebox already runs: a deploy that changes nothing.
    let same = checkout(&lab, "tui");
    let cfg = lab.config();
    let t = start_console(
        "deploy",
        &format!("ARCHTUI_CHECKOUT='{}' ", same.0.display()),
        &cfg,
        Some(&state.0),
        120,
        40,
    );
    t.wait("both hosts up", 30, |s| {
        s.lines()
            .any(|l| l.contains("jukebox") && l.contains(" up "))
    });
    t.keys(&["Down", "D"]);
    // The plan first, then the question.
    let s = t.wait("the deploy confirmation", 60, |s| {
        s.contains("Deploy the stack to jukebox (slave)")
    });
    assert!(s.contains("Plan for jukebox"), "{s}");
    t.keys(&["y"]);
    let s = t.wait("compose output in the pane", 120, |s| {
        s.contains("Container archive-")
    });
    assert!(s.contains("deploy jukebox"), "{s}");
    let s = t.wait("the deploy's outcome", 200, |s| {
        s.contains("ok: deployed to jukebox") || s.contains("failed:") || s.contains("timeout:")
    });
    assert!(s.contains("ok: deployed to jukebox"), "{s}");
    let audit = state.audit();
    assert_eq!(audit.len(), 2, "{audit:?}");
    assert!(audit[0]["args"].to_string().contains("--plan"), "{audit:?}");
    assert_eq!(audit[1]["action"], "deploy");
    assert_eq!(audit[1]["confirmed"], true);
    assert_eq!(audit[1]["result"], "ok");
    t.keys(&["Escape", "q"]);
    t.wait("a clean exit", 10, |s| s.contains("ARCHTUI-EXIT=0"));
    lab.wait_healthy(Healthy::Fleet, 180);
}

#[test]
#[cfg_attr(not(archtui_lab), ignore = "needs the lab: ARCHTUI_LAB=1")]
fn stop_then_start_a_container() {
    let Some(lab) = common::lab("stop_then_start_a_container") else {
        return;
    };
    let state = State::new("stopstart");
    lab.wait_healthy(Healthy::Fleet, 120);
    let _restore = common::restore(|| {
        let _ = lab.sh("jukebox", "docker start archive-app-1");
    });
    let running = || {
        lab.sh_ok(
            "jukebox",
            "docker inspect -f '{{.State.Running}}' archive-app-1",
        )
    };
    let o = archtui(&lab, &state, &["stop", "jukebox", "app", "--yes"]);
    assert_eq!(code(&o), 0, "{}", all_text(&o));
    assert_eq!(running(), "false");
    let o = archtui(&lab, &state, &["start", "jukebox", "app", "--yes"]);
    assert_eq!(code(&o), 0, "{}", all_text(&o));
    assert!(all_text(&o).contains("healthy"), "{}", all_text(&o));
    assert_eq!(running(), "true");
    let o = archtui(
        &lab,
        &state,
        &["restart", "jukebox", "nosuchservice", "--yes"],
    );
    assert_eq!(code(&o), 1, "{}", all_text(&o));
    assert!(all_text(&o).contains("no container of service nosuchservice"));
    let results: Vec<Value> = state.audit().iter().map(|r| r["result"].clone()).collect();
    assert_eq!(results, ["ok", "ok", "failed"]);
    drop(_restore);
    lab.wait_healthy(Healthy::Fleet, 120);
}
