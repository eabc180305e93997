//! The operator's runbook (shared/seeds): its Quick Start with ./deploy.sh
//! on the master, ./deploy_slave.sh on the bare third host, its "Adding New
//! Slaves" procedure to the letter, and the scripts' refusals. Each run
//! again changes nothing. Run with the lab up and ARCHTUI_LAB=1 (README).

use crate::common;

use crate::common::{lab, Lab};
use std::time::{Duration, Instant};

const MASTER: &str = "cavaforgepad";
const SPARE: &str = "turntable";
const DIR: &str = "/srv/archive";

/// `bash -c SCRIPT` in the deploy dir on `host`: (exit code, all output).
fn run(lab: &Lab, host: &str, script: &str) -> (i32, String) {
    let out = lab.sh(host, &format!("cd {DIR} && bash -c '{script}' 2>&1"));
    (out.status.code().unwrap_or(-1), common::text(&out))
}

/// The containers' ids and start times: a run that changes nothing
/// leaves them as they were.
fn started(lab: &Lab, host: &str) -> String {
    lab.sh_ok(
        host,
        "docker ps -q --filter label=com.docker.compose.project=archive | sort | xargs -r docker inspect -f '{{.Name}} {{.Id}} {{.State.StartedAt}}'",
    )
}

fn fresh_spare(lab: &Lab) {
    let _ = lab.sh(
        SPARE,
        &format!("cd {DIR} 2>/dev/null && docker compose down -v >/dev/null 2>&1; rm -rf {DIR}"),
    );
    let out = lab.run("deploy", &[SPARE, "slave", "--copy-only"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn retire_spare(lab: &Lab) {
    let out = lab.compose(
        MASTER,
        "master",
        &format!("exec -T bucardo archive-retire-slave {SPARE}"),
    );
    assert!(out.status.success(), "retire: {}", common::all_text(&out));
    let _ = lab.sh(
        SPARE,
        &format!("cd {DIR} && docker compose down -v >/dev/null 2>&1; rm -rf {DIR}"),
    );
    assert_eq!(lab.registered(SPARE), "0,0,0");
}

fn ensure_master_data(lab: &Lab) {
    lab.psql(
        MASTER,
        "INSERT INTO collections (name) VALUES ('runbook-seed') ON CONFLICT (name) DO NOTHING",
    );
}

#[test]
#[cfg_attr(not(archtui_lab), ignore = "needs the lab: ARCHTUI_LAB=1")]
fn quick_start_on_the_master_with_deploy_sh() {
    let Some(lab) = lab("quick start on the master") else {
        return;
    };
    ensure_master_data(&lab);
    let (code, said) = run(
        &lab,
        MASTER,
        "source env.common; source env.master; ./deploy.sh",
    );
    assert_eq!(code, 0, "{said}");
    assert!(said.contains("done: every service healthy"), "{said}");
    assert!(
        said.contains("archive_jukebox"),
        "ends with the sync's state:\n{said}"
    );
    let before = started(&lab, MASTER);
    // Again, and without the source lines: nothing changes.
    let (code, said) = run(&lab, MASTER, "./deploy.sh");
    assert_eq!(code, 0, "{said}");
    assert_eq!(
        started(&lab, MASTER),
        before,
        "a second run recreated something:\n{said}"
    );
    // The wrong role is refused before any change.
    let (code, said) = run(
        &lab,
        MASTER,
        "source env.common; source env.slave; ./deploy.sh",
    );
    assert_eq!(code, 2, "{said}");
    assert!(said.contains("deploy_slave.sh"), "{said}");
    let (code, said) = run(&lab, "jukebox", "./deploy.sh");
    assert_eq!(code, 2, "deploy.sh on a slave: {said}");
    assert!(said.contains("runs the stack as a slave"), "{said}");
    let (code, said) = run(&lab, MASTER, "./deploy.sh --help");
    assert!(code == 0 && said.contains("--development"), "{said}");
    assert_eq!(started(&lab, MASTER), before);
}

#[test]
#[cfg_attr(not(archtui_lab), ignore = "needs the lab: ARCHTUI_LAB=1")]
fn deploy_slave_sh_on_the_bare_host_makes_a_replicating_slave() {
    let Some(lab) = lab("deploy_slave.sh on the bare host") else {
        return;
    };
    ensure_master_data(&lab);
    fresh_spare(&lab);
    let t = Instant::now();
    let (code, said) = run(
        &lab,
        SPARE,
        "source env.common; source env.slave; ./deploy_slave.sh",
    );
    assert_eq!(code, 0, "{said}");
    assert!(
        said.contains("last run good"),
        "waits for the first good run:\n{said}"
    );
    eprintln!(
        "figure: ./deploy_slave.sh on the bare host took {:?}",
        t.elapsed()
    );
    assert_eq!(lab.registered(SPARE), "1,1,1");
    lab.wait_same_as_master(SPARE, Duration::from_secs(30));
    // Again: nothing changes.
    let before = started(&lab, SPARE);
    let (code, said) = run(&lab, SPARE, "./deploy_slave.sh");
    assert_eq!(code, 0, "{said}");
    assert_eq!(
        started(&lab, SPARE),
        before,
        "a second run recreated something:\n{said}"
    );
    let (code, said) = run(&lab, SPARE, "./deploy.sh");
    assert_eq!(code, 2, "{said}");
    retire_spare(&lab);
}

#[test]
#[cfg_attr(not(archtui_lab), ignore = "needs the lab: ARCHTUI_LAB=1")]
fn deploy_slave_sh_refuses_a_host_whose_database_holds_data() {
    let Some(lab) = lab("deploy_slave.sh refuses data") else {
        return;
    };
    fresh_spare(&lab);
    // A host with an archive database of its own: the db alone, a table, a row.
    let (code, said) = run(
        &lab,
        SPARE,
        "source env.common; source env.slave; docker compose up -d --build --wait db >/dev/null 2>&1 && \
         docker compose exec -T -u postgres db psql -qd archive_production -c \"CREATE TABLE collections (id bigint PRIMARY KEY, name text); INSERT INTO collections VALUES (1, '\\''theirs'\\'');\"",
    );
    assert_eq!(code, 0, "{said}");
    let (code, said) = run(&lab, SPARE, "./deploy_slave.sh");
    assert_eq!(code, 2, "{said}");
    assert!(said.contains("already holds rows"), "{said}");
    assert_eq!(lab.registered(SPARE), "0,0,0", "nothing registered");
    let _ = lab.sh(
        SPARE,
        &format!("cd {DIR} && docker compose down -v >/dev/null 2>&1; rm -rf {DIR}"),
    );
}

/// The runbook's "Adding New Slaves", to the letter: env.slave sourced
/// alone (env.common is only beside it), then `docker compose up -d`.
#[test]
#[cfg_attr(not(archtui_lab), ignore = "needs the lab: ARCHTUI_LAB=1")]
fn adding_new_slaves_to_the_letter() {
    let Some(lab) = lab("adding new slaves") else {
        return;
    };
    ensure_master_data(&lab);
    fresh_spare(&lab);
    let (code, said) = run(&lab, SPARE, "source env.slave; docker compose up -d");
    assert_eq!(code, 0, "{said}");
    common::wait_until(Duration::from_secs(600), Duration::from_secs(2), || {
        (lab.compose(SPARE, "slave", "ps --format '{{.Health}}' bucardo")
            .stdout
            == b"healthy\n")
            .then_some(())
    })
    .unwrap_or_else(|_| {
        panic!(
            "{SPARE} never healthy:\n{}",
            common::all_text(&lab.compose(SPARE, "slave", "logs --tail 40"))
        )
    });
    lab.wait_same_as_master(SPARE, Duration::from_secs(60));
    retire_spare(&lab);
}
