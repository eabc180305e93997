//! Sync actions on a slave's own Bucardo control database (its SQL and
//! NOTIFYs are `crate::bucardo::control`): kick and wait, pause, resume,
//! reload, each with its outcome. Recovery, which reads the state first,
//! is in `recover`.

use std::time::Duration;

use super::Outcome;
use crate::bucardo::control::{notify_and_wait, read_last_run, state, SyncState, ANSWER_WITHIN};
use crate::bucardo::control::{RELOAD, RELOADED};
use crate::bucardo::{self, channel};
use crate::pg::Pg;

/// The sync must exist and be active for a kick, pause or resume to mean
/// anything: Bucardo ignores them otherwise, silently.
async fn require_active(pg: &Pg, sync: &str) -> Result<SyncState, Outcome> {
    match existing(pg, sync).await? {
        s if s.status != "active" => Err(Outcome::failed(format!(
            "sync {sync} is {}, not active: Bucardo ignores it{}",
            s.status,
            if s.stalled() {
                " (recover it: archtui recover SYNC)"
            } else {
                " (activate it first)"
            }
        ))),
        s => Ok(s),
    }
}

/// The sync's state; it must exist.
async fn existing(pg: &Pg, sync: &str) -> Result<SyncState, Outcome> {
    match state(pg, sync).await {
        Err(e) => Err(Outcome::new(super::Status::Unreachable, e)),
        Ok(None) => Err(Outcome::failed(format!("no sync named {sync}"))),
        Ok(Some(s)) => Ok(s),
    }
}

/// How the last finished run of a sync ended, in one line; what could
/// not be read is said instead.
async fn last_run(pg: &Pg, sync: &str) -> String {
    match read_last_run(pg, sync).await {
        Ok(Some(line)) => line,
        Ok(None) => "no finished run found".into(),
        Err(e) => format!("its last run is unreadable: {e}"),
    }
}

pub async fn kick(pg: &Pg, sync: &str, wait: Option<Duration>) -> Outcome {
    if let Err(o) = require_active(pg, sync).await {
        return o;
    }
    let [done, killed] = bucardo::sync_channels(sync);
    let kick = channel(&format!("bucardo_kick_sync_{sync}"));
    match notify_and_wait(pg, &kick, &[done.clone(), killed], wait).await {
        Err(e) => Outcome::new(super::Status::Unreachable, e),
        Ok(None) if wait.is_none() => Outcome::ok(format!("kicked sync {sync}")),
        Ok(None) => Outcome::new(
            super::Status::Timeout,
            format!(
                "kicked sync {sync}; no outcome within {} s",
                wait.unwrap_or_default().as_secs()
            ),
        ),
        Ok(Some(ch)) => {
            let run = last_run(pg, sync).await;
            if ch == done {
                Outcome::ok(format!("sync {sync} ran: {run}"))
            } else {
                Outcome::failed(format!("sync {sync}: run killed: {run}"))
            }
        }
    }
}

/// Pause or resume. Neither is answered by the daemon, and a pause is
/// lost when it restarts: the console remembers it (see `state`).
pub async fn pause(pg: &Pg, sync: &str, paused: bool) -> Outcome {
    if let Err(o) = require_active(pg, sync).await {
        return o;
    }
    let verb = if paused { "pause" } else { "resume" };
    let note = channel(&format!("bucardo_{verb}_sync_{sync}"));
    if let Err(e) = notify_and_wait(pg, &note, &[], None).await {
        return Outcome::new(super::Status::Unreachable, e);
    }
    let remembered =
        crate::local::state::ConsoleState::set_paused(&crate::local::state::path(), sync, paused);
    let mut msg = if paused {
        format!("paused sync {sync} (a daemon restart or reload resumes it)")
    } else {
        format!("resumed sync {sync}")
    };
    if let Err(e) = remembered {
        msg.push_str(&format!("; console state not saved: {e}"));
    }
    Outcome::ok(msg)
}

/// Reloads the daemon and waits for it to say so.
pub async fn reload(pg: &Pg) -> Outcome {
    match notify_and_wait(pg, RELOAD, &[RELOADED.to_string()], Some(ANSWER_WITHIN)).await {
        Err(e) => Outcome::new(super::Status::Unreachable, e),
        Ok(None) => Outcome::new(
            super::Status::Timeout,
            format!(
                "asked the daemon to reload; no answer within {} s (is it running?)",
                ANSWER_WITHIN.as_secs()
            ),
        ),
        Ok(Some(_)) => {
            let paused =
                crate::local::state::ConsoleState::load(&crate::local::state::path()).paused;
            let mut msg = "Bucardo daemon reloaded".to_string();
            if !paused.is_empty() {
                let names: Vec<&str> = paused.iter().map(String::as_str).collect();
                msg.push_str(&format!(
                    "; syncs archtui paused may run again: {}",
                    names.join(", ")
                ));
            }
            Outcome::ok(msg)
        }
    }
}
