//! The new-slave wizard against the lab: `archtui provision` turns the bare
//! third host (turntable) into a replicating slave, resumes after a kill,
//! refuses bad input before any change, and `archtui retire` undoes it.
//! Run with the lab up and ARCHTUI_LAB=1 (README). Every test leaves
//! turntable bare again, also when it fails.

// Its helpers unwrap outside #[test] fns (clippy.toml covers only those).
#![allow(clippy::unwrap_used)]

use crate::common;

use crate::common::tmux::Tmux;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::common::{lab, restore, text, wait_until, Lab};

const MASTER: &str = "cavaforgepad";
const SLAVE: &str = "jukebox";
const NEW: &str = "turntable";
const DIR: &str = "/srv/archive";

/// A scratch dir per test: a checkout with the lab's real env.common (from
/// the master's deploy dir), a copy of the lab's config, a state dir.
struct Scratch {
    root: PathBuf,
}

impl Scratch {
    fn new(lab: &Lab, what: &str) -> Scratch {
        let t = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        let root = std::env::temp_dir().join(format!(
            "archtui-wizard-{what}-{}-{}",
            std::process::id(),
            t.as_millis()
        ));
        let from = root.join("from");
        std::fs::create_dir_all(&from).unwrap();
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        let ok = Command::new("cp")
            .arg("-a")
            .args(
                [
                    "docker-compose.yml",
                    ".env",
                    "env.slave",
                    "deploy.sh",
                    "deploy_slave.sh",
                    "assets",
                ]
                .map(|f| repo.join(f)),
            )
            .arg(&from)
            .status()
            .unwrap();
        assert!(ok.success());
        let env_common = lab.sh_ok(MASTER, "cat /srv/archive/env.common");
        std::fs::write(from.join("env.common"), env_common + "\n").unwrap();
        std::fs::copy(lab.config(), root.join("config.toml")).unwrap();
        std::fs::create_dir_all(root.join("state")).unwrap();
        Scratch { root }
    }

    fn config(&self) -> PathBuf {
        self.root.join("config.toml")
    }

    fn journal(&self) -> PathBuf {
        self.root
            .join("state/archtui/provision")
            .join(format!("{NEW}.json"))
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_archtui"));
        c.args(args)
            .env("ARCHTUI_CONFIG", self.config())
            .env("XDG_STATE_HOME", self.root.join("state"))
            .env("ARCHTUI_CHECKOUT", self.root.join("from"))
            .stdin(Stdio::null());
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

use crate::common::all_text as all;

/// turntable's db, dbgroup and sync rows in the master's Bucardo.
fn registered(lab: &Lab) -> String {
    lab.registered(NEW)
}

fn delta_targets(lab: &Lab) -> String {
    lab.psql(
        MASTER,
        &format!(
            "SELECT count(*) FROM bucardo.bucardo_delta_targets WHERE target = 'dbgroup {NEW}_grp'"
        ),
    )
}

/// turntable's rows in the master's per-table track tables (which delta
/// rows a target has seen): purged by the retire.
fn track_rows(lab: &Lab) -> String {
    lab.psql(
        MASTER,
        &format!(
            "SELECT coalesce(sum((xpath('/row/c/text()', query_to_xml(format(\
               'SELECT count(*) AS c FROM bucardo.%I WHERE target = %L', tablename, 'dbgroup {NEW}_grp'), \
               false, true, '')))[1]::text::bigint), 0) \
             FROM pg_tables WHERE schemaname = 'bucardo' AND tablename LIKE 'track\\_%'"
        ),
    )
}

/// Back to bare: retired on the master, the stack and its volumes gone,
/// the deploy dir removed.
fn make_bare(lab: &Lab) {
    // A retire that fails here leaves turntable's delta targets on the
    // master, whose delta tables then never purge: every later test and
    // bench on this lab slows down. Tried again, and said when it fails.
    for attempt in 1..=3 {
        let out = lab.compose(
            MASTER,
            "master",
            &format!("exec -T bucardo archive-retire-slave {NEW}"),
        );
        if out.status.success() {
            break;
        }
        eprintln!("make_bare: retire attempt {attempt} failed: {}", all(&out));
        std::thread::sleep(Duration::from_secs(3));
    }
    let _ = lab.sh(
        NEW,
        &format!(
            "[ -d {DIR} ] && cd {DIR} && docker compose --env-file env.common --env-file env.slave down -v --remove-orphans; rm -rf {DIR}"
        ),
    );
}

/// What a bare turntable looks like from outside, to compare before/after.
fn fingerprint(lab: &Lab, scratch: &Scratch) -> String {
    format!(
        "{}|{}|{}|{}",
        registered(lab),
        text(&lab.sh(
            NEW,
            &format!("docker ps -aq --filter label=com.docker.compose.project=archive | wc -l; ls -A {DIR} 2>/dev/null | wc -l")
        )),
        std::fs::read_to_string(scratch.config()).unwrap(),
        scratch.journal().exists()
    )
}

/// A collection written on the master under a name no run repeats; its id.
fn new_collection(lab: &Lab, tag: &str) -> i64 {
    let t = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    lab.psql(
        MASTER,
        &format!(
            "INSERT INTO collections (name) VALUES ('{tag}-{}-{}') RETURNING id",
            std::process::id(),
            t.as_nanos()
        ),
    )
    .parse()
    .unwrap()
}

fn assert_replicating(lab: &Lab) {
    assert_eq!(registered(lab), "1,1,1");
    for table in ["collections", "items", "files"] {
        let q = format!("SELECT count(*) FROM {table}");
        assert_eq!(lab.count(NEW, &q), lab.count(MASTER, &q), "{table}");
    }
    let coll = new_collection(lab, "wizard");
    lab.psql(
        MASTER,
        &format!("INSERT INTO items (collection_id, identifier, title) VALUES ({coll}, 'wizard-{coll}', 'x')"),
    );
    let q = format!("SELECT count(*) FROM items WHERE collection_id = {coll}");
    let ((), took) = wait_until(Duration::from_secs(10), Duration::from_millis(100), || {
        (lab.count(NEW, &q) == 1).then_some(())
    })
    .unwrap_or_else(|w| panic!("a new row did not reach {NEW} within {w:?}"));
    eprintln!("figure: a new row reached the provisioned {NEW} in {took:?}");
}

#[test]
#[cfg_attr(not(archtui_lab), ignore = "needs the lab: ARCHTUI_LAB=1")]
fn provision_makes_a_replicating_slave_and_retire_removes_it() {
    let Some(lab) = lab("provision") else { return };
    make_bare(&lab);
    let _bare = restore(|| make_bare(&lab));
    let s = Scratch::new(&lab, "whole");

    let start = Instant::now();
    let out = s.run(&["provision", NEW, "--yes"]);
    let took = start.elapsed();
    assert!(out.status.success(), "provision: {}", all(&out));
    eprintln!("figure: whole provisioning of {NEW} on the lab: {took:?}");
    // The heartbeat step had the master beat at once (archive-bucardo-ctl).
    assert!(
        all(&out).contains("after the master was asked for one"),
        "{}",
        all(&out)
    );
    assert_replicating(&lab);
    assert!(!s.journal().exists(), "the journal goes once done");
    assert_ne!(delta_targets(&lab), "0", "a live slave has delta targets");

    let status = s.run(&["status", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&status.stdout).expect("status json");
    let host = json["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["name"] == NEW)
        .unwrap_or_else(|| panic!("{NEW} not in status: {json}"));
    assert_eq!(host["state"], "up", "{host}");
    let bak = std::fs::read_to_string(s.root.join("config.toml.bak")).unwrap();
    assert!(!bak.contains(NEW), "the backup is the old config");

    // Retire: typed confirmation; without it nothing happens.
    let out = s.run(&["retire", NEW, "--stop"]);
    assert_eq!(out.status.code(), Some(2), "{}", all(&out));
    assert_eq!(registered(&lab), "1,1,1");
    let out = s.run(&["retire", NEW, "--stop", "--confirm", NEW]);
    assert!(out.status.success(), "retire: {}", all(&out));
    assert_eq!(registered(&lab), "0,0,0");
    assert_eq!(delta_targets(&lab), "0");
    assert_eq!(track_rows(&lab), "0", "track rows of the retired slave");
    let config = std::fs::read_to_string(s.config()).unwrap();
    assert!(!config.contains(NEW), "{config}");
    let running = lab.sh_ok(
        NEW,
        "docker ps -q --filter label=com.docker.compose.project=archive | wc -l",
    );
    assert_eq!(running, "0");
    // Retiring again finds nothing to remove and still succeeds.
    let again = s.run(&["retire", NEW, "--confirm", NEW]);
    assert!(again.status.success(), "{}", all(&again));

    // jukebox keeps replicating (Bucardo may respawn for ~15 s after losing a target).
    let coll = new_collection(&lab, "wizard-after-retire");
    // Its delta row is written by the trigger, in the insert's transaction.
    assert_eq!(lab.count(MASTER, &delta_rows(coll)), 1);
    let q = format!("SELECT count(*) FROM collections WHERE id = {coll}");
    wait_until(Duration::from_secs(60), Duration::from_millis(200), || {
        (lab.count(SLAVE, &q) == 1).then_some(())
    })
    .expect("jukebox still replicates after the retire");
    assert_deltas_purged(&lab, coll);
}

fn delta_rows(coll: i64) -> String {
    format!("SELECT count(*) FROM bucardo.delta_public_collections WHERE id = {coll}")
}

/// The master's delta rows of a change written after a retire go again
/// once jukebox has it: purging (what Bucardo's VAC process runs every
/// vac_sleep) keeps a delta row until every target in
/// bucardo_delta_targets has seen it, so a retired slave left there would
/// keep them forever.
fn assert_deltas_purged(lab: &Lab, coll: i64) {
    let pending = delta_rows(coll);
    let purged = wait_until(Duration::from_secs(30), Duration::from_millis(500), || {
        lab.psql(MASTER, "SELECT bucardo.bucardo_purge_delta('0 seconds')");
        (lab.count(MASTER, &pending) == 0).then_some(())
    });
    assert!(
        purged.is_ok(),
        "delta rows of a change jukebox has are still on the master: targets {:?}",
        lab.psql(
            MASTER,
            "SELECT string_agg(DISTINCT target, ', ') FROM bucardo.bucardo_delta_targets"
        )
    );
}

/// Ends ssh masters a killed archtui left behind (their control sockets
/// live in its run dir, /tmp/archtui-PID).
fn end_orphaned_masters(pid: u32) {
    let run = std::env::temp_dir().join(format!("archtui-{pid}"));
    let Ok(found) = Command::new("find")
        .arg(&run)
        .args(["-type", "s", "-name", "master"])
        .output()
    else {
        return;
    };
    for sock in String::from_utf8_lossy(&found.stdout).lines() {
        let _ = Command::new("ssh")
            .args(["-S", sock, "-O", "exit", "x"])
            .stderr(Stdio::null())
            .status();
    }
    let _ = std::fs::remove_dir_all(run);
}

#[test]
#[cfg_attr(not(archtui_lab), ignore = "needs the lab: ARCHTUI_LAB=1")]
fn killed_during_compose_up_resumes_without_duplicates() {
    let Some(lab) = lab("resume") else { return };
    make_bare(&lab);
    let _bare = restore(|| make_bare(&lab));
    let s = Scratch::new(&lab, "resume");

    let mut child = s
        .cmd(&["provision", NEW, "--yes"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut seen = Vec::new();
    // Kept open until the kill, so the child never writes into a closed pipe.
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    for line in lines.by_ref() {
        let line = line.unwrap_or_default();
        let go = line.starts_with("[2/6]");
        seen.push(line);
        if go {
            break;
        }
    }
    // In the middle of compose up.
    std::thread::sleep(Duration::from_secs(2));
    let _ = child.kill();
    let _ = child.wait();
    drop(lines);
    end_orphaned_masters(pid);
    let journal = std::fs::read_to_string(s.journal())
        .unwrap_or_else(|e| panic!("no journal after the kill ({e}); output: {seen:#?}"));
    assert!(journal.contains("\"upload\""), "{journal}");
    assert!(!journal.contains("compose_up"), "{journal}");

    let start = Instant::now();
    let out = s.run(&["provision", NEW, "--yes"]);
    let took = start.elapsed();
    let said = all(&out);
    assert!(out.status.success(), "resumed provision: {said}");
    assert!(said.contains("Resuming"), "{said}");
    assert!(!said.contains("[1/6]"), "upload is not redone: {said}");
    eprintln!("figure: resumed provisioning of {NEW} on the lab: {took:?}");
    assert_replicating(&lab);
    let config = std::fs::read_to_string(s.config()).unwrap();
    assert_eq!(
        config.matches(&format!("name = \"{NEW}\"")).count(),
        1,
        "{config}"
    );
    let containers = lab.sh_ok(
        NEW,
        "docker ps -aq --filter label=com.docker.compose.project=archive | wc -l",
    );
    assert_eq!(containers, "3");

    // A run after the end is refused as a duplicate: nothing doubles.
    let again = s.run(&["provision", NEW, "--yes"]);
    assert_eq!(again.status.code(), Some(2), "{}", all(&again));
    assert_eq!(registered(&lab), "1,1,1");
}

#[test]
#[cfg_attr(not(archtui_lab), ignore = "needs the lab: ARCHTUI_LAB=1")]
fn bad_input_is_refused_before_any_change() {
    let Some(lab) = lab("bad input") else { return };
    make_bare(&lab);
    let _bare = restore(|| make_bare(&lab));
    let s = Scratch::new(&lab, "bad");
    let before = fingerprint(&lab, &s);
    let refused = |args: &[&str], says: &str| {
        let out = s.run(args);
        let said = all(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {said}");
        assert!(said.contains(says), "{args:?} must say {says:?}: {said}");
        assert_eq!(fingerprint(&lab, &s), before, "{args:?} changed something");
    };

    refused(
        &["provision", SLAVE, "--ssh", NEW, "--yes"],
        "already a host in the config",
    );
    refused(
        &["provision", "Bad-Name", "--ssh", NEW, "--yes"],
        "is invalid",
    );
    refused(
        &["provision", NEW, "--master-db-host", "10.77.0.254", "--yes"],
        "FAIL master's database",
    );

    // A name the config lacks but the master's Bucardo has.
    let full = std::fs::read_to_string(s.config()).unwrap();
    let only_master = full
        .split("[[hosts]]\nname = \"jukebox\"")
        .next()
        .unwrap()
        .to_string();
    std::fs::write(s.config(), &only_master).unwrap();
    let before_nb = fingerprint(&lab, &s);
    let out = s.run(&["provision", SLAVE, "--ssh", NEW, "--yes"]);
    assert_eq!(out.status.code(), Some(2), "{}", all(&out));
    assert!(all(&out).contains("FAIL name in Bucardo"), "{}", all(&out));
    assert_eq!(fingerprint(&lab, &s), before_nb);
    std::fs::write(s.config(), &full).unwrap();

    // Compose v2 missing: the plugin moved away for the case.
    let plugin = "/usr/libexec/docker/cli-plugins/docker-compose";
    lab.sh_ok(NEW, &format!("mv {plugin} /root/docker-compose.hidden"));
    {
        let _back = restore(|| {
            lab.sh(
                NEW,
                &format!("[ -e {plugin} ] || mv /root/docker-compose.hidden {plugin}"),
            );
        });
        refused(&["provision", NEW, "--yes"], "FAIL docker compose");
    }
    lab.sh_ok(NEW, "docker compose version --short");

    // The host unreachable: its link down.
    let down = lab.run("link", &[NEW, "down"]);
    assert!(down.status.success(), "{}", all(&down));
    {
        let _up = restore(|| {
            lab.run("link", &[NEW, "up"]);
        });
        let out = s.run(&["provision", NEW, "--yes"]);
        let said = all(&out);
        assert_eq!(out.status.code(), Some(2), "{said}");
        assert!(said.contains("FAIL ssh"), "{said}");
        assert!(!s.journal().exists());
    }
    wait_until(Duration::from_secs(20), Duration::from_millis(500), || {
        lab.sh(NEW, "true").status.success().then_some(())
    })
    .expect("turntable back after the link came up");
    assert_eq!(fingerprint(&lab, &s), before);
}

/// `archtui ARGS` in a detached tmux session of fixed size, on the
/// scratch config, state and checkout; its exit code is printed after it.
fn start_archtui(s: &Scratch, args: &str, w: u16, h: u16) -> Tmux {
    let script = format!(
        "ARCHTUI_CONFIG='{}' XDG_STATE_HOME='{}' ARCHTUI_CHECKOUT='{}' '{}' {args}; echo \"ARCHTUI-EXIT=$?\"; sleep 600",
        s.config().display(),
        s.root.join("state").display(),
        s.root.join("from").display(),
        env!("CARGO_BIN_EXE_archtui")
    );
    Tmux::start("archtui", &script, w, h)
}

/// The wizard's screen for turntable.
fn start_wizard(s: &Scratch, w: u16, h: u16) -> Tmux {
    start_archtui(s, &format!("provision {NEW} --tui"), w, h)
}

#[test]
#[cfg_attr(not(archtui_lab), ignore = "needs the lab: ARCHTUI_LAB=1")]
fn wizard_screens_in_tmux_esc_at_review_then_a_whole_run_and_retire_from_the_console() {
    let Some(lab) = lab("wizard tui") else { return };
    assert!(
        Command::new("tmux").arg("-V").output().is_ok(),
        "ARCHTUI_LAB=1 but tmux is missing"
    );
    make_bare(&lab);
    let _bare = restore(|| make_bare(&lab));
    let s = Scratch::new(&lab, "tui");
    let before = fingerprint(&lab, &s);

    // Esc at the plan review changes nothing.
    {
        let t = start_wizard(&s, 100, 30);
        t.wait("the input screen", 10, |s| {
            s.contains("New slave turntable · input")
        });
        t.key("Enter");
        // The hint row is drawn after the plan, so with it the frame is whole.
        let review = t.wait("the plan review", 60, |s| {
            s.contains("· plan review") && s.contains("⏎ provision")
        });
        assert!(review.contains("archive_turntable"), "{review}");
        t.key("Escape");
        t.wait("cancelled", 5, |s| s.contains("nothing was changed"));
        t.key("Enter");
        t.wait("the exit", 5, |s| s.contains("ARCHTUI-EXIT=2"));
        assert_eq!(
            fingerprint(&lab, &s),
            before,
            "Esc at the review changed something"
        );
    }

    // From the console: W opens the wizard on a blank form; a whole run,
    // each step's screen, then the console again with the new slave.
    let t = start_archtui(&s, "", 120, 36);
    t.wait("the console", 60, |s| {
        s.contains("● cavaforgepad") && s.contains("● jukebox")
    });
    t.key("W");
    let form = t.wait("the blank form", 10, |s| s.contains("New slave  · input"));
    assert!(form.contains("Blank SSH destination"), "{form}");
    t.keys(&[NEW, "Enter"]);
    let review = t.wait("the plan review", 60, |s| {
        s.contains("· plan review") || s.contains("· refused")
    });
    assert!(review.contains("archive_turntable"), "{review}");
    assert!(
        review.contains("10.77.0.3"),
        "APP_HOST from ssh -G: {review}"
    );
    let start = Instant::now();
    t.key("Enter");
    for n in 1..=6 {
        let want = format!("Step {n}/6");
        t.wait(&want, 300, |s| s.contains(&want) || s.contains("· done"));
    }
    let done = t.wait("done", 300, |s| {
        s.contains("· done") || s.contains("· failed")
    });
    assert!(done.contains("is a replicating slave"), "{done}");
    eprintln!(
        "figure: provisioning from the console's wizard, confirm to done: {:?}",
        start.elapsed()
    );
    assert_replicating(&lab);
    t.key("Enter");
    // The console on the updated config: turntable in the fleet pane, up.
    let fleet = t.wait("the console with turntable up", 60, |s| {
        !s.contains("New slave")
            && s.lines()
                .any(|l| l.contains(&format!("● {NEW}")) && l.contains(" up "))
    });
    assert!(fleet.contains(SLAVE), "{fleet}");
    assert!(fleet.contains("wizard: turntable provisioned"), "{fleet}");

    // X on the selected new slave: its name typed, Tab to stop its stack.
    t.key("X");
    t.wait("the retire question", 10, |s| {
        s.contains("Retire slave turntable")
    });
    t.keys(&["Tab", NEW]);
    t.wait("the stop option on", 5, |s| {
        s.contains("[x] also stop its stack")
    });
    let start = Instant::now();
    t.key("Enter");
    // Reloaded means no row for turntable at all: a console that kept the
    // old config would still list it, as `✗ turntable` once its stack stops.
    let host_row = |l: &str| {
        let mut c = l.trim_start_matches('│').chars();
        c.next();
        c.as_str().starts_with(&format!(" {NEW} "))
    };
    let after = t.wait("retired and reloaded", 180, |s| {
        s.contains("ok: retired turntable") && !s.lines().any(host_row)
    });
    eprintln!(
        "figure: retire from the console (stack stopped, config reloaded): {:?}",
        start.elapsed()
    );
    assert!(after.contains(SLAVE), "{after}");
    assert_eq!(registered(&lab), "0,0,0");
    assert_eq!(delta_targets(&lab), "0");
    let config = std::fs::read_to_string(s.config()).unwrap();
    assert!(!config.contains(NEW), "{config}");
    let running = lab.sh_ok(
        NEW,
        "docker ps -q --filter label=com.docker.compose.project=archive | wc -l",
    );
    assert_eq!(running, "0", "Tab asked for its stack to stop");
    let audit = std::fs::read_to_string(s.root.join("state/archtui/audit.log")).unwrap();
    assert!(
        audit
            .lines()
            .any(|l| l.contains("\"action\":\"provision\"") && l.contains("\"ok\"")),
        "{audit}"
    );
    assert!(
        audit
            .lines()
            .any(|l| l.contains("\"action\":\"retire\"") && l.contains("--stop")),
        "{audit}"
    );
    t.key("q");
    t.wait("the exit", 10, |s| s.contains("ARCHTUI-EXIT=0"));
}

#[test]
#[cfg_attr(not(archtui_lab), ignore = "needs the lab: ARCHTUI_LAB=1")]
fn an_unknown_host_key_is_shown_and_trusted_only_by_its_fingerprint() {
    let Some(lab) = lab("host key") else { return };
    make_bare(&lab);
    let _bare = restore(|| make_bare(&lab));
    let s = Scratch::new(&lab, "hostkey");
    // Private ssh config and known_hosts without turntable's key.
    let known = s.root.join("known_hosts");
    let lab_known = std::fs::read_to_string(lab.state.join("known_hosts")).unwrap();
    let without: Vec<&str> = lab_known
        .lines()
        .filter(|l| !l.contains("10.77.0.3"))
        .collect();
    std::fs::write(&known, without.join("\n") + "\n").unwrap();
    let ssh_config = s.root.join("ssh_config");
    let lab_ssh = std::fs::read_to_string(lab.state.join("ssh_config")).unwrap();
    let lab_known_path = lab.state.join("known_hosts").display().to_string();
    std::fs::write(
        &ssh_config,
        lab_ssh.replace(&lab_known_path, &known.display().to_string()),
    )
    .unwrap();
    let config = std::fs::read_to_string(s.config()).unwrap();
    let lab_ssh_path = lab.state.join("ssh_config").display().to_string();
    std::fs::write(
        s.config(),
        config.replace(&lab_ssh_path, &ssh_config.display().to_string()),
    )
    .unwrap();

    let out = s.run(&["provision", NEW, "--check"]);
    let said = all(&out);
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(said.contains("FAIL ssh"), "{said}");
    assert!(said.contains("unknown host key"), "{said}");
    let fp = said
        .split_whitespace()
        .find(|w| w.starts_with("SHA256:"))
        .unwrap_or_else(|| panic!("no fingerprint shown: {said}"))
        .trim_matches(|c| c == '\'' || c == ',')
        .to_string();

    let wrong = s.run(&[
        "provision",
        NEW,
        "--check",
        "--trust-host-key",
        "SHA256:wrong",
    ]);
    assert_eq!(wrong.status.code(), Some(2), "{}", all(&wrong));
    assert!(all(&wrong).contains("nothing trusted"), "{}", all(&wrong));
    assert!(!std::fs::read_to_string(&known)
        .unwrap()
        .contains("10.77.0.3"));

    let right = s.run(&["provision", NEW, "--check", "--trust-host-key", &fp]);
    assert!(right.status.success(), "{}", all(&right));
    assert!(all(&right).contains("PASS ssh"), "{}", all(&right));
    assert!(std::fs::read_to_string(&known)
        .unwrap()
        .contains("10.77.0.3"));
    assert_eq!(registered(&lab), "0,0,0", "--check changes nothing");

    // On the wizard's screen: the key is offered with its fingerprint; t
    // trusts exactly that one and the checks run again.
    std::fs::write(&known, without.join("\n") + "\n").unwrap();
    let t = start_wizard(&s, 140, 36);
    t.wait("the input screen", 10, |s| s.contains("· input"));
    t.key("Enter");
    let refused = t.wait("the unknown key offered", 60, |s| {
        s.contains("Press t to trust") || s.contains("· plan review")
    });
    assert!(refused.contains(&fp), "{refused}");
    assert!(!std::fs::read_to_string(&known)
        .unwrap()
        .contains("10.77.0.3"));
    t.key("t");
    t.wait("the plan review once trusted", 60, |s| {
        s.contains("· plan review")
    });
    assert!(std::fs::read_to_string(&known)
        .unwrap()
        .contains("10.77.0.3"));
    t.key("Escape");
    t.wait("cancelled", 5, |s| s.contains("nothing was changed"));
    t.key("Enter");
    t.wait("the exit", 5, |s| s.contains("ARCHTUI-EXIT=2"));
    let audit = std::fs::read_to_string(s.root.join("state/archtui/audit.log")).unwrap();
    assert!(
        audit
            .lines()
            .any(|l| l.contains("\"action\":\"trust-host-key\"") && l.contains(&fp)),
        "{audit}"
    );
    assert_eq!(
        registered(&lab),
        "0,0,0",
        "Esc at the review changes nothing"
    );
}

/// Provisioning on real data, as a figure (benches/provision_big.sh runs
/// it): 1M items written on the master shortly before, then the bare
/// turntable provisioned; next to it `pg_dump | psql` of the same three
/// tables from the master into a scratch database on turntable. Asserts
/// that provisioning succeeds on the first run and that the new slave
/// holds every row, nothing about time.
#[test]
#[ignore = "benchmark: run benches/provision_big.sh"]
fn figure_provision_with_a_million_rows_next_to_pg_dump() {
    let Some(lab) = lab("figure_provision_with_a_million_rows") else {
        return;
    };
    make_bare(&lab);
    let _bare = restore(|| make_bare(&lab));
    let have = lab.count(MASTER, "SELECT count(*) FROM items");
    let want = 1_000_000;
    let coll = new_collection(&lab, "big");
    let _drop = restore(|| {
        for h in [MASTER, SLAVE] {
            let _ = lab.try_psql(
                h,
                common::ARCHIVE_DB,
                &format!(
                    "SET session_replication_role = replica; \
                     DELETE FROM items WHERE collection_id = {coll}; DELETE FROM collections WHERE id = {coll}"
                ),
            );
        }
    });
    let load = Instant::now();
    lab.psql(
        MASTER,
        &format!(
            "INSERT INTO items (collection_id, identifier, title) \
             SELECT {coll}, 'big-{coll}-' || g, 'item ' || g FROM generate_series(1, {}) g",
            (want - have).max(0)
        ),
    );
    eprintln!(
        "figure: {} items written on the master in {:.1} s",
        (want - have).max(0),
        load.elapsed().as_secs_f64()
    );
    let s = Scratch::new(&lab, "big");
    let start = Instant::now();
    let out = s.run(&["provision", NEW, "--yes"]);
    let took = start.elapsed();
    assert!(out.status.success(), "provision: {}", all(&out));
    let items = lab.count(MASTER, "SELECT count(*) FROM items");
    assert_eq!(lab.count(NEW, "SELECT count(*) FROM items"), items);
    eprintln!(
        "figure: provisioning {NEW} with {items} items on the master: {:.1} s, first run",
        took.as_secs_f64()
    );
    // "[2/6] ok (21.3 s): ...": each step's own time.
    let text_out = all(&out);
    for l in text_out
        .lines()
        .filter(|l| l.contains("] ok (") || l.contains("arrived after"))
    {
        eprintln!("  {l}");
    }
    use archtui_core::wizard::Step;
    let compose_up_line = format!("[{}/{}]", Step::ComposeUp.number(), Step::ALL.len());
    let compose_up = text_out.lines().find_map(|l| {
        let rest = l.trim_start().strip_prefix(compose_up_line.as_str())?;
        let secs = rest.split_once("ok (")?.1.split_once(" s)")?.0;
        secs.parse::<f64>().ok()
    });
    eprintln!(
        "  {}",
        text(&lab.sh(
            NEW,
            "docker logs archive-bucardo-1 2>&1 | grep 'marked done' | tail -1"
        ))
    );

    // The same tables over the same link, the plain way.
    let pw = std::fs::read_to_string(lab.dir.join(".state/secrets/bucardo_password")).unwrap();
    lab.psql(NEW, "DROP DATABASE IF EXISTS provision_bench");
    lab.psql(NEW, "CREATE DATABASE provision_bench");
    let dump = Instant::now();
    let piped = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "set -o pipefail; source {lib}; pg_dump -h \"$(host_addr {MASTER})\" -U bucardo -d {db} -t collections -t items -t files \
             | PGDATABASE=provision_bench {psql} {NEW} -q >/dev/null 2>&1",
            lib = lab.dir.join("lib.sh").display(),
            db = common::ARCHIVE_DB,
            psql = lab.dir.join("psql").display()
        ))
        .env("PGPASSWORD", pw.trim())
        .status()
        .unwrap();
    let dump_took = dump.elapsed();
    // The dump's Bucardo triggers fail to restore (no bucardo schema
    // there), which is why errors are not fatal; the rows must all be in.
    let copied = lab.try_psql(NEW, "provision_bench", "SELECT count(*) FROM items");
    let _ = lab.try_psql(NEW, "postgres", "DROP DATABASE IF EXISTS provision_bench");
    assert!(piped.success(), "pg_dump | psql failed");
    assert_eq!(
        copied,
        Ok(items.to_string()),
        "pg_dump | psql copied every item"
    );
    eprintln!(
        "figure: pg_dump | psql of collections, items, files from {MASTER} to {NEW}: {:.1} s (provisioning took {:.1}x that)",
        dump_took.as_secs_f64(),
        took.as_secs_f64() / dump_took.as_secs_f64()
    );
    match compose_up {
        // The step waits until every container is healthy, which the new
        // slave's bucardo is once its one-time copy is done: the copy is
        // inside it, so this bound is looser than the goal's own.
        Some(c) => eprintln!(
            "figure: compose up step {c:.1} s (builds, starts and the one-time copy) + 2 x pg_dump | psql = {:.1} s; provisioning took {:.1} s",
            c + 2.0 * dump_took.as_secs_f64(),
            took.as_secs_f64()
        ),
        None => eprintln!("figure: the compose up step's time was not found in the output"),
    }
    // The goal's own bound: compose up without the copy inside it. The
    // copy is the new slave's first sync run (its control database keeps
    // when it started and ended).
    let copy = lab.try_psql(
        NEW,
        "bucardo",
        &format!(
            "SELECT round(extract(epoch FROM ended - started)::numeric, 1) FROM bucardo.syncrun \
             WHERE sync = 'archive_{NEW}' AND ended IS NOT NULL ORDER BY started LIMIT 1"
        ),
    );
    match (compose_up, copy.ok().and_then(|c| c.parse::<f64>().ok())) {
        (Some(c), Some(copy)) => {
            let bare = c - copy;
            let bound = bare + 2.0 * dump_took.as_secs_f64();
            eprintln!(
                "figure: the one-time copy (the first sync run) {copy:.1} s; compose up without it {bare:.1} s; \
                 goal compose up + 2 x pg_dump | psql = {bound:.1} s; provisioning took {:.1} s ({})",
                took.as_secs_f64(),
                if took.as_secs_f64() <= bound { "met" } else { "not met" }
            );
        }
        _ => eprintln!("figure: the one-time copy's sync run was not found on {NEW}"),
    }
}

/// Every text a provision leaves, and every command line while it runs,
/// grepped for the lab's passwords (issue 12 item 4): archtui's output,
/// its state dir (audit, journal, debug log), the config it rewrites, the
/// jobs' logs and metadata on the hosts, the new slave's container logs,
/// and `ps` of this machine every 100 ms (the lab's hosts share its pid
/// namespace, so that is every host's and container's processes too).
#[test]
#[cfg_attr(not(archtui_lab), ignore = "needs the lab: ARCHTUI_LAB=1")]
fn no_secret_appears_anywhere_during_a_provision() {
    let Some(lab) = lab("no_secret_appears_anywhere_during_a_provision") else {
        return;
    };
    make_bare(&lab);
    let _bare = restore(|| make_bare(&lab));
    let secrets: Vec<(String, String)> = std::fs::read_dir(lab.state.join("secrets"))
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let v = std::fs::read_to_string(e.path())
                .unwrap()
                .trim()
                .to_string();
            (e.file_name().to_string_lossy().into_owned(), v)
        })
        .filter(|(_, v)| v.len() >= 8)
        .collect();
    assert!(secrets.len() >= 3, "the lab's secrets: {secrets:?}");
    let s = Scratch::new(&lab, "secrets");

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let journal = s.journal();
    let sampler = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut seen = Vec::new();
            let mut samples = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                if let Ok(o) = Command::new("ps").args(["-eww", "-o", "args="]).output() {
                    seen.push(String::from_utf8_lossy(&o.stdout).into_owned());
                    samples += 1;
                }
                if let Ok(j) = std::fs::read_to_string(&journal) {
                    seen.push(j);
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            (seen, samples)
        })
    };
    let out = s.run(&["provision", NEW, "--yes"]);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (mut texts, samples) = sampler.join().unwrap();
    assert!(out.status.success(), "provision: {}", all(&out));
    texts.push(all(&out));
    texts.push(std::fs::read_to_string(s.config()).unwrap());
    let mut files = vec![s.root.join("state")];
    while let Some(p) = files.pop() {
        if p.is_dir() {
            files.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
        } else if let Ok(b) = std::fs::read(&p) {
            texts.push(String::from_utf8_lossy(&b).into_owned());
        }
    }
    for h in [MASTER, SLAVE, NEW] {
        texts.push(text(
            &lab.sh(h, &format!("cat {DIR}/.archtui/jobs/* 2>/dev/null")),
        ));
    }
    texts.push(text(&lab.sh(
        NEW,
        "for c in $(docker ps -aq --filter label=com.docker.compose.project=archive); do docker logs $c 2>&1; done",
    )));
    let all_texts = texts.join("\n");
    assert!(samples >= 50, "ps was sampled only {samples} times");
    assert!(
        all_texts.len() > 10_000,
        "too little was read to mean anything"
    );
    for (name, value) in &secrets {
        assert!(
            !all_texts.contains(value.as_str()),
            "the lab's {name} appears in what a provision leaves or shows"
        );
    }
    eprintln!(
        "figure: {} bytes of output, files, job logs, container logs and {samples} ps listings grepped for {} secrets: none found",
        all_texts.len(),
        secrets.len()
    );
}
