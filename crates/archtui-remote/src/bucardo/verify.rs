//! The Bucardo SQL of verify and repair, on the master: what a slave has
//! not applied yet (delta rows without its track rows), requeueing a
//! table through its delta table, the other slaves reading it, and the
//! relgroup's tables and delta names.

use crate::pg::ident;
use crate::sqltext::{key_cols, key_text, matches_x, qualified, range_cond, unnest, Param, Query};
use archtui_core::verify::chunk::{Key, Range};
use archtui_core::verify::table::TableSpec;

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

/// Delta and track tables of a sync's table on the master.
pub const DELTA_NAMES: &str = "SELECT deltaname, trackname FROM bucardo.bucardo_delta_names \
WHERE sync = $1 AND tablename IN ($2, $3) LIMIT 1";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sqltext::fixtures::{items, k, pair};

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
    fn repairs_requeue_through_bucardos_tables() {
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
}
