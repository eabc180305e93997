//! Pure mapping from what Bucardo's control database (and the daemon's
//! process list) says about a sync to the one state the operator sees.

use crate::model::{SyncState, Time};

/// Facts about one sync, as read from `bucardo.sync`, `bucardo.syncrun`
/// and `bucardo.db`, plus whether its controller process exists.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SyncFacts {
    /// `bucardo.sync.status`: active, inactive or stalled.
    pub sync_status: String,
    /// Some database of the sync's dbgroup has `db.status = 'stalled'`.
    pub db_stalled: bool,
    /// Status text of a run with `ended IS NULL`.
    pub running: Option<String>,
    pub last_good: Option<Time>,
    pub last_empty: Option<Time>,
    pub last_bad: Option<Time>,
    /// `Some(false)`: the daemon is up but this sync has no controller
    /// process. `None`: the process list could not be read.
    pub controller_running: Option<bool>,
}

/// Precedence: what needs an operator's hand first. Persistent states
/// (inactive, stalled) win over pause, which lives only in the daemon's
/// memory and does not show in `syncrun` at all; then the live run; then
/// whichever finished run ended last, the way `bucardo status` reads it.
pub fn sync_state(f: &SyncFacts) -> SyncState {
    match f.sync_status.as_str() {
        "inactive" => return SyncState::Inactive,
        "stalled" => return SyncState::Stalled,
        _ => {}
    }
    if f.db_stalled {
        return SyncState::Stalled;
    }
    if f.controller_running == Some(false) {
        return SyncState::Paused;
    }
    if f.running.is_some() {
        return SyncState::Running;
    }
    // None sorts before any time, so "never" loses every comparison.
    let success = f.last_success();
    if success.is_none() && f.last_bad.is_none() {
        SyncState::NeverRun
    } else if f.last_bad > success {
        SyncState::Bad
    } else if f.last_empty > f.last_good {
        SyncState::Empty
    } else {
        SyncState::Good
    }
}

impl SyncFacts {
    /// The last run that ended well, with changes or without.
    pub fn last_success(&self) -> Option<Time> {
        self.last_good.max(self.last_empty)
    }
}

/// Bucardo's failure text reads `Failed : <error> (KID n)`; keep the error.
pub fn error_text(status: &str) -> String {
    let s = status.trim();
    let s = s
        .strip_prefix("Failed")
        .map_or(s, |r| r.trim_start().trim_start_matches(':').trim());
    match s.rfind(" (KID ") {
        Some(i) if s.ends_with(')') => s[..i].trim_end().to_string(),
        _ => s.to_string(),
    }
}

/// Names of syncs whose controller appears in a process list. Bucardo
/// titles it `Bucardo Controller. Sync "<sync>" for relgroup ...`.
pub fn controllers_in(process_titles: &[String]) -> Vec<String> {
    const MARK: &str = "Bucardo Controller. Sync \"";
    process_titles
        .iter()
        .filter_map(|t| {
            let rest = &t[t.find(MARK)? + MARK.len()..];
            Some(rest[..rest.find('"')?].to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(s: i64) -> Option<Time> {
        Some(chrono::Utc.timestamp_opt(1_700_000_000 + s, 0).unwrap())
    }

    fn active() -> SyncFacts {
        SyncFacts {
            sync_status: "active".into(),
            controller_running: Some(true),
            ..Default::default()
        }
    }

    #[test]
    fn never_run_without_rows() {
        assert_eq!(sync_state(&active()), SyncState::NeverRun);
    }

    #[test]
    fn latest_finished_run_decides() {
        // (last good, last empty, last bad) -> state
        let cases = [
            ((t(10), None, t(5)), SyncState::Good),
            ((t(5), None, t(10)), SyncState::Bad),
            ((None, None, t(1)), SyncState::Bad),
            ((t(5), t(9), t(7)), SyncState::Empty),
            ((t(9), t(5), None), SyncState::Good),
        ];
        for ((last_good, last_empty, last_bad), want) in cases {
            let f = SyncFacts {
                last_good,
                last_empty,
                last_bad,
                ..active()
            };
            assert_eq!(sync_state(&f), want, "{f:?}");
        }
    }

    #[test]
    fn running_run_wins_over_history() {
        let f = SyncFacts {
            running: Some("Started (KID 1)".into()),
            last_bad: t(9),
            ..active()
        };
        assert_eq!(sync_state(&f), SyncState::Running);
    }

    #[test]
    fn missing_controller_means_paused_even_if_history_is_good() {
        let f = SyncFacts {
            controller_running: Some(false),
            last_good: t(9),
            ..active()
        };
        assert_eq!(sync_state(&f), SyncState::Paused);
        // Unknown process list: fall back to syncrun.
        let f = SyncFacts {
            controller_running: None,
            last_good: t(9),
            ..active()
        };
        assert_eq!(sync_state(&f), SyncState::Good);
    }

    #[test]
    fn persistent_states_win() {
        let f = SyncFacts {
            sync_status: "inactive".into(),
            controller_running: Some(false),
            ..active()
        };
        assert_eq!(sync_state(&f), SyncState::Inactive);
        let f = SyncFacts {
            sync_status: "stalled".into(),
            last_good: t(1),
            ..active()
        };
        assert_eq!(sync_state(&f), SyncState::Stalled);
        let f = SyncFacts {
            db_stalled: true,
            last_good: t(1),
            ..active()
        };
        assert_eq!(sync_state(&f), SyncState::Stalled);
    }

    #[test]
    fn error_text_strips_bucardo_framing() {
        assert_eq!(
            error_text("Failed : DBD::Pg::db do failed: FATAL: no route (KID 1234)"),
            "DBD::Pg::db do failed: FATAL: no route"
        );
        assert_eq!(error_text("something else"), "something else");
    }

    #[test]
    fn controller_titles() {
        let titles = vec![
            "Bucardo Master Control Program v5.6.0.".to_string(),
            r#"Bucardo Controller. Sync "archive_jukebox" for relgroup "archive" to dbs "jukebox_grp""#.to_string(),
            r#"Bucardo Kid. Sync "archive_jukebox""#.to_string(),
        ];
        assert_eq!(controllers_in(&titles), ["archive_jukebox"]);
    }
}
