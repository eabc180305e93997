//! The SQL verify and repair send, as text plus parameters. Pure.
//!
//! Identifiers are quoted (`pg::ident`); values (keys, targets) are
//! always parameters, sent as text and cast on the server to the key
//! column's type, so one code path serves every key type and keys of
//! several columns. Type names are PostgreSQL's own `format_type` text,
//! read with `search_path = pg_catalog`, so they come schema-qualified
//! and quoted where needed.

use tokio_postgres::types::ToSql;

use super::chunk::{Key, Range};
use crate::pg::ident;

/// Settings of every verify session, master and slave alike: the text of
/// a row (and so its hash) depends on them.
pub const SESSION: &str = "SET search_path = pg_catalog; SET TimeZone = 'UTC'; \
SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres'; SET extra_float_digits = 3; \
SET bytea_output = 'hex'; SET lc_monetary = 'C'; SET application_name = 'archtui verify'";

/// A slave session also refuses every write, whatever verify sends.
pub const READ_ONLY: &str = "SET default_transaction_read_only = on";

/// Both sides, for a chunk: a snapshot that holds for all its queries.
pub const BEGIN: &str = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";

pub use archtui_core::verify::table::{Column, TableSpec};

/// `schema.table`, quoted.
pub fn qualified(spec: &TableSpec) -> String {
    format!("{}.{}", ident(&spec.schema), ident(&spec.name))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Param {
    Text(String),
    Texts(Vec<String>),
}

/// A statement and its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub sql: String,
    pub params: Vec<Param>,
}

impl Query {
    fn new() -> Query {
        Query {
            sql: String::new(),
            params: Vec::new(),
        }
    }

    /// Adds a parameter; returns its placeholder.
    fn bind(&mut self, p: Param) -> String {
        self.params.push(p);
        format!("${}", self.params.len())
    }

    pub fn refs(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.params
            .iter()
            .map(|p| match p {
                Param::Text(s) => s as &(dyn ToSql + Sync),
                Param::Texts(v) => v as &(dyn ToSql + Sync),
            })
            .collect()
    }
}

fn cols(alias: &str, cs: &[Column]) -> Vec<String> {
    cs.iter()
        .map(|c| format!("{alias}.{}", ident(&c.name)))
        .collect()
}

/// `t.k1, t.k2`
fn key_cols(spec: &TableSpec, alias: &str) -> String {
    cols(alias, &spec.key).join(", ")
}

/// `t.k1::text, t.k2::text`
fn key_text(spec: &TableSpec, alias: &str) -> String {
    cols(alias, &spec.key)
        .iter()
        .map(|c| format!("{c}::text"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The row's hash: a 64-bit hash of the text of its columns, in the
/// master's column order (a slave whose columns were added in another
/// order still hashes alike). hashtextextended is hashtext's 64-bit form
/// and as fast; a sum of them needs no sort and splits by subtraction.
fn row_hash(spec: &TableSpec, alias: &str) -> String {
    format!(
        "hashtextextended(ROW({})::text, 0)",
        cols(alias, &spec.columns).join(", ")
    )
}

/// `alias.key OP key` as a row comparison, the key bound as text.
fn compare(q: &mut Query, spec: &TableSpec, alias: &str, op: &str, key: &Key) -> String {
    let vals: Vec<String> = spec
        .key
        .iter()
        .zip(key)
        .map(|(c, v)| {
            let p = q.bind(Param::Text(v.clone()));
            format!("{p}::text::{}", c.ty)
        })
        .collect();
    if spec.key.len() == 1 {
        format!("{} {op} {}", key_cols(spec, alias), vals[0])
    } else {
        format!(
            "ROW({}) {op} ROW({})",
            key_cols(spec, alias),
            vals.join(", ")
        )
    }
}

/// The range's condition on `alias`; `true` for the whole table.
fn range_cond(q: &mut Query, spec: &TableSpec, alias: &str, r: &Range) -> String {
    let mut parts = Vec::new();
    if let Some(lo) = &r.lo {
        parts.push(compare(q, spec, alias, ">", lo));
    }
    if let Some(hi) = &r.hi {
        parts.push(compare(q, spec, alias, "<=", hi));
    }
    if parts.is_empty() {
        "true".into()
    } else {
        parts.join(" AND ")
    }
}

/// `unnest($a::text[], $b::text[]) AS x(k0, k1)` over `keys`, by column.
fn unnest(q: &mut Query, spec: &TableSpec, keys: &[Key]) -> String {
    let mut args = Vec::new();
    for i in 0..spec.key.len() {
        let column: Vec<String> = keys
            .iter()
            .map(|k| k.get(i).cloned().unwrap_or_default())
            .collect();
        args.push(format!("{}::text[]", q.bind(Param::Texts(column))));
    }
    let names: Vec<String> = (0..spec.key.len()).map(|i| format!("k{i}")).collect();
    format!("unnest({}) AS x({})", args.join(", "), names.join(", "))
}

/// `alias.k1 = x.k0::t1 AND ...`: a row of `alias` matches one of `unnest`.
fn matches_x(spec: &TableSpec, alias: &str) -> String {
    spec.key
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{alias}.{} = x.k{i}::{}", ident(&c.name), c.ty))
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// Leaves out `keys` (changes in flight); nothing when there are none.
fn exclude(q: &mut Query, spec: &TableSpec, alias: &str, keys: &[Key]) -> String {
    if keys.is_empty() {
        return String::new();
    }
    let x = unnest(q, spec, keys);
    format!(
        " AND NOT EXISTS (SELECT 1 FROM {x} WHERE {})",
        matches_x(spec, alias)
    )
}

/// Row count and hash sum of a range, without the `skip` keys.
pub fn digest(spec: &TableSpec, r: &Range, skip: &[Key]) -> Query {
    let mut q = Query::new();
    let cond = range_cond(&mut q, spec, "t", r);
    let ex = exclude(&mut q, spec, "t", skip);
    q.sql = format!(
        "SELECT count(*)::int8, coalesce(sum({}), 0)::text FROM {} t WHERE {cond}{ex}",
        row_hash(spec, "t"),
        qualified(spec)
    );
    q
}

/// The key `offset` rows into the range, in key order (a chunk's end
/// from its start, or a range's middle); none past its end. Runs on the
/// primary key's index alone.
pub fn key_at(spec: &TableSpec, r: &Range, offset: i64) -> Query {
    let mut q = Query::new();
    let cond = range_cond(&mut q, spec, "t", r);
    q.sql = format!(
        "SELECT {} FROM {} t WHERE {cond} ORDER BY {} OFFSET {} LIMIT 1",
        key_text(spec, "t"),
        qualified(spec),
        key_cols(spec, "t"),
        offset.max(0)
    );
    q
}

/// Every row of a range, key and hash, without the `skip` keys; at most
/// `limit`.
pub fn rows(spec: &TableSpec, r: &Range, skip: &[Key], limit: i64) -> Query {
    let mut q = Query::new();
    let cond = range_cond(&mut q, spec, "t", r);
    let ex = exclude(&mut q, spec, "t", skip);
    q.sql = format!(
        "SELECT {}, {} FROM {} t WHERE {cond}{ex} ORDER BY {} LIMIT {}",
        key_text(spec, "t"),
        row_hash(spec, "t"),
        qualified(spec),
        key_cols(spec, "t"),
        limit.max(0)
    );
    q
}

/// Key and hash of those of `keys` that exist.
pub fn rows_by_keys(spec: &TableSpec, keys: &[Key]) -> Query {
    let mut q = Query::new();
    let x = unnest(&mut q, spec, keys);
    q.sql = format!(
        "SELECT {}, {} FROM {x} JOIN {} t ON {}",
        key_text(spec, "t"),
        row_hash(spec, "t"),
        qualified(spec),
        matches_x(spec, "t")
    );
    q
}

/// What the master has not applied to `target` yet (Bucardo's rule, see
/// remote::bucardo::pending): a delta row with no track row of that
/// target for its txntime.
fn unapplied(delta: &str, track: &str, target: &str) -> String {
    format!(
        "FROM bucardo.{} d WHERE NOT EXISTS (SELECT 1 FROM bucardo.{} tr \
         WHERE tr.txntime = d.txntime AND tr.target = {target})",
        ident(delta),
        ident(track)
    )
}

/// The txntimes of the delta table that `target` has not applied, at
/// most `limit`. A delta table holds few distinct txntimes (one per
/// writing transaction since Bucardo's last purge), so they are walked
/// on its txntime index (a skip scan) instead of checking every delta
/// row: a table of a million delta rows costs a few index probes.
pub fn pending_txntimes(spec: &TableSpec, target: &str, limit: i64) -> Option<Query> {
    let (delta, track) = spec.delta.as_ref()?;
    let (delta, track) = (ident(delta), ident(track));
    let mut q = Query::new();
    let t = q.bind(Param::Text(target.to_string()));
    q.sql = format!(
        "WITH RECURSIVE w(x) AS (SELECT min(txntime) FROM bucardo.{delta} \
         UNION ALL SELECT (SELECT min(d.txntime) FROM bucardo.{delta} d WHERE d.txntime > w.x) \
         FROM w WHERE w.x IS NOT NULL) \
         SELECT w.x::text FROM w WHERE w.x IS NOT NULL AND NOT EXISTS \
         (SELECT 1 FROM bucardo.{track} tr WHERE tr.txntime = w.x AND tr.target = {t}) LIMIT {}",
        limit.max(0)
    );
    Some(q)
}

/// Keys of a range changed by those (pending) transactions. None when
/// the table has no delta table.
pub fn pending_in_range(spec: &TableSpec, r: &Range, txntimes: &[String]) -> Option<Query> {
    let (delta, _) = spec.delta.as_ref()?;
    let mut q = Query::new();
    let p = q.bind(Param::Texts(txntimes.to_vec()));
    let cond = range_cond(&mut q, spec, "d", r);
    q.sql = format!(
        "SELECT DISTINCT {} FROM bucardo.{} d WHERE d.txntime = ANY ({p}::text[]::timestamptz[]) AND {cond}",
        key_text(spec, "d"),
        ident(delta)
    );
    Some(q)
}

/// Those of `keys` with changes pending for `target`.
pub fn pending_among(spec: &TableSpec, keys: &[Key], target: &str) -> Option<Query> {
    let (delta, track) = spec.delta.as_ref()?;
    let mut q = Query::new();
    let t = q.bind(Param::Text(target.to_string()));
    let from = unapplied(delta, track, &t);
    let x = unnest(&mut q, spec, keys);
    q.sql = format!(
        "SELECT DISTINCT {} {from} AND EXISTS (SELECT 1 FROM {x} WHERE {})",
        key_text(spec, "d"),
        matches_x(spec, "d")
    );
    Some(q)
}

/// A no-op update of `keys` on the master: Bucardo's row trigger records
/// each key in the delta table again, so the sync sends those rows anew
/// (a key the master does not have updates nothing).
pub fn requeue_keys(spec: &TableSpec, keys: &[Key]) -> Query {
    let mut q = Query::new();
    let x = unnest(&mut q, spec, keys);
    let set: Vec<String> = spec
        .key
        .iter()
        .map(|c| format!("{0} = t.{0}", ident(&c.name)))
        .collect();
    q.sql = format!(
        "UPDATE {} AS t SET {} FROM {x} WHERE {}",
        qualified(spec),
        set.join(", "),
        matches_x(spec, "t")
    );
    q
}

/// Every key of the table into its delta table at once: the sync then
/// sends the whole table again, without one write to the table itself.
/// None without a delta table.
pub fn requeue_table(spec: &TableSpec) -> Option<Query> {
    let (delta, _) = spec.delta.as_ref()?;
    let mut q = Query::new();
    q.sql = format!(
        "INSERT INTO bucardo.{} ({}) SELECT {} FROM {} t",
        ident(delta),
        spec.key
            .iter()
            .map(|c| ident(&c.name))
            .collect::<Vec<_>>()
            .join(", "),
        key_cols(spec, "t"),
        qualified(spec)
    );
    Some(q)
}

/// The other slaves' dbgroups that read this table's delta table.
pub fn other_targets(spec: &TableSpec, target: &str) -> Query {
    let mut q = Query::new();
    let t = q.bind(Param::Text(qualified(spec)));
    let me = q.bind(Param::Text(target.to_string()));
    q.sql = format!(
        "SELECT DISTINCT target FROM bucardo.bucardo_delta_targets \
         WHERE tablename = to_regclass({t})::oid AND target <> {me} ORDER BY 1"
    );
    q
}

/// Marks this transaction's delta rows as already applied for `others`,
/// so a repair re-sends rows to the one slave that needs them, not to
/// every slave. Runs in the repair's transaction: the same `now()` is the
/// txntime Bucardo's trigger gave its delta rows.
pub fn track_others(spec: &TableSpec, others: &[String]) -> Option<Query> {
    let (_, track) = spec.delta.as_ref()?;
    let mut q = Query::new();
    let p = q.bind(Param::Texts(others.to_vec()));
    q.sql = format!(
        "INSERT INTO bucardo.{} (txntime, target) SELECT now(), g FROM unnest({p}::text[]) AS g",
        ident(track)
    );
    Some(q)
}

/// The sync's replicated tables, from the slave's control database.
pub const RELGROUP_TABLES: &str = "SELECT g.schemaname, g.tablename FROM bucardo.sync s \
JOIN bucardo.herdmap m ON m.herd = s.herd JOIN bucardo.goat g ON g.id = m.goat \
WHERE s.name = $1 AND g.reltype = 'table' ORDER BY 1, 2";

/// A table's columns, in order, with their types (`$1` = schema.table).
pub const COLUMNS: &str = "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod) \
FROM pg_attribute a WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped \
ORDER BY a.attnum";

/// A table's primary key columns, in the key's order.
pub const PRIMARY_KEY: &str = "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod) \
FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) \
JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum \
WHERE i.indrelid = to_regclass($1) AND i.indisprimary ORDER BY k.ord";

/// The master's estimate of a table's rows, for progress.
pub const ESTIMATE: &str =
    "SELECT greatest(reltuples, 0)::int8 FROM pg_class WHERE oid = to_regclass($1)";

/// Delta and track tables of a sync's table on the master.
pub const DELTA_NAMES: &str = "SELECT deltaname, trackname FROM bucardo.bucardo_delta_names \
WHERE sync = $1 AND tablename IN ($2, $3) LIMIT 1";

#[cfg(test)]
mod tests {
    use super::*;

    fn col(name: &str, ty: &str) -> Column {
        Column {
            name: name.into(),
            ty: ty.into(),
        }
    }

    fn items() -> TableSpec {
        TableSpec {
            schema: "public".into(),
            name: "items".into(),
            key: vec![col("id", "bigint")],
            columns: vec![col("id", "bigint"), col("title", "text")],
            delta: Some(("delta_public_items".into(), "track_public_items".into())),
        }
    }

    fn pair() -> TableSpec {
        TableSpec {
            schema: "public".into(),
            name: "Pair".into(),
            key: vec![col("a", "integer"), col("b", "text")],
            columns: vec![
                col("a", "integer"),
                col("b", "text"),
                col("v", "double precision"),
            ],
            delta: None,
        }
    }

    fn k(v: &[&str]) -> Key {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_digest_is_a_count_and_a_hash_sum_over_the_range() {
        let r = Range {
            lo: Some(k(&["10"])),
            hi: Some(k(&["20"])),
        };
        let q = digest(&items(), &r, &[]);
        assert_eq!(
            q.sql,
            "SELECT count(*)::int8, coalesce(sum(hashtextextended(ROW(t.\"id\", t.\"title\")::text, 0)), 0)::text \
             FROM \"public\".\"items\" t WHERE t.\"id\" > $1::text::bigint AND t.\"id\" <= $2::text::bigint"
        );
        assert_eq!(
            q.params,
            [Param::Text("10".into()), Param::Text("20".into())]
        );
        // Keys in flight are left out; none, no clause at all.
        let q = digest(&items(), &Range::all(), &[k(&["3"]), k(&["4"])]);
        assert!(q.sql.ends_with(
            "WHERE true AND NOT EXISTS (SELECT 1 FROM unnest($1::text[]) AS x(k0) WHERE t.\"id\" = x.k0::bigint)"
        ), "{}", q.sql);
        assert_eq!(q.params, [Param::Texts(vec!["3".into(), "4".into()])]);
    }

    #[test]
    fn keys_of_several_columns_compare_as_rows() {
        let r = Range {
            lo: Some(k(&["1", "x"])),
            hi: None,
        };
        let q = key_at(&pair(), &r, 499);
        assert_eq!(
            q.sql,
            "SELECT t.\"a\"::text, t.\"b\"::text FROM \"public\".\"Pair\" t \
             WHERE ROW(t.\"a\", t.\"b\") > ROW($1::text::integer, $2::text::text) \
             ORDER BY t.\"a\", t.\"b\" OFFSET 499 LIMIT 1"
        );
        let q = rows_by_keys(&pair(), &[k(&["1", "x"]), k(&["2", "y"])]);
        assert!(q.sql.contains("FROM unnest($1::text[], $2::text[]) AS x(k0, k1) JOIN \"public\".\"Pair\" t ON t.\"a\" = x.k0::integer AND t.\"b\" = x.k1::text"), "{}", q.sql);
        assert_eq!(
            q.params,
            [
                Param::Texts(vec!["1".into(), "2".into()]),
                Param::Texts(vec!["x".into(), "y".into()])
            ]
        );
    }

    #[test]
    fn pending_keys_follow_bucardos_rule() {
        let q = pending_txntimes(&items(), "dbgroup jukebox_grp", 1000).unwrap();
        assert!(q.sql.contains("NOT EXISTS (SELECT 1 FROM bucardo.\"track_public_items\" tr WHERE tr.txntime = w.x AND tr.target = $1) LIMIT 1000"), "{}", q.sql);
        assert_eq!(q.params[0], Param::Text("dbgroup jukebox_grp".into()));
        let r = Range {
            lo: Some(k(&["5"])),
            hi: None,
        };
        let q = pending_in_range(&items(), &r, &["2026-01-01 00:00:00+00".into()]).unwrap();
        assert_eq!(
            q.sql,
            "SELECT DISTINCT d.\"id\"::text FROM bucardo.\"delta_public_items\" d \
             WHERE d.txntime = ANY ($1::text[]::timestamptz[]) AND d.\"id\" > $2::text::bigint"
        );
        assert!(pending_in_range(&pair(), &Range::all(), &[]).is_none());
        assert!(pending_txntimes(&pair(), "g", 1).is_none());
        let q = pending_among(&items(), &[k(&["7"])], "dbgroup j_grp").unwrap();
        assert!(q.sql.contains("AND EXISTS (SELECT 1 FROM unnest($2::text[]) AS x(k0) WHERE d.\"id\" = x.k0::bigint)"), "{}", q.sql);
    }

    #[test]
    fn repairs_requeue_on_the_master_only() {
        let q = requeue_keys(&items(), &[k(&["5"])]);
        assert_eq!(
            q.sql,
            "UPDATE \"public\".\"items\" AS t SET \"id\" = t.\"id\" FROM unnest($1::text[]) AS x(k0) WHERE t.\"id\" = x.k0::bigint"
        );
        let q = requeue_table(&items()).unwrap();
        assert_eq!(
            q.sql,
            "INSERT INTO bucardo.\"delta_public_items\" (\"id\") SELECT t.\"id\" FROM \"public\".\"items\" t"
        );
        let q = track_others(&items(), &["dbgroup b_grp".into()]).unwrap();
        assert!(q.sql.starts_with(
            "INSERT INTO bucardo.\"track_public_items\" (txntime, target) SELECT now(), g"
        ));
        let q = other_targets(&items(), "dbgroup a_grp");
        assert_eq!(q.params[1], Param::Text("dbgroup a_grp".into()));
    }

    #[test]
    fn hostile_names_stay_identifiers() {
        let mut t = items();
        t.name = "x\"; DROP TABLE y; --".into();
        t.columns[1].name = "a\"b".into();
        let q = digest(&t, &Range::all(), &[]);
        assert!(q.sql.contains("\"x\"\"; DROP TABLE y; --\""), "{}", q.sql);
        assert!(q.sql.contains("t.\"a\"\"b\""), "{}", q.sql);
    }
}
