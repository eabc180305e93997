//! Shared by the integration tests that run against the local fleet lab
//! (tests/lab). `ARCHTUI_LAB=1` says the lab is expected: then a missing lab
//! is a failure, never a silent pass. Unset or `0`, the lab tests are
//! reported as ignored (build.rs gives them `#[ignore]`); any other value
//! is a failure that names it.

pub mod cli;
pub mod tmux;

use std::fs::File;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The archive database on every host (env.common: ARCHIVE_DB_NAME).
pub const ARCHIVE_DB: &str = "archive_production";

/// Lab tests change shared hosts (stop containers, take links down), so
/// they never overlap: not between threads of one test binary (this mutex)
/// nor between processes (a file lock in the lab's state folder).
static LAB_LOCK: Mutex<()> = Mutex::new(());

pub struct Lab {
    pub dir: PathBuf,
    pub state: PathBuf,
    /// The test's name and start, for its "lab-time:" line when it ends:
    /// CI's log then says which tests its time went to.
    test: String,
    started: Instant,
    _file_lock: File,
    _guard: MutexGuard<'static, ()>,
}

impl Drop for Lab {
    fn drop(&mut self) {
        let outcome = if std::thread::panicking() {
            "failed"
        } else {
            "ended"
        };
        eprintln!(
            "lab-time: {} {outcome} after {:.1} s",
            self.test,
            self.started.elapsed().as_secs_f64()
        );
    }
}

/// What `ARCHTUI_LAB` asks for: `Ok(true)` for `1` (the lab is expected),
/// `Ok(false)` unset or `0` (lab tests are not run), and an error naming
/// the value and the fix for anything else, which used to skip every lab
/// test without a word.
pub fn lab_expected(value: Option<&str>) -> Result<bool, String> {
    match value {
        None | Some("0") => Ok(false),
        Some("1") => Ok(true),
        Some(other) => Err(format!(
            "ARCHTUI_LAB={other:?} is not understood: set ARCHTUI_LAB=1 to run \
             the lab tests against the lab (tests/run does), or unset it (or 0) \
             to leave them ignored"
        )),
    }
}

/// The lab, or None (with a note on stderr) when lab tests are not expected.
/// Without `ARCHTUI_LAB` the lab tests carry `#[ignore]` (build.rs), so this
/// None is only reached under `--include-ignored`.
pub fn lab(test: &str) -> Option<Lab> {
    let value = std::env::var("ARCHTUI_LAB").ok();
    match lab_expected(value.as_deref()) {
        Ok(true) => {}
        Ok(false) => {
            eprintln!("{test}: skipped: lab tests run with ARCHTUI_LAB=1 (see README)");
            return None;
        }
        Err(e) => panic!("{test}: {e}"),
    }
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/lab");
    let state = std::env::var_os("ARCHLAB_STATE").map_or_else(|| dir.join(".state"), PathBuf::from);
    let guard = LAB_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let lock_path = state.join("tests.lock");
    let file_lock = File::create(&lock_path).unwrap_or_else(|e| {
        panic!(
            "ARCHTUI_LAB=1 but {} is not writable ({e}): run tests/lab/up",
            lock_path.display()
        )
    });
    file_lock.lock().expect("lock the lab for this test");
    let lab = Lab {
        dir,
        state,
        test: test.to_string(),
        started: Instant::now(),
        _file_lock: file_lock,
        _guard: guard,
    };
    let status = lab.run("status", &[]);
    assert!(
        status.status.success(),
        "ARCHTUI_LAB=1 but the lab is not up: run tests/lab/up (status said:\n{})",
        String::from_utf8_lossy(&status.stdout)
    );
    Some(lab)
}

/// stdout then stderr (on a line of its own), for assertions on
/// everything a command said.
pub fn all_text(out: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

pub fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A tag unique to this run (process and millisecond) of [a-z0-9-] only:
/// it goes into SQL literals and paths, and drill names have spaces and
/// apostrophes.
pub fn tag(what: &str) -> String {
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is past 1970");
    let what: String = what
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    format!("{what}-{}-{}", std::process::id(), t.as_millis())
}

/// What `Lab::wait_healthy` waits for.
#[derive(Debug, Clone, Copy)]
pub enum Healthy<'a> {
    /// The whole fleet: `archtui status --json` exits 0 (verdict ok).
    Fleet,
    /// One compose service of a host: its healthcheck says healthy.
    Service {
        host: &'a str,
        role: &'a str,
        service: &'a str,
    },
}

impl Lab {
    /// The archtui config `tests/lab/up` wrote for the lab.
    pub fn config(&self) -> PathBuf {
        let p = self.state.join("archtui.toml");
        assert!(
            p.exists(),
            "ARCHTUI_LAB=1 but the lab config {} is missing: run tests/lab/up",
            p.display()
        );
        p
    }

    /// Runs one of the lab's executables (sh, psql, link, ...).
    pub fn run(&self, tool: &str, args: &[&str]) -> Output {
        Command::new(self.dir.join(tool))
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run tests/lab/{tool}: {e}"))
    }

    /// A shell command on a lab host over its SSH.
    pub fn sh(&self, host: &str, cmd: &str) -> Output {
        self.run("sh", &[host, cmd])
    }

    /// Like `sh`, but the command must succeed; returns its stdout.
    pub fn sh_ok(&self, host: &str, cmd: &str) -> String {
        let out = self.sh(host, cmd);
        assert!(
            out.status.success(),
            "on {host}: `{cmd}` failed: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        text(&out)
    }

    /// One SQL statement on a host's archive database; unaligned output.
    pub fn try_psql(&self, host: &str, db: &str, sql: &str) -> Result<String, String> {
        let out = Command::new(self.dir.join("psql"))
            .args([host, "-v", "ON_ERROR_STOP=1", "-qAt", "-c", sql])
            .env("PGDATABASE", db)
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(text(&out))
        } else {
            Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
        }
    }

    pub fn psql(&self, host: &str, sql: &str) -> String {
        self.try_psql(host, ARCHIVE_DB, sql)
            .unwrap_or_else(|e| panic!("on {host}: `{sql}` failed: {e}"))
    }

    /// A count on `host`'s archive database (the last line `sql` prints);
    /// -1 when the query fails or prints no number, so a wait on it polls on.
    pub fn count(&self, host: &str, sql: &str) -> i64 {
        self.try_psql(host, ARCHIVE_DB, sql)
            .ok()
            .and_then(|s| s.lines().last()?.trim().parse().ok())
            .unwrap_or(-1)
    }

    /// Waits up to `secs` for `what` to be healthy; the panic says what
    /// was seen last.
    pub fn wait_healthy(&self, what: Healthy<'_>, secs: u64) {
        let mut last = String::new();
        let healthy = wait_until(
            Duration::from_secs(secs),
            Duration::from_millis(500),
            || match what {
                Healthy::Fleet => {
                    let o = Command::new(env!("CARGO_BIN_EXE_archtui"))
                        .args(["status", "--json"])
                        .env("ARCHTUI_CONFIG", self.config())
                        .output()
                        .expect("run archtui");
                    last = text(&o);
                    o.status.success().then_some(())
                }
                Healthy::Service {
                    host,
                    role,
                    service,
                } => {
                    let cmd = format!("ps --format '{{{{.Health}}}}' {service}");
                    last = text(&self.compose(host, role, &cmd));
                    (last == "healthy").then_some(())
                }
            },
        );
        if let Err(w) = healthy {
            match what {
                Healthy::Fleet => panic!("fleet not healthy after {w:?}: {last}"),
                Healthy::Service { host, service, .. } => {
                    panic!("{host}'s {service} not healthy after {w:?}: {last}")
                }
            }
        }
    }

    /// One statement on a slave's own Bucardo control database (every slave
    /// runs its own daemon).
    pub fn bucardo_sql(&self, slave: &str, sql: &str) -> String {
        self.try_psql(slave, "bucardo", sql)
            .unwrap_or_else(|e| panic!("{slave}'s bucardo db: `{sql}` failed: {e}"))
    }

    /// What the master holds for a slave, as "registry,triggers,targets"
    /// ("1,1,1" registered and validated, "0,0,0" gone): its row in the
    /// fleet registry (not retired), its sync's kick triggers on the
    /// master's tables, its dbgroup's delta targets.
    pub fn registered(&self, slave: &str) -> String {
        self.psql(
            "cavaforgepad",
            &format!(
                "SELECT (SELECT count(*) FROM archive_fleet.slave WHERE name = '{slave}' AND retired_at IS NULL) || ',' || \
                        (SELECT least(count(*), 1) FROM pg_trigger WHERE tgname = 'bucardo_kick_archive_{slave}') || ',' || \
                        (CASE WHEN to_regclass('bucardo.bucardo_delta_targets') IS NULL THEN 0 ELSE \
                          (SELECT least(count(*), 1) FROM bucardo.bucardo_delta_targets WHERE target = 'dbgroup {slave}_grp') END)"
            ),
        )
    }

    /// Each replicated table's row count and content digest on `host`,
    /// "table count digest" per line: equal on master and slave when no
    /// row is lost or different.
    pub fn digests(&self, host: &str) -> String {
        self.psql(
            host,
            "SELECT string_agg(t || ' ' || n, E'\\n' ORDER BY t) FROM ( \
               SELECT 'collections' AS t, (SELECT count(*) || ' ' || coalesce(sum(hashtext(x::text)::bigint), 0) FROM collections x) AS n \
               UNION ALL SELECT 'items', (SELECT count(*) || ' ' || coalesce(sum(hashtext(x::text)::bigint), 0) FROM items x) \
               UNION ALL SELECT 'files', (SELECT count(*) || ' ' || coalesce(sum(hashtext(x::text)::bigint), 0) FROM files x)) d",
        )
    }

    /// Waits until `host` holds what the master holds (digests equal).
    pub fn wait_same_as_master(&self, host: &str, within: Duration) -> Duration {
        let mut last = (String::new(), String::new());
        match wait_until(within, Duration::from_millis(500), || {
            last = (self.digests("cavaforgepad"), self.digests(host));
            (last.0 == last.1).then_some(())
        }) {
            Ok(((), took)) => took,
            Err(w) => panic!(
                "{host} differs from the master after {w:?}:\nmaster:\n{}\n{host}:\n{}",
                last.0, last.1
            ),
        }
    }

    /// `archive-bucardo-ctl ARGS` in a slave's bucardo container: its
    /// supervisor's controls (restart, stop, heal off|on, state).
    pub fn ctl(&self, slave: &str, args: &str) -> String {
        self.sh_ok(
            slave,
            &format!("docker exec archive-bucardo-1 archive-bucardo-ctl {args}"),
        )
    }

    /// `docker compose ARGS` for the stack in the lab's deploy dir.
    pub fn compose(&self, host: &str, role: &str, args: &str) -> Output {
        self.compose_in(host, "/srv/archive", role, args)
    }

    /// `docker compose ARGS` for the stack deployed in `dir` as `role`.
    pub fn compose_in(&self, host: &str, dir: &str, role: &str, args: &str) -> Output {
        self.sh(
            host,
            &format!(
                "cd {dir} && docker compose --env-file env.common --env-file env.{role} {args}"
            ),
        )
    }
}

/// Polls `f` until it returns Some, or gives up after `timeout` with the
/// time waited in the error.
pub fn wait_until<T>(
    timeout: Duration,
    every: Duration,
    mut f: impl FnMut() -> Option<T>,
) -> Result<(T, Duration), Duration> {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return Ok((v, start.elapsed()));
        }
        if start.elapsed() >= timeout {
            return Err(start.elapsed());
        }
        std::thread::sleep(every);
    }
}

/// Runs `undo` when dropped, so a test restores what it changed in the
/// lab (link up, container started, sync resumed) even when it fails.
pub struct Restore<F: FnMut()>(Option<F>);

pub fn restore<F: FnMut()>(undo: F) -> Restore<F> {
    Restore(Some(undo))
}

impl<F: FnMut()> Drop for Restore<F> {
    fn drop(&mut self) {
        if let Some(mut undo) = self.0.take() {
            undo();
        }
    }
}

#[test]
fn archtui_lab_takes_unset_0_or_1_and_names_anything_else() {
    assert_eq!(lab_expected(None), Ok(false));
    assert_eq!(lab_expected(Some("0")), Ok(false));
    assert_eq!(lab_expected(Some("1")), Ok(true));
    for bad in ["yes", "true", "", " 1"] {
        let e = lab_expected(Some(bad)).expect_err(bad);
        assert!(e.contains(&format!("{bad:?}")), "{e}");
        assert!(e.contains("ARCHTUI_LAB=1"), "{e}");
    }
}
