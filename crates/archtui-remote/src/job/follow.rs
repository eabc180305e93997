//! Following a job to its end: its output streamed as cleaned lines, its
//! state read when the stream ends, the outcome it means.

use std::sync::Arc;
use std::time::{Duration, Instant};

use openssh::Session;

use super::shell::{self, Channel, ReadEnd, ShellError};
use super::{
    acquire, failure_lines, jobs_dir, track, Acquired, InFlight, JobState, Meta, Spec,
    FOLLOW_MARGIN, KEEP, SEEN, STATUS, STREAM,
};
use crate::Progress;
use archtui_core::actions::{clean, Outcome, Status};
use archtui_core::config::Host;

/// How a followed job ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    pub meta: Meta,
    pub state: JobState,
    /// Its last output lines, cleaned.
    pub lines: Vec<String>,
}

/// Why a job did not start on a host that archtui holds the lock of.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StartError {
    /// The job's metadata did not encode (serde_json's text).
    #[error("{0}")]
    Encode(String),
    #[error(transparent)]
    Shell(#[from] ShellError),
    #[error("the host's lock was lost (its holder's input is closed)")]
    InputClosed,
    /// Writing the request to the holder failed (the io error's text).
    #[error("the host's lock was lost: {0}")]
    Write(String),
    #[error("the host took no input within {secs} s")]
    NoInput { secs: u64 },
    /// The holder's own `archtui-error` line, cleaned.
    #[error("{0}")]
    Refused(String),
    #[error("the job did not start within {secs} s")]
    NotStarted { secs: u64 },
    #[error("the host's lock was lost (its holder ended)")]
    HolderEnded,
}

/// Why a job could not be followed to its end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobError {
    Start(StartError),
    /// The link to the host went away; the job goes on there.
    Lost {
        meta: Meta,
        reason: String,
    },
    /// Nothing from the job for this long, and the host did not stop it.
    Silent {
        meta: Meta,
        secs: u64,
    },
}

impl Finished {
    /// Ok for exit 0; otherwise the outcome that says what went wrong with
    /// `what` (e.g. "docker compose up -d --build") on `host`.
    pub fn outcome(&self, what: &str, host: &Host) -> Result<(), Outcome> {
        let h = &host.name;
        let id = &self.meta.id;
        let why = || failure_lines(&self.lines).join(" | ");
        match self.state {
            JobState::Exited(0) => Ok(()),
            JobState::Exited(c) => Err(Outcome::failed(format!(
                "{what} on {h} failed (exit status: {c}; job {id}): {}",
                why()
            ))),
            JobState::Idle(_) => Err(Outcome::new(
                Status::Timeout,
                format!(
                    "{what} on {h} printed nothing for {} s and was stopped (job {id}): {}",
                    self.meta.idle_secs,
                    why()
                ),
            )),
            JobState::Lost | JobState::Running => Err(Outcome::failed(format!(
                "{what} on {h} (job {id}) ended without an exit status: the host may have rebooted; its log: {}/{id}.log",
                jobs_dir(host)
            ))),
        }
    }
}

/// The outcome of running or following a job: its `Finished` on exit 0,
/// else what went wrong, as an `Outcome` naming `what` and the host.
pub fn settle(r: Result<Finished, JobError>, what: &str, host: &Host) -> Result<Finished, Outcome> {
    let f = r.map_err(|e| e.outcome(what, host))?;
    f.outcome(what, host)?;
    Ok(f)
}

impl JobError {
    pub fn outcome(&self, what: &str, host: &Host) -> Outcome {
        let h = &host.name;
        match self {
            JobError::Start(e) => Outcome::failed(format!("could not start {what} on {h}: {e}")),
            JobError::Lost { meta, reason } => Outcome::new(
                Status::Interrupted,
                format!(
                    "lost the link to {h} while job {} ({what}) ran: {reason}; it keeps running there: run the same command again to follow it",
                    meta.id
                ),
            ),
            JobError::Silent { meta, secs } => Outcome::new(
                Status::Timeout,
                format!(
                    "no output from job {} ({what}) on {h} for {secs} s and the host did not stop it; it may still run: {}/{}.log",
                    meta.id,
                    jobs_dir(host),
                    meta.id
                ),
            ),
        }
    }
}

/// Follows a job's log (from its start) to the job's end, each line to
/// `progress`, then marks it reported. Bounded by the job's own end and by
/// "no output for its idle bound plus `FOLLOW_MARGIN`", never by a total.
pub async fn follow(
    session: &Arc<Session>,
    host: &Host,
    meta: Meta,
    progress: &Progress,
) -> Result<Finished, JobError> {
    let _tracked = track(InFlight {
        host: host.name.clone(),
        id: meta.id.clone(),
        action: meta.action.clone(),
    });
    let dir = jobs_dir(host);
    let log = format!("{dir}/{}.log", meta.id);
    let silent_for = Duration::from_secs(meta.idle_secs) + FOLLOW_MARGIN;
    let mut lines = Lines::default();
    let mut offset: u64 = 0;
    let lost = |reason: String| JobError::Lost {
        meta: meta.clone(),
        reason,
    };
    loop {
        let mut silent = false;
        let began = Instant::now();
        let before = offset;
        if let Some(pid) = meta.pid {
            let pid = pid.to_string();
            let off = offset.to_string();
            let mut ch = Channel::spawn(session.clone(), STREAM, &[&log, &off, &pid])
                .await
                .map_err(|e| lost(e.to_string()))?;
            loop {
                match ch.chunk(silent_for).await {
                    Ok(bytes) => {
                        offset += bytes.len() as u64;
                        lines.feed(&bytes, progress);
                    }
                    Err(ReadEnd::Silent) => {
                        silent = true;
                        break;
                    }
                    Err(_) => break,
                }
            }
        }
        if offset == before && began.elapsed() < Duration::from_secs(1) {
            // No pid, or a stream that ends at once: look again each second.
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        let off = offset.to_string();
        let out = shell::sh(session, STATUS, &[&dir, &meta.id, &off], shell::QUICK)
            .await
            .map_err(|e| lost(e.to_string()))?;
        let (state, rest) = split_status(&out.stdout);
        offset += rest.len() as u64;
        lines.feed(rest, progress);
        match state {
            Some(JobState::Running) if silent => {
                return Err(JobError::Silent {
                    meta,
                    secs: silent_for.as_secs(),
                })
            }
            Some(JobState::Running) => {}
            Some(state) => {
                lines.flush(progress);
                mark_seen(session, host, &meta.id).await;
                return Ok(Finished {
                    meta,
                    state,
                    lines: lines.kept,
                });
            }
            None => return Err(lost(format!("job {} is not in {dir} on the host", meta.id))),
        }
    }
}

/// The state line and the log bytes after it. Pure.
pub(super) fn split_status(out: &[u8]) -> (Option<JobState>, &[u8]) {
    let (first, rest) = match out.iter().position(|b| *b == b'\n') {
        Some(i) => (&out[..i], &out[i + 1..]),
        None => (out, &out[out.len()..]),
    };
    let state = std::str::from_utf8(first)
        .ok()
        .and_then(|l| l.strip_prefix("state "))
        .and_then(JobState::parse);
    (state, rest)
}

/// A job's output cut into cleaned lines; the last `KEEP` are kept.
#[derive(Default)]
pub(super) struct Lines {
    partial: Vec<u8>,
    pub(super) kept: Vec<String>,
}

impl Lines {
    pub(super) fn feed(&mut self, bytes: &[u8], progress: &Progress) {
        self.partial.extend_from_slice(bytes);
        while let Some(i) = self.partial.iter().position(|b| *b == b'\n') {
            let raw: Vec<u8> = self.partial.drain(..=i).collect();
            self.emit(&raw[..raw.len() - 1], progress);
        }
        // A very long line without a newline is shown in pieces.
        if self.partial.len() > 64 * 1024 {
            let raw = std::mem::take(&mut self.partial);
            self.emit(&raw, progress);
        }
    }

    pub(super) fn flush(&mut self, progress: &Progress) {
        if !self.partial.is_empty() {
            let raw = std::mem::take(&mut self.partial);
            self.emit(&raw, progress);
        }
    }

    fn emit(&mut self, raw: &[u8], progress: &Progress) {
        let line = clean(&String::from_utf8_lossy(raw));
        let _ = progress.send(line.clone());
        self.kept.push(line);
        if self.kept.len() > KEEP {
            self.kept.drain(..KEEP / 4);
        }
    }
}

/// Marks a job's end as reported; a failure only means the next run says
/// it again.
pub(super) async fn mark_seen(session: &Session, host: &Host, id: &str) {
    let _ = shell::sh(session, SEEN, &[&jobs_dir(host), id], shell::QUICK).await;
}

/// Runs `argv` in the host's deploy dir as a job under the host's lock for
/// `action`, or follows the one a killed run of it left running; `what`
/// names it in the outcome. Quiet for `idle`: taken as hung.
pub async fn run_or_follow(
    session: &Arc<Session>,
    host: &Host,
    action: &str,
    argv: Vec<String>,
    idle: Duration,
    what: &str,
    progress: &Progress,
) -> Result<(), Outcome> {
    let spec = Spec::new(action, argv, idle).map_err(Outcome::failed)?;
    let r = match acquire(session, host, action, progress).await? {
        Acquired::Attach(meta) => follow(session, host, meta, progress).await,
        Acquired::Held(mut lock) => {
            let r = lock.run(&spec, progress).await;
            lock.release().await;
            r
        }
    };
    settle(r, what, host).map(|_| ())
}
