//! What the holder answered and what to do about it: parsing its lines,
//! the jobs nobody reported, the lock's decision. Pure.

use super::{valid_id, JobState, Meta};
use archtui_core::actions::clean;

/// A job the host reported, with its metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reported {
    pub meta: Meta,
    pub state: JobState,
}

/// `lock.info` and whether a holder is alive, as a refused holder reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LockInfo {
    pub who: String,
    pub action: String,
    pub since: String,
    pub job: Option<String>,
    pub holder_alive: bool,
}

/// The holder's first answer. Pure parse of its lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Ready {
        unreported: Vec<Reported>,
    },
    Busy {
        info: LockInfo,
        unreported: Vec<Reported>,
    },
    Error(String),
}

/// Parses the holder's lines (untrusted: the host wrote them; anything
/// malformed is skipped, never trusted).
pub fn parse_reply(lines: &[String]) -> Reply {
    let mut unreported = Vec::new();
    let mut info = LockInfo::default();
    let mut busy = false;
    for l in lines {
        if let Some(rest) = l.strip_prefix("archtui-job ") {
            let mut parts = rest.splitn(3, ' ');
            let (Some(id), Some(state), Some(json)) = (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            let (Some(state), Ok(meta)) =
                (JobState::parse(state), serde_json::from_str::<Meta>(json))
            else {
                continue;
            };
            if meta.id == id && valid_id(id) {
                unreported.push(Reported { meta, state });
            }
        } else if l.starts_with("archtui-ready") {
            return Reply::Ready { unreported };
        } else if let Some(e) = l.strip_prefix("archtui-error ") {
            return Reply::Error(clean(e));
        } else if l == "archtui-busy" {
            busy = true;
        } else if busy {
            match l.split_once('=') {
                Some(("who", v)) => info.who = clean(v),
                Some(("action", v)) => info.action = clean(v),
                Some(("since", v)) => info.since = clean(v),
                Some(("job", v)) if valid_id(v) => info.job = Some(v.to_string()),
                Some(("holder", v)) => info.holder_alive = v == "alive",
                _ => {}
            }
        }
    }
    if busy {
        Reply::Busy { info, unreported }
    } else {
        Reply::Error(
            "taking the host's lock: its shell ended without an answer (the host needs bash, flock and setsid)"
                .into(),
        )
    }
}

/// A time from the host (RFC 3339) as the operator reads it: the time of
/// day in UTC, with the date when it is not today's. Pure.
pub fn when(rfc3339: &str, now: chrono::DateTime<chrono::Utc>) -> String {
    match chrono::DateTime::parse_from_rfc3339(rfc3339) {
        Ok(t) => {
            let t = t.to_utc();
            if t.date_naive() == now.date_naive() {
                t.format("%H:%M:%S UTC").to_string()
            } else {
                t.format("%Y-%m-%d %H:%M UTC").to_string()
            }
        }
        Err(_) => clean(rfc3339),
    }
}

/// "deploy job ID started 09:12:03 UTC by alice@laptop". Pure.
fn describe(meta: &Meta, now: chrono::DateTime<chrono::Utc>) -> String {
    format!(
        "{} job {} started {} by {}",
        clean(&meta.action),
        meta.id,
        when(&meta.started, now),
        clean(&meta.operator)
    )
}

/// What happened to a job while nobody watched it. Pure.
pub fn meanwhile(r: &Reported, now: chrono::DateTime<chrono::Utc>) -> String {
    let what = describe(&r.meta, now);
    match r.state {
        JobState::Exited(0) => format!("{what} finished meanwhile: exit 0"),
        JobState::Exited(c) => format!("{what} finished meanwhile: exit {c} (failed)"),
        JobState::Idle(_) => format!(
            "{what} was stopped meanwhile: no output for {} s",
            r.meta.idle_secs
        ),
        JobState::Lost => {
            format!("{what} ended without an exit status: the host may have rebooted")
        }
        JobState::Running => format!("{what} is still running"),
    }
}

/// What to do about the lock. Pure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Held,
    /// A job of this very action runs with nobody attached: follow it.
    Attach(Meta),
    Refused(String),
}

pub fn decide(
    reply: &Reply,
    action: &str,
    host: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Decision {
    let (info, unreported) = match reply {
        Reply::Ready { .. } => return Decision::Held,
        Reply::Error(e) => return Decision::Refused(format!("{host}: {e}")),
        Reply::Busy { info, unreported } => (info, unreported),
    };
    let running = info.job.as_ref().and_then(|id| {
        unreported
            .iter()
            .find(|r| &r.meta.id == id && r.state == JobState::Running)
    });
    if let Some(job) = running {
        if !info.holder_alive && job.meta.action == action {
            return Decision::Attach(job.meta.clone());
        }
    }
    let since = when(&info.since, now);
    let mut msg = format!(
        "{host} is locked by {} for {} since {since}",
        or_unknown(&info.who),
        or_unknown(&info.action),
    );
    match (running, info.holder_alive) {
        (Some(job), true) => msg.push_str(&format!(
            " (its {} is running; they are following it)",
            describe(&job.meta, now)
        )),
        (Some(job), false) => msg.push_str(&format!(
            " (its {} is running); wait for it to end",
            describe(&job.meta, now)
        )),
        (None, true) => msg.push_str(
            "; one action per host at a time: wait for it to end, or ask them",
        ),
        (None, false) => msg.push_str(
            "; neither archtui nor a job of archtui holds it: find the process with `fuser -v .archtui/lock` in the deploy dir",
        ),
    }
    Decision::Refused(msg)
}

fn or_unknown(s: &str) -> &str {
    if s.is_empty() {
        "(unknown)"
    } else {
        s
    }
}
