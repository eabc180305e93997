//! Reads for Bucardo's health (see `archtui_core::health`): the master's delta
//! and track tables, every host's key sequences, a slave's conflicts,
//! one-time copy setting and COPY under way. Plain SQL, cheap enough for
//! every observation (statistics views, indexes, catalog).

use crate::pg::{col, first, ident, Pg, PgError};
use archtui_core::health::{ConflictRead, DeltaRead, SeqRead};

const DELTA_SQL: &str = "SELECT n.tablename, coalesce(ds.n_live_tup, 0)::int8, \
pg_total_relation_size(ds.relid)::int8, coalesce(ts.n_live_tup, 0)::int8, \
pg_total_relation_size(ts.relid)::int8 \
FROM (SELECT DISTINCT tablename, deltaname, trackname FROM bucardo.bucardo_delta_names) n \
JOIN pg_stat_all_tables ds ON ds.schemaname = 'bucardo' AND ds.relname = n.deltaname \
JOIN pg_stat_all_tables ts ON ts.schemaname = 'bucardo' AND ts.relname = n.trackname \
ORDER BY 1";

/// The master's delta and track tables, per replicated table: rows (the
/// statistics' live-row count, kept current without a scan) and bytes.
/// Empty before any slave registered.
pub async fn delta_tables(pg: &Pg) -> Result<Vec<DeltaRead>, PgError> {
    // The check and the read pipelined: one round trip; without the
    // schema the read fails and the check says to ignore it.
    let (have, rows) = tokio::join!(
        pg.query(
            "SELECT to_regclass('bucardo.bucardo_delta_names') IS NOT NULL",
            &[],
        ),
        pg.query(DELTA_SQL, &[])
    );
    if first::<bool>(&have?)? != Some(true) {
        return Ok(Vec::new());
    }
    let rows = rows?;
    rows.iter()
        .map(|r| {
            Ok(DeltaRead {
                table: col(r, 0)?,
                delta_rows: col(r, 1)?,
                delta_bytes: col(r, 2)?,
                track_rows: col(r, 3)?,
                track_bytes: col(r, 4)?,
                growth: None,
            })
        })
        .collect::<Result<_, PgError>>()
        .map_err(|e| e.within("bucardo delta tables"))
}

/// The master's row estimates of a schema's tables.
pub async fn estimates(pg: &Pg, schema: &str) -> Result<Vec<(String, i64)>, PgError> {
    let rows = pg
        .query_text(
            "SELECT format('%I.%I', n.nspname, c.relname), greatest(c.reltuples, 0)::int8 \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = $1 AND c.relkind = 'r' ORDER BY 1",
            &[schema],
        )
        .await?;
    rows.iter()
        .map(|r| Ok((col(r, 0)?, col(r, 1)?)))
        .collect::<Result<_, PgError>>()
        .map_err(|e| e.within("row estimates"))
}

const SERIAL_KEYS: &str = "SELECT format('%I.%I', n.nspname, c.relname), a.attname::text, s.seq \
FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = i.indkey[0] \
CROSS JOIN LATERAL (SELECT pg_get_serial_sequence(format('%I.%I', n.nspname, c.relname), a.attname) AS seq) s \
WHERE i.indisprimary AND i.indnatts = 1 AND n.nspname = $1 AND c.relkind = 'r' AND s.seq IS NOT NULL \
ORDER BY 1";

/// Every table of `schema` whose key has a sequence (serial or identity):
/// the value `nextval` would give and the largest key. Names in the SQL
/// are PostgreSQL's own quoted ones (`format('%I')`,
/// `pg_get_serial_sequence`).
pub async fn sequences(pg: &Pg, schema: &str) -> Result<Vec<SeqRead>, PgError> {
    let rows = pg.query_text(SERIAL_KEYS, &[schema]).await?;
    let keys: Vec<(String, String, String)> = rows
        .iter()
        .map(|r| Ok((col(r, 0)?, col(r, 1)?, col(r, 2)?)))
        .collect::<Result<_, PgError>>()
        .map_err(|e| e.within("key sequences"))?;
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let parts: Vec<String> = keys
        .iter()
        .enumerate()
        .map(|(i, (table, column, seq))| {
            format!(
                "SELECT {i} AS i, (SELECT CASE WHEN is_called THEN last_value + 1 ELSE last_value END FROM {seq})::int8, \
                 (SELECT max({})::int8 FROM {table})",
                ident(column)
            )
        })
        .collect();
    let sql = format!("{} ORDER BY i", parts.join(" UNION ALL "));
    let rows = pg.query(&sql, &[]).await?;
    keys.into_iter()
        .zip(rows.iter())
        .map(|((table, column, sequence), r)| {
            Ok(SeqRead {
                next: col(r, 1)?,
                max: col(r, 2)?,
                table,
                column,
                sequence,
            })
        })
        .collect::<Result<_, PgError>>()
        .map_err(|e| e.within("key sequences"))
}

/// A slave's control database: conflicts per sync over the kept runs
/// (with when the first of them ended, to find the daemon's log lines),
/// and each sync's `onetimecopy`.
pub async fn control(
    pg: &Pg,
) -> Result<
    (
        Vec<(ConflictRead, Option<archtui_core::model::Time>)>,
        Vec<(String, i16)>,
    ),
    String,
> {
    // Both reads pipelined: one round trip.
    let (rows, otc_rows) = tokio::join!(
        pg.query(
            "SELECT sync, coalesce(sum(conflicts), 0)::int8, min(ended) FILTER (WHERE conflicts > 0) \
             FROM bucardo.syncrun WHERE sync IS NOT NULL GROUP BY sync ORDER BY sync",
            &[],
        ),
        pg.query(
            "SELECT name, onetimecopy::int2 FROM bucardo.sync ORDER BY name",
            &[],
        )
    );
    let rows = rows?;
    let conflicts = rows
        .iter()
        .map(|r| {
            Ok((
                ConflictRead {
                    sync: col(r, 0)?,
                    total: col(r, 1)?,
                    tables: Vec::new(),
                },
                col(r, 2)?,
            ))
        })
        .collect::<Result<_, PgError>>()
        .map_err(|e| e.within("bucardo.syncrun"))?;
    let otc = otc_rows?
        .iter()
        .map(|r| Ok((col(r, 0)?, col(r, 1)?)))
        .collect::<Result<_, PgError>>()
        .map_err(|e| e.within("bucardo.sync"))?;
    Ok((conflicts, otc))
}

/// The COPY under way into this database (a one-time copy), if any.
pub async fn copy(pg: &Pg) -> Result<Option<(String, i64)>, PgError> {
    let rows = pg
        .query(
            "SELECT relid::regclass::text, tuples_processed FROM pg_stat_progress_copy \
             WHERE datname = current_database() AND command = 'COPY FROM' LIMIT 1",
            &[],
        )
        .await?;
    match rows.first() {
        Some(r) => Ok(Some((col(r, 0)?, col(r, 1)?))),
        None => Ok(None),
    }
}

/// Tables the daemon's `Conflicts for <schema.table>: N` log lines name
/// (Bucardo 5.6.0 logs conflicts per table only there; `syncrun` keeps
/// the run's total). Pure.
pub fn conflict_tables<'a>(lines: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for l in lines {
        let Some(rest) = l.split("Conflicts for ").nth(1) else {
            continue;
        };
        let Some((table, n)) = rest.rsplit_once(": ") else {
            continue;
        };
        if n.trim().parse::<u64>().is_ok_and(|n| n > 0) && !table.is_empty() {
            let t = archtui_core::sanitize::shown(table);
            if !out.contains(&t) {
                out.push(t);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn conflict_lines_name_their_tables() {
        let lines = [
            "(12) [Mon Jan 1 00:00:00 2026] KID (archive_j) Conflicts for public.items: 3",
            "KID (archive_j) Conflicts for public.items: 1",
            "KID (archive_j) Conflicts for public.files: 2",
            "Conflicts for public.x: none",
            "nothing here",
        ];
        assert_eq!(
            super::conflict_tables(lines),
            ["public.items", "public.files"]
        );
    }
}
