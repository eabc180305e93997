//! `verify --repair`: have Bucardo send the differing rows again.
//!
//! Everything happens on the master, never on a slave:
//! - a few keys: a no-op `UPDATE t SET pk = pk` of exactly the missing and
//!   changed keys fires Bucardo's row trigger, which records them in the
//!   delta table, and the sync sends those rows again;
//! - past a threshold (or when the differences were too many to list),
//!   every key of the table goes into its delta table at once, without one
//!   write to the table itself: the sync sends the whole table again.
//!
//! Bucardo's own one-time copy is no fit: `onetimecopy` belongs to a sync,
//! not a table (1 truncates and copies every table of the relgroup, 2 only
//! tables empty on the target, and the daemon resets it to 0 after the
//! run, Bucardo 5.6.0 `start_kid`), so copying one table with it needs the
//! slave's table emptied first: a write on the slave.
//!
//! The delta tables are shared by every slave's daemon, so each repair
//! transaction also marks its own delta rows as applied for the other
//! slaves (track rows with the transaction's `now()`, which is the
//! txntime the trigger gave them): only the slave that differs gets them.
//! Extra rows (only on the slave) are listed and never deleted.

use serde::Serialize;

use super::chunk::{shown, Key};
use super::report::SlaveReport;
use super::sql::{self, TableSpec};
use crate::actions::Progress;
use crate::bucardo;
use crate::pg::{col, first, Pg, PgError};
use archtui_core::model::Time;

/// Keys per repair transaction.
const BATCH: usize = 1_000;
/// Extra keys listed in a plan.
const EXTRA_LISTED: usize = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// A no-op update of the differing keys.
    Keys,
    /// Every key of the table into its delta table.
    WholeTable,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TablePlan {
    pub table: String,
    pub mode: Mode,
    pub missing: u64,
    pub changed: u64,
    /// Extra rows on the slave: kept, listed.
    pub extra: u64,
    pub extra_keys: Vec<String>,
    #[serde(skip)]
    pub keys: Vec<Key>,
    #[serde(skip)]
    pub spec: Option<TableSpec>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    pub slave: String,
    pub tables: Vec<TablePlan>,
}

impl Plan {
    /// Is there anything to send?
    pub fn sends(&self) -> bool {
        self.tables
            .iter()
            .any(|t| t.mode == Mode::WholeTable || !t.keys.is_empty())
    }
}

/// The repair of what a verify found on one slave. Pure.
pub fn plan(s: &SlaveReport, copy_above: u64) -> Plan {
    let tables = s
        .tables
        .iter()
        .filter(|t| t.differences() > 0)
        .map(|t| {
            let keys: Vec<Key> = t
                .missing
                .all
                .iter()
                .chain(&t.changed.all)
                .cloned()
                .collect();
            let whole = t.incomplete || (keys.len() as u64) > copy_above;
            TablePlan {
                table: t.table.clone(),
                mode: if whole { Mode::WholeTable } else { Mode::Keys },
                missing: t.missing.count,
                changed: t.changed.count,
                extra: t.extra.count,
                extra_keys: t.extra.all.iter().take(EXTRA_LISTED).map(shown).collect(),
                keys,
                spec: t.spec.clone(),
            }
        })
        .collect();
    Plan {
        slave: s.slave.clone(),
        tables,
    }
}

/// The plan for the operator, a line each. Pure.
pub fn lines(p: &Plan) -> Vec<String> {
    let mut out = vec![format!(
        "repair plan for {} (on the master only; nothing is written on {}):",
        p.slave, p.slave
    )];
    for t in &p.tables {
        match t.mode {
            Mode::Keys if !t.keys.is_empty() => out.push(format!(
                "  {}: re-send {} rows ({} missing, {} changed) with a no-op update of their keys on the master",
                t.table,
                t.keys.len(),
                t.missing,
                t.changed
            )),
            Mode::Keys => {}
            Mode::WholeTable => out.push(format!(
                "  {}: re-send the whole table ({}{} missing, {} changed: over the threshold): every key into its delta table; the sync replaces each row on {}",
                t.table,
                if t.missing + t.changed > 0 { "" } else { "differences not all listed; " },
                t.missing,
                t.changed,
                p.slave
            )),
        }
        if t.extra > 0 {
            let more = if t.extra as usize > t.extra_keys.len() {
                format!(" and {} more", t.extra as usize - t.extra_keys.len())
            } else {
                String::new()
            };
            out.push(format!(
                "  {}: {} extra rows on {} are kept, not deleted: {}{more}",
                t.table,
                t.extra,
                p.slave,
                t.extra_keys.join(", ")
            ));
        }
    }
    out
}

/// Why a repair stopped; `table` is the one it was at.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RepairError {
    #[error("{table}: no table description to repair with")]
    NoSpec { table: String },
    #[error("{table}: the other slaves' targets: {source}")]
    OtherTargets { table: String, source: PgError },
    #[error("{table}: {source}")]
    Requeue { table: String, source: PgError },
    #[error("{table}: Bucardo has no delta table for it on the master")]
    NoDelta { table: String },
    #[error(transparent)]
    Pg(#[from] PgError),
    #[error("now() returned nothing")]
    NoTime,
}

impl From<RepairError> for String {
    fn from(e: RepairError) -> String {
        e.to_string()
    }
}

/// Carries the plan out on the master (`target`: the slave's dbgroup as
/// the track tables name it); returns the master's time after the last
/// commit: once the slave's heartbeat has passed it, the rows are there.
pub async fn apply(
    master: &Pg,
    p: &Plan,
    target: &str,
    progress: &Progress,
) -> Result<Time, RepairError> {
    for t in &p.tables {
        let table = || t.table.clone();
        let Some(spec) = &t.spec else {
            return Err(RepairError::NoSpec { table: table() });
        };
        let others: Vec<String> = {
            let q = bucardo::verify::other_targets(spec, target);
            master
                .query(&q.sql, &q.refs())
                .await
                .map_err(|source| RepairError::OtherTargets {
                    table: table(),
                    source,
                })?
                .iter()
                .map(|r| col(r, 0))
                .collect::<Result<_, PgError>>()?
        };
        let mark = if others.is_empty() {
            None
        } else {
            bucardo::verify::track_others(spec, &others)
        };
        match t.mode {
            Mode::Keys => {
                let mut sent = 0;
                for batch in t.keys.chunks(BATCH) {
                    let q = sql::requeue_keys(spec, batch);
                    transaction(master, &q, mark.as_ref())
                        .await
                        .map_err(|source| RepairError::Requeue {
                            table: table(),
                            source,
                        })?;
                    sent += batch.len();
                    let _ = progress.send(format!(
                        "{}: {sent} of {} keys re-queued on the master",
                        t.table,
                        t.keys.len()
                    ));
                }
            }
            Mode::WholeTable => {
                let q = bucardo::verify::requeue_table(spec)
                    .ok_or_else(|| RepairError::NoDelta { table: table() })?;
                transaction(master, &q, mark.as_ref())
                    .await
                    .map_err(|source| RepairError::Requeue {
                        table: table(),
                        source,
                    })?;
                let _ = progress.send(format!(
                    "{}: every key re-queued on the master: the sync sends the whole table again",
                    t.table
                ));
            }
        }
    }
    let rows = master.query("SELECT now()", &[]).await?;
    first::<Time>(&rows)?.ok_or(RepairError::NoTime)
}

/// `q` and the other slaves' track rows, in one transaction.
async fn transaction(
    master: &Pg,
    q: &sql::Query,
    mark: Option<&sql::Query>,
) -> Result<(), PgError> {
    master.execute_batch("BEGIN").await?;
    let work = async {
        master.query(&q.sql, &q.refs()).await?;
        if let Some(m) = mark {
            master.query(&m.sql, &m.refs()).await?;
        }
        master.execute_batch("COMMIT").await
    };
    let r = work.await;
    if r.is_err() {
        let _ = master.execute_batch("ROLLBACK").await;
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::report::TableReport;

    fn report(missing: usize, extra: usize, incomplete: bool) -> SlaveReport {
        let mut t = TableReport {
            table: "public.items".into(),
            incomplete,
            ..Default::default()
        };
        for i in 0..missing {
            t.missing.push(vec![i.to_string()]);
        }
        t.changed.push(vec!["500".into()]);
        for i in 0..extra {
            t.extra.push(vec![format!("9{i}")]);
        }
        let mut s = SlaveReport::new("jukebox", chrono::Utc::now());
        s.tables.push(t);
        s.tables.push(TableReport {
            table: "public.files".into(),
            ..Default::default()
        });
        s.conclude();
        s
    }

    #[test]
    fn few_differences_resend_exactly_their_keys() {
        let p = plan(&report(2, 1, false), 10_000);
        assert_eq!(p.tables.len(), 1, "equal tables need nothing");
        let t = &p.tables[0];
        assert_eq!(t.mode, Mode::Keys);
        assert_eq!(
            t.keys,
            [vec!["0".to_string()], vec!["1".into()], vec!["500".into()]]
        );
        assert!(p.sends());
        let text = lines(&p).join("\n");
        assert!(
            text.contains("public.items: re-send 3 rows (2 missing, 1 changed)"),
            "{text}"
        );
        assert!(
            text.contains("1 extra rows on jukebox are kept, not deleted: 90"),
            "{text}"
        );
        assert!(text.contains("nothing is written on jukebox"), "{text}");
    }

    #[test]
    fn many_differences_resend_the_table() {
        let p = plan(&report(50, 0, false), 10);
        assert_eq!(p.tables[0].mode, Mode::WholeTable);
        let p = plan(&report(1, 0, true), 10_000);
        assert_eq!(p.tables[0].mode, Mode::WholeTable, "not all keys known");
        assert!(lines(&p).join("\n").contains("the whole table"));
    }

    #[test]
    fn extra_rows_alone_send_nothing() {
        let mut s = report(0, 30, false);
        s.tables[0].changed = Default::default();
        let p = plan(&s, 10_000);
        assert!(!p.sends());
        let text = lines(&p).join("\n");
        assert!(
            text.contains("30 extra rows") && text.contains("and 10 more"),
            "{text}"
        );
    }
}
