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
    match s.rfind("(KID ") {
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

    /// Property tests (cases per run: 512 each).
    mod props {
        use super::super::*;
        use chrono::TimeZone;
        use proptest::prelude::*;

        fn time() -> impl Strategy<Value = Option<Time>> {
            proptest::option::of(
                (0i64..4_000_000_000)
                    .prop_map(|s| chrono::Utc.timestamp_opt(s, 0).single().unwrap_or_default()),
            )
        }

        fn facts() -> impl Strategy<Value = SyncFacts> {
            (
                prop_oneof![
                    Just("active".to_string()),
                    Just("inactive".to_string()),
                    Just("stalled".to_string()),
                    ".{0,12}"
                ],
                any::<bool>(),
                proptest::option::of(".{0,20}"),
                (time(), time(), time()),
                proptest::option::of(any::<bool>()),
            )
                .prop_map(|(sync_status, db_stalled, running, (g, e, b), c)| {
                    SyncFacts {
                        sync_status,
                        db_stalled,
                        running,
                        last_good: g,
                        last_empty: e,
                        last_bad: b,
                        controller_running: c,
                    }
                })
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]

            /// Whatever the control database holds, one state comes out,
            /// by the documented precedence.
            #[test]
            fn sync_state_follows_its_precedence(f in facts()) {
                let s = sync_state(&f);
                match f.sync_status.as_str() {
                    "inactive" => prop_assert_eq!(s, SyncState::Inactive),
                    "stalled" => prop_assert_eq!(s, SyncState::Stalled),
                    _ if f.db_stalled => prop_assert_eq!(s, SyncState::Stalled),
                    _ if f.controller_running == Some(false) => prop_assert_eq!(s, SyncState::Paused),
                    _ if f.running.is_some() => prop_assert_eq!(s, SyncState::Running),
                    _ if f.last_bad.is_none() && f.last_success().is_none() => {
                        prop_assert_eq!(s, SyncState::NeverRun)
                    }
                    _ if f.last_bad > f.last_success() => prop_assert_eq!(s, SyncState::Bad),
                    _ => prop_assert!(matches!(s, SyncState::Good | SyncState::Empty)),
                }
            }

            /// Bucardo's status text, any of it: a piece of it comes back.
            #[test]
            fn error_text_is_a_piece_of_its_input(s in ".{0,80}", kid in 0u32..99999) {
                let e = error_text(&s);
                prop_assert!(s.contains(e.as_str()));
                let framed = format!("Failed : {} (KID {kid})", s.trim());
                let got = error_text(&framed);
                prop_assert!(framed.contains(got.as_str()));
                let kid_mark = format!("(KID {kid})");
                prop_assert!(!got.ends_with(&kid_mark) || s.contains("(KID"));
            }

            /// Process titles, any of them: only names between the mark and
            /// a quote come out, and a real controller's name is found.
            #[test]
            fn controllers_in_any_titles(
                titles in proptest::collection::vec(".{0,60}", 0..6),
                name in "[a-z_]{1,20}",
            ) {
                for n in controllers_in(&titles) {
                    prop_assert!(!n.contains('"'));
                }
                let mut t = titles.clone();
                t.push(format!("Bucardo Controller. Sync \"{name}\" for relgroup \"archive\""));
                let found = controllers_in(&t);
                prop_assert_eq!(found.last(), Some(&name));
            }
        }
    }
}
