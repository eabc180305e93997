//! Bucardo read over plain SQL (see shared/design/bucardo.md). Every slave
//! runs its own daemon: its control database holds its sync and runs, and
//! its supervisor's record (`archive_ops`); the master's archive database
//! holds the fleet's registry (`archive_fleet.slave`) and the delta and
//! track tables every slave's lag is read from; every host's archive
//! database has the heartbeat.

use std::time::Duration;

use crate::pg::{col, first, ident, Pg, PgError};
use archtui_core::model::Time;
use archtui_core::observation::{OpsEvent, OpsRead, Pending, RegisteredSlave, SyncRow};
use archtui_core::status::SyncFacts;

pub mod control;
pub mod ctl;
pub mod health;
pub mod provision;
pub mod verify;

pub const PING: &str = "bucardo_mcp_ping";
pub const PONG: &str = "bucardo_mcp_pong";
pub const STARTED: &str = "bucardo_started";
pub const STOPPED: &str = "bucardo_stopped";
const SYNCDONE: &str = "bucardo_syncdone_";
const SYNCKILL: &str = "bucardo_synckill_";

/// PostgreSQL truncates channel names, like every identifier, to 63 bytes.
const MAX_CHANNEL: usize = 63;

/// What the daemon announced on a channel the console listens on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BucardoEvent {
    /// A run of the sync finished (the name may be cut at 63 bytes).
    SyncDone(String),
    /// A run of the sync was killed.
    SyncKilled(String),
    Started,
    Stopped,
}

/// The event a notification channel carries, if it is one of ours. Pure.
pub fn event_of(channel: &str) -> Option<BucardoEvent> {
    if let Some(sync) = channel.strip_prefix(SYNCDONE) {
        Some(BucardoEvent::SyncDone(sync.to_string()))
    } else if let Some(sync) = channel.strip_prefix(SYNCKILL) {
        Some(BucardoEvent::SyncKilled(sync.to_string()))
    } else if channel == STARTED {
        Some(BucardoEvent::Started)
    } else if channel == STOPPED {
        Some(BucardoEvent::Stopped)
    } else {
        None
    }
}

/// The channels announcing the end of a sync's runs, as the server names
/// them (cut to 63 bytes on a char boundary).
pub fn sync_channels(sync: &str) -> [String; 2] {
    [SYNCDONE, SYNCKILL].map(|p| channel(&format!("{p}{sync}")))
}

/// A channel name as the server keeps it: cut at MAX_CHANNEL bytes, on a
/// character boundary.
pub fn channel(name: &str) -> String {
    let mut end = name.len().min(MAX_CHANNEL);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    name[..end].to_string()
}

const SYNCS_SQL: &str = r"
SELECT s.name, s.status, s.dbs,
       (SELECT string_agg(m.db, ',' ORDER BY m.db) FROM bucardo.dbmap m
         WHERE m.dbgroup = s.dbs AND m.role = 'target') AS targets,
       coalesce((SELECT bool_or(d.status = 'stalled') FROM bucardo.dbmap m
                  JOIN bucardo.db d ON d.name = m.db WHERE m.dbgroup = s.dbs), false) AS db_stalled,
       r.status AS run_state,
       g.ended AS last_good, e.ended AS last_empty,
       b.ended AS last_bad, b.status AS last_error,
       l.inserts, l.deletes, l.conflicts
FROM bucardo.sync s
LEFT JOIN LATERAL (SELECT status FROM bucardo.syncrun
                    WHERE sync = s.name AND ended IS NULL ORDER BY started DESC LIMIT 1) r ON true
LEFT JOIN LATERAL (SELECT ended FROM bucardo.syncrun
                    WHERE sync = s.name AND lastgood ORDER BY ended DESC LIMIT 1) g ON true
LEFT JOIN LATERAL (SELECT ended FROM bucardo.syncrun
                    WHERE sync = s.name AND lastempty ORDER BY ended DESC LIMIT 1) e ON true
LEFT JOIN LATERAL (SELECT ended, status FROM bucardo.syncrun
                    WHERE sync = s.name AND lastbad ORDER BY ended DESC LIMIT 1) b ON true
LEFT JOIN LATERAL (SELECT inserts::int8, deletes::int8, conflicts::int8 FROM bucardo.syncrun
                    WHERE sync = s.name AND ended IS NOT NULL ORDER BY ended DESC LIMIT 1) l ON true
ORDER BY s.name";

/// Fails with the fix when the database has no Bucardo schema at all.
pub async fn ensure_schema(pg: &Pg, dbname: &str) -> Result<(), PgError> {
    let rows = pg
        .query("SELECT to_regclass('bucardo.sync') IS NOT NULL", &[])
        .await?;
    let present: Option<bool> =
        first(&rows).map_err(|e| PgError::Unexpected(format!("bucardo schema check: {e}")))?;
    if present == Some(true) {
        Ok(())
    } else {
        Err(PgError::Unexpected(format!(
            "database {dbname:?} has no Bucardo schema (bucardo.sync is missing): \
             the slave's bucardo container installs it on start; check `docker compose logs bucardo` there"
        )))
    }
}

pub async fn version(pg: &Pg) -> Result<Option<String>, PgError> {
    let rows = pg
        .query(
            "SELECT setting FROM bucardo.bucardo_config WHERE name = 'bucardo_version'",
            &[],
        )
        .await?;
    first::<Option<String>>(&rows)
        .map(Option::flatten)
        .map_err(|e| e.within("bucardo_config.bucardo_version"))
}

pub async fn syncs(pg: &Pg) -> Result<Vec<SyncRow>, PgError> {
    let rows = pg.query(SYNCS_SQL, &[]).await?;
    rows.iter().map(sync_row).collect()
}

/// One row of `SYNCS_SQL`; a column that does not decode names the sync
/// (when its name does) and the column.
fn sync_row(r: &tokio_postgres::Row) -> Result<SyncRow, PgError> {
    let name: Option<String> = col(r, "name").map_err(|e| e.within("bucardo.sync"))?;
    let name = name.unwrap_or_default();
    let at = |e: PgError| e.within(format!("bucardo.sync {name:?}"));
    Ok(SyncRow {
        dbgroup: col::<Option<String>, _>(r, "dbs")
            .map_err(at)?
            .unwrap_or_default(),
        targets: col::<Option<String>, _>(r, "targets")
            .map_err(at)?
            .unwrap_or_default(),
        facts: SyncFacts {
            sync_status: col::<Option<String>, _>(r, "status")
                .map_err(at)?
                .unwrap_or_default(),
            db_stalled: col::<Option<bool>, _>(r, "db_stalled")
                .map_err(at)?
                .unwrap_or(false),
            running: col(r, "run_state").map_err(at)?,
            last_good: col(r, "last_good").map_err(at)?,
            last_empty: col(r, "last_empty").map_err(at)?,
            last_bad: col(r, "last_bad").map_err(at)?,
            ..Default::default()
        },
        last_error: col::<Option<String>, _>(r, "last_error")
            .map_err(at)?
            .map(|s| archtui_core::status::error_text(&s)),
        inserts: col(r, "inserts").map_err(at)?,
        deletes: col(r, "deletes").map_err(at)?,
        conflicts: col(r, "conflicts").map_err(at)?,
        name,
    })
}

/// The supervisor's record of its daemon: its phase, and the events since
/// the latest daemon start (that start included). `None` when the schema
/// is absent (a stack from before the supervisor kept one).
pub async fn ops(pg: &Pg) -> Result<Option<OpsRead>, PgError> {
    // One round trip: the check and both reads go together (pipelined);
    // without the schema the reads fail, and the check says to ignore them.
    let (have, phase, events) = tokio::join!(
        pg.query("SELECT to_regclass('archive_ops.daemon') IS NOT NULL", &[]),
        pg.query(
            "SELECT phase, since, detail FROM archive_ops.daemon WHERE id = 1",
            &[],
        ),
        pg.query(
            "SELECT at, kind, sync, detail FROM archive_ops.event \
             WHERE id >= coalesce((SELECT max(id) FROM archive_ops.event WHERE kind = 'daemon_start'), 0) \
             ORDER BY id LIMIT 200",
            &[],
        )
    );
    if !have?
        .first()
        .is_some_and(|r| r.try_get::<_, bool>(0).unwrap_or(false))
    {
        return Ok(None);
    }
    let phase = phase?;
    let Some(p) = phase.first() else {
        return Ok(None);
    };
    let decode =
        |e: tokio_postgres::Error| PgError::Failed(e.to_string()).within("archive_ops.daemon");
    let events = events?;
    let events = events
        .iter()
        .map(|r| {
            Ok(OpsEvent {
                at: r.try_get(0)?,
                kind: r.try_get(1)?,
                sync: r.try_get(2)?,
                detail: r.try_get(3)?,
            })
        })
        .collect::<Result<Vec<_>, tokio_postgres::Error>>()
        .map_err(|e| PgError::Failed(e.to_string()).within("archive_ops.event"))?;
    Ok(Some(OpsRead {
        phase: p.try_get(0).map_err(decode)?,
        phase_since: p.try_get(1).map_err(decode)?,
        detail: p.try_get(2).map_err(decode)?,
        events,
    }))
}

/// The master's registry of slaves, each with what it has not applied
/// yet. An absent registry (a master from before it) is an error that
/// says how to get one.
pub async fn registry(pg: &Pg, heartbeat_table: &str) -> Result<Vec<RegisteredSlave>, PgError> {
    let rows = pg
        .query("SELECT to_regclass('archive_fleet.slave') IS NOT NULL", &[])
        .await?;
    if !rows
        .first()
        .is_some_and(|r| r.try_get::<_, bool>(0).unwrap_or(false))
    {
        return Err(PgError::Unexpected("the master has no fleet registry (archive_fleet.slave): deploy the current stack on the master (its bucardo container creates it)".into()));
    }
    let rows = pg
        .query(
            "SELECT name, app_host || ':' || db_port, seen_at, retired_at FROM archive_fleet.slave ORDER BY name",
            &[],
        )
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let name: String = r
            .try_get(0)
            .map_err(|e| PgError::Failed(e.to_string()).within("archive_fleet.slave"))?;
        let pending = pending(
            pg,
            &format!("archive_{name}"),
            &format!("{name}_grp"),
            heartbeat_table,
        )
        .await
        .ok()
        .flatten();
        out.push(RegisteredSlave {
            address: r.try_get(1).unwrap_or_default(),
            seen_at: r.try_get(2).ok().flatten(),
            retired_at: r.try_get(3).ok().flatten(),
            name,
            pending,
        });
    }
    Ok(out)
}

/// Subscribes once per connection to what the daemon broadcasts about
/// itself; the per-sync channels follow with `listen_syncs`.
pub async fn listen(pg: &Pg) -> Result<(), PgError> {
    let channels = [PONG, STARTED, STOPPED].map(ident).join("; LISTEN ");
    pg.execute_batch(&format!("LISTEN {channels}")).await
}

/// LISTENs on the completion channels of `syncs` (names already listened
/// on are skipped); returns the channels now listened on.
pub async fn listen_syncs(
    pg: &Pg,
    syncs: &[String],
    already: &[String],
) -> Result<Vec<String>, PgError> {
    let new: Vec<String> = syncs
        .iter()
        .flat_map(|s| sync_channels(s))
        .filter(|c| !already.contains(c))
        .collect();
    if !new.is_empty() {
        let sql: Vec<String> = new.iter().map(|c| format!("LISTEN {}", ident(c))).collect();
        pg.execute_batch(&sql.join("; ")).await?;
    }
    Ok(new)
}

/// Is the daemon alive? It answers a ping on the pong channel.
pub async fn ping(pg: &Pg, within: Duration) -> Result<bool, PgError> {
    // Subscribed before the ping, so the pong cannot slip past.
    let mut rx = pg.subscribe();
    pg.execute_batch(&format!("NOTIFY {}", ident(PING))).await?;
    Ok(crate::pg::wait_notification(&mut rx, PONG, within)
        .await
        .is_some())
}

/// Reads the master's delta and track tables for one sync. `None` when
/// Bucardo has not named the sync's tables yet (it never validated).
pub async fn pending(
    pg: &Pg,
    sync: &str,
    dbgroup: &str,
    heartbeat_table: &str,
) -> Result<Option<Pending>, PgError> {
    let names = pg
        .query_text(
            "SELECT tablename, deltaname, trackname FROM bucardo.bucardo_delta_names WHERE sync = $1 ORDER BY tablename",
            &[sync],
        )
        .await?;
    if names.is_empty() {
        return Ok(None);
    }
    let tables: Vec<(String, String, String)> = names
        .iter()
        .map(|r| Ok((col(r, 0)?, col(r, 1)?, col(r, 2)?)))
        .collect::<Result<_, PgError>>()
        .map_err(|e| e.within("bucardo_delta_names"))?;
    let sql = pending_sql(&tables, heartbeat_table);
    let target = format!("dbgroup {dbgroup}");
    let rows = pg.query_text(&sql, &[&target]).await?;
    let r = rows
        .first()
        .ok_or_else(|| PgError::Unexpected("pending query returned no row".into()))?;
    let pending = |e: PgError| e.within(format!("pending changes of {sync}"));
    Ok(Some(Pending {
        rows: col::<Option<i64>, _>(r, 0).map_err(pending)?.unwrap_or(0),
        lag_seconds: col::<Option<f64>, _>(r, 1)
            .map_err(pending)?
            .filter(|l| l.is_finite())
            .unwrap_or(0.0)
            .max(0.0),
    }))
}

/// One UNION over the sync's tables: a change is pending for the target
/// until its `txntime` shows in the track table for that target.
fn pending_sql(tables: &[(String, String, String)], heartbeat_table: &str) -> String {
    let hb_quoted = heartbeat_table
        .split_once('.')
        .map(|(s, t)| format!("{}.{}", quote_ident_like_pg(s), quote_ident_like_pg(t)));
    let parts: Vec<String> = tables
        .iter()
        .map(|(table, delta, track)| {
            let hb = Some(table) == hb_quoted.as_ref() || table == heartbeat_table;
            format!(
                "SELECT count(*) AS n, min(d.txntime) AS oldest, {hb} AS hb FROM bucardo.{} d \
                 WHERE NOT EXISTS (SELECT 1 FROM bucardo.{} t WHERE t.txntime = d.txntime AND t.target = $1)",
                ident(delta),
                ident(track)
            )
        })
        .collect();
    format!(
        "SELECT coalesce(sum(n) FILTER (WHERE NOT hb), 0)::int8, \
         extract(epoch FROM now() - min(oldest))::float8 FROM ({}) p",
        parts.join(" UNION ALL ")
    )
}

/// PostgreSQL's `quote_ident`: quotes only when needed, the way Bucardo
/// wrote `bucardo_delta_names.tablename`.
fn quote_ident_like_pg(s: &str) -> String {
    let plain = s
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if plain {
        s.to_string()
    } else {
        ident(s)
    }
}

/// Newest heartbeat value, read from its first timestamptz column, so the
/// exact column name does not matter. `None`: no table or no row yet.
pub async fn heartbeat(pg: &Pg, table: &str) -> Result<Option<Time>, PgError> {
    match heartbeat_column(pg, table).await? {
        Some(column) => heartbeat_at(pg, table, &column).await,
        None => Ok(None),
    }
}

/// The heartbeat table's first timestamptz column; `None` without the
/// table (or such a column). A link keeps it: it never changes while the
/// stack runs, and the lookup was a third of a light round's queries.
pub async fn heartbeat_column(pg: &Pg, table: &str) -> Result<Option<String>, PgError> {
    let (schema, name) = split_table(table)?;
    // pg_catalog, not information_schema.columns: the view costs a fresh
    // backend tens of ms of catalog reads, and every one-shot command's
    // backend is fresh.
    let cols = pg
        .query_text(
            "SELECT a.attname::text FROM pg_catalog.pg_attribute a \
             WHERE a.attrelid = to_regclass(format('%I.%I', $1::text, $2::text)) \
             AND a.atttypid = 'timestamptz'::regtype AND a.attnum > 0 AND NOT a.attisdropped \
             ORDER BY a.attnum LIMIT 1",
            &[schema, name],
        )
        .await?;
    first::<String>(&cols).map_err(|e| e.within(format!("heartbeat {table}")))
}

/// The newest value of the heartbeat table's `column`.
pub async fn heartbeat_at(pg: &Pg, table: &str, column: &str) -> Result<Option<Time>, PgError> {
    let (schema, name) = split_table(table)?;
    let sql = format!(
        "SELECT max({}) FROM {}.{}",
        ident(column),
        ident(schema),
        ident(name)
    );
    let rows = pg.query(&sql, &[]).await?;
    first::<Option<Time>>(&rows)
        .map(Option::flatten)
        .map_err(|e| e.within(format!("heartbeat {table}")))
}

fn split_table(table: &str) -> Result<(&str, &str), PgError> {
    table
        .split_once('.')
        .ok_or_else(|| PgError::Unexpected("heartbeat_table must be schema.table".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_sql_marks_the_heartbeat_table() {
        let tables = vec![
            (
                "public.archive_heartbeat".into(),
                "delta_public_archive_heartbeat".into(),
                "track_public_archive_heartbeat".into(),
            ),
            (
                "public.items".into(),
                "delta_public_items".into(),
                "track_public_items".into(),
            ),
        ];
        let sql = pending_sql(&tables, "public.archive_heartbeat");
        assert!(
            sql.contains("true AS hb FROM bucardo.\"delta_public_archive_heartbeat\""),
            "{sql}"
        );
        assert!(
            sql.contains("false AS hb FROM bucardo.\"delta_public_items\""),
            "{sql}"
        );
        assert_eq!(sql.matches("UNION ALL").count(), 1);
    }

    #[test]
    fn completion_channels_and_events() {
        let [done, kill] = sync_channels("archive_jukebox");
        assert_eq!(done, "bucardo_syncdone_archive_jukebox");
        assert_eq!(kill, "bucardo_synckill_archive_jukebox");
        assert_eq!(
            event_of(&done),
            Some(BucardoEvent::SyncDone("archive_jukebox".into()))
        );
        assert_eq!(
            event_of(&kill),
            Some(BucardoEvent::SyncKilled("archive_jukebox".into()))
        );
        assert_eq!(event_of("bucardo_started"), Some(BucardoEvent::Started));
        assert_eq!(event_of("bucardo_stopped"), Some(BucardoEvent::Stopped));
        assert_eq!(event_of(PONG), None);
        let long = "s".repeat(80);
        assert_eq!(sync_channels(&long)[0].len(), 63);
    }

    #[test]
    fn quote_ident_matches_postgres() {
        assert_eq!(quote_ident_like_pg("items"), "items");
        assert_eq!(quote_ident_like_pg("Items"), "\"Items\"");
    }

    /// Property tests (cases per run: 512 each).
    mod props {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]

            /// Any sync name: its channels are cut like PostgreSQL's
            /// identifiers, on a character boundary, and map back.
            #[test]
            fn channels_of_any_name(name in ".{0,80}") {
                for c in sync_channels(&name) {
                    prop_assert!(c.len() <= MAX_CHANNEL);
                    prop_assert!(matches!(event_of(&c), Some(BucardoEvent::SyncDone(_) | BucardoEvent::SyncKilled(_))));
                }
            }
        }
    }
}
