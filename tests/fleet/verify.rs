//! `archtui verify`, Bucardo's health and the metrics against the local
//! fleet lab: a healthy fleet verifies equal; rows changed, deleted and
//! inserted on jukebox and a missing range are found by table and key;
//! `--repair` mends what the master has (the extra row is listed, kept);
//! a verify under a 200+ rows/s write load finds nothing false; the
//! 1M-row figure; `promtool check metrics` and a real Prometheus scraping
//! `archtui serve`. Run with the lab up and ARCHTUI_LAB=1 (README); the
//! metrics test needs Debian's `prometheus` package (promtool, prometheus).

// Its helpers unwrap outside #[test] fns (clippy.toml covers only those).
#![allow(clippy::unwrap_used)]

use crate::common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::{lab, restore, tag, wait_until, Lab, ARCHIVE_DB};
use serde_json::Value;

const MASTER: &str = "cavaforgepad";
const SLAVE: &str = "jukebox";

/// A state dir of the test's own, so its audit lines and last verify
/// never mix with the operator's.
struct State(PathBuf);

impl State {
    fn new(what: &str) -> State {
        let p = std::env::temp_dir().join(tag(&format!("archtui-verify-{what}")));
        std::fs::create_dir_all(&p).unwrap();
        State(p)
    }
}

impl Drop for State {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn archtui(lab: &Lab, state: &State, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_archtui"))
        .args(args)
        .env("ARCHTUI_CONFIG", lab.config())
        .env("XDG_STATE_HOME", &state.0)
        .stdin(Stdio::null())
        .output()
        .expect("run archtui")
}

/// `archtui verify ARGS --json`: the document and the exit code.
fn verify(lab: &Lab, state: &State, args: &[&str]) -> (Value, i32, String) {
    let mut a = vec!["verify"];
    a.extend(args);
    a.push("--json");
    let o = archtui(lab, state, &a);
    let v = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "verify printed no JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    });
    (v, o.status.code().expect("exit code"), common::all_text(&o))
}

fn table<'a>(v: &'a Value, slave: &str, t: &str) -> &'a Value {
    v["slaves"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["slave"] == slave)
        .and_then(|s| {
            s["tables"]
                .as_array()
                .unwrap()
                .iter()
                .find(|x| x["table"] == t)
        })
        .unwrap_or_else(|| panic!("no {slave} {t} in {v:#}"))
}

fn keys(t: &Value, kind: &str) -> Vec<String> {
    t[kind]["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap().to_string())
        .collect()
}

/// SQL on jukebox as the bucardo superuser, Bucardo's and the foreign
/// keys' triggers off, as a stray write would go.
fn on_slave(lab: &Lab, sql: &str) -> String {
    lab.psql(
        SLAVE,
        &format!("SET session_replication_role = replica; {sql}"),
    )
}

/// A collection of `n` items on the master, waited for on jukebox.
fn collection(lab: &Lab, name: &str, n: i64, within: Duration) -> i64 {
    let coll: i64 = lab
        .psql(
            MASTER,
            &format!("INSERT INTO collections (name) VALUES ('{name}') RETURNING id"),
        )
        .parse()
        .unwrap();
    lab.psql(
        MASTER,
        &format!(
            "INSERT INTO items (collection_id, identifier, title) \
             SELECT {coll}, '{name}-' || g, 'item ' || g FROM generate_series(1, {n}) g"
        ),
    );
    let sql = format!("SELECT count(*) FROM items WHERE collection_id = {coll}");
    wait_until(within, Duration::from_millis(300), || {
        (lab.count(SLAVE, &sql) == n).then_some(())
    })
    .unwrap_or_else(|t| panic!("{n} items of {name} not on {SLAVE} after {t:?}"));
    coll
}

/// Removes a collection on both sides without a delta row: cleanup that
/// costs replication nothing. The slave's side is done again until it
/// stays empty: rows of the load still in flight land after a first
/// delete, and a silent failure here once left 2M stray rows on jukebox
/// that failed every later verify.
fn drop_collection(lab: &Lab, coll: i64) {
    let sql = format!(
        "SET session_replication_role = replica; \
         DELETE FROM files WHERE item_id IN (SELECT id FROM items WHERE collection_id = {coll}); \
         DELETE FROM items WHERE collection_id = {coll}; DELETE FROM collections WHERE id = {coll}"
    );
    if let Err(e) = lab.try_psql(MASTER, ARCHIVE_DB, &sql) {
        eprintln!("cleanup: collection {coll} on {MASTER}: {e}");
    }
    let left = format!("SELECT count(*) FROM items WHERE collection_id = {coll}");
    let mut empty_twice = 0;
    let r = wait_until(Duration::from_secs(180), Duration::from_secs(2), || {
        if let Err(e) = lab.try_psql(SLAVE, ARCHIVE_DB, &sql) {
            eprintln!("cleanup: collection {coll} on {SLAVE}: {e}");
        }
        empty_twice = if lab.count(SLAVE, &left) == 0 {
            empty_twice + 1
        } else {
            0
        };
        (empty_twice >= 2).then_some(())
    });
    if r.is_err() {
        eprintln!("cleanup: collection {coll} still has rows on {SLAVE}");
    }
}

/// Verifies until it passes (earlier tests may have left rows in flight
/// or differences of their own for a moment); the last document.
fn verify_passes(lab: &Lab, state: &State, args: &[&str]) -> Value {
    let mut last = (Value::Null, -1, String::new());
    let r = wait_until(Duration::from_secs(120), Duration::from_secs(2), || {
        last = verify(lab, state, args);
        (last.1 == 0).then(|| last.0.clone())
    });
    r.unwrap_or_else(|_| panic!("verify never passed: exit {}:\n{}", last.1, last.2))
        .0
}

#[test]
#[cfg_attr(not(archtui_lab), ignore = "needs the lab: ARCHTUI_LAB=1")]
fn verify_finds_slave_damage_by_table_and_key_and_repair_mends_it() {
    let Some(lab) = lab("verify_finds_slave_damage_by_table_and_key_and_repair_mends_it") else {
        return;
    };
    let state = State::new("damage");
    let name = tag("verify");
    let coll = collection(&lab, &name, 2000, Duration::from_secs(60));
    let ids: Vec<i64> = lab
        .psql(
            MASTER,
            &format!("SELECT id FROM items WHERE collection_id = {coll} ORDER BY id"),
        )
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    let extra = lab
        .psql(MASTER, "SELECT max(id) + 1000000 FROM items")
        .parse::<i64>()
        .unwrap();
    let _cleanup = restore(|| {
        drop_collection(&lab, coll);
        let _ = lab.try_psql(
            SLAVE,
            ARCHIVE_DB,
            &format!(
                "SET session_replication_role = replica; DELETE FROM items WHERE id = {extra}"
            ),
        );
    });

    // Healthy: equal, table by table.
    let v = verify_passes(&lab, &state, &[SLAVE]);
    assert_eq!(v["outcome"], "equal", "{v:#}");
    let items = table(&v, SLAVE, "public.items");
    assert!(items["rows"].as_i64().unwrap() >= 2000, "{items}");
    assert!(
        !v["slaves"][0]["tables"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["table"] == "public.archive_heartbeat"),
        "the heartbeat is not verified: its lag is measured"
    );

    // Damage on jukebox: a changed row, a deleted row, a row only there,
    // and a range of 300 rows gone.
    let (changed, deleted) = (ids[10], ids[20]);
    let (from, to) = (ids[1000], ids[1299]);
    on_slave(
        &lab,
        &format!(
            "UPDATE items SET title = 'tampered on jukebox' WHERE id = {changed}; \
             DELETE FROM items WHERE id = {deleted}; \
             INSERT INTO items (id, collection_id, identifier, title) VALUES ({extra}, {coll}, '{name}-only-on-jukebox', 'x'); \
             DELETE FROM items WHERE id BETWEEN {from} AND {to}"
        ),
    );
    let (v, code, said) = verify(&lab, &state, &[SLAVE, "--tables", "items"]);
    assert_eq!(code, 1, "{said}");
    assert_eq!(v["outcome"], "differ");
    let t = table(&v, SLAVE, "public.items");
    assert_eq!(keys(t, "changed"), [changed.to_string()], "{t:#}");
    assert_eq!(keys(t, "extra"), [extra.to_string()], "{t:#}");
    assert_eq!(t["missing"]["count"], 301, "{t:#}");
    let missing = keys(t, "missing");
    assert_eq!(missing[0], deleted.to_string());
    assert_eq!(
        missing[1],
        from.to_string(),
        "the range, from its first key"
    );
    assert!(
        t["missing"]["truncated"].as_bool().unwrap(),
        "listing capped at 100"
    );
    // The text names them too.
    let text = archtui(&lab, &state, &["verify", SLAVE, "--tables", "items"]);
    let out = common::all_text(&text);
    assert!(
        out.contains(&format!("public.items: 1 changed: {changed}")),
        "{out}"
    );
    assert!(
        out.contains(&format!("extra on the slave (only there): {extra}")),
        "{out}"
    );

    // The metrics carry the last verify.
    let m = archtui(&lab, &state, &["status", "--format", "openmetrics"]);
    let m = String::from_utf8_lossy(&m.stdout);
    assert!(
        m.contains("archtui_verify_differences{slave=\"jukebox\",table=\"public.items\"} 303"),
        "{m}"
    );

    // Repair: re-sent from the master, the extra row kept.
    let (v, code, said) = verify(
        &lab,
        &state,
        &[SLAVE, "--tables", "items", "--repair", "--yes"],
    );
    let r = &v["repairs"][0];
    assert_eq!(r["result"], "ok", "{said}");
    assert_eq!(r["plan"]["tables"][0]["mode"], "keys");
    assert_eq!(r["plan"]["tables"][0]["extra_keys"][0], extra.to_string());
    let after = &r["after"]["tables"][0];
    assert_eq!(
        (
            after["missing"]["count"].as_i64(),
            after["changed"]["count"].as_i64()
        ),
        (Some(0), Some(0)),
        "{said}"
    );
    assert_eq!(
        keys(after, "extra"),
        [extra.to_string()],
        "listed, not deleted"
    );
    assert_eq!(code, 1, "the extra row still differs");
    assert_eq!(
        lab.count(
            SLAVE,
            &format!("SELECT count(*) FROM items WHERE id = {extra}")
        ),
        1,
        "never deleted"
    );
    assert_eq!(
        lab.psql(
            SLAVE,
            &format!("SELECT title FROM items WHERE id = {changed}")
        ),
        lab.psql(
            MASTER,
            &format!("SELECT title FROM items WHERE id = {changed}")
        )
    );
    // The operator deletes the extra row; verify passes.
    on_slave(&lab, &format!("DELETE FROM items WHERE id = {extra}"));
    let v = verify_passes(&lab, &state, &[SLAVE, "--tables", "items"]);
    assert_eq!(table(&v, SLAVE, "public.items")["missing"]["count"], 0);

    // Every verify and the repair are in the audit log.
    let audit = std::fs::read_to_string(state.0.join("archtui/audit.log")).unwrap();
    assert!(
        audit
            .lines()
            .any(|l| l.contains("\"action\":\"repair\"") && l.contains("\"confirmed\":true")),
        "{audit}"
    );
    assert!(
        audit
            .lines()
            .filter(|l| l.contains("\"action\":\"verify\""))
            .count()
            >= 4,
        "{audit}"
    );

    // Bad input and refusals.
    let o = archtui(&lab, &state, &["verify", "nosuchslave"]);
    assert_eq!(o.status.code(), Some(2), "{}", common::all_text(&o));
    assert!(common::all_text(&o).contains("not a slave of the config"));
    let (v, code, said) = verify(&lab, &state, &[SLAVE, "--tables", "nosuchtable"]);
    assert_eq!(code, 2, "{said}");
    assert!(
        v["slaves"][0]["error"]
            .as_str()
            .unwrap()
            .contains("not replicated"),
        "{v}"
    );
    let o = archtui(
        &lab,
        &state,
        &["--read-only", "verify", SLAVE, "--repair", "--yes"],
    );
    assert_eq!(o.status.code(), Some(2), "{}", common::all_text(&o));
}

#[test]
#[cfg_attr(not(archtui_lab), ignore = "needs the lab: ARCHTUI_LAB=1")]
fn verify_under_a_write_load_reports_no_false_difference() {
    let Some(lab) = lab("verify_under_a_write_load_reports_no_false_difference") else {
        return;
    };
    let state = State::new("load");
    let name = tag("load");
    let coll = collection(&lab, &name, 20_000, Duration::from_secs(120));
    let _cleanup = restore(|| drop_collection(&lab, coll));
    verify_passes(&lab, &state, &[SLAVE, "--tables", "items"]);

    // 200+ rows/s on the master: 40 inserts and 10 updates of existing
    // rows every 100 ms, each batch one psql (its own connection).
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (stop, dir, name) = (stop.clone(), lab.dir.clone(), name.clone());
        std::thread::spawn(move || {
            let start = Instant::now();
            let mut rows = 0u64;
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let batch = Instant::now();
                let sql = format!(
                    "INSERT INTO items (collection_id, identifier, title) \
                     SELECT {coll}, '{name}-load-{i}-' || g, 'l' FROM generate_series(1, 40) g; \
                     UPDATE items SET title = title || '+' WHERE id IN \
                     (SELECT id FROM items WHERE collection_id = {coll} ORDER BY random() LIMIT 10)"
                );
                let ok = Command::new(dir.join("psql"))
                    .args([MASTER, "-v", "ON_ERROR_STOP=1", "-qAt", "-c", &sql])
                    .env("PGDATABASE", ARCHIVE_DB)
                    .output()
                    .is_ok_and(|o| o.status.success());
                if ok {
                    rows += 50;
                }
                i += 1;
                std::thread::sleep(Duration::from_millis(100).saturating_sub(batch.elapsed()));
            }
            rows as f64 / start.elapsed().as_secs_f64()
        })
    };
    std::thread::sleep(Duration::from_secs(2));
    let started = Instant::now();
    let (v, code, said) = verify(&lab, &state, &[SLAVE, "--tables", "items"]);
    let took = started.elapsed();
    // Keep writing a little past the verify's end.
    std::thread::sleep(Duration::from_secs(1));
    stop.store(true, Ordering::Relaxed);
    let rate = writer.join().unwrap();
    let t = table(&v, SLAVE, "public.items");
    eprintln!(
        "figure: verify of {} rows of items under a {rate:.0} rows/s write load took {took:?}: {} differences, {} keys unsettled",
        t["rows"], t["missing"]["count"].as_i64().unwrap() + t["extra"]["count"].as_i64().unwrap() + t["changed"]["count"].as_i64().unwrap(),
        t["unsettled"]["count"]
    );
    assert!(rate >= 200.0, "the load reached only {rate:.0} rows/s");
    assert_eq!(code, 0, "a false difference under load:\n{said}");
    assert_eq!(v["outcome"], "equal");
}

/// A benchmark, not a check: it loads 1M rows, which leaves the lab busy
/// with their delta rows for minutes. Run by benches/verify_million.sh.
#[test]
#[ignore = "benchmark: run benches/verify_million.sh"]
fn figure_verify_of_a_million_items_next_to_one_hash_query() {
    let Some(lab) = lab("figure_verify_of_a_million_items_next_to_one_hash_query") else {
        return;
    };
    let state = State::new("figure");
    let have = lab.count(MASTER, "SELECT count(*) FROM items");
    let want = 1_000_000;
    let coll = if have < want {
        // Bucardo applies about 14k rows/s: a few minutes at most.
        Some(collection(
            &lab,
            &tag("million"),
            want - have,
            Duration::from_secs(600),
        ))
    } else {
        None
    };
    let _cleanup = restore(|| {
        if let Some(c) = coll {
            drop_collection(&lab, c);
        }
    });
    // The delta rows of the load must be applied before the figure means
    // anything: verify pauses while the slave lags.
    verify_passes(&lab, &state, &[SLAVE, "--tables", "items"]);
    let rows = lab.count(MASTER, "SELECT count(*) FROM items");
    let start = Instant::now();
    let (v, code, said) = verify(&lab, &state, &[SLAVE, "--tables", "items"]);
    let verify_secs = start.elapsed().as_secs_f64();
    assert_eq!(code, 0, "{said}");
    assert_eq!(
        table(&v, SLAVE, "public.items")["rows"].as_i64(),
        Some(rows)
    );
    let start = Instant::now();
    lab.psql(
        MASTER,
        "SELECT count(*), sum(hashtext(t::text)) FROM items t",
    );
    let query_secs = start.elapsed().as_secs_f64();
    // Verify reads both sides at once; on the lab both are on this
    // machine's cores, so the same query on both at once is shown too.
    let start = Instant::now();
    std::thread::scope(|sc| {
        for h in [MASTER, SLAVE] {
            let lab = &lab;
            sc.spawn(move || lab.psql(h, "SELECT count(*), sum(hashtext(t::text)) FROM items t"));
        }
    });
    let both_secs = start.elapsed().as_secs_f64();
    eprintln!(
        "figure: verify of {rows} rows of items took {verify_secs:.1} s; SELECT count(*), sum(hashtext(t::text)) FROM items t on the master took {query_secs:.1} s ({:.1}x); on the master and {SLAVE} at once {both_secs:.1} s ({:.1}x)",
        verify_secs / query_secs,
        verify_secs / both_secs
    );
    // The goal (within 3x) is read from the figure: a timed assertion
    // would fail on a loaded machine without saying anything about verify.
}

/// A port nothing listens on now, on loopback.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `GET path` on loopback; the body.
fn get(port: u16, path: &str) -> Option<String> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut r = String::new();
    s.read_to_string(&mut r).ok()?;
    let (head, body) = r.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.1 200").then(|| body.to_string())
}

fn need(tool: &str) -> PathBuf {
    let found = std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(tool))
            .find(|f| f.is_file())
    });
    found.unwrap_or_else(|| {
        panic!("{tool} is missing: install Debian's prometheus package (apt-get install prometheus; .ci/run must)")
    })
}

fn promtool_check(promtool: &Path, text: &str) {
    let mut c = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    c.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let o = c.wait_with_output().unwrap();
    assert!(
        o.status.success(),
        "promtool check metrics: {}\n{}\n{text}",
        o.status,
        common::all_text(&o)
    );
}

/// A child process of this test, killed (by its own pid) when dropped.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
#[cfg_attr(not(archtui_lab), ignore = "needs the lab: ARCHTUI_LAB=1")]
fn metrics_pass_promtool_and_prometheus_reads_the_lag_from_serve() {
    let Some(lab) = lab("metrics_pass_promtool_and_prometheus_reads_the_lag_from_serve") else {
        return;
    };
    let (promtool, prometheus) = (need("promtool"), need("prometheus"));
    let state = State::new("metrics");
    let o = archtui(&lab, &state, &["status", "--format", "openmetrics"]);
    let text = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(text.ends_with("# EOF\n"), "{text}");
    for name in [
        "archtui_host_up{host=\"jukebox\"}",
        "archtui_container_healthy{host=\"jukebox\",service=\"bucardo\"}",
        "archtui_sync_state{sync=\"archive_jukebox\",state=",
        "archtui_sync_lag_seconds{sync=\"archive_jukebox\"}",
        "archtui_sync_pending_rows{sync=\"archive_jukebox\"}",
        "archtui_heartbeat_lag_seconds{host=\"jukebox\"}",
        "archtui_sync_conflicts_total{sync=\"archive_jukebox\"}",
        "archtui_bucardo_delta_rows{table=\"public.items\"}",
    ] {
        assert!(text.contains(name), "{name}:\n{text}");
    }
    promtool_check(&promtool, &text);

    let port = free_port();
    let _serve = Child(
        Command::new(env!("CARGO_BIN_EXE_archtui"))
            .args([
                "serve",
                "--metrics",
                &format!("127.0.0.1:{port}"),
                "--every",
                "1",
            ])
            .env("ARCHTUI_CONFIG", lab.config())
            .env("XDG_STATE_HOME", &state.0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let (body, _) = wait_until(Duration::from_secs(30), Duration::from_millis(500), || {
        get(port, "/metrics")
            .filter(|b| b.contains("archtui_sync_lag_seconds{sync=\"archive_jukebox\"}"))
    })
    .unwrap_or_else(|t| panic!("archtui serve gave no sync lag within {t:?}"));
    promtool_check(&promtool, &body);

    // A real Prometheus, loopback only, scraping every second.
    let dir = State::new("prometheus");
    let yml = dir.0.join("prometheus.yml");
    std::fs::write(
        &yml,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: archtui\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n"
        ),
    )
    .unwrap();
    let pport = free_port();
    let _prom = Child(
        Command::new(prometheus)
            .arg(format!("--config.file={}", yml.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.0.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{pport}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let query = "/api/v1/query?query=archtui_sync_lag_seconds%7Bsync%3D%22archive_jukebox%22%7D";
    let (lag, took) = wait_until(Duration::from_secs(60), Duration::from_secs(1), || {
        let v: Value = serde_json::from_str(&get(pport, query)?).ok()?;
        v["data"]["result"][0]["value"][1]
            .as_str()?
            .parse::<f64>()
            .ok()
    })
    .unwrap_or_else(|t| panic!("Prometheus had no archtui_sync_lag_seconds after {t:?}"));
    eprintln!("figure: Prometheus read archive_jukebox's lag {lag:.2} s through its query API {took:?} after it started");
    assert!((0.0..30.0).contains(&lag), "lag {lag}");
}
