//! One table compared chunk by chunk, and a differing range bisected
//! down to its rows.

use std::collections::HashMap;
use std::time::Duration;

use super::verifier::{int_of, int_row, keyed, End, Verifier};
use super::{Stop, VerifyError, LEAF, MAX_DIFFS, MAX_PENDING};
use crate::bucardo;
use crate::pg::first;
use crate::verify::chunk::{self, Digest, Key, Range};
use crate::verify::report::TableReport;
use crate::verify::settle::{self, Open, Seen};
use crate::verify::sql::{self, TableSpec};
use archtui_core::model::Time;

impl Verifier {
    /// Just before the first key past `after` on either side, or `top`
    /// when neither has one: where the next range starts.
    pub(super) async fn before_next(
        &self,
        spec: &TableSpec,
        after: &Key,
        top: Option<i64>,
    ) -> Result<Key, VerifyError> {
        let past = Range {
            lo: Some(after.clone()),
            hi: None,
        };
        let q = sql::key_at(spec, &past, 0);
        let (m, s) = tokio::join!(self.run(&self.master, &q), self.run(&self.slave, &q));
        let next = match (int_row(&m?)?, int_row(&s?)?) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let at = match (next, top) {
            (Some(n), _) => n.saturating_sub(1),
            (None, Some(top)) => top,
            (None, None) => return Ok(after.clone()),
        };
        // Never backwards: the range already compared stays compared.
        let after_int = int_of(after).unwrap_or(i64::MIN);
        Ok(vec![at.max(after_int).to_string()])
    }

    /// One table, chunk by chunk; returns the keys to settle.
    pub(super) async fn scan(
        &mut self,
        spec: &TableSpec,
        rep: &mut TableReport,
    ) -> Result<HashMap<Key, Open>, Stop> {
        let estimate = self
            .master
            .query(sql::ESTIMATE, &[&sql::qualified(spec)])
            .await
            .ok()
            .and_then(|r| first::<i64>(&r).ok().flatten())
            .unwrap_or(0);
        let mut open = HashMap::new();
        let mut lo: Option<Key> = None;
        let mut size = chunk::FIRST_CHUNK;
        // A key of one integer column: after the first chunk, each chunk is
        // a range of key values, so finding its end costs no scan (the
        // master read every chunk twice, for its end, then its digest).
        // Past the largest key either side had at the start, the last chunk
        // is open-ended, as before.
        let top = if spec.integer_key() {
            self.top_key(spec).await.map_err(|e| self.stop(e))?
        } else {
            None
        };
        let mut span = chunk::FIRST_CHUNK;
        loop {
            self.pause_if_lagging().await?;
            let end = match (top, lo.as_ref().and_then(int_of)) {
                (Some(top), Some(at)) => {
                    let hi = at.saturating_add(span);
                    End::Key((hi < top).then(|| vec![hi.to_string()]))
                }
                _ => End::Rows(size),
            };
            let keyed_range = matches!(end, End::Key(_));
            let t = self.begin().await.map_err(|e| self.stop(e))?;
            let done = self.chunk(spec, &lo, end, t, rep, &mut open).await;
            self.end().await;
            let (hi, rows, took) = done.map_err(|e| self.stop(e))?;
            if keyed_range {
                span = chunk::next_span(rows, span, took);
            } else {
                size = chunk::next_size(rows, size, took);
                span = size;
            }
            // A gap in the keys is jumped, not walked.
            let hi = match hi {
                Some(h) if keyed_range && rows == 0 => Some(
                    self.before_next(spec, &h, top)
                        .await
                        .map_err(|e| self.stop(e))?,
                ),
                h => h,
            };
            let next = if top.is_some() && lo.is_some() {
                format!("{span} keys")
            } else {
                format!("{size} rows")
            };
            let line = progress_line(&self.name, rep, estimate, &next, open.len());
            self.say(line, hi.is_none());
            match hi {
                Some(h) => lo = Some(h),
                None => return Ok(open),
            }
        }
    }

    /// One chunk from `lo`, in the open snapshots: its end, its rows on
    /// the master and the slower side's time.
    pub(super) async fn chunk(
        &self,
        spec: &TableSpec,
        lo: &Option<Key>,
        end: End,
        t: Time,
        rep: &mut TableReport,
        open: &mut HashMap<Key, Open>,
    ) -> Result<(Option<Key>, i64, Duration), VerifyError> {
        let hi = match end {
            End::Key(hi) => hi,
            End::Rows(size) => {
                let from = Range {
                    lo: lo.clone(),
                    hi: None,
                };
                let end = self
                    .run(&self.master, &sql::key_at(spec, &from, size - 1))
                    .await?;
                keyed(&end, spec.key.len(), false)?.pop().map(|(k, _)| k)
            }
        };
        let range = Range {
            lo: lo.clone(),
            hi: hi.clone(),
        };
        let txntimes: Vec<String> =
            match bucardo::verify::pending_txntimes(spec, &self.target, MAX_PENDING + 1) {
                Some(q) => keyed(&self.run(&self.master, &q).await?, 1, false)?
                    .into_iter()
                    .filter_map(|(k, _)| k.into_iter().next())
                    .collect(),
                None => Vec::new(),
            };
        if txntimes.len() as i64 > MAX_PENDING {
            return Err(VerifyError::PendingTransactions {
                max: MAX_PENDING,
                name: self.name.clone(),
            });
        }
        let pending: Vec<Key> = match bucardo::verify::pending_in_range(spec, &range, &txntimes) {
            Some(q) if !txntimes.is_empty() => {
                keyed(&self.run(&self.master, &q).await?, spec.key.len(), false)?
                    .into_iter()
                    .map(|(k, _)| k)
                    .collect()
            }
            _ => Vec::new(),
        };
        if pending.len() as i64 > MAX_PENDING {
            return Err(VerifyError::PendingChanges {
                max: MAX_PENDING,
                name: self.name.clone(),
            });
        }
        let (m, s, took) = self.digests(&sql::digest(spec, &range, &pending)).await?;
        rep.rows += m.rows;
        rep.chunks += 1;
        for k in &pending {
            open.insert(
                k.clone(),
                Open {
                    at: t,
                    seen: Seen::Pending,
                },
            );
        }
        if m != s {
            self.bisect(spec, range, (m, s), &pending, t, rep, open)
                .await?;
        }
        Ok((hi, m.rows, took))
    }

    /// Narrows a differing range down to its differing rows.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn bisect(
        &self,
        spec: &TableSpec,
        range: Range,
        digests: (Digest, Digest),
        pending: &[Key],
        t: Time,
        rep: &mut TableReport,
        open: &mut HashMap<Key, Open>,
    ) -> Result<(), VerifyError> {
        let width = spec.key.len();
        let mut stack = vec![(range, digests.0, digests.1)];
        while let Some((r, m, s)) = stack.pop() {
            if m == s {
                continue;
            }
            let found = open.values().filter(|o| o.seen != Seen::Pending).count();
            if found >= MAX_DIFFS {
                rep.incomplete = true;
                continue;
            }
            let one_sided = m.rows == 0 || s.rows == 0;
            if !one_sided && (m.rows > LEAF || s.rows > LEAF) {
                let (side, n) = if m.rows >= s.rows {
                    (&self.master, m.rows)
                } else {
                    (&self.slave, s.rows)
                };
                let mid = self.run(side, &sql::key_at(spec, &r, n / 2 - 1)).await?;
                let mid = keyed(&mid, width, false)?.pop().map(|(k, _)| k);
                if let Some(mid) = mid.filter(|k| Some(k) != r.hi.as_ref()) {
                    let (a, b) = r.split_at(mid);
                    let (am, asl, _) = self.digests(&sql::digest(spec, &a, pending)).await?;
                    stack.push((b, m - am, s - asl));
                    stack.push((a, am, asl));
                    continue;
                }
            }
            // Row by row: both sides' rows, or the one side that has any.
            let limit = (MAX_DIFFS - found) as i64 + 1;
            let q = sql::rows(spec, &r, pending, limit);
            let (rm, rs) = match (m.rows, s.rows) {
                (0, _) => (Vec::new(), self.run(&self.slave, &q).await?),
                (_, 0) => (self.run(&self.master, &q).await?, Vec::new()),
                _ => {
                    let (a, b) =
                        tokio::join!(self.run(&self.master, &q), self.run(&self.slave, &q));
                    (a?, b?)
                }
            };
            let (rm, rs) = (keyed(&rm, width, true)?, keyed(&rs, width, true)?);
            if rm.len() as i64 >= limit || rs.len() as i64 >= limit {
                rep.incomplete = true;
            }
            for (k, seen) in settle::compare_rows(&rm, &rs) {
                open.insert(k, Open { at: t, seen });
            }
        }
        Ok(())
    }
}

/// A table's progress: rows so far (of the planner's estimate, when it has
/// one), chunks, the next chunk's size and the keys left to recheck.
fn progress_line(name: &str, rep: &TableReport, estimate: i64, next: &str, open: usize) -> String {
    let pct = if estimate > 0 {
        format!(
            " of ~{estimate} ({}%)",
            (rep.rows * 100 / estimate).min(100)
        )
    } else {
        String::new()
    };
    format!(
        "{name}: {}: {} rows{pct}, {} chunks, next {next}; {open} keys to recheck",
        rep.table, rep.rows, rep.chunks
    )
}
