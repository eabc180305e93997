//! Remote jobs and the host lock against the lab: two operators deploying
//! one host, a deploy interrupted during compose's recreate, re-attaching
//! to a deploy left running, and a retire whose host's dockerd hangs.
//! Every test leaves jukebox deployed with its original files and healthy.

// Its helpers unwrap outside #[test] fns (clippy.toml covers only those).
#![allow(clippy::unwrap_used)]

use crate::common;

use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::all_text;
use crate::common::cli::*;

/// The ids of the jobs on jukebox. A set, not a count: the holder prunes
/// all but the 30 newest reported jobs, so a count can stand still while a
/// job is added.
fn job_ids(lab: &common::Lab) -> std::collections::BTreeSet<String> {
    let out = lab.sh(
        "jukebox",
        &format!("ls {DIR}/.archtui/jobs/ 2>/dev/null | sed -n 's/\\.json$//p'"),
    );
    common::text(&out).lines().map(str::to_string).collect()
}

/// The operator archtui names in lock.info: `user@machine` of this test.
fn operator() -> String {
    let user = std::env::var("USER").unwrap_or_else(|_| "root".into());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    format!("{user}@{}", host.trim())
}

#[test]
#[cfg_attr(not(archtui_lab), ignore = "needs the lab: ARCHTUI_LAB=1")]
fn two_operators_deploying_one_host_the_second_is_refused_naming_the_first() {
    let Some(lab) = common::lab("two_operators_deploying_one_host") else {
        return;
    };
    wait_all_healthy(&lab, 180);
    let original = checkout(&lab, "two-orig");
    let (changed, _) = db_changing_checkout(&lab, "two");
    let _restore = common::restore(|| redeploy(&lab, &original));
    let (alice, bob) = (State::new("alice"), State::new("bob"));

    let mut first = Running::start(
        &lab,
        &alice,
        &["deploy", "jukebox", "--yes", "--from", changed.path()],
    );
    // The first holds the host's lock from before its copy to its job's end.
    first.wait_for(&["copying the stack to jukebox"], 120);
    let second = archtui(
        &lab,
        &bob,
        &["deploy", "jukebox", "--yes", "--from", changed.path()],
    );
    assert_eq!(
        second.status.code(),
        Some(2),
        "refused: {}",
        all_text(&second)
    );
    let err = all_text(&second);
    assert!(
        err.contains(&format!(
            "jukebox is locked by {} for deploy since",
            operator()
        )),
        "names the other operator, the action and the time: {err}"
    );
    assert_eq!(bob.audit().last().unwrap()["result"], "refused");
    assert_eq!(
        first.wait(400),
        Some(0),
        "the first deploy goes on: {}",
        first.text()
    );
    assert!(first.text().contains("deployed to jukebox"));
    assert!(lock_free(&lab, "jukebox"), "released after the deploy");
}

#[test]
#[cfg_attr(not(archtui_lab), ignore = "needs the lab: ARCHTUI_LAB=1")]
fn sigterm_during_the_recreate_leaves_the_host_healthy_and_audits_interrupted() {
    let Some(lab) = common::lab("sigterm_during_the_recreate") else {
        return;
    };
    wait_all_healthy(&lab, 180);
    let original = checkout(&lab, "term-orig");
    let (changed, cidrs) = db_changing_checkout(&lab, "term");
    let _restore = common::restore(|| redeploy(&lab, &original));
    let state = State::new("term");

    let mut run = Running::start(
        &lab,
        &state,
        &["deploy", "jukebox", "--yes", "--from", changed.path()],
    );
    // Compose says so when it starts recreating the database container.
    run.wait_for(&["archive-db-1", "Recreate"], 300);
    run.signal("-TERM");
    let code = run.wait(20);
    let text = run.text();
    assert_eq!(code, Some(5), "interrupted: {text}");
    assert!(text.contains("interrupted by SIGTERM"), "{text}");
    assert!(text.contains("keeps running there"), "{text}");
    let audit = state.audit();
    let last = audit.last().expect("an audit line");
    assert_eq!(last["action"], "deploy");
    assert_eq!(last["result"], "interrupted");
    let job = last["job"]
        .as_str()
        .expect("the job id in the audit line")
        .to_string();
    assert!(last["message"].as_str().unwrap().contains(&job));

    // The job went on without archtui: every container running and healthy,
    // the database recreated with the new setting.
    wait_all_healthy(&lab, 300);
    assert!(db_env(&lab).contains(&cidrs), "the deploy completed");
    wait_lock_free(&lab, "jukebox", 60);

    // The next deploy says what happened meanwhile.
    let again = archtui(
        &lab,
        &state,
        &["deploy", "jukebox", "--yes", "--from", changed.path()],
    );
    assert_eq!(again.status.code(), Some(0), "{}", all_text(&again));
    let said = all_text(&again);
    assert!(
        said.contains(&format!("deploy job {job} started"))
            && said.contains("finished meanwhile: exit 0"),
        "{said}"
    );
    // Said once: the run after that has nothing to tell about it.
    let third = archtui(
        &lab,
        &state,
        &["deploy", "jukebox", "--yes", "--from", changed.path()],
    );
    assert!(!all_text(&third).contains(&job), "{}", all_text(&third));
}

#[test]
#[cfg_attr(not(archtui_lab), ignore = "needs the lab: ARCHTUI_LAB=1")]
fn a_second_deploy_while_one_runs_unattended_re_attaches_to_it() {
    let Some(lab) = common::lab("a_second_deploy_re_attaches") else {
        return;
    };
    wait_all_healthy(&lab, 180);
    let original = checkout(&lab, "attach-orig");
    let (changed, cidrs) = db_changing_checkout(&lab, "attach");
    let _restore = common::restore(|| redeploy(&lab, &original));
    let state = State::new("attach");
    let jobs_before = job_ids(&lab);

    let mut first = Running::start(
        &lab,
        &state,
        &["deploy", "jukebox", "--yes", "--from", changed.path()],
    );
    first.wait_for(&["job", "started (."], 120);
    // Gone without a word, like a laptop that lost power.
    first.signal("-KILL");
    first.wait(10);
    common::wait_until(Duration::from_secs(30), Duration::from_millis(200), || {
        holder_gone(&lab, "jukebox").then_some(())
    })
    .expect("the lock's holder goes with its channel");
    assert!(!lock_free(&lab, "jukebox"), "the job still holds the lock");

    let second = archtui(
        &lab,
        &state,
        &["deploy", "jukebox", "--yes", "--from", changed.path()],
    );
    let said = all_text(&second);
    assert_eq!(second.status.code(), Some(0), "{said}");
    assert!(said.contains("is still running: re-attaching"), "{said}");
    assert!(said.contains("re-attached to job"), "{said}");
    let new: Vec<String> = job_ids(&lab).difference(&jobs_before).cloned().collect();
    assert_eq!(new.len(), 1, "one job, the first's; no second: {new:?}");
    assert!(db_env(&lab).contains(&cidrs));
    assert!(all_healthy(&lab));
}

#[test]
#[cfg_attr(not(archtui_lab), ignore = "needs the lab: ARCHTUI_LAB=1")]
fn a_retire_whose_dockerd_hangs_gives_up_within_the_bound_and_frees_the_lock() {
    let Some(lab) = common::lab("a_retire_whose_dockerd_hangs") else {
        return;
    };
    let state = State::new("hung");
    let dockerd = lab.sh_ok("cavaforgepad", "cat /run/docker.pid");
    let cont = format!("kill -CONT {dockerd}");
    let _cont = common::restore(|| {
        let _ = lab.sh("cavaforgepad", &cont);
    });
    // A registry row for a slave that is never there, locked by a session
    // of the test's own for 40 s: the retire's first UPDATE waits on that
    // lock, so the job is surely running when dockerd stops (an
    // unregistered name was done before the SIGSTOP landed, now and then).
    let ghost = "DELETE FROM archive_fleet.slave WHERE name = 'ghost'";
    lab.psql(
        "cavaforgepad",
        "INSERT INTO archive_fleet.slave (name, app_host, db_port) VALUES ('ghost', '10.77.0.250', 5432) \
         ON CONFLICT (name) DO UPDATE SET retired_at = NULL, stopped_at = NULL",
    );
    let mut holder = Command::new(lab.dir.join("psql"))
        .args([
            "cavaforgepad",
            "-qAt",
            "-c",
            "BEGIN; SELECT 1 FROM archive_fleet.slave WHERE name = 'ghost' FOR UPDATE; SELECT pg_sleep(40); COMMIT;",
        ])
        .env("PGDATABASE", common::ARCHIVE_DB)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("run tests/lab/psql");
    let locked = "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) \
                  WHERE a.query LIKE '%FOR UPDATE%pg_sleep%' AND l.locktype = 'transactionid'";
    common::wait_until(Duration::from_secs(10), Duration::from_millis(100), || {
        (lab.psql("cavaforgepad", locked) != "0").then_some(())
    })
    .expect("the test's session holds the ghost row");
    let _ghost = common::restore(|| {
        let _ = holder.kill();
        let _ = holder.wait();
        let _ = lab.try_psql("cavaforgepad", common::ARCHIVE_DB, ghost);
    });
    let mut run = Running::start(&lab, &state, &["retire", "ghost", "--confirm", "ghost"]);
    run.wait_for(&["job", "started (docker compose"], 120);
    let stopped = Instant::now();
    lab.sh_ok("cavaforgepad", &format!("kill -STOP {dockerd}"));
    // Bound: retire's idle bound (120 s) + KILL after 10 s + 1 s, plus a
    // few seconds to notice; archtui's own bound is 30 s later still.
    let code = run.wait(180);
    let took = stopped.elapsed();
    println!("figure: retire with a stopped dockerd gave up after {took:?}");
    let text = run.text();
    assert_eq!(code, Some(4), "timed out: {text}");
    assert!(
        text.contains("printed nothing for 120 s and was stopped"),
        "{text}"
    );
    assert!(took < Duration::from_secs(150), "{took:?}");
    assert!(
        lock_free(&lab, "cavaforgepad"),
        "the master's lock is free while its dockerd is still stopped"
    );
    assert_eq!(state.audit().last().unwrap()["result"], "timeout");
    drop(_cont);
    drop(_ghost);
    // Healthchecks resume with dockerd; the fleet is whole again.
    common::wait_until(Duration::from_secs(120), Duration::from_secs(2), || {
        let o = Command::new(env!("CARGO_BIN_EXE_archtui"))
            .args(["status"])
            .env("ARCHTUI_CONFIG", lab.config())
            .output()
            .ok()?;
        (o.status.code() == Some(0)).then_some(())
    })
    .expect("the fleet healthy once dockerd runs again");
}
