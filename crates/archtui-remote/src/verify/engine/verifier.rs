//! The verify of one slave as a value: its two sessions, what it has said,
//! and the steps every comparison is built of (snapshots, digests, the
//! table's spec, the lag pause, the catch-up wait).

use std::time::{Duration, Instant};

use super::{wait_heartbeat, Limits, Stop, VerifyError, LAG_EVERY, PROGRESS_EVERY};
use crate::actions::Progress;
use crate::bucardo;
use crate::pg::{col, first, Pg, PgError};
use crate::verify::chunk::{self, Digest, Key, Range};
use crate::verify::sql::{self, Column, Query, TableSpec};
use archtui_core::model::Time;

pub(super) struct Verifier {
    pub(super) master: Pg,
    pub(super) slave: Pg,
    /// `dbgroup <slave>_grp`: the track tables' name for this slave.
    pub(super) target: String,
    pub(super) sync: String,
    pub(super) name: String,
    pub(super) heartbeat: String,
    pub(super) limits: Limits,
    pub(super) progress: Progress,
    pub(super) lag_checked: Option<Instant>,
    pub(super) said: Option<Instant>,
}

/// Where a chunk ends: after so many rows (found with one scan of the
/// master's key index), or at a key value (integer keys).
pub(super) enum End {
    Rows(i64),
    /// `None`: open-ended, to the table's end.
    Key(Option<Key>),
}

/// The value of a key of one integer column.
pub(super) fn int_of(k: &Key) -> Option<i64> {
    match k.as_slice() {
        [one] => one.parse().ok(),
        _ => None,
    }
}

/// The integer key a one-row key query found, if any.
pub(super) fn int_row(rows: &[tokio_postgres::Row]) -> Result<Option<i64>, PgError> {
    Ok(keyed(rows, 1, false)?.pop().and_then(|(k, _)| int_of(&k)))
}

/// A query's rows as keys (the first `width` columns) and, when `hash`,
/// the row hash after them.
pub(super) fn keyed(
    rows: &[tokio_postgres::Row],
    width: usize,
    hash: bool,
) -> Result<Vec<(Key, i64)>, PgError> {
    rows.iter()
        .map(|r| {
            let key = (0..width)
                .map(|i| col::<Option<String>, _>(r, i).map(Option::unwrap_or_default))
                .collect::<Result<Key, PgError>>()?;
            let h = if hash { col::<i64, _>(r, width)? } else { 0 };
            Ok((key, h))
        })
        .collect()
}

impl Verifier {
    pub(super) fn say(&mut self, line: String, force: bool) {
        if force || self.said.is_none_or(|t| t.elapsed() >= PROGRESS_EVERY) {
            self.said = Some(Instant::now());
            let _ = self.progress.send(line);
        }
    }

    /// A failed query: the slave or master gone is the end of this slave's
    /// verify; anything else (a timeout, a type error) ends the table.
    pub(super) fn stop(&self, e: impl std::fmt::Display) -> Stop {
        if self.master.is_closed() {
            Stop::Unreachable(format!("master: {e}"))
        } else if self.slave.is_closed() {
            Stop::Unreachable(format!("{}: {e}", self.name))
        } else {
            Stop::Refused(e.to_string())
        }
    }

    pub(super) async fn run(
        &self,
        pg: &Pg,
        q: &Query,
    ) -> Result<Vec<tokio_postgres::Row>, PgError> {
        pg.query(&q.sql, &q.refs()).await
    }

    /// The table's key, columns and delta tables, from the master; the
    /// slave must have the same columns (in any order).
    pub(super) async fn spec(&self, schema: &str, table: &str) -> Result<TableSpec, VerifyError> {
        let qualified = format!("{}.{}", crate::pg::ident(schema), crate::pg::ident(table));
        let columns = |rows: Vec<tokio_postgres::Row>| -> Result<Vec<Column>, PgError> {
            rows.iter()
                .map(|r| {
                    Ok(Column {
                        name: col(r, 0)?,
                        ty: col(r, 1)?,
                    })
                })
                .collect()
        };
        let p: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&qualified];
        let (m, s, k) = tokio::join!(
            self.master.query(sql::COLUMNS, &p),
            self.slave.query(sql::COLUMNS, &p),
            self.master.query(sql::PRIMARY_KEY, &p)
        );
        let (m, s, key) = (columns(m?)?, columns(s?)?, columns(k?)?);
        if m.is_empty() {
            return Err(VerifyError::NoMasterTable);
        }
        if s.is_empty() {
            return Err(VerifyError::NoSlaveTable(self.name.clone()));
        }
        if key.is_empty() {
            return Err(VerifyError::NoPrimaryKey);
        }
        let mut ms: Vec<&Column> = m.iter().collect();
        let mut ss: Vec<&Column> = s.iter().collect();
        ms.sort_by(|a, b| a.name.cmp(&b.name));
        ss.sort_by(|a, b| a.name.cmp(&b.name));
        if ms != ss {
            let show = |v: &[&Column]| {
                v.iter()
                    .map(|c| format!("{} {}", c.name, c.ty))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            return Err(VerifyError::ColumnsDiffer {
                master: show(&ms),
                name: self.name.clone(),
                slave: show(&ss),
            });
        }
        let plain = format!("{schema}.{table}");
        let names = self
            .master
            .query(
                bucardo::verify::DELTA_NAMES,
                &[&self.sync, &plain, &qualified],
            )
            .await?;
        let delta = match names.first() {
            Some(r) => Some((col(r, 0)?, col(r, 1)?)),
            None => None,
        };
        Ok(TableSpec {
            schema: schema.to_string(),
            name: table.to_string(),
            key,
            columns: m,
            delta,
        })
    }

    /// Both snapshots, the slave's first; the master's time.
    pub(super) async fn begin(&self) -> Result<Time, VerifyError> {
        self.slave
            .execute_batch(&format!("{}; SELECT 1", sql::BEGIN))
            .await?;
        self.master.execute_batch(sql::BEGIN).await?;
        let rows = self.master.query("SELECT now()", &[]).await?;
        first::<Time>(&rows)?.ok_or(VerifyError::NoTime)
    }

    pub(super) async fn end(&self) {
        let _ = tokio::join!(
            self.slave.execute_batch("ROLLBACK"),
            self.master.execute_batch("ROLLBACK")
        );
    }

    /// Pauses while the slave's lag (from the master's delta and track
    /// tables) is at or over the warning threshold; gives up past
    /// `max_pause`.
    pub(super) async fn pause_if_lagging(&mut self) -> Result<(), Stop> {
        if self.lag_checked.is_some_and(|t| t.elapsed() < LAG_EVERY) {
            return Ok(());
        }
        let since = Instant::now();
        loop {
            let p = bucardo::pending(
                &self.master,
                &self.sync,
                &format!("{}_grp", self.name),
                &self.heartbeat,
            )
            .await
            .map_err(|e| self.stop(format!("the lag of {}: {e}", self.sync)))?;
            self.lag_checked = Some(Instant::now());
            let lag = p.map_or(0.0, |p| p.lag_seconds);
            if lag < self.limits.lag_warning_secs {
                return Ok(());
            }
            if since.elapsed() >= self.limits.max_pause {
                return Err(Stop::Lagging(format!(
                    "{}'s lag stayed at or over {} s for {} s (now {lag:.0} s): verify needs a slave that keeps up; see archtui status",
                    self.name,
                    self.limits.lag_warning_secs,
                    self.limits.max_pause.as_secs()
                )));
            }
            self.say(
                format!(
                    "{}: paused: lag {lag:.0} s >= {} s (warning threshold); waiting",
                    self.name, self.limits.lag_warning_secs
                ),
                false,
            );
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    }

    pub(super) async fn digest(
        &self,
        pg: &Pg,
        q: &Query,
    ) -> Result<(Digest, Duration), VerifyError> {
        let start = Instant::now();
        let rows = self.run(pg, q).await?;
        let r = rows.first().ok_or(VerifyError::NoDigest)?;
        let d = Digest {
            rows: col(r, 0)?,
            sum: chunk::parse_sum(&col::<String, _>(r, 1)?)?,
        };
        Ok((d, start.elapsed()))
    }

    /// Both sides' digests of a range, at once.
    pub(super) async fn digests(
        &self,
        q: &Query,
    ) -> Result<(Digest, Digest, Duration), VerifyError> {
        let (m, s) = tokio::join!(self.digest(&self.master, q), self.digest(&self.slave, q));
        let ((m, tm), (s, ts)) = (m?, s?);
        Ok((m, s, tm.max(ts)))
    }

    /// The largest key on either side (a key of one integer column).
    pub(super) async fn top_key(&self, spec: &TableSpec) -> Result<Option<i64>, VerifyError> {
        let q = sql::last_key(spec, &Range { lo: None, hi: None });
        let (m, s) = tokio::join!(self.run(&self.master, &q), self.run(&self.slave, &q));
        Ok(int_row(&m?)?.max(int_row(&s?)?))
    }

    /// Waits until the slave has caught up to `at` (see `wait_heartbeat`).
    pub(super) async fn caught_up(&self, at: Time) -> Result<(), Stop> {
        match wait_heartbeat(
            &self.slave,
            &self.name,
            &self.heartbeat,
            at,
            self.limits.catch_up,
        )
        .await
        {
            Ok(()) => Ok(()),
            Err(e) if self.slave.is_closed() => Err(Stop::Unreachable(e.to_string())),
            Err(e) => Err(Stop::Refused(e.to_string())),
        }
    }
}
