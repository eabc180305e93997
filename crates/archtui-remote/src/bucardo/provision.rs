//! The Bucardo SQL of provisioning and retiring a slave: what on the
//! master already carries a name, the new slave's sync and its first good
//! run, and the tables of its relgroup.

use crate::pg::{col, first, Pg, PgError};

/// What on the master already carries the name: a registry entry (a slave
/// registered under it) or delta targets a slave's daemon left there. `pg`
/// is the master's archive database.
pub async fn taken(pg: &Pg, name: &str) -> Result<Vec<String>, PgError> {
    let rows = pg
        .query(
            "SELECT to_regclass('archive_fleet.slave') IS NOT NULL, \
                    to_regclass('bucardo.bucardo_delta_targets') IS NOT NULL",
            &[],
        )
        .await?;
    let have = |i: usize| {
        rows.first()
            .and_then(|r| col::<bool, _>(r, i).ok())
            .unwrap_or(false)
    };
    let mut out = Vec::new();
    if have(0) {
        let r = pg
            .query(
                "SELECT 'registry entry (' || app_host || ':' || db_port || \
                        CASE WHEN retired_at IS NOT NULL THEN ', retired' ELSE '' END || ')' \
                   FROM archive_fleet.slave WHERE name = $1",
                &[&name],
            )
            .await?;
        for row in &r {
            out.push(col(row, 0).map_err(|e| e.within("archive_fleet.slave"))?);
        }
    } else {
        return Err(PgError::Unexpected("the master has no fleet registry (archive_fleet.slave): deploy the current stack on the master first".into()));
    }
    if have(1) {
        let target = format!("dbgroup {name}_grp");
        let r = pg
            .query(
                "SELECT count(*) FROM bucardo.bucardo_delta_targets WHERE target = $1",
                &[&target],
            )
            .await?;
        let n: i64 = first(&r)
            .map_err(|e| e.within("bucardo_delta_targets"))?
            .unwrap_or(0);
        if n > 0 {
            out.push(format!("{n} delta targets"));
        }
    }
    Ok(out)
}

pub struct SyncState {
    pub ok: bool,
    pub text: String,
}

/// The sync's row and its latest run: good once a run ended well.
pub async fn sync_state(pg: &Pg, sync: &str) -> Result<Option<SyncState>, PgError> {
    let rows = pg
        .query(
            "SELECT s.status, \
               (SELECT max(ended) FROM bucardo.syncrun r WHERE r.sync = s.name AND r.ended IS NOT NULL AND NOT r.lastbad), \
               (SELECT count(*) FROM bucardo.syncrun r WHERE r.sync = s.name AND r.ended IS NULL) \
             FROM bucardo.sync s WHERE s.name = $1",
            &[&sync],
        )
        .await?;
    let Some(r) = rows.first() else {
        return Ok(None);
    };
    let at = |e: PgError| e.within(format!("sync {sync}"));
    let status: Option<String> = col(r, 0).map_err(at)?;
    let good: Option<chrono::DateTime<chrono::Utc>> = col(r, 1).map_err(at)?;
    let running: i64 = col::<Option<i64>, _>(r, 2).map_err(at)?.unwrap_or(0);
    Ok(Some({
        SyncState {
            ok: good.is_some(),
            text: format!(
                "{}{}{}",
                status.unwrap_or_default(),
                if running > 0 {
                    ", a run in progress (initial copy)"
                } else {
                    ""
                },
                good.map(|g| format!(", last good {}", g.format("%H:%M:%S")))
                    .unwrap_or_default()
            ),
        }
    }))
}

/// The tables of a slave's relgroup `archive` (its daemon's control db).
pub async fn replicated_tables(pg: &Pg) -> Result<Vec<(String, String)>, PgError> {
    let rows = pg
        .query(
            "SELECT g.schemaname, g.tablename FROM bucardo.herdmap h \
             JOIN bucardo.goat g ON g.id = h.goat WHERE h.herd = 'archive' \
             ORDER BY 1, 2",
            &[],
        )
        .await?;
    rows.iter()
        .map(|r| Ok((col(r, 0)?, col(r, 1)?)))
        .collect::<Result<_, PgError>>()
        .map_err(|e| e.within("relgroup archive's tables"))
}
