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
        let line = match append(&log_path(), &rec) {
            Ok(()) => message,
            Err(e) => format!("{message} (audit log {}: {e})", log_path().display()),
        };
        said.push(format!("{} {}: {line}", o.what, o.host));
    }
    said
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
) -> Result<(), String> {
    let work = Work {
        what,
        host,
        args,
        confirmed,
    };
    let rec = build(chrono::Utc::now(), &local_user(), work, outcome, took);
    append(&log_path(), &rec).map_err(|e| format!("audit log {}: {e}", log_path().display()))
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").chars().take(500).collect()
}

/// `$XDG_STATE_HOME/archtui`, else `~/.local/state/archtui`.
pub fn state_dir() -> PathBuf {
    state_dir_from(
        std::env::var_os("XDG_STATE_HOME").map(PathBuf::from),
        std::env::var_os("HOME").map(PathBuf::from),
    )
}

fn state_dir_from(xdg: Option<PathBuf>, home: Option<PathBuf>) -> PathBuf {
    match xdg.filter(|p| p.is_absolute()) {
        Some(x) => x.join("archtui"),
        None => home
            .unwrap_or_else(|| PathBuf::from("/tmp"))
            .join(".local/state/archtui"),
    }
}

pub fn log_path() -> PathBuf {
    state_dir().join("audit.log")
}

/// The local user running the console.
pub fn local_user() -> String {
    ["USER", "LOGNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
        .or_else(passwd_name)
        .unwrap_or_else(|| "unknown".into())
}

/// The name of this process's uid in /etc/passwd, else `uid <n>`.
fn passwd_name() -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let uid = std::fs::metadata("/proc/self").ok()?.uid();
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    Some(user_of(&passwd, uid).unwrap_or_else(|| format!("uid {uid}")))
}

/// Pure: the user of `uid` in passwd text.
fn user_of(passwd: &str, uid: u32) -> Option<String> {
    passwd.lines().find_map(|l| {
        let mut f = l.split(':');
        let name = f.next()?;
        let id: u32 = f.nth(1)?.parse().ok()?;
        (id == uid).then(|| name.to_string())
    })
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
        let r = record(
            chrono::Utc::now(),
            "u",
            "h",
            &Action::Reload {
                slave: "jukebox".into(),
            },
            false,
            &Outcome::failed("bad DB_PASSWORD=hunter2 here; url postgres://u:Audit-Pw-9x@h/db"),
            Duration::ZERO,
        );
        assert!(
            r.message.contains("postgres://u:Audit-Pw-9x@"),
            "not known yet"
        );
        archtui_core::credentials::remember("Audit-Pw-9x");
        let r = record(
            chrono::Utc::now(),
            "u",
            "h",
            &Action::Reload {
                slave: "jukebox".into(),
            },
            false,
            &Outcome::failed("bad DB_PASSWORD=hunter2 here; url postgres://u:Audit-Pw-9x@h/db"),
            Duration::ZERO,
        );
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
    fn user_from_passwd() {
        let p = "root:x:0:0:root:/root:/bin/bash\nops:x:1000:1000::/home/ops:/bin/sh\n";
        assert_eq!(user_of(p, 1000).as_deref(), Some("ops"));
        assert_eq!(user_of(p, 0).as_deref(), Some("root"));
        assert_eq!(user_of(p, 5), None);
    }

    #[test]
    fn state_dir_follows_xdg() {
        assert_eq!(
            state_dir_from(Some("/x/state".into()), Some("/home/u".into())),
            PathBuf::from("/x/state/archtui")
        );
        assert_eq!(
            state_dir_from(Some("relative".into()), Some("/home/u".into())),
            PathBuf::from("/home/u/.local/state/archtui")
        );
        assert_eq!(
            state_dir_from(None, Some("/home/u".into())),
            PathBuf::from("/home/u/.local/state/archtui")
        );
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
