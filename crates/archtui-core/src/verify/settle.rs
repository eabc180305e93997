//! When a key that looked different is a difference. Pure.
//!
//! A key is looked at in a pair of snapshots: the slave's taken first,
//! then the master's (so whatever the slave holds was committed on the
//! master before the master's snapshot). It is then either pending (the
//! master's delta tables still hold a change of it for this slave: left
//! out), equal, or differing. A differing key is only reported once a
//! second look, after the slave's heartbeat has passed the first look's
//! master time (so the slave has applied everything the master had then),
//! finds it differing exactly the same way: same master row, same slave
//! row. Anything else (it became equal, its rows moved, it went pending)
//! was replication in flight, and is looked at again; a key still
//! unsettled after the last look is reported as such, never as a
//! difference.

use std::collections::HashMap;

use super::chunk::Key;
use crate::model::Time;

/// One look at a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// A change of it waits in the master's delta tables for this slave.
    Pending,
    Equal,
    /// Row hashes on each side; `None`: no such row there.
    Differ {
        master: Option<i64>,
        slave: Option<i64>,
    },
}

/// How a key differs, once settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// On the master, not on the slave.
    Missing,
    /// On the slave only.
    Extra,
    /// On both, not the same.
    Changed,
}

impl Seen {
    /// A key's look from its rows on each side.
    pub fn of(master: Option<i64>, slave: Option<i64>) -> Seen {
        if master == slave {
            Seen::Equal
        } else {
            Seen::Differ { master, slave }
        }
    }

    pub fn kind(self) -> Option<Kind> {
        match self {
            Seen::Differ {
                master: Some(_),
                slave: None,
            } => Some(Kind::Missing),
            Seen::Differ {
                master: None,
                slave: Some(_),
            } => Some(Kind::Extra),
            Seen::Differ { .. } => Some(Kind::Changed),
            _ => None,
        }
    }
}

/// A key not settled yet: its last look, and the master's time then.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Open {
    pub at: Time,
    pub seen: Seen,
}

/// What a new look makes of an open key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Equal now: it was in flight.
    Resolved,
    /// The same difference twice, the slave caught up in between.
    Confirmed(Kind),
    /// Look again later (with this as the last look).
    Again,
}

/// `before` was the last look; `now` the new one, taken after the slave's
/// heartbeat passed `before.at`.
pub fn settle(before: Seen, now: Seen) -> Verdict {
    match (before, now) {
        (_, Seen::Equal) => Verdict::Resolved,
        (b @ Seen::Differ { .. }, n @ Seen::Differ { .. }) if b == n => {
            Verdict::Confirmed(n.kind().unwrap_or(Kind::Changed))
        }
        _ => Verdict::Again,
    }
}

/// The rows of a leaf range on each side, compared by key: every key
/// whose rows differ (a key in only one of them differs too).
pub fn compare_rows(master: &[(Key, i64)], slave: &[(Key, i64)]) -> Vec<(Key, Seen)> {
    let on_slave: HashMap<&Key, i64> = slave.iter().map(|(k, h)| (k, *h)).collect();
    let on_master: HashMap<&Key, i64> = master.iter().map(|(k, h)| (k, *h)).collect();
    let mut out = Vec::new();
    for (k, h) in master {
        let seen = Seen::of(Some(*h), on_slave.get(k).copied());
        if seen != Seen::Equal {
            out.push((k.clone(), seen));
        }
    }
    for (k, h) in slave {
        if !on_master.contains_key(k) {
            out.push((k.clone(), Seen::of(None, Some(*h))));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> Key {
        vec![s.to_string()]
    }

    #[test]
    fn rows_compare_by_key_into_missing_extra_and_changed() {
        let master = [(key("1"), 10), (key("2"), 20), (key("3"), 30)];
        let slave = [(key("1"), 10), (key("3"), 31), (key("4"), 40)];
        let d = compare_rows(&master, &slave);
        let kinds: Vec<(String, Option<Kind>)> =
            d.iter().map(|(k, s)| (k[0].clone(), s.kind())).collect();
        assert_eq!(
            kinds,
            [
                ("2".into(), Some(Kind::Missing)),
                ("3".into(), Some(Kind::Changed)),
                ("4".into(), Some(Kind::Extra)),
            ]
        );
        assert!(compare_rows(&master, &master).is_empty());
    }

    #[test]
    fn only_the_same_difference_twice_is_confirmed() {
        let changed = Seen::Differ {
            master: Some(1),
            slave: Some(2),
        };
        let missing = Seen::Differ {
            master: Some(1),
            slave: None,
        };
        assert_eq!(settle(changed, changed), Verdict::Confirmed(Kind::Changed));
        assert_eq!(settle(missing, missing), Verdict::Confirmed(Kind::Missing));
        // In flight: caught up, or moved on.
        assert_eq!(settle(changed, Seen::Equal), Verdict::Resolved);
        assert_eq!(settle(Seen::Pending, Seen::Equal), Verdict::Resolved);
        let moved = Seen::Differ {
            master: Some(3),
            slave: Some(2),
        };
        assert_eq!(settle(changed, moved), Verdict::Again);
        assert_eq!(settle(missing, changed), Verdict::Again);
        // A pending look confirms nothing, before or after.
        assert_eq!(settle(Seen::Pending, changed), Verdict::Again);
        assert_eq!(settle(changed, Seen::Pending), Verdict::Again);
        assert_eq!(settle(Seen::Pending, Seen::Pending), Verdict::Again);
    }
}
