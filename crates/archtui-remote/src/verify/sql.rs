//! The SQL verify and repair send, as text plus parameters. Pure.
//!
//! Identifiers are quoted (`pg::ident`); values (keys, targets) are
//! always parameters, sent as text and cast on the server to the key
//! column's type, so one code path serves every key type and keys of
//! several columns. Type names are PostgreSQL's own `format_type` text,
//! read with `search_path = pg_catalog`, so they come schema-qualified
//! and quoted where needed.

use super::chunk::{Key, Range};
use crate::pg::ident;
use crate::sqltext::{exclude, key_cols, key_text, matches_x, range_cond, row_hash, unnest};
pub use crate::sqltext::{qualified, Column, Param, Query, TableSpec};

/// Settings of every verify session, master and slave alike: the text of
/// a row (and so its hash) depends on them.
pub const SESSION: &str = "SET search_path = pg_catalog; SET TimeZone = 'UTC'; \
SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres'; SET extra_float_digits = 3; \
SET bytea_output = 'hex'; SET lc_monetary = 'C'; SET application_name = 'archtui verify'";

/// A slave session also refuses every write, whatever verify sends.
pub const READ_ONLY: &str = "SET default_transaction_read_only = on";

/// Both sides, for a chunk: a snapshot that holds for all its queries.
pub const BEGIN: &str = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";

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

/// The range's last key, for a key of one column (`integer_key`); none
/// when the range is empty. Runs on the primary key's index alone.
pub fn last_key(spec: &TableSpec, r: &Range) -> Query {
    let mut q = Query::new();
    let cond = range_cond(&mut q, spec, "t", r);
    q.sql = format!(
        "SELECT {} FROM {} t WHERE {cond} ORDER BY {} DESC LIMIT 1",
        key_text(spec, "t"),
        qualified(spec),
        key_cols(spec, "t")
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

/// Those of `keys` that exist, each row whole as JSON text (what a
/// rejoin saves before the master's rows replace them).
pub fn rows_json_by_keys(spec: &TableSpec, keys: &[Key]) -> Query {
    let mut q = Query::new();
    let x = unnest(&mut q, spec, keys);
    q.sql = format!(
        "SELECT row_to_json(t)::text FROM {x} JOIN {} t ON {}",
        qualified(spec),
        matches_x(spec, "t")
    );
    q
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sqltext::fixtures::{items, k, pair};

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
    fn repairs_requeue_on_the_master_only() {
        let q = requeue_keys(&items(), &[k(&["5"])]);
        assert_eq!(
            q.sql,
            "UPDATE \"public\".\"items\" AS t SET \"id\" = t.\"id\" FROM unnest($1::text[]) AS x(k0) WHERE t.\"id\" = x.k0::bigint"
        );
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
