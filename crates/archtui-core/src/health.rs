//! Bucardo's own slow failures, from what the hosts report: delta and
//! track tables that grow (their rows are purged only once every slave
//! has applied them), conflicts on a sync that has one source, sequences
//! a slave would need before it takes writes, and a one-time copy under
//! way. Pure: the reads come in the observations, `now` is passed in.

use std::collections::VecDeque;

use serde::Serialize;

use crate::config::Thresholds;
use crate::model::Time;
use crate::verdict::{Finding, Level};

/// What one host said about Bucardo's health (raw, before judging).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct HealthRead {
    /// The master: Bucardo's delta and track tables, per replicated table.
    pub delta: Vec<DeltaRead>,
    /// Every host: the serial sequences of its tables' keys.
    pub sequences: Vec<SeqRead>,
    /// The master: its row estimate per table (for a copy's progress).
    pub estimates: Vec<(String, i64)>,
    /// A slave: conflicts Bucardo counted, per sync.
    pub conflicts: Vec<ConflictRead>,
    /// A slave: each sync's `onetimecopy` setting.
    pub onetimecopy: Vec<(String, i16)>,
    /// A slave: the COPY under way into its database, and its rows so far.
    pub copy: Option<(String, i64)>,
    /// What could not be read (the rest still is).
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DeltaRead {
    /// The replicated table, as `bucardo_delta_names` names it.
    pub table: String,
    pub delta_rows: i64,
    pub delta_bytes: i64,
    pub track_rows: i64,
    pub track_bytes: i64,
    /// Over the link's recent readings; None until there are enough.
    pub growth: Option<Growth>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
pub struct Growth {
    pub rows_per_hour: f64,
    /// Over how long it was measured.
    pub window_secs: f64,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SeqRead {
    pub table: String,
    pub column: String,
    pub sequence: String,
    /// What `nextval` would give now.
    pub next: Option<i64>,
    /// The table's largest key.
    pub max: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ConflictRead {
    pub sync: String,
    /// Over the runs `bucardo.syncrun` keeps.
    pub total: i64,
    /// Tables named by the daemon's `Conflicts for <table>: N` log lines.
    pub tables: Vec<String>,
}

/// Readings a link keeps to measure growth: (time, rows per table).
#[derive(Debug, Clone, Default)]
pub struct History {
    readings: VecDeque<(Time, Vec<(String, i64)>)>,
}

/// Growth needs readings at least this far apart.
pub const MIN_WINDOW_SECS: f64 = 60.0;

impl History {
    /// Adds `now`'s reading and returns each table's growth over the
    /// readings of the last `window_secs` (the oldest of them against now).
    pub fn observe(
        &mut self,
        now: Time,
        rows: &[(String, i64)],
        window_secs: f64,
    ) -> Vec<Option<Growth>> {
        while self
            .readings
            .front()
            .is_some_and(|(t, _)| secs(now, *t) > window_secs)
        {
            self.readings.pop_front();
        }
        let out = rows
            .iter()
            .map(|(table, n)| {
                let (then, old) = self.readings.front()?;
                let window = secs(now, *then);
                if window < MIN_WINDOW_SECS {
                    return None;
                }
                let before = old.iter().find(|(t, _)| t == table)?.1;
                Some(Growth {
                    rows_per_hour: (n - before) as f64 * 3600.0 / window,
                    window_secs: window,
                })
            })
            .collect();
        self.readings.push_back((now, rows.to_vec()));
        // Bounded whatever the clock does.
        while self.readings.len() > 1000 {
            self.readings.pop_front();
        }
        out
    }
}

fn secs(a: Time, b: Time) -> f64 {
    (a - b).num_milliseconds() as f64 / 1000.0
}

// ------------------------------------------------------------ the status

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Health {
    /// The master's delta and track tables.
    pub delta_tables: Vec<DeltaStatus>,
    pub slaves: Vec<SlaveHealth>,
    /// What the master's part could not read.
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeltaStatus {
    pub table: String,
    pub delta_rows: i64,
    pub delta_bytes: i64,
    pub track_rows: i64,
    pub track_bytes: i64,
    /// Net change of the delta rows per hour, over `growth_window_secs`.
    pub growth_rows_per_hour: Option<f64>,
    pub growth_window_secs: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SlaveHealth {
    pub slave: String,
    /// Could this slave take writes as it is (its key sequences ahead of
    /// its keys)? None when not measured.
    pub ready_to_take_over: Option<bool>,
    pub reason: Option<String>,
    pub sequences: Vec<SequenceStatus>,
    pub conflicts: Vec<ConflictStatus>,
    /// A one-time copy under way or asked for, as a line; None: none.
    pub copy: Option<String>,
    /// What could not be read on this slave.
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SequenceStatus {
    pub table: String,
    pub column: String,
    pub sequence: String,
    pub master_next: Option<i64>,
    pub slave_next: Option<i64>,
    pub slave_max: Option<i64>,
    /// master_next - slave_next
    pub drift: Option<i64>,
    /// slave_next > slave_max (or the table is empty)
    pub ready: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConflictStatus {
    pub sync: String,
    pub total: i64,
    pub tables: Vec<String>,
}

/// One slave's readiness: every key sequence ahead of its table's keys.
pub fn readiness(
    master: &[SeqRead],
    slave: &[SeqRead],
) -> (Option<bool>, Option<String>, Vec<SequenceStatus>) {
    if slave.is_empty() {
        return (
            None,
            Some("no key sequences read on this slave".into()),
            Vec::new(),
        );
    }
    let seqs: Vec<SequenceStatus> = slave
        .iter()
        .map(|s| {
            let m = master
                .iter()
                .find(|m| m.table == s.table && m.column == s.column);
            let master_next = m.and_then(|m| m.next);
            SequenceStatus {
                table: s.table.clone(),
                column: s.column.clone(),
                sequence: s.sequence.clone(),
                master_next,
                slave_next: s.next,
                slave_max: s.max,
                drift: master_next.zip(s.next).map(|(m, s)| m - s),
                ready: match (s.next, s.max) {
                    (_, None) => true,
                    (Some(n), Some(max)) => n > max,
                    (None, Some(_)) => false,
                },
            }
        })
        .collect();
    let behind: Vec<String> = seqs
        .iter()
        .filter(|s| !s.ready)
        .map(|s| {
            format!(
                "{}: next {} {} <= max {}",
                s.table,
                s.column,
                s.slave_next.map_or("?".into(), |n| n.to_string()),
                s.slave_max.map_or("?".into(), |n| n.to_string())
            )
        })
        .collect();
    if behind.is_empty() {
        (Some(true), None, seqs)
    } else {
        let reason = format!(
            "{} (Bucardo does not replicate sequences here: setval each to its max + 1 before this slave takes writes)",
            behind.join("; ")
        );
        (Some(false), Some(reason), seqs)
    }
}

/// The one-time copy as a line: the COPY under way (rows against the
/// master's estimate), or a copy the sync still has to run.
pub fn copy_line(read: &HealthRead, estimates: &[(String, i64)]) -> Option<String> {
    if let Some((table, done)) = &read.copy {
        let estimate = estimates
            .iter()
            .find(|(t, _)| {
                t == table || table.ends_with(&format!(".{t}")) || t.ends_with(&format!(".{table}"))
            })
            .map(|(_, n)| *n);
        return Some(crate::wizard::checks::copy_progress(table, *done, estimate));
    }
    read.onetimecopy
        .iter()
        .find(|(_, o)| *o != 0)
        .map(|(sync, o)| {
            let what = if *o == 1 { "every table" } else { "empty tables" };
            format!("one-time copy asked for ({what}): onetimecopy={o} on sync {sync}, runs at its next run")
        })
}

/// The master's delta tables, as the status shows them.
pub fn delta_status(read: &[DeltaRead]) -> Vec<DeltaStatus> {
    read.iter()
        .map(|d| DeltaStatus {
            table: d.table.clone(),
            delta_rows: d.delta_rows,
            delta_bytes: d.delta_bytes,
            track_rows: d.track_rows,
            track_bytes: d.track_bytes,
            growth_rows_per_hour: d.growth.map(|g| g.rows_per_hour),
            growth_window_secs: d.growth.map(|g| g.window_secs),
        })
        .collect()
}

/// Bytes for the operator: 812 B, 40 kB, 3.1 MB, 2.0 GB.
pub fn bytes(n: i64) -> String {
    let n = n.max(0) as f64;
    match n {
        n if n < 1e3 => format!("{n:.0} B"),
        n if n < 1e6 => format!("{:.0} kB", n / 1e3),
        n if n < 1e9 => format!("{:.1} MB", n / 1e6),
        n => format!("{:.1} GB", n / 1e9),
    }
}

/// One delta table in a line.
pub fn delta_line(d: &DeltaStatus) -> String {
    let growth = match (d.growth_rows_per_hour, d.growth_window_secs) {
        (Some(g), Some(w)) => format!(", {g:+.0} rows/h over {w:.0} s"),
        _ => String::new(),
    };
    format!(
        "{}: delta {} rows ({}), track {} rows ({}){growth}",
        d.table,
        d.delta_rows,
        bytes(d.delta_bytes),
        d.track_rows,
        bytes(d.track_bytes)
    )
}

/// One slave's health in a line: ready to take over, conflicts, copy.
pub fn slave_line(s: &SlaveHealth) -> String {
    let ready = match s.ready_to_take_over {
        Some(true) => "yes".to_string(),
        Some(false) => format!("no ({})", s.reason.as_deref().unwrap_or("?")),
        None => format!(
            "unknown ({})",
            s.reason.as_deref().unwrap_or("not measured")
        ),
    };
    let mut line = format!("{}: ready to take over: {ready}", s.slave);
    let conflicts: i64 = s.conflicts.iter().map(|c| c.total).sum();
    if conflicts > 0 {
        line.push_str(&format!("; {conflicts} conflicts"));
    }
    if let Some(c) = &s.copy {
        line.push_str(&format!("; {c}"));
    }
    if let Some(e) = &s.error {
        line.push_str(&format!("; not read: {e}"));
    }
    line
}

/// What the console shows under the syncs: the delta tables that hold
/// rows, and each slave whose health was measured. Pure.
pub fn console_lines(h: &Health) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    let held: Vec<String> = h
        .delta_tables
        .iter()
        .filter(|d| d.delta_rows > 0)
        .map(|d| {
            let g = d
                .growth_rows_per_hour
                .map(|g| format!(", {g:+.0}/h"))
                .unwrap_or_default();
            format!(
                "{} {} rows ({}{g})",
                d.table,
                d.delta_rows,
                bytes(d.delta_bytes)
            )
        })
        .collect();
    if !held.is_empty() {
        out.push((format!("bucardo delta: {}", held.join(", ")), false));
    }
    for s in &h.slaves {
        let conflicts = s.conflicts.iter().any(|c| c.total > 0);
        if s.ready_to_take_over.is_some() || conflicts || s.copy.is_some() {
            out.push((slave_line(s), conflicts));
        }
    }
    out
}

/// What is worth a verdict: growth over the threshold is a warning; a
/// conflict on these syncs (one source each, by the stack's design) means
/// writes reached a slave or a second source joined: critical.
pub fn findings(h: &Health, t: &Thresholds) -> Vec<Finding> {
    let mut out = Vec::new();
    for d in &h.delta_tables {
        if let Some(g) = d
            .growth_rows_per_hour
            .filter(|g| *g >= t.delta_growth_warning_rows_per_hour)
        {
            out.push(Finding {
                level: Level::Warning,
                message: format!(
                    "bucardo delta table of {}: {} rows, growing {:.0} rows/h over {:.0} s (>= {}): a slave that never applies its changes keeps every delta row; see archtui status and retire a dead slave",
                    d.table,
                    d.delta_rows,
                    g,
                    d.growth_window_secs.unwrap_or(0.0),
                    t.delta_growth_warning_rows_per_hour
                ),
            });
        }
    }
    for s in &h.slaves {
        for c in s.conflicts.iter().filter(|c| c.total > 0) {
            let tables = if c.tables.is_empty() {
                "table not named in the daemon's recent log".to_string()
            } else {
                format!("table {}", c.tables.join(", "))
            };
            out.push(Finding {
                level: Level::Critical,
                message: format!(
                    "sync {}: {} conflicts on a one-way sync ({tables}): something wrote on {} or a second source joined its dbgroup; run archtui verify {}",
                    c.sync, c.total, s.slave, s.slave
                ),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(s: i64) -> Time {
        chrono::Utc.timestamp_opt(1_700_000_000 + s, 0).unwrap()
    }

    #[test]
    fn growth_is_measured_over_the_window() {
        let mut h = History::default();
        let r = |n| vec![("public.items".to_string(), n)];
        assert_eq!(h.observe(at(0), &r(100), 600.0), [None]);
        assert_eq!(h.observe(at(30), &r(200), 600.0), [None], "too soon");
        let g = h.observe(at(120), &r(1100), 600.0)[0].unwrap();
        assert_eq!((g.rows_per_hour, g.window_secs), (30_000.0, 120.0));
        // Readings older than the window are dropped.
        let g = h.observe(at(700), &r(1100), 600.0)[0].unwrap();
        assert_eq!((g.window_secs, g.rows_per_hour), (580.0, 0.0));
        // A table the old reading lacks has no growth yet.
        assert_eq!(h.observe(at(800), &[("new".into(), 5)], 600.0), [None]);
    }

    fn seq(table: &str, next: Option<i64>, max: Option<i64>) -> SeqRead {
        SeqRead {
            table: table.into(),
            column: "id".into(),
            sequence: format!("public.{table}_id_seq"),
            next,
            max,
        }
    }

    #[test]
    fn a_slave_is_ready_when_its_sequences_are_ahead_of_its_keys() {
        let master = [
            seq("items", Some(1001), Some(1000)),
            seq("files", Some(11), Some(10)),
        ];
        let slave = [
            seq("items", Some(1), Some(1000)),
            seq("files", Some(11), Some(10)),
        ];
        let (ready, why, seqs) = readiness(&master, &slave);
        assert_eq!(ready, Some(false));
        let why = why.unwrap();
        assert!(why.starts_with("items: next id 1 <= max 1000"), "{why}");
        assert!(why.contains("setval"), "{why}");
        assert_eq!(seqs[0].drift, Some(1000));
        assert!(seqs[1].ready);
        let ok = [
            seq("items", Some(1001), Some(1000)),
            seq("empty", Some(1), None),
        ];
        assert_eq!(readiness(&master, &ok).0, Some(true));
        assert_eq!(readiness(&master, &[]).0, None);
    }

    #[test]
    fn the_copy_shows_its_progress_or_that_it_is_asked_for() {
        let mut r = HealthRead {
            copy: Some(("public.items".into(), 250)),
            ..Default::default()
        };
        let e = [("public.items".to_string(), 1000)];
        assert_eq!(
            copy_line(&r, &e).unwrap(),
            "initial copy: public.items 250 of ~1,000 rows (25%)"
        );
        r.copy = None;
        assert_eq!(copy_line(&r, &e), None);
        r.onetimecopy = vec![("archive_j".into(), 2)];
        assert!(copy_line(&r, &e)
            .unwrap()
            .contains("onetimecopy=2 on sync archive_j"));
    }

    #[test]
    fn growth_warns_and_conflicts_are_critical_naming_the_table() {
        let t = Thresholds::default();
        let mut h = Health::default();
        h.delta_tables.push(DeltaStatus {
            table: "public.items".into(),
            delta_rows: 900_000,
            delta_bytes: 1,
            track_rows: 0,
            track_bytes: 0,
            growth_rows_per_hour: Some(t.delta_growth_warning_rows_per_hour),
            growth_window_secs: Some(600.0),
        });
        h.slaves.push(SlaveHealth {
            slave: "jukebox".into(),
            ready_to_take_over: Some(true),
            reason: None,
            sequences: Vec::new(),
            conflicts: vec![ConflictStatus {
                sync: "archive_jukebox".into(),
                total: 3,
                tables: vec!["public.items".into()],
            }],
            copy: None,
            error: None,
        });
        let f = findings(&h, &t);
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].level, Level::Warning);
        assert!(
            f[0].message.contains("public.items") && f[0].message.contains("growing"),
            "{}",
            f[0].message
        );
        assert_eq!(f[1].level, Level::Critical);
        assert!(
            f[1].message
                .contains("3 conflicts on a one-way sync (table public.items)"),
            "{}",
            f[1].message
        );
        let lines = console_lines(&h);
        assert_eq!(
            lines[0].0,
            "bucardo delta: public.items 900000 rows (1 B, +50000/h)"
        );
        assert_eq!(
            lines[1],
            (
                "jukebox: ready to take over: yes; 3 conflicts".to_string(),
                true
            )
        );
        assert_eq!(bytes(40_960), "41 kB");
        h.delta_tables[0].growth_rows_per_hour = Some(t.delta_growth_warning_rows_per_hour - 1.0);
        h.slaves[0].conflicts[0].total = 0;
        assert!(findings(&h, &t).is_empty());
    }
}
