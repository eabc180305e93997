//! Remote jobs and the host lock: the one way deploy, provision and retire
//! change a host.
//!
//! On the host, everything lives in `<deploy dir>/.archtui/` (0700):
//! - `lock`: flocked by whoever acts on the host; `lock.info` describes the
//!   last one to take it (`who`, `action`, `since`, `holder_pid`, `job`);
//!   flock is the truth, so a stale `lock.info` after a reboot blocks nobody;
//! - `holder`: flocked by a live holder only (not by its jobs), so a second
//!   run can tell "someone is watching" from "a job runs on its own";
//! - `jobs/<id>.json` (id, action, argv, operator, started, idle_secs, pid),
//!   `<id>.log` (the job's output), `<id>.rc` (its exit status, written when
//!   it ends), `<id>.run` (flocked while it runs), `<id>.seen` (its end was
//!   reported to an operator).
//!
//! The lock: `holder.bash` runs over the SSH session for the action's whole
//! duration, takes the lock (`flock -n`), and lives as long as archtui sends
//! it a line every few seconds. A job it starts (`wrapper.bash`, under
//! `setsid`, stdin from /dev/null, output to its log) inherits the lock's
//! descriptor, so the lock stays held while the job runs even after the
//! holder and archtui are gone, and is released when both are.
//!
//! Bounds: the holder exits `HOLDER_SILENCE` after archtui's last line (a
//! killed archtui, a lost link); a job whose log has not grown for its
//! `idle` bound is stopped by its wrapper (TERM, KILL 10 s later). So a host
//! whose dockerd hangs is unlocked at most `idle` + 10 s + 1 s after the
//! job's last output; archtui itself gives up `FOLLOW_MARGIN` later at most.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use openssh::{ChildStdin, Session};
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;

use super::shell::{self, Channel, ReadEnd};
use crate::Progress;
use archtui_core::actions::{clean, Outcome, Status};
use archtui_core::config::Host;

mod follow;
mod reply;

use follow::mark_seen;
pub use follow::{follow, run_or_follow, settle, Finished, JobError, StartError};
pub use reply::{decide, meanwhile, parse_reply, when, Decision, LockInfo, Reply, Reported};

const HOLDER: &str = include_str!("job/holder.bash");
const WRAPPER: &str = include_str!("job/wrapper.bash");

/// The rest of a job's log from byte `$2` on, until the job (pid `$3`) ends.
const STREAM: &str = r#"exec tail -c "+$(($2 + 1))" -s 1 -f --pid="$3" -- "$1""#;

/// A job's state line (`state STATE`), then its log from byte `$3` on.
const STATUS: &str = r#"f=$1/$2
[ -f "$f.json" ] || { echo "state unknown"; exit 0; }
if [ -f "$f.rc" ]; then
  code='' why=''; read -r code why < "$f.rc" || true
  case $code in ''|*[!0-9]*) code=255 ;; esac
  if [ "$why" = idle ]; then echo "state idle:$code"; else echo "state rc:$code"; fi
elif flock -n "$f.run" true 2>/dev/null; then echo "state lost"
else echo "state running"; fi
tail -c "+$(($3 + 1))" -- "$f.log""#;

/// Marks a job's end as reported to an operator.
const SEEN: &str = r#"[ -f "$1/$2.json" ] && : > "$1/$2.seen""#;

/// The holder exits this long after archtui's last line.
pub const HOLDER_SILENCE: Duration = Duration::from_secs(20);
const PING_EVERY: Duration = Duration::from_secs(5);
/// The holder's first answer (ready, busy, error).
const HOLDER_STARTUP: Duration = Duration::from_secs(20);
/// A job's start: the holder answers once the wrapper runs.
const START_WITHIN: Duration = Duration::from_secs(20);
/// archtui gives up on a silent job this long after its own idle bound,
/// by when the wrapper should have stopped it.
pub const FOLLOW_MARGIN: Duration = Duration::from_secs(30);
/// Lines of a job's output kept for its failure message.
const KEEP: usize = 400;

/// What a job runs: an argv, in the host's deploy dir. No secret ever goes
/// in an argv (it would show in `ps` on the host and in the job's metadata).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    /// What the job is for, e.g. `deploy` or `retire turntable`: a second
    /// run of the same action re-attaches to a job left running.
    pub action: String,
    pub argv: Vec<String>,
    /// No output for this long: the job is taken as hung and stopped.
    pub idle: Duration,
}

/// A job that archtui will not start: what the host would be given is
/// not a plain command line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    #[error("a job needs a command")]
    NoCommand,
    #[error("a job's action and arguments are single lines: {action:?} {argv:?}")]
    NotOneLine { action: String, argv: Vec<String> },
    /// An argument would show a secret in the host's process list.
    #[error("refusing to put a secret ({0}=...) on a host's command line: pass it in a file")]
    SecretArgument(String),
}

impl From<SpecError> for String {
    fn from(e: SpecError) -> String {
        e.to_string()
    }
}

impl Spec {
    pub fn new(action: &str, argv: Vec<String>, idle: Duration) -> Result<Spec, SpecError> {
        if argv.is_empty() {
            return Err(SpecError::NoCommand);
        }
        let one_line = |s: &str| !s.contains(['\n', '\r', '\0']);
        if !one_line(action) || !argv.iter().all(|a| one_line(a)) {
            return Err(SpecError::NotOneLine {
                action: action.to_string(),
                argv,
            });
        }
        if let Some(a) = argv
            .iter()
            .find(|a| archtui_core::envfile::redact_text(a) != **a)
        {
            let key = a.split('=').next().unwrap_or("");
            return Err(SpecError::SecretArgument(key.to_string()));
        }
        Ok(Spec {
            action: action.to_string(),
            argv,
            idle: idle.max(Duration::from_secs(1)),
        })
    }
}

/// A job's metadata (`<id>.json`), as archtui writes it and the wrapper
/// completes it with its pid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    pub id: String,
    pub action: String,
    pub argv: Vec<String>,
    /// `user@laptop` of the operator who started it.
    pub operator: String,
    /// RFC 3339, UTC, from the operator's clock.
    pub started: String,
    pub idle_secs: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
}

/// A job id: its start time (so ids sort by it) and a random tail.
pub fn new_id(now: chrono::DateTime<chrono::Utc>) -> String {
    format!(
        "{}-{:06x}",
        now.format("%Y%m%dT%H%M%SZ"),
        fastrand::u32(..0x0100_0000)
    )
}

fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// Where a job is, as the host says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    Running,
    /// Ended with this exit status.
    Exited(i32),
    /// Stopped by its wrapper after its idle bound, with this status.
    Idle(i32),
    /// Not running and no exit status: killed with its wrapper, or the host
    /// rebooted under it.
    Lost,
}

impl JobState {
    /// `running`, `lost`, `rc:N`, `idle:N` (see holder.bash). Pure.
    pub fn parse(s: &str) -> Option<JobState> {
        let code = |c: &str| c.parse::<i32>().ok();
        match s.split_once(':') {
            None if s == "running" => Some(JobState::Running),
            None if s == "lost" => Some(JobState::Lost),
            Some(("rc", c)) => code(c).map(JobState::Exited),
            Some(("idle", c)) => code(c).map(JobState::Idle),
            _ => None,
        }
    }
}

/// `user@laptop`: the local user and this machine's name, one word.
pub fn operator() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .unwrap_or_default();
    let word = |s: &str| -> String {
        s.chars()
            .filter(|c| c.is_ascii_graphic() && *c != '@')
            .take(64)
            .collect()
    };
    let host = word(host.trim());
    format!(
        "{}@{}",
        word(&crate::local::audit::local_user()),
        if host.is_empty() { "unknown" } else { &host }
    )
}

fn jobs_dir(host: &Host) -> String {
    format!("{}/.archtui/jobs", host.deploy_dir)
}

/// Lines of compose output that say what failed. Pure.
pub fn failure_lines(output: &[String]) -> Vec<String> {
    let wanted = |l: &str| {
        let lower = l.to_ascii_lowercase();
        lower.contains("error") || lower.contains("failed") || lower.contains("did not complete")
    };
    let mut hits: Vec<String> = output.iter().filter(|l| wanted(l)).cloned().collect();
    if hits.is_empty() {
        hits = output.iter().rev().take(3).rev().cloned().collect();
    }
    let skip = hits.len().saturating_sub(4);
    hits.into_iter().skip(skip).collect()
}

/// Jobs this process follows right now, for the audit line of an
/// interrupted action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InFlight {
    pub host: String,
    pub id: String,
    pub action: String,
}

static IN_FLIGHT: Mutex<Vec<(u64, InFlight)>> = Mutex::new(Vec::new());

/// Removes its job from `in_flight` when dropped.
struct Tracked(u64);

fn track(job: InFlight) -> Tracked {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    IN_FLIGHT
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push((n, job));
    Tracked(n)
}

impl Drop for Tracked {
    fn drop(&mut self) {
        IN_FLIGHT
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|(n, _)| *n != self.0);
    }
}

/// The jobs being followed, oldest first, as (host, id, action) for the
/// audit line of an interrupted action.
pub fn in_flight() -> Vec<crate::local::audit::Job> {
    IN_FLIGHT
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .map(|(_, j)| (j.host.clone(), j.id.clone(), j.action.clone()))
        .collect()
}

/// The lock on one host, held while this lives (and by the jobs it starts).
pub struct HostLock {
    session: Arc<Session>,
    host: Host,
    channel: Channel,
    stdin: Arc<tokio::sync::Mutex<Option<ChildStdin>>>,
    pinger: tokio::task::JoinHandle<()>,
}

/// The outcome of taking a host's lock.
pub enum Acquired {
    Held(Box<HostLock>),
    /// The host runs a job of this action that nobody follows.
    Attach(Meta),
}

impl Drop for HostLock {
    fn drop(&mut self) {
        self.pinger.abort();
    }
}

/// Takes the host's lock for `action`, after telling `progress` what
/// happened to jobs nobody reported. Refused (exit 2) when someone else
/// holds it, naming them; `Attach` when a job of the same action runs on
/// its own.
pub async fn acquire(
    session: &Arc<Session>,
    host: &Host,
    action: &str,
    progress: &Progress,
) -> Result<Acquired, Outcome> {
    let now = chrono::Utc::now();
    let since = now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let who = operator();
    let silence = HOLDER_SILENCE.as_secs().to_string();
    let args = [
        host.deploy_dir.as_str(),
        &who,
        action,
        &since,
        &silence,
        WRAPPER,
    ];
    let unreachable = |e: String| Outcome::new(Status::Unreachable, format!("{}: {e}", host.name));
    let mut channel = Channel::spawn(session.clone(), HOLDER, &args)
        .await
        .map_err(|e| unreachable(e.to_string()))?;
    let reply = parse_reply(&holder_answer(&mut channel, host).await?);
    let decision = decide(&reply, action, &host.name, now);
    let unreported = match &reply {
        Reply::Ready { unreported } | Reply::Busy { unreported, .. } => unreported.as_slice(),
        Reply::Error(_) => &[],
    };
    for r in unreported {
        let attaching = matches!(&decision, Decision::Attach(m) if m.id == r.meta.id);
        let line = meanwhile(r, now);
        let _ = progress.send(if attaching {
            format!("{}: {line}: re-attaching", host.name)
        } else {
            format!("{}: {line}", host.name)
        });
        if r.state != JobState::Running && matches!(decision, Decision::Held) {
            mark_seen(session, host, &r.meta.id).await;
        }
    }
    match decision {
        Decision::Refused(m) => {
            channel.close(Duration::from_secs(2)).await;
            Err(match reply {
                Reply::Error(_) => Outcome::failed(m),
                _ => Outcome::refused(m),
            })
        }
        Decision::Attach(meta) => {
            channel.close(Duration::from_secs(2)).await;
            Ok(Acquired::Attach(meta))
        }
        Decision::Held => {
            let stdin = Arc::new(tokio::sync::Mutex::new(channel.take_stdin()));
            let pinger = tokio::spawn(ping(stdin.clone()));
            Ok(Acquired::Held(Box::new(HostLock {
                session: session.clone(),
                host: host.clone(),
                channel,
                stdin,
                pinger,
            })))
        }
    }
}

/// The holder's first lines, up to `archtui-ready` or its end, within
/// `HOLDER_STARTUP`.
async fn holder_answer(channel: &mut Channel, host: &Host) -> Result<Vec<String>, Outcome> {
    let deadline = Instant::now() + HOLDER_STARTUP;
    let mut lines = Vec::new();
    loop {
        match channel
            .line(deadline.saturating_duration_since(Instant::now()))
            .await
        {
            Ok(l) => {
                let ready = l.starts_with("archtui-ready");
                lines.push(l);
                if ready {
                    return Ok(lines);
                }
            }
            Err(ReadEnd::Closed) => return Ok(lines),
            Err(ReadEnd::Silent) => {
                return Err(Outcome::new(
                    Status::Timeout,
                    format!(
                        "{}: taking the host's lock got no answer within {} s",
                        host.name,
                        HOLDER_STARTUP.as_secs()
                    ),
                ))
            }
            Err(ReadEnd::Failed(e)) => {
                return Err(Outcome::new(
                    Status::Unreachable,
                    format!("{}: {e}", host.name),
                ))
            }
        }
    }
}

/// Keeps the holder alive; stops when the channel is gone.
async fn ping(stdin: Arc<tokio::sync::Mutex<Option<ChildStdin>>>) {
    loop {
        tokio::time::sleep(PING_EVERY).await;
        let mut guard = stdin.lock().await;
        let Some(s) = guard.as_mut() else { return };
        let sent = tokio::time::timeout(PING_EVERY, async {
            s.write_all(b"ping\n").await?;
            s.flush().await
        })
        .await;
        if !matches!(sent, Ok(Ok(()))) {
            return;
        }
    }
}

impl HostLock {
    /// False once the holder's channel is known to be gone (its pings fail).
    pub fn alive(&self) -> bool {
        !self.pinger.is_finished()
    }

    /// Starts `spec` on the host, detached, under this lock.
    pub async fn start(&mut self, spec: &Spec, progress: &Progress) -> Result<Meta, StartError> {
        let now = chrono::Utc::now();
        let meta = Meta {
            id: new_id(now),
            action: spec.action.clone(),
            argv: spec.argv.clone(),
            operator: operator(),
            started: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            idle_secs: spec.idle.as_secs(),
            pid: None,
        };
        let json = serde_json::to_string(&meta).map_err(|e| StartError::Encode(e.to_string()))?;
        let line = shell::command_line(&spec.argv)?;
        let request = format!("start {} {}\n{json}\n{line}\n", meta.id, meta.idle_secs);
        {
            let mut guard = self.stdin.lock().await;
            let s = guard.as_mut().ok_or(StartError::InputClosed)?;
            let sent = tokio::time::timeout(START_WITHIN, async {
                s.write_all(request.as_bytes()).await?;
                s.flush().await
            })
            .await;
            match sent {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(StartError::Write(e.to_string())),
                Err(_) => {
                    return Err(StartError::NoInput {
                        secs: START_WITHIN.as_secs(),
                    })
                }
            }
        }
        let deadline = Instant::now() + START_WITHIN;
        loop {
            match self
                .channel
                .line(deadline.saturating_duration_since(Instant::now()))
                .await
            {
                Ok(l) => {
                    if let Some(rest) = l.strip_prefix("archtui-started ") {
                        let mut w = rest.split(' ');
                        if w.next() == Some(meta.id.as_str()) {
                            let pid = w.next().and_then(|p| p.parse().ok());
                            let _ = progress.send(format!(
                                "{}: job {} started ({}; log {}/{}.log)",
                                self.host.name,
                                meta.id,
                                line,
                                jobs_dir(&self.host),
                                meta.id
                            ));
                            return Ok(Meta { pid, ..meta });
                        }
                    } else if let Some(e) = l.strip_prefix("archtui-error ") {
                        return Err(StartError::Refused(clean(e)));
                    }
                }
                Err(ReadEnd::Silent) => {
                    return Err(StartError::NotStarted {
                        secs: START_WITHIN.as_secs(),
                    })
                }
                Err(_) => return Err(StartError::HolderEnded),
            }
        }
    }

    /// Starts `spec`, follows it to its end and marks it reported.
    pub async fn run(&mut self, spec: &Spec, progress: &Progress) -> Result<Finished, JobError> {
        let meta = self.start(spec, progress).await.map_err(JobError::Start)?;
        let session = self.session.clone();
        let host = self.host.clone();
        follow(&session, &host, meta, progress).await
    }

    /// Lets go of the lock (jobs still running keep it).
    pub async fn release(self) {
        let stdin = self.stdin.clone();
        if let Some(mut s) = stdin.lock().await.take() {
            let _ = tokio::time::timeout(Duration::from_secs(2), async {
                let _ = s.write_all(b"bye\n").await;
                s.shutdown().await
            })
            .await;
        }
        self.pinger.abort();
        // The holder exits on `bye`; the channel goes with this value.
    }
}

#[cfg(test)]
mod tests;
