//! The audit log: one JSON line per action in the XDG state directory.
//! Records hold names and outcomes only, never secrets.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use archtui_core::actions::{Action, Outcome, Status};

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Record {
    pub time: String,
    pub user: String,
    pub host: String,
    pub action: String,
    pub args: Vec<String>,
    pub confirmed: bool,
    pub result: Status,
    pub message: String,
    pub duration_ms: u64,
    /// The remote job an interrupted action left running on the host.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
}

/// Builds the record of one action. Pure.
pub fn record(
    time: chrono::DateTime<chrono::Utc>,
    user: &str,
    host: &str,
    action: &Action,
    confirmed: bool,
    outcome: &Outcome,
    took: Duration,
) -> Record {
    let work = Work {
        what: action.name(),
        host,
        args: action.args(),
        confirmed,
    };
    build(time, user, work, outcome, took)
}

/// What a record says was done, before its outcome.
struct Work<'a> {
    what: &'a str,
    host: &'a str,
    args: Vec<String>,
    confirmed: bool,
}

fn build(
    time: chrono::DateTime<chrono::Utc>,
    user: &str,
    w: Work,
    outcome: &Outcome,
    took: Duration,
) -> Record {
    Record {
        time: time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        user: user.to_string(),
        host: w.host.to_string(),
        action: w.what.to_string(),
        args: w.args,
        confirmed: w.confirmed,
        result: outcome.status,
        message: archtui_core::credentials::redact(&first_line(&outcome.message)),
        duration_ms: u64::try_from(took.as_millis()).unwrap_or(u64::MAX),
        job: None,
    }
}

/// An action under way, for the `interrupted` line written if a signal
/// ends archtui before the action's own line.
struct Open {
    n: u64,
    what: String,
    host: String,
    args: Vec<String>,
    confirmed: bool,
    start: std::time::Instant,
}

static OPEN: std::sync::Mutex<Vec<Open>> = std::sync::Mutex::new(Vec::new());

fn open_works() -> std::sync::MutexGuard<'static, Vec<Open>> {
    OPEN.lock().unwrap_or_else(|e| e.into_inner())
}

/// Registered while its action runs; dropping it (after the action's own
/// audit line) unregisters it.
pub struct Pending(u64);

/// Registers an action under way (see `interrupted`).
pub fn begin(what: &str, host: &str, args: Vec<String>, confirmed: bool) -> Pending {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    open_works().push(Open {
        n,
        what: what.to_string(),
        host: host.to_string(),
        args,
        confirmed,
        start: std::time::Instant::now(),
    });
    Pending(n)
}

impl Pending {
    /// The operator confirmed after the action began (provision's plan).
    pub fn confirmed(&self) {
        if let Some(o) = open_works().iter_mut().find(|o| o.n == self.0) {
            o.confirmed = true;
        }
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        open_works().retain(|o| o.n != self.0);
    }
}

/// A remote job running for this process: host, id, action.
pub type Job = (String, String, String);

/// The message and job of an action interrupted by `why`: the job on its
/// host (or the only job, for the only action) goes on there. Pure.
pub fn interrupted_message(
    why: &str,
    what: &str,
    host: &str,
    jobs: &[Job],
    only_action: bool,
) -> (String, Option<String>) {
    let job = jobs
        .iter()
        .find(|(h, _, _)| h == host)
        .or_else(|| jobs.first().filter(|_| only_action && jobs.len() == 1));
    match job {
        Some((h, id, action)) => (
            format!(
                "{why} while job {id} ({action}) ran on {h}; it keeps running there: run `archtui {what}` again to follow it"
            ),
            Some(id.clone()),
        ),
        None => (format!("{why}; no remote job was running"), None),
    }
}

/// Appends an `interrupted` line for every action under way, each naming
/// the job it left running; returns their messages. For a signal handler:
/// the actions' own lines never come.
pub fn interrupted(why: &str, jobs: &[Job]) -> Vec<String> {
    interrupted_in(&log_path(), why, jobs)
}

/// `interrupted`, into the log at `log`.
pub fn interrupted_in(log: &Path, why: &str, jobs: &[Job]) -> Vec<String> {
    let open = std::mem::take(&mut *open_works());
    let only = open.len() == 1;
    let mut said = Vec::new();
    for o in open {
        let (message, job) = interrupted_message(why, &o.what, &o.host, jobs, only);
        let outcome = Outcome::new(Status::Interrupted, message.clone());
        let work = Work {
            what: &o.what,
            host: &o.host,
            args: o.args,
            confirmed: o.confirmed,
        };
        let mut rec = build(
            chrono::Utc::now(),
            &local_user(),
            work,
            &outcome,
            o.start.elapsed(),
        );
        rec.job = job;
        let line = match append(log, &rec) {
            Ok(()) => message,
            Err(e) => format!("{message} (audit log {}: {e})", log.display()),
        };
        said.push(format!("{} {}: {line}", o.what, o.host));
    }
    said
}

/// An audit line that could not be appended to the log at `path`.
#[derive(Debug, thiserror::Error)]
#[error("audit log {}: {source}", path.display())]
pub struct AuditError {
    pub path: PathBuf,
    pub source: std::io::Error,
}

/// `append` to the log at `log_path()`, the failure naming the log.
pub fn append_logged(rec: &Record) -> Result<(), AuditError> {
    let path = log_path();
    append(&path, rec).map_err(|source| AuditError { path, source })
}

/// Appends the record of work that is not an `Action` (a provisioning, a
/// host key trusted); a failure to write comes back for the caller to say.
pub fn append_work(
    what: &str,
    host: &str,
    args: Vec<String>,
    confirmed: bool,
    outcome: &Outcome,
    took: Duration,
) -> Result<(), AuditError> {
    let work = Work {
        what,
        host,
        args,
        confirmed,
    };
    let rec = build(chrono::Utc::now(), &local_user(), work, outcome, took);
    append_logged(&rec)
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").chars().take(500).collect()
}

/// `$XDG_STATE_HOME/archtui` (an absolute one), else
/// `~/.local/state/archtui`: etcetera's XDG rules, its home found through
/// `$HOME` or the passwd database; `/tmp/.local/state/archtui` when none.
pub fn state_dir() -> PathBuf {
    use etcetera::BaseStrategy as _;
    etcetera::base_strategy::Xdg::new()
        .ok()
        .and_then(|x| x.state_dir())
        .unwrap_or_else(|| PathBuf::from("/tmp/.local/state"))
        .join("archtui")
}

pub fn log_path() -> PathBuf {
    state_dir().join("audit.log")
}

/// The local user running the console: `$USER`, `$LOGNAME`, else the
/// name of this process's uid from the user database (whoami asks
/// getpwuid_r, so NSS and LDAP users are found, not only /etc/passwd's),
/// else `uid <n>`.
pub fn local_user() -> String {
    ["USER", "LOGNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
        .or_else(|| whoami::username().ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| format!("uid {}", rustix::process::getuid().as_raw()))
}

/// Creates the state directory (0700) if needed.
pub fn ensure_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// Appends one line, in one write under the log's lock, synced: two
/// consoles never interleave, a crash never leaves half a line.
pub fn append(path: &Path, rec: &Record) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        ensure_dir(dir)?;
    }
    let mut line = serde_json::to_string(rec).map_err(std::io::Error::other)?;
    line.push('\n');
    crate::local::files::append(path, line.as_bytes(), 0o600)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_holds_what_was_done() {
        let t = chrono::DateTime::parse_from_rfc3339("2026-01-02T03:04:05Z")
            .unwrap()
            .to_utc();
        let a = Action::Restart {
            host: "jukebox".into(),
            service: "app".into(),
        };
        let r = record(
            t,
            "ops",
            "jukebox",
            &a,
            true,
            &Outcome::ok("restarted\nsecond line"),
            Duration::from_millis(1234),
        );
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["time"], "2026-01-02T03:04:05.000Z");
        assert_eq!(json["action"], "restart");
        assert_eq!(json["args"], serde_json::json!(["jukebox", "app"]));
        assert_eq!(json["result"], "ok");
        assert_eq!(json["message"], "restarted");
        assert_eq!(json["duration_ms"], 1234);
        assert_eq!(json["confirmed"], true);
    }

    #[test]
    fn record_redacts_secret_assignments() {
        let failed = || {
            record(
                chrono::Utc::now(),
                "u",
                "h",
                &Action::Reload {
                    slave: "jukebox".into(),
                },
                false,
                &Outcome::failed("bad DB_PASSWORD=hunter2 here; url postgres://u:Audit-Pw-9x@h/db"),
                Duration::ZERO,
            )
        };
        let r = failed();
        assert!(
            r.message.contains("postgres://u:Audit-Pw-9x@"),
            "not known yet"
        );
        archtui_core::credentials::remember("Audit-Pw-9x");
        let r = failed();
        assert!(!r.message.contains("hunter2"), "{}", r.message);
        assert!(!r.message.contains("Audit-Pw-9x"), "{}", r.message);
    }

    #[test]
    fn an_interrupted_action_names_the_job_it_left_running() {
        let jobs: Vec<Job> = vec![(
            "jukebox".into(),
            "20260304T091203Z-a1b2c3".into(),
            "deploy".into(),
        )];
        let (m, job) =
            interrupted_message("interrupted by SIGTERM", "deploy", "jukebox", &jobs, false);
        assert_eq!(job.as_deref(), Some("20260304T091203Z-a1b2c3"));
        assert!(
            m.contains("keeps running there") && m.contains("SIGTERM"),
            "{m}"
        );
        // Another host's job is not this action's, unless it is the only one.
        let (m, job) = interrupted_message("x", "retire", "cavaforgepad", &jobs, false);
        assert_eq!(job, None);
        assert!(m.contains("no remote job"), "{m}");
        let (_, job) = interrupted_message("x", "retire", "cavaforgepad", &jobs, true);
        assert!(job.is_some());
        let r = record(
            chrono::Utc::now(),
            "u",
            "h",
            &Action::Reload {
                slave: "jukebox".into(),
            },
            true,
            &Outcome::new(Status::Interrupted, "x"),
            Duration::ZERO,
        );
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["result"], "interrupted");
        assert!(v.get("job").is_none(), "no job field unless there is one");
    }

    #[test]
    fn the_local_user_is_this_uids_name() {
        // The database's name for our uid, whatever $USER says.
        let uid = rustix::process::getuid().as_raw();
        let name = whoami::username().expect("this uid has a name");
        let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
        if let Some(line) = passwd
            .lines()
            .find(|l| l.split(':').nth(2) == Some(&uid.to_string()))
        {
            assert_eq!(line.split(':').next(), Some(name.as_str()));
        }
        assert!(!local_user().is_empty());
    }

    /// Prints `state_dir()` when asked by `state_dir_follows_xdg` (which
    /// runs this test binary again with another environment).
    #[test]
    fn state_dir_child() {
        if std::env::var_os("ARCHTUI_TEST_STATE_DIR").is_some() {
            println!("STATE_DIR={}", state_dir().display());
        }
    }

    #[test]
    fn state_dir_follows_xdg() {
        let child = |xdg: Option<&str>| {
            let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
            cmd.args(["state_dir_child", "--nocapture", "--test-threads=1"])
                .env("ARCHTUI_TEST_STATE_DIR", "1")
                .env("HOME", "/home/u");
            match xdg {
                Some(x) => cmd.env("XDG_STATE_HOME", x),
                None => cmd.env_remove("XDG_STATE_HOME"),
            };
            let out = String::from_utf8_lossy(&cmd.output().unwrap().stdout).into_owned();
            out.lines()
                .find_map(|l| {
                    l.split_once("STATE_DIR=")
                        .map(|(_, d)| d.trim().to_string())
                })
                .unwrap_or_else(|| panic!("no STATE_DIR line in {out}"))
        };
        assert_eq!(child(Some("/x/state")), "/x/state/archtui");
        assert_eq!(child(Some("relative")), "/home/u/.local/state/archtui");
        assert_eq!(child(None), "/home/u/.local/state/archtui");
    }

    #[test]
    fn append_writes_one_line_each() {
        let dir = std::env::temp_dir().join(format!("archtui-audit-{}", std::process::id()));
        let path = dir.join("sub/audit.log");
        let rec = record(
            chrono::Utc::now(),
            "u",
            "h",
            &Action::Reload {
                slave: "jukebox".into(),
            },
            true,
            &Outcome::ok("done"),
            Duration::ZERO,
        );
        append(&path, &rec).unwrap();
        append(&path, &rec).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 2);
        for l in text.lines() {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            assert_eq!(v["action"], "reload");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
