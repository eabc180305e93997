//! The recheck: every key that looked different or was in flight, looked
//! at again once the slave has caught up, until it settles.

use std::collections::HashMap;

use super::verifier::{keyed, Verifier};
use super::{Stop, VerifyError, BATCH, ROUNDS};
use crate::bucardo;
use crate::verify::chunk::Key;
use crate::verify::report::TableReport;
use crate::verify::settle::{self, Open, Seen, Verdict};
use crate::verify::sql::{self, TableSpec};

impl Verifier {
    /// Looks at every open key again, until each is settled or the looks
    /// run out; what is left is unsettled.
    pub(super) async fn recheck(
        &mut self,
        tables: &mut [(TableSpec, TableReport, HashMap<Key, Open>)],
    ) -> Result<(), Stop> {
        let mut result = Ok(());
        for round in 0..ROUNDS {
            let Some(need) = tables
                .iter()
                .flat_map(|(_, _, o)| o.values().map(|o| o.at))
                .max()
            else {
                break;
            };
            let left: usize = tables.iter().map(|(_, _, o)| o.len()).sum();
            self.say(
                format!(
                    "{}: rechecking {left} keys (look {} of {ROUNDS}) once the slave has caught up to {}",
                    self.name,
                    round + 1,
                    need.format("%H:%M:%S%.3f UTC")
                ),
                true,
            );
            if let Err(e) = self.caught_up(need).await {
                result = Err(e);
                break;
            }
            for (spec, rep, open) in tables.iter_mut() {
                if let Err(e) = self.look(spec, rep, open).await {
                    match self.stop(e) {
                        Stop::Refused(e) | Stop::Lagging(e) => {
                            rep.error = Some(format!("recheck: {e}"));
                        }
                        u @ Stop::Unreachable(_) => return Err(u),
                    }
                }
            }
        }
        for (_, rep, open) in tables.iter_mut() {
            let mut left: Vec<Key> = open.drain().map(|(k, _)| k).collect();
            left.sort();
            for k in left {
                rep.unsettled.push(k);
            }
        }
        match result {
            Err(Stop::Refused(e) | Stop::Lagging(e)) => {
                for (_, rep, _) in tables.iter_mut().filter(|(_, r, _)| r.unsettled.count > 0) {
                    rep.error.get_or_insert_with(|| format!("recheck: {e}"));
                }
                Ok(())
            }
            other => other,
        }
    }

    /// One more look at a table's open keys.
    pub(super) async fn look(
        &self,
        spec: &TableSpec,
        rep: &mut TableReport,
        open: &mut HashMap<Key, Open>,
    ) -> Result<(), VerifyError> {
        let width = spec.key.len();
        let keys: Vec<Key> = open.keys().cloned().collect();
        for batch in keys.chunks(BATCH) {
            let t = self.begin().await?;
            let read = async {
                let pending: Vec<Key> =
                    match bucardo::verify::pending_among(spec, batch, &self.target) {
                        Some(q) => keyed(&self.run(&self.master, &q).await?, width, false)?
                            .into_iter()
                            .map(|(k, _)| k)
                            .collect(),
                        None => Vec::new(),
                    };
                let q = sql::rows_by_keys(spec, batch);
                let (m, s) = tokio::join!(self.run(&self.master, &q), self.run(&self.slave, &q));
                Ok::<_, VerifyError>((pending, keyed(&m?, width, true)?, keyed(&s?, width, true)?))
            };
            let read = read.await;
            self.end().await;
            let (pending, m, s) = read?;
            let m: HashMap<Key, i64> = m.into_iter().collect();
            let s: HashMap<Key, i64> = s.into_iter().collect();
            for k in batch {
                let now = if pending.contains(k) {
                    Seen::Pending
                } else {
                    Seen::of(m.get(k).copied(), s.get(k).copied())
                };
                let Some(before) = open.get(k).map(|o| o.seen) else {
                    continue;
                };
                match settle::settle(before, now) {
                    Verdict::Resolved => {
                        open.remove(k);
                    }
                    Verdict::Confirmed(kind) => {
                        open.remove(k);
                        rep.keys_mut(kind).push(k.clone());
                    }
                    Verdict::Again => {
                        open.insert(k.clone(), Open { at: t, seen: now });
                    }
                }
            }
        }
        Ok(())
    }
}
