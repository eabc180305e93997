//! Bucardo's controls over its control database: a sync's persisted
//! state, NOTIFYs and the daemon's answers to them, a sync's last run, and
//! setting a sync and its databases active again (see
//! shared/design/bucardo.md). The actions that use them are
//! `crate::actions::{sync, recover}`.

use std::time::Duration;

use tokio::sync::broadcast;

use crate::pg::{col, ident, Pg, PgError};

/// How long the daemon gets to answer an activate, deactivate or reload.
pub const ANSWER_WITHIN: Duration = Duration::from_secs(60);
pub const RELOADED: &str = "bucardo_reloaded_mcp";
pub const RELOAD: &str = "bucardo_mcp_reload";

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

pub async fn state(pg: &Pg, sync: &str) -> Result<Option<SyncState>, PgError> {
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
    let at = |e: PgError| e.within(format!("sync {sync}"));
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
pub async fn notify_and_wait(
    pg: &Pg,
    notify: &str,
    answers: &[String],
    within: Option<Duration>,
) -> Result<Option<String>, PgError> {
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
                    return Err(PgError::Unexpected("the control connection closed".into()))
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

pub async fn read_last_run(pg: &Pg, sync: &str) -> Result<Option<String>, PgError> {
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
        archtui_core::actions::clean(status.as_deref().unwrap_or("?")),
        ins.unwrap_or(0),
        del.unwrap_or(0),
        took.unwrap_or(0.0)
    )))
}

/// Sets a sync active again, and its databases (the slave's and the
/// master's), where Bucardo marked them otherwise.
pub async fn activate(pg: &Pg, sync: &str, slave: &str) -> Result<(), PgError> {
    pg.query(
        "UPDATE bucardo.sync SET status = 'active' WHERE name = $1 AND status <> 'active'",
        &[&sync],
    )
    .await?;
    pg.query(
        "UPDATE bucardo.db SET status = 'active' WHERE name IN ($1, 'master') AND status <> 'active'",
        &[&slave],
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bucardo::channel;

    #[test]
    fn channels_are_cut_like_identifiers() {
        let long = "x".repeat(80);
        assert_eq!(channel(&format!("bucardo_kick_sync_{long}")).len(), 63);
        assert_eq!(channel("bucardo_kick_sync_a"), "bucardo_kick_sync_a");
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
