//! What a verify found, per slave and table: the `--json` document
//! (docs/verify-json.md), its text form and its exit code. Pure.

use serde::Serialize;

use super::chunk::{shown, Key};
use super::settle::Kind;
use crate::model::Time;

/// Keys listed per kind and table; the counts are always complete.
pub const LIST_CAP: usize = 100;
/// Keys listed per kind in the text report.
pub const TEXT_CAP: usize = 10;

/// Keys of one kind in one table.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Keys {
    pub count: u64,
    /// The first `LIST_CAP`, in the order found.
    pub keys: Vec<String>,
    /// More than are listed.
    pub truncated: bool,
    /// Every one, for a repair; never serialized.
    #[serde(skip)]
    pub all: Vec<Key>,
}

impl Keys {
    pub fn push(&mut self, key: Key) {
        self.count += 1;
        if self.keys.len() < LIST_CAP {
            self.keys.push(shown(&key));
        } else {
            self.truncated = true;
        }
        self.all.push(key);
    }

    /// Puts the keys in key order (numbers as numbers), the listing too.
    pub fn sort(&mut self) {
        self.all.sort_by(natural);
        self.keys = self.all.iter().take(LIST_CAP).map(shown).collect();
    }
}

/// Key order for the operator: a column that reads as an integer on both
/// sides compares as one (`9` before `10`), anything else as text.
fn natural(a: &Key, b: &Key) -> std::cmp::Ordering {
    for (x, y) in a.iter().zip(b) {
        let o = match (x.parse::<i128>(), y.parse::<i128>()) {
            (Ok(x), Ok(y)) => x.cmp(&y),
            _ => x.cmp(y),
        };
        if o != std::cmp::Ordering::Equal {
            return o;
        }
    }
    a.len().cmp(&b.len())
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TableReport {
    /// schema.table
    pub table: String,
    pub key_columns: Vec<String>,
    /// Rows compared on the master (changes in flight left out).
    pub rows: i64,
    pub chunks: u64,
    pub seconds: f64,
    pub missing: Keys,
    pub extra: Keys,
    pub changed: Keys,
    /// Keys still changing on the master at the last look: not differences,
    /// not verified either.
    pub unsettled: Keys,
    /// The differences went past the bisection's budget: the counts are at
    /// least these, and more rows differ.
    pub incomplete: bool,
    /// Why the table could not be (fully) compared.
    pub error: Option<String>,
    /// How it was compared, for a repair; never serialized.
    #[serde(skip)]
    pub spec: Option<super::table::TableSpec>,
}

impl TableReport {
    pub fn differences(&self) -> u64 {
        self.missing.count + self.extra.count + self.changed.count
    }

    pub fn keys_mut(&mut self, kind: Kind) -> &mut Keys {
        match kind {
            Kind::Missing => &mut self.missing,
            Kind::Extra => &mut self.extra,
            Kind::Changed => &mut self.changed,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Equal,
    Differ,
    /// Verify would not or could not go on (the slave lagging for too
    /// long, a table the slave lacks).
    Refused,
    Unreachable,
}

impl Outcome {
    /// 0 equal, 1 differences, 2 refused, 3 unreachable.
    pub fn exit_code(self) -> i32 {
        match self {
            Outcome::Equal => 0,
            Outcome::Differ => 1,
            Outcome::Refused => 2,
            Outcome::Unreachable => 3,
        }
    }

    /// A difference found is the most important thing to say; then a
    /// slave that could not be looked at; then one that was refused.
    fn rank(self) -> u8 {
        match self {
            Outcome::Equal => 0,
            Outcome::Refused => 1,
            Outcome::Unreachable => 2,
            Outcome::Differ => 3,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SlaveReport {
    pub slave: String,
    pub outcome: Outcome,
    pub error: Option<String>,
    pub started_at: Time,
    pub seconds: f64,
    pub tables: Vec<TableReport>,
}

impl SlaveReport {
    pub fn new(slave: &str, started_at: Time) -> SlaveReport {
        SlaveReport {
            slave: slave.to_string(),
            outcome: Outcome::Equal,
            error: None,
            started_at,
            seconds: 0.0,
            tables: Vec::new(),
        }
    }

    pub fn failed(slave: &str, started_at: Time, outcome: Outcome, error: String) -> SlaveReport {
        SlaveReport {
            outcome,
            error: Some(error),
            ..SlaveReport::new(slave, started_at)
        }
    }

    /// The outcome from the tables, unless an error already decided it.
    pub fn conclude(&mut self) {
        if self.error.is_some() {
            return;
        }
        self.outcome = if self.tables.iter().any(|t| t.differences() > 0) {
            Outcome::Differ
        } else if self.tables.iter().any(|t| t.error.is_some()) {
            Outcome::Refused
        } else {
            Outcome::Equal
        };
    }

    pub fn differences(&self) -> u64 {
        self.tables.iter().map(TableReport::differences).sum()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub generated_at: Time,
    pub outcome: Outcome,
    pub exit_code: i32,
    pub slaves: Vec<SlaveReport>,
}

impl Report {
    pub fn new(generated_at: Time, slaves: Vec<SlaveReport>) -> Report {
        let outcome = slaves
            .iter()
            .map(|s| s.outcome)
            .max_by_key(|o| o.rank())
            .unwrap_or(Outcome::Equal);
        Report {
            generated_at,
            outcome,
            exit_code: outcome.exit_code(),
            slaves,
        }
    }
}

fn list(keys: &Keys) -> String {
    let mut shown: Vec<String> = keys.keys.iter().take(TEXT_CAP).cloned().collect();
    if keys.count as usize > shown.len() {
        shown.push(format!("… ({} more)", keys.count as usize - shown.len()));
    }
    shown.join(", ")
}

/// One slave's part of the text report, a line per finding.
pub fn slave_text(s: &SlaveReport) -> Vec<String> {
    let mut out = Vec::new();
    let rows: i64 = s.tables.iter().map(|t| t.rows).sum();
    let head = match (s.outcome, &s.error) {
        (Outcome::Equal, _) => format!(
            "{}: equal: {} tables, {rows} rows in {:.1} s",
            s.slave,
            s.tables.len(),
            s.seconds
        ),
        (Outcome::Differ, _) => format!(
            "{}: DIFFERENT: {} rows differ ({} tables, {rows} rows compared in {:.1} s)",
            s.slave,
            s.differences(),
            s.tables.len(),
            s.seconds
        ),
        (o, Some(e)) => format!("{}: {}: {e}", s.slave, outcome_word(o)),
        (o, None) => format!("{}: {}", s.slave, outcome_word(o)),
    };
    out.push(head);
    for t in &s.tables {
        let at_least = if t.incomplete { "at least " } else { "" };
        for (word, keys) in [
            ("missing on the slave", &t.missing),
            ("extra on the slave (only there)", &t.extra),
            ("changed", &t.changed),
        ] {
            if keys.count > 0 {
                out.push(format!(
                    "  {}: {at_least}{} {word}: {}",
                    t.table,
                    keys.count,
                    list(keys)
                ));
            }
        }
        if t.unsettled.count > 0 {
            out.push(format!(
                "  {}: {} keys still changing on the master, not verified (not differences): {}",
                t.table,
                t.unsettled.count,
                list(&t.unsettled)
            ));
        }
        if let Some(e) = &t.error {
            out.push(format!("  {}: not compared: {e}", t.table));
        }
    }
    out
}

fn outcome_word(o: Outcome) -> &'static str {
    match o {
        Outcome::Equal => "equal",
        Outcome::Differ => "different",
        Outcome::Refused => "refused",
        Outcome::Unreachable => "unreachable",
    }
}

pub fn text(r: &Report) -> String {
    let mut out: Vec<String> = r.slaves.iter().flat_map(slave_text).collect();
    if r.slaves
        .iter()
        .any(|s| s.tables.iter().any(|t| t.extra.count > 0))
    {
        out.push(
            "extra rows are never deleted by archtui: check them, then delete them on the slave yourself if they must go"
                .into(),
        );
    }
    if r.outcome == Outcome::Differ {
        out.push("repair: archtui verify SLAVE --repair (shows its plan, then asks)".into());
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at() -> Time {
        chrono::Utc.timestamp_opt(1_700_000_000, 0).unwrap()
    }

    fn table(missing: &[&str]) -> TableReport {
        let mut t = TableReport {
            table: "public.items".into(),
            key_columns: vec!["id".into()],
            rows: 100,
            ..Default::default()
        };
        for k in missing {
            t.missing.push(vec![k.to_string()]);
        }
        t
    }

    #[test]
    fn outcomes_and_exit_codes() {
        let mut equal = SlaveReport::new("a", at());
        equal.tables.push(table(&[]));
        equal.conclude();
        assert_eq!(equal.outcome, Outcome::Equal);
        assert_eq!(Report::new(at(), vec![equal.clone()]).exit_code, 0);

        let mut differ = SlaveReport::new("b", at());
        differ.tables.push(table(&["7"]));
        differ.conclude();
        assert_eq!(differ.outcome, Outcome::Differ);
        let gone = SlaveReport::failed("c", at(), Outcome::Unreachable, "ssh: down".into());
        let refused = SlaveReport::failed("d", at(), Outcome::Refused, "lag".into());
        // A difference outranks an unreachable slave, which outranks a refusal.
        let r = Report::new(
            at(),
            vec![equal.clone(), gone.clone(), differ, refused.clone()],
        );
        assert_eq!(r.exit_code, 1);
        assert_eq!(Report::new(at(), vec![refused.clone(), gone]).exit_code, 3);
        assert_eq!(Report::new(at(), vec![equal, refused]).exit_code, 2);
        assert_eq!(Report::new(at(), vec![]).exit_code, 0);
    }

    #[test]
    fn listings_are_capped_and_counts_complete() {
        let keys: Vec<String> = (0..250).map(|i| i.to_string()).collect();
        let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
        let t = table(&refs);
        assert_eq!(t.missing.count, 250);
        assert_eq!(t.missing.keys.len(), LIST_CAP);
        assert!(t.missing.truncated);
        assert_eq!(t.missing.all.len(), 250, "a repair gets every key");
        let mut s = SlaveReport::new("jukebox", at());
        s.tables.push(t);
        s.conclude();
        let text = slave_text(&s).join("\n");
        assert!(
            text.contains("public.items: 250 missing on the slave: 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, … (240 more)"),
            "{text}"
        );
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["tables"][0]["missing"]["count"], 250);
        assert!(v["tables"][0]["missing"].get("all").is_none());
        assert_eq!(v["outcome"], "differ");
    }

    #[test]
    fn keys_sort_numbers_as_numbers() {
        let mut k = Keys::default();
        for v in ["10", "9", "b", "100", "a"] {
            k.push(vec![v.into()]);
        }
        k.sort();
        assert_eq!(k.keys, ["9", "10", "100", "a", "b"]);
    }

    #[test]
    fn the_text_names_table_key_and_kind() {
        let mut t = table(&["12"]);
        t.extra.push(vec!["99".into()]);
        t.changed.push(vec!["5".into()]);
        t.unsettled.push(vec!["77".into()]);
        let mut s = SlaveReport::new("jukebox", at());
        s.tables.push(t);
        s.conclude();
        let text = text(&Report::new(at(), vec![s]));
        for want in [
            "jukebox: DIFFERENT: 3 rows differ",
            "public.items: 1 missing on the slave: 12",
            "public.items: 1 extra on the slave (only there): 99",
            "public.items: 1 changed: 5",
            "1 keys still changing on the master, not verified (not differences): 77",
            "never deleted",
            "--repair",
        ] {
            assert!(text.contains(want), "{want}: {text}");
        }
    }
}
