//! Sync actions on a slave's own Bucardo control database, over NOTIFY
//! (see shared/design/bucardo.md): kick and wait, pause, resume, reload.
//! Recovery, which reads the state first, is in `recover`.

use std::time::Duration;

use tokio::sync::broadcast;

use super::Outcome;
use crate::bucardo::{self, channel};
use crate::pg::{col, ident, Pg};

/// How long the daemon gets to answer an activate, deactivate or reload.
pub const ANSWER_WITHIN: Duration = Duration::from_secs(60);
const RELOADED: &str = "bucardo_reloaded_mcp";
const RELOAD: &str = "bucardo_mcp_reload";

/// A sync's persisted state: `sync.status`, and whether one of its
/// databases is stalled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncState {
    pub status: String,
    pub db_stalled: bool,
}

impl SyncState {
    pub fn stalled(&self) -> bool {
        self.status == "stalled" || self.db_stalled
    }
}

pub async fn state(pg: &Pg, sync: &str) -> Result<Option<SyncState>, String> {
    let rows = pg
        .query(
            "SELECT s.status::text, coalesce((SELECT bool_or(d.status = 'stalled') \
               FROM bucardo.dbmap m JOIN bucardo.db d ON d.name = m.db \
              WHERE m.dbgroup = s.dbs), false) \
             FROM bucardo.sync s WHERE s.name = $1",
            &[&sync],
        )
        .await?;
    let Some(r) = rows.first() else {
        return Ok(None);
    };
    let at = |e: String| format!("sync {sync}: {e}");
    Ok(Some(SyncState {
        status: col::<Option<String>, _>(r, 0)
            .map_err(at)?
            .unwrap_or_default(),
        db_stalled: col::<Option<bool>, _>(r, 1).map_err(at)?.unwrap_or(false),
    }))
}

/// Bucardo sends some answers (deactivated_sync_X, ...) as the payload of
/// a notification on this channel, without the `bucardo_` prefix.
const PAYLOAD_CHANNEL: &str = "bucardo";

/// Which of `answers` a notification is, in either of Bucardo's forms. Pure.
fn answered<'a>(answers: &'a [String], channel: &str, payload: &str) -> Option<&'a str> {
    answers
        .iter()
        .find(|a| {
            a.as_str() == channel
                || (channel == PAYLOAD_CHANNEL
                    && a.strip_prefix("bucardo_")
                        .is_some_and(|rest| rest == payload))
        })
        .map(String::as_str)
}

/// LISTENs on `answers` (before anything is sent), NOTIFYs `notify`, and
/// with `within` waits for the first answer: its channel, or `None` when
/// none came in time.
async fn notify_and_wait(
    pg: &Pg,
    notify: &str,
    answers: &[String],
    within: Option<Duration>,
) -> Result<Option<String>, String> {
    let mut rx = pg.subscribe();
    let mut listen: Vec<&str> = answers.iter().map(String::as_str).collect();
    if !answers.is_empty() {
        listen.push(PAYLOAD_CHANNEL);
    }
    let mut sql: String = listen
        .iter()
        .map(|a| format!("LISTEN {};", ident(a)))
        .collect();
    sql.push_str(&format!("NOTIFY {};", ident(notify)));
    pg.execute_batch(&sql).await?;
    let Some(within) = within else {
        return Ok(None);
    };
    let wait = async {
        loop {
            match rx.recv().await {
                Ok(n) => {
                    if let Some(a) = answered(answers, n.channel(), n.payload()) {
                        return Ok(Some(a.to_string()));
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => {
                    return Err("the control connection closed".to_string())
                }
            }
        }
    };
    let got = tokio::time::timeout(within, wait).await.unwrap_or(Ok(None));
    let unlisten: String = listen
        .iter()
        .map(|a| format!("UNLISTEN {};", ident(a)))
        .collect();
    let _ = pg.execute_batch(&unlisten).await;
    got
}

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

async fn read_last_run(pg: &Pg, sync: &str) -> Result<Option<String>, String> {
    let rows = pg
        .query(
            "SELECT status, inserts::bigint, deletes::bigint, \
                    extract(epoch FROM ended - started)::float8 \
               FROM bucardo.syncrun WHERE sync = $1 AND ended IS NOT NULL \
              ORDER BY ended DESC LIMIT 1",
            &[&sync],
        )
        .await?;
    let Some(r) = rows.first() else {
        return Ok(None);
    };
    let status: Option<String> = col(r, 0)?;
    let ins: Option<i64> = col(r, 1)?;
    let del: Option<i64> = col(r, 2)?;
    let took: Option<f64> = col(r, 3)?;
    Ok(Some(format!(
        "{}: {} inserts, {} deletes in {:.2} s",
        super::clean(status.as_deref().unwrap_or("?")),
        ins.unwrap_or(0),
        del.unwrap_or(0),
        took.unwrap_or(0.0)
    )))
}

pub async fn kick(pg: &Pg, sync: &str, wait: Option<Duration>) -> Outcome {
    if let Err(o) = require_active(pg, sync).await {
        return o;
    }
    let [done, killed] = bucardo::sync_channels(sync);
    let kick = channel(format!("bucardo_kick_sync_{sync}"));
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
    let note = channel(format!("bucardo_{verb}_sync_{sync}"));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_are_cut_like_identifiers() {
        let long = "x".repeat(80);
        assert_eq!(channel(format!("bucardo_kick_sync_{long}")).len(), 63);
        assert_eq!(channel("bucardo_kick_sync_a".into()), "bucardo_kick_sync_a");
    }

    #[test]
    fn answers_come_as_channels_or_payloads() {
        let a = vec!["bucardo_deactivated_sync_s".to_string()];
        assert_eq!(
            answered(&a, "bucardo_deactivated_sync_s", ""),
            Some("bucardo_deactivated_sync_s")
        );
        assert_eq!(
            answered(&a, "bucardo", "deactivated_sync_s"),
            Some("bucardo_deactivated_sync_s")
        );
        assert_eq!(answered(&a, "bucardo", "deactivated_sync_t"), None);
        assert_eq!(answered(&a, "bucardo_x", "deactivated_sync_s"), None);
    }

    #[test]
    fn stalled_covers_the_databases() {
        let s = |status: &str, db| SyncState {
            status: status.into(),
            db_stalled: db,
        };
        assert!(s("stalled", false).stalled());
        assert!(s("active", true).stalled());
        assert!(!s("active", false).stalled());
    }
}
