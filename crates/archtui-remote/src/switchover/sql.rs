//! The SQL of a switchover (fence, registry, sequences, heartbeat); every
//! name sent is quoted or passed as a parameter.

use crate::pg::{col, first, ident, Pg, PgError};

/// `ALTER ROLE user IN DATABASE db SET default_transaction_read_only`: on
/// fences the app's role (new sessions cannot write); off lifts it.
pub fn read_only(user: &str, db: &str, on: bool) -> String {
    let (u, d) = (ident(user), ident(db));
    if on {
        format!("ALTER ROLE {u} IN DATABASE {d} SET default_transaction_read_only = on")
    } else {
        format!("ALTER ROLE {u} IN DATABASE {d} RESET default_transaction_read_only")
    }
}

pub async fn is_read_only(pg: &Pg, user: &str, db: &str) -> Result<bool, PgError> {
    let rows = pg
        .query(
            "SELECT EXISTS (SELECT 1 FROM pg_db_role_setting s \
               JOIN pg_roles r ON r.oid = s.setrole JOIN pg_database d ON d.oid = s.setdatabase \
              WHERE r.rolname = $1 AND d.datname = $2 \
                AND 'default_transaction_read_only=on' = ANY (s.setconfig))",
            &[&user, &db],
        )
        .await?;
    Ok(first::<bool>(&rows)?.unwrap_or(false))
}

/// Ends every session of `user` (they were opened before the fence, and
/// could still write); how many.
pub async fn end_sessions(pg: &Pg, user: &str) -> Result<i64, PgError> {
    let rows = pg
        .query(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
              WHERE usename = $1 AND pid <> pg_backend_pid()",
            &[&user],
        )
        .await?;
    Ok(first::<i64>(&rows)?.unwrap_or(0))
}

pub async fn sessions_of(pg: &Pg, user: &str) -> Result<i64, PgError> {
    let rows = pg
        .query(
            "SELECT count(*) FROM pg_stat_activity WHERE usename = $1 AND pid <> pg_backend_pid()",
            &[&user],
        )
        .await?;
    Ok(first::<i64>(&rows)?.unwrap_or(0))
}

/// The fleet registry the slaves register in (`archive_fleet.slave`).
pub async fn has_registry(pg: &Pg) -> Result<bool, PgError> {
    let rows = pg
        .query("SELECT to_regclass('archive_fleet.slave') IS NOT NULL", &[])
        .await?;
    Ok(first::<bool>(&rows)?.unwrap_or(false))
}

/// A sequence owned by a table's column (serial, identity).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owned {
    /// `schema.sequence`, quoted as needed.
    pub sequence: String,
    /// `schema.table`, quoted as needed.
    pub table: String,
    pub column: String,
}

/// The sequences owned by columns of the archive's tables (not Bucardo's).
pub async fn sequences(pg: &Pg) -> Result<Vec<Owned>, PgError> {
    let rows = pg
        .query(
            "SELECT s.oid::regclass::text, t.oid::regclass::text, a.attname::text \
               FROM pg_class s JOIN pg_namespace n ON n.oid = s.relnamespace \
               JOIN pg_depend d ON d.objid = s.oid AND d.classid = 'pg_class'::regclass \
                AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i') \
               JOIN pg_class t ON t.oid = d.refobjid \
               JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid \
              WHERE s.relkind = 'S' \
                AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'bucardo', 'archive_fleet') \
              ORDER BY 1",
            &[],
        )
        .await?;
    rows.iter()
        .map(|r| {
            Ok(Owned {
                sequence: col(r, 0)?,
                table: col(r, 1)?,
                column: col(r, 2)?,
            })
        })
        .collect()
}

/// A sequence's last value; `regclass` text comes from `sequences`.
pub async fn last_value(pg: &Pg, sequence: &str) -> Result<i64, PgError> {
    let rows = pg
        .query(
            "SELECT last_value FROM pg_sequences \
              WHERE format('%I.%I', schemaname, sequencename)::regclass = $1::text::regclass",
            &[&sequence],
        )
        .await?;
    Ok(first::<Option<i64>>(&rows)?.flatten().unwrap_or(0))
}

pub async fn column_max(pg: &Pg, o: &Owned) -> Result<i64, PgError> {
    // `table` is regclass text, already quoted by the server.
    let sql = format!(
        "SELECT coalesce(max({})::int8, 0) FROM {}",
        ident(&o.column),
        o.table
    );
    let rows = pg.query(&sql, &[]).await?;
    Ok(first::<i64>(&rows)?.unwrap_or(0))
}

pub async fn set_value(pg: &Pg, sequence: &str, value: i64) -> Result<(), PgError> {
    pg.query(
        "SELECT setval($1::text::regclass, $2)",
        &[&sequence, &value],
    )
    .await?;
    Ok(())
}

/// The heartbeat row's writer and age (the stack's table: `host`, `beat`).
pub async fn heartbeat_by(pg: &Pg, table: &str) -> Result<Option<(String, f64)>, PgError> {
    let quoted = match table.split_once('.') {
        Some((s, t)) => format!("{}.{}", ident(s), ident(t)),
        None => ident(table),
    };
    let sql = format!(
        "SELECT coalesce(host, ''), extract(epoch FROM now() - beat)::float8 FROM {quoted} ORDER BY beat DESC LIMIT 1"
    );
    let rows = pg.query(&sql, &[]).await?;
    match rows.first() {
        None => Ok(None),
        Some(r) => Ok(Some((col(r, 0)?, col(r, 1)?))),
    }
}

/// `schema_migrations` in one line: how many, first..last, a digest.
pub async fn migrations(pg: &Pg) -> Result<String, PgError> {
    let rows = pg
        .query(
            "SELECT count(*)::text || ' (' || coalesce(min(version), '') || '..' || coalesce(max(version), '') \
                    || ', md5 ' || left(md5(coalesce(string_agg(version, ',' ORDER BY version), '')), 8) || ')' \
               FROM schema_migrations",
            &[],
        )
        .await?;
    Ok(first::<String>(&rows)?.unwrap_or_default())
}
