//! The replicated stack on the local fleet lab: Bucardo replication from
//! cavaforgepad (master) to jukebox (slave), adding and retiring a slave on
//! the bare third host, outages of the master's Bucardo, and bad input.
//! Run with the lab up and ARCHTUI_LAB=1 (README).

// Its helpers unwrap outside #[test] fns (clippy.toml covers only those).
#![allow(clippy::unwrap_used)]

use crate::common::{lab, tag, text, wait_until, Healthy, Lab, ARCHIVE_DB};
use std::time::{Duration, Instant};

const MASTER: &str = "cavaforgepad";
const SLAVE: &str = "jukebox";
const SPARE: &str = "turntable";
const POLL: Duration = Duration::from_millis(100);

fn new_collection(lab: &Lab, name: &str) -> i64 {
    lab.psql(
        MASTER,
        &format!("INSERT INTO collections (name) VALUES ('{name}') RETURNING id"),
    )
    .parse()
    .expect("collection id")
}

/// Waits until `sql` (a count) reads `want` on `host`; returns how long it took.
fn wait_count(lab: &Lab, host: &str, sql: &str, want: i64, timeout: Duration) -> Duration {
    match wait_until(timeout, POLL, || {
        (lab.try_psql(host, ARCHIVE_DB, sql)
            .ok()?
            .parse::<i64>()
            .ok()?
            == want)
            .then_some(())
    }) {
        Ok(((), took)) => took,
        Err(waited) => panic!(
            "on {host}: `{sql}` did not reach {want} within {waited:?} (it reads {})",
            lab.try_psql(host, ARCHIVE_DB, sql).unwrap_or_else(|e| e)
        ),
    }
}

/// The files of the slave's `items` indexes: a REINDEX gives each a new one.
fn index_files(lab: &Lab) -> String {
    lab.psql(
        SLAVE,
        "SELECT string_agg(relname || '=' || relfilenode, ',' ORDER BY relname) FROM pg_class \
         WHERE oid IN (SELECT indexrelid FROM pg_index WHERE indrelid = 'items'::regclass)",
    )
}

/// Counts on the slave through the identifier index alone: an index that
/// missed rows (indexes off during a copy, not rebuilt) answers short.
fn by_index(lab: &Lab, coll: i64, n: i64) -> i64 {
    lab.count(
        SLAVE,
        &format!(
            "SET enable_seqscan = off; SET enable_bitmapscan = off; \
             SELECT count(*) FROM items WHERE identifier IN \
             ('bulk-{coll}-1', 'bulk-{coll}-{}', 'bulk-{coll}-{n}')",
            n / 2
        ),
    )
}

/// A batch of BIG rows (at least 50k and half the slave's table) takes the
/// patched Bucardo's path of indexes off during the copy and a REINDEX at
/// the end of the run; the delete of half of them (under 50k) the ordinary
/// path. Both must leave the same rows, and indexes that find them.
#[test]
#[cfg_attr(not(archtui_lab), ignore = "needs the lab: ARCHTUI_LAB=1")]
fn big_batches_inserted_updated_deleted_on_master_reach_the_slave() {
    const BIG: i64 = 60_000;
    let Some(lab) = lab("replication") else {
        return;
    };
    let coll = new_collection(&lab, &tag("bulk"));
    let in_coll = format!("FROM items WHERE collection_id = {coll}");
    // The size the patch compares the batch with, made current.
    lab.psql(SLAVE, "ANALYZE items");
    let slave_rows = lab.count(SLAVE, "SELECT count(*) FROM items");
    assert!(
        slave_rows <= 2 * BIG,
        "the lab's jukebox holds {slave_rows} items: too many for a {BIG}-row batch to be big"
    );
    let files = index_files(&lab);

    lab.psql(
        MASTER,
        &format!(
            "INSERT INTO items (collection_id, identifier, title) \
             SELECT {coll}, 'bulk-{coll}-' || g, 'item ' || g FROM generate_series(1, {BIG}) g"
        ),
    );
    let took = wait_count(
        &lab,
        SLAVE,
        &format!("SELECT count(*) {in_coll}"),
        BIG,
        Duration::from_secs(60),
    );
    eprintln!("figure: {BIG} inserted rows on the slave after {took:?}");
    let rebuilt = index_files(&lab);
    assert_ne!(
        rebuilt, files,
        "a {BIG}-row batch did not rebuild the slave's indexes"
    );
    assert_eq!(by_index(&lab, coll, BIG), 3);

    lab.psql(
        MASTER,
        &format!("UPDATE items SET title = 'renamed' WHERE collection_id = {coll}"),
    );
    let took = wait_count(
        &lab,
        SLAVE,
        &format!("SELECT count(*) {in_coll} AND title = 'renamed'"),
        BIG,
        Duration::from_secs(60),
    );
    eprintln!("figure: {BIG} updated rows on the slave after {took:?}");
    assert_eq!(by_index(&lab, coll, BIG), 3);

    let files = index_files(&lab);
    lab.psql(
        MASTER,
        &format!("DELETE {in_coll} AND id % 2 = 0; DELETE FROM items WHERE false"),
    );
    let left = lab.count(MASTER, &format!("SELECT count(*) {in_coll}"));
    assert_eq!(left, BIG / 2);
    let took = wait_count(
        &lab,
        SLAVE,
        &format!("SELECT count(*) {in_coll}"),
        left,
        Duration::from_secs(60),
    );
    eprintln!("figure: {} deletes on the slave after {took:?}", BIG / 2);
    assert_eq!(
        index_files(&lab),
        files,
        "a {}-row batch rebuilt the indexes",
        BIG / 2
    );

    // Same rows, not just the same count.
    let digest = format!("SELECT md5(string_agg(id || ':' || title, ',' ORDER BY id)) {in_coll}");
    assert_eq!(lab.psql(MASTER, &digest), lab.psql(SLAVE, &digest));
}

/// Connects straight to a lab host's archive database (its published port
/// on the lab bridge) as the bucardo role.
async fn connect(lab: &Lab, host: &str) -> tokio_postgres::Client {
    let password = std::fs::read_to_string(lab.state.join("secrets/bucardo_password")).unwrap();
    let addr = match host {
        MASTER => "10.77.0.1",
        SLAVE => "10.77.0.2",
        _ => "10.77.0.3",
    };
    let mut cfg = tokio_postgres::Config::new();
    cfg.host(addr)
        .port(5432)
        .user("bucardo")
        .password(password.trim())
        .dbname(ARCHIVE_DB)
        .connect_timeout(Duration::from_secs(5));
    let (client, conn) = cfg
        .connect(tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("connect to {host}: {e}"));
    tokio::spawn(conn);
    client
}

#[test]
#[cfg_attr(not(archtui_lab), ignore = "needs the lab: ARCHTUI_LAB=1")]
fn single_row_latency_master_to_slave() {
    let Some(lab) = lab("latency") else { return };
    let coll = new_collection(&lab, &tag("latency"));
    let rt = tokio::runtime::Runtime::new().unwrap();
    // Persistent connections and 2 ms polling: the figure is replication,
    // not client start-up.
    let mut samples = rt.block_on(async {
        let master = connect(&lab, MASTER).await;
        let slave = connect(&lab, SLAVE).await;
        let mut samples = Vec::new();
        for i in 0..50 {
            let ident = format!("lat-{coll}-{i}");
            let start = Instant::now();
            master
                .execute(
                    "INSERT INTO public.items (collection_id, identifier, title) VALUES ($1, $2, 'x')",
                    &[&coll, &ident],
                )
                .await
                .unwrap();
            loop {
                let row = slave
                    .query_one("SELECT count(*) FROM public.items WHERE identifier = $1", &[&ident])
                    .await
                    .unwrap();
                if row.get::<_, i64>(0) == 1 {
                    break;
                }
                assert!(
                    start.elapsed() < Duration::from_secs(30),
                    "row {ident} not on the slave after 30 s"
                );
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            samples.push(start.elapsed());
        }
        samples
    });
    samples.sort();
    eprintln!(
        "figure: single-row master->slave latency over 50 writes: median {:?}, min {:?}, p90 {:?}, max {:?}",
        samples[25], samples[0], samples[45], samples[49]
    );
}

/// The master's bucardo container only writes the heartbeat: replication
/// goes on without it. The slave's own daemon stopped, rows wait, and
/// arrive once it starts again.
#[test]
#[cfg_attr(not(archtui_lab), ignore = "needs the lab: ARCHTUI_LAB=1")]
fn rows_written_while_the_slaves_bucardo_is_stopped_arrive_after_it_starts() {
    let Some(lab) = lab("bucardo outage") else {
        return;
    };
    let coll = new_collection(&lab, &tag("outage"));
    let q = format!("SELECT count(*) FROM items WHERE collection_id = {coll}");
    // The collection itself must be on the slave first (items refer to it).
    wait_count(
        &lab,
        SLAVE,
        &format!("SELECT count(*) FROM collections WHERE id = {coll}"),
        1,
        Duration::from_secs(10),
    );

    // Without the master's bucardo (heartbeat writer), rows still flow.
    let out = lab.compose(MASTER, "master", "stop bucardo");
    assert!(out.status.success(), "stop bucardo: {out:?}");
    lab.psql(
        MASTER,
        &format!("INSERT INTO items (collection_id, identifier, title) VALUES ({coll}, 'no-master-bucardo-{coll}', 'x')"),
    );
    let took = wait_count(&lab, SLAVE, &q, 1, Duration::from_secs(10));
    eprintln!(
        "figure: with the master's bucardo container stopped, a row reached {SLAVE} in {took:?}"
    );
    let out = lab.compose(MASTER, "master", "start bucardo");
    assert!(out.status.success(), "start bucardo: {out:?}");

    let out = lab.compose(SLAVE, "slave", "stop bucardo");
    assert!(out.status.success(), "stop bucardo: {out:?}");
    lab.psql(
        MASTER,
        &format!(
            "INSERT INTO items (collection_id, identifier, title) \
             SELECT {coll}, 'outage-{coll}-' || g, 'x' FROM generate_series(1, 200) g"
        ),
    );
    std::thread::sleep(Duration::from_secs(3));
    let during = lab.count(SLAVE, &q);
    let out = lab.compose(SLAVE, "slave", "start bucardo");
    assert!(out.status.success(), "start bucardo: {out:?}");
    assert_eq!(
        during, 1,
        "rows replicated while the slave's daemon was stopped?"
    );

    let took = wait_count(&lab, SLAVE, &q, 201, Duration::from_secs(120));
    eprintln!("figure: 200 rows written during the outage on the slave {took:?} after the start");
    for (host, role) in [(SLAVE, "slave"), (MASTER, "master")] {
        let service = "bucardo";
        lab.wait_healthy(
            Healthy::Service {
                host,
                role,
                service,
            },
            60,
        );
    }
}

#[test]
#[cfg_attr(not(archtui_lab), ignore = "needs the lab: ARCHTUI_LAB=1")]
fn compose_config_validates_for_both_roles_both_ways() {
    let Some(lab) = lab("compose config") else {
        return;
    };
    for (host, role) in [(MASTER, "master"), (SLAVE, "slave")] {
        // --env-file, as the console deploys.
        let out = lab.compose(host, role, "config -q");
        assert!(
            out.status.success(),
            "{host}: compose config --env-file: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // `source`, as the seed's operator does.
        let seed = format!(
            "cd /srv/archive && source ./env.common && source ./env.{role} && docker compose config"
        );
        let cfg = lab.sh_ok(host, &format!("bash -c '{seed}'"));
        assert!(
            cfg.contains(&format!("ARCHIVE_ROLE: {role}")),
            "{host}: sourced env files did not reach the services:\n{cfg}"
        );
    }
}

#[test]
#[cfg_attr(not(archtui_lab), ignore = "needs the lab: ARCHTUI_LAB=1")]
fn the_seeds_status_and_troubleshooting_commands_work_on_both_hosts() {
    let Some(lab) = lab("seed commands") else {
        return;
    };
    // As the operator's runbook has them, after `source env.common; source
    // env.<role>` in the deploy directory (-T: no terminal here).
    let commands = [
        ("docker compose ps", "bucardo"),
        ("docker compose logs bucardo", "archive-bucardo"),
        ("docker compose exec -T bucardo bucardo status", "archive_"),
        (
            "docker compose exec -T bucardo bucardo list syncs",
            "archive_",
        ),
        (
            "docker compose exec -T bucardo psql -h db -U bucardo -d bucardo -c 'SELECT 1;'",
            "1 row",
        ),
        ("docker compose ps db", "healthy"),
        (
            "docker compose exec -T db pg_isready -U postgres",
            "accepting connections",
        ),
    ];
    for (host, role) in [(MASTER, "master"), (SLAVE, "slave")] {
        for (cmd, expect) in commands {
            let script =
                format!("cd /srv/archive && source ./env.common && source ./env.{role} && {cmd}");
            let out = lab.sh(host, &format!("bash -c \"{script}\" 2>&1"));
            let said = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success() && said.contains(expect),
                "{host}: `{cmd}` ({}) should print {expect:?}:\n{said}",
                out.status
            );
        }
    }
}

/// Deploys the stack to the spare host (`tests/lab/deploy`), DIR and extra
/// settings given; does not wait for health.
fn deploy_spare(lab: &Lab, dir: &str, settings: &[&str]) {
    let mut args = vec![SPARE, "slave", "--dir", dir, "--no-wait"];
    args.extend_from_slice(settings);
    let out = lab.run("deploy", &args);
    assert!(
        out.status.success(),
        "deploy to {SPARE}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn compose_in(lab: &Lab, dir: &str, args: &str) -> String {
    text(&lab.compose_in(SPARE, dir, "slave", args))
}

fn registered(lab: &Lab, name: &str) -> String {
    lab.registered(name)
}

#[test]
#[cfg_attr(not(archtui_lab), ignore = "needs the lab: ARCHTUI_LAB=1")]
fn bad_input_makes_bucardo_log_one_clear_line_and_stay_unhealthy() {
    let Some(lab) = lab("bad input") else { return };
    // 10.77.0.254 is the lab's own bridge: nothing listens on 5432 there.
    let cases: [(&str, &[&str], &str); 3] = [
        ("badname", &["SLAVE_NAME=Bad-Name"], "SLAVE_NAME"),
        ("nopass", &["BUCARDO_PASSWORD="], "BUCARDO_PASSWORD"),
        (
            "nomaster",
            &["MASTER_DB_HOST=10.77.0.254"],
            "MASTER_DB_HOST",
        ),
    ];
    for (case, settings, variable) in cases {
        let dir = format!("/srv/bad_{case}");
        let mut all = vec![
            format!("COMPOSE_PROJECT_NAME=bad_{case}"),
            format!("SLAVE_NAME=bad_{case}"),
        ];
        all.extend(settings.iter().map(|s| s.to_string()));
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        deploy_spare(&lab, &dir, &all);

        let found = wait_until(Duration::from_secs(240), Duration::from_secs(1), || {
            let logs = compose_in(&lab, &dir, "logs --no-log-prefix bucardo");
            let errors: Vec<String> = logs
                .lines()
                .filter(|l| l.contains("error") && l.contains(variable))
                .map(str::to_string)
                .collect();
            (!errors.is_empty()).then_some(errors)
        });
        let (errors, _) = found.unwrap_or_else(|_| {
            panic!(
                "{case}: no error line naming {variable}; logs:\n{}",
                compose_in(&lab, &dir, "logs --tail 40")
            )
        });
        assert_eq!(errors.len(), 1, "{case}: one error line, got {errors:#?}");
        // Within the 180 s start period a failing check still shows
        // `starting`, which "not healthy" would let pass even if the check
        // never ran: the check must have run, and failed every time.
        let id = compose_in(&lab, &dir, "ps -q bucardo");
        let runs = wait_until(Duration::from_secs(60), Duration::from_secs(2), || {
            let codes = lab.sh_ok(
                SPARE,
                &format!("docker inspect --format '{{{{range .State.Health.Log}}}}{{{{.ExitCode}}}} {{{{end}}}}' {id}"),
            );
            let codes: Vec<String> = codes.split_whitespace().map(str::to_string).collect();
            (codes.len() >= 2).then_some(codes)
        });
        let (codes, _) = runs.unwrap_or_else(|_| panic!("{case}: the healthcheck never ran twice"));
        assert!(
            codes.iter().all(|c| c != "0"),
            "{case}: a healthcheck passed: exit codes {codes:?}"
        );
        let health = compose_in(&lab, &dir, "ps --format '{{.Health}}' bucardo");
        assert_ne!(health, "healthy", "{case}: bucardo must stay unhealthy");
        let again = compose_in(&lab, &dir, "logs --no-log-prefix bucardo");
        let n = again
            .lines()
            .filter(|l| l.contains("error") && l.contains(variable))
            .count();
        assert_eq!(n, 1, "{case}: the error is logged once, not in a loop");
        // Never half-registered on the master.
        assert_eq!(registered(&lab, &format!("bad_{case}")), "0,0,0", "{case}");
        let password = std::fs::read_to_string(lab.state.join("secrets/bucardo_password")).unwrap();
        assert!(
            !again.contains(password.trim()),
            "{case}: a password in the logs"
        );
        compose_in(&lab, &dir, "down -v");
    }
}

#[test]
#[cfg_attr(not(archtui_lab), ignore = "needs the lab: ARCHTUI_LAB=1")]
fn seed_procedure_adds_a_slave_on_the_third_host_and_retire_removes_it() {
    let Some(lab) = lab("add a slave") else {
        return;
    };
    // Existing rows the new slave must receive by its initial copy.
    let coll = new_collection(&lab, &tag("before-spare"));
    lab.psql(
        MASTER,
        &format!(
            "INSERT INTO items (collection_id, identifier, title) \
             SELECT {coll}, 'spare-{coll}-' || g, 'x' FROM generate_series(1, 300) g"
        ),
    );

    // The seed's procedure: copy env.slave, set APP_HOST and MASTER_DB_HOST,
    // docker compose up -d. Nothing is done on the master.
    let dir = "/srv/archive";
    let start = Instant::now();
    deploy_spare(&lab, dir, &[]);
    wait_until(Duration::from_secs(600), Duration::from_secs(1), || {
        (compose_in(&lab, dir, "ps --format '{{.Health}}' bucardo") == "healthy").then_some(())
    })
    .unwrap_or_else(|_| {
        panic!(
            "{SPARE}'s bucardo never healthy:\n{}",
            compose_in(&lab, dir, "logs --tail 60 bucardo")
        )
    });
    eprintln!(
        "figure: bare host to healthy slave in {:?}",
        start.elapsed()
    );
    assert_eq!(registered(&lab, SPARE), "1,1,1");

    for table in ["collections", "items", "files"] {
        let q = format!("SELECT count(*) FROM {table}");
        let want = lab.count(MASTER, &q);
        wait_count(&lab, SPARE, &q, want, Duration::from_secs(60));
    }
    // And it keeps replicating.
    let q = format!("SELECT count(*) FROM items WHERE collection_id = {coll}");
    lab.psql(
        MASTER,
        &format!("INSERT INTO items (collection_id, identifier, title) VALUES ({coll}, 'after-{coll}', 'x')"),
    );
    wait_count(&lab, SPARE, &q, 301, Duration::from_secs(10));

    // Retire: the master's Bucardo forgets the slave entirely.
    let out = lab.compose(
        MASTER,
        "master",
        &format!("exec -T bucardo archive-retire-slave {SPARE}"),
    );
    assert!(
        out.status.success(),
        "retire: {}{}",
        text(&out),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(registered(&lab, SPARE), "0,0,0");
    // bucardo_delta_targets lives in the master's archive database.
    let targets = lab.psql(
        MASTER,
        &format!(
        "SELECT count(*) FROM bucardo.bucardo_delta_targets WHERE target = 'dbgroup {SPARE}_grp'"
    ),
    );
    assert_eq!(targets, "0");
    compose_in(&lab, dir, "down -v");
    // jukebox keeps replicating: its own daemon never knew the other slave.
    lab.psql(
        MASTER,
        &format!("INSERT INTO items (collection_id, identifier, title) VALUES ({coll}, 'post-retire-{coll}', 'x')"),
    );
    let took = wait_count(&lab, SLAVE, &q, 302, Duration::from_secs(5));
    eprintln!("figure: after retiring {SPARE}, a new row reached {SLAVE} in {took:?}");
}
