use super::*;
use chrono::TimeZone;

const S: &str = "archive_jukebox";

fn t(s: i64) -> Option<Time> {
    Some(chrono::Utc.timestamp_opt(1_700_000_000 + s, 0).unwrap())
}
fn now() -> Time {
    t(100).unwrap()
}

fn ev(at: i64, kind: &str, sync: Option<&str>, detail: Option<&str>) -> OpsEvent {
    OpsEvent {
        at: t(at).unwrap(),
        kind: kind.into(),
        sync: sync.map(String::from),
        detail: detail.map(String::from),
    }
}

fn ops(phase: &str, since: i64, events: Vec<OpsEvent>) -> Option<OpsRead> {
    Some(OpsRead {
        phase: phase.into(),
        phase_since: t(since).unwrap(),
        detail: None,
        events,
    })
}

fn procs(active: Option<&[&str]>, controllers: &[&str]) -> Option<Processes> {
    Some(Processes {
        mcp: true,
        mcp_active: active.map(|a| a.iter().map(|s| s.to_string()).collect()),
        controllers: controllers.iter().map(|s| s.to_string()).collect(),
    })
}

/// Active, its daemon up for a while, its controller running.
fn active() -> SyncFacts {
    SyncFacts {
        sync_status: "active".into(),
        daemon: DaemonFacts {
            processes: procs(Some(&[S]), &[S]),
            ops: ops("running", 0, vec![ev(0, "main_loop", None, None)]),
        },
        ..Default::default()
    }
}

fn state(f: &SyncFacts) -> SyncState {
    sync_state(S, f, now(), 30).state
}

#[test]
fn never_run_without_rows() {
    assert_eq!(state(&active()), SyncState::NeverRun);
}

#[test]
fn latest_finished_run_decides() {
    // (last good, last empty, last bad) -> state
    let cases = [
        ((t(90), None, t(85)), SyncState::Good),
        ((t(85), None, t(90)), SyncState::Bad),
        ((None, None, t(81)), SyncState::Bad),
        ((t(85), t(89), t(87)), SyncState::Empty),
        ((t(89), t(85), None), SyncState::Good),
    ];
    for ((last_good, last_empty, last_bad), want) in cases {
        let f = SyncFacts {
            last_good,
            last_empty,
            last_bad,
            ..active()
        };
        assert_eq!(state(&f), want, "{f:?}");
    }
}

#[test]
fn running_run_wins_over_history() {
    let f = SyncFacts {
        running: Some("Started (KID 1)".into()),
        last_bad: t(99),
        ..active()
    };
    assert_eq!(state(&f), SyncState::Running);
}

#[test]
fn a_pause_names_who_and_when() {
    let mut f = active();
    f.last_good = t(95);
    f.daemon.processes = procs(Some(&[S]), &[]);
    f.daemon.ops = ops(
        "running",
        0,
        vec![
            ev(0, "main_loop", None, None),
            ev(50, "paused", Some(S), Some("archtui (alice@laptop)")),
        ],
    );
    let j = sync_state(S, &f, now(), 30);
    assert_eq!(j.state, SyncState::Paused);
    assert_eq!(j.paused_by.as_deref(), Some("archtui (alice@laptop)"));
    assert_eq!(j.since, t(50));
    // Resumed since: no longer paused by it (the controller is back soon).
    f.daemon
        .ops
        .as_mut()
        .unwrap()
        .events
        .push(ev(60, "resumed", Some(S), None));
    assert_ne!(
        sync_state(S, &f, now(), 30).paused_by.as_deref(),
        Some("archtui (alice@laptop)")
    );
}

#[test]
fn no_controller_right_after_the_main_loop_is_starting_not_paused() {
    let mut f = active();
    f.daemon.processes = procs(Some(&[S]), &[]);
    f.daemon.ops = ops("running", 95, vec![ev(95, "main_loop", None, None)]);
    assert_eq!(state(&f), SyncState::DaemonStarting);
    // Long after it, with no pause seen: paused, said as a guess.
    f.daemon.ops = ops("running", 10, vec![ev(10, "main_loop", None, None)]);
    let j = sync_state(S, &f, now(), 30);
    assert_eq!(j.state, SyncState::Paused);
    assert!(j.reason.unwrap().contains("did not see"));
}

#[test]
fn dropped_gives_the_daemons_reason_and_time() {
    let mut f = active();
    f.last_good = t(50);
    f.daemon.processes = procs(Some(&[]), &[]);
    f.daemon.ops = ops(
        "running",
        40,
        vec![
            ev(38, "daemon_start", None, None),
            ev(
                40,
                "validation_failed",
                Some(S),
                Some("validation failed: cannot connect to db master: No route to host"),
            ),
            ev(40, "main_loop", None, None),
        ],
    );
    let j = sync_state(S, &f, now(), 30);
    assert_eq!(j.state, SyncState::Dropped);
    let reason = j.reason.unwrap();
    assert!(reason.contains("No route to host"), "{reason}");
    assert!(
        reason.contains(&t(40).unwrap().format("%H:%M:%S").to_string()),
        "{reason}"
    );
    // Without the supervisor's record, still dropped (by the title).
    f.daemon.ops = None;
    assert_eq!(state(&f), SyncState::Dropped);
}

#[test]
fn a_restarting_daemon_is_starting_not_paused() {
    let mut f = active();
    f.last_good = t(90);
    // Between the MCP's death and its respawn: no MCP, no controllers.
    f.daemon.processes = Some(Processes::default());
    f.daemon.ops = Some(OpsRead {
        phase: "restarting".into(),
        phase_since: t(95).unwrap(),
        detail: Some("Ping failed".into()),
        events: vec![],
    });
    let j = sync_state(S, &f, now(), 30);
    assert_eq!(j.state, SyncState::DaemonStarting);
    assert!(j.reason.unwrap().contains("Ping failed"));
    // Respawned, validating: MCP without a title list yet.
    f.daemon.processes = procs(None, &[]);
    f.daemon.ops.as_mut().unwrap().phase = "starting".into();
    assert_eq!(state(&f), SyncState::DaemonStarting);
}

#[test]
fn no_mcp_is_daemon_down() {
    let mut f = active();
    f.daemon.processes = Some(Processes::default());
    assert_eq!(state(&f), SyncState::DaemonDown);
    f.daemon.ops.as_mut().unwrap().phase = "stopped".into();
    assert_eq!(state(&f), SyncState::DaemonDown);
}

#[test]
fn unreadable_processes_fall_back_to_syncrun() {
    let mut f = active();
    f.last_good = t(95);
    f.daemon.processes = None;
    assert_eq!(state(&f), SyncState::Good);
}

#[test]
fn stuck_only_when_changes_wait() {
    let mut f = active();
    f.last_good = t(10);
    f.lag_seconds = Some(0.0);
    assert_eq!(
        state(&f),
        SyncState::Good,
        "idle with nothing to do is good"
    );
    f.lag_seconds = Some(85.0);
    let j = sync_state(S, &f, now(), 30);
    assert_eq!(j.state, SyncState::Stalled);
    assert!(j.reason.unwrap().contains("no run for 90 s"));
}

#[test]
fn persistent_states_win() {
    let mut f = SyncFacts {
        sync_status: "inactive".into(),
        ..active()
    };
    f.daemon.processes = procs(Some(&[]), &[]);
    assert_eq!(state(&f), SyncState::Inactive);
    let f = SyncFacts {
        sync_status: "stalled".into(),
        last_good: t(1),
        ..active()
    };
    assert_eq!(state(&f), SyncState::Stalled);
    let f = SyncFacts {
        db_stalled: true,
        last_good: t(1),
        ..active()
    };
    assert_eq!(state(&f), SyncState::Stalled);
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
fn process_titles() {
    let titles = vec![
        "Bucardo Master Control Program v5.6.0. Active syncs: archive_jukebox".to_string(),
        r#"Bucardo Controller. Sync "archive_jukebox" for relgroup "archive" to dbs "jukebox_grp""#
            .to_string(),
        r#"Bucardo Kid. Sync "archive_jukebox""#.to_string(),
    ];
    assert_eq!(controllers_in(&titles), ["archive_jukebox"]);
    let p = Processes::from_titles(&titles);
    assert!(p.mcp);
    assert_eq!(p.mcp_active, Some(vec!["archive_jukebox".to_string()]));
    let none =
        Processes::from_titles(&["Bucardo Master Control Program v5.6.0. Active syncs: ".into()]);
    assert_eq!(none.mcp_active, Some(vec![]));
    let starting = Processes::from_titles(&["Bucardo Master Control Program v5.6.0.".into()]);
    assert_eq!(starting.mcp_active, None);
    assert!(!Processes::from_titles(&["sleep 5".into()]).mcp);
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
            (any::<bool>(), any::<bool>()),
        )
            .prop_map(
                |(sync_status, db_stalled, running, (g, e, b), (active, ctl))| {
                    let s = |on: bool| if on { vec!["s".to_string()] } else { vec![] };
                    SyncFacts {
                        sync_status,
                        db_stalled,
                        running,
                        last_good: g,
                        last_empty: e,
                        last_bad: b,
                        daemon: DaemonFacts {
                            processes: Some(Processes {
                                mcp: true,
                                mcp_active: Some(s(active)),
                                controllers: s(ctl),
                            }),
                            ops: Some(OpsRead {
                                phase: "running".into(),
                                phase_since: chrono::Utc.timestamp_opt(0, 0).unwrap(),
                                detail: None,
                                events: vec![],
                            }),
                        },
                        lag_seconds: None,
                    }
                },
            )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Whatever the control database holds, one state comes out,
        /// by the documented precedence.
        #[test]
        fn sync_state_follows_its_precedence(f in facts()) {
            let now = chrono::Utc.timestamp_opt(4_000_000_000, 0).unwrap();
            let s = sync_state("s", &f, now, 60).state;
            let p = f.daemon.processes.clone().unwrap_or_default();
            let active = p.mcp_active.unwrap_or_default().contains(&"s".to_string());
            match f.sync_status.as_str() {
                "inactive" => prop_assert_eq!(s, SyncState::Inactive),
                "stalled" => prop_assert_eq!(s, SyncState::Stalled),
                _ if f.db_stalled => prop_assert_eq!(s, SyncState::Stalled),
                _ if !active => prop_assert_eq!(s, SyncState::Dropped),
                _ if p.controllers.is_empty() => prop_assert_eq!(s, SyncState::Paused),
                _ if f.running.is_some() => prop_assert_eq!(s, SyncState::Running),
                _ if f.last_bad.is_none() && f.last_success().is_none() => {
                    prop_assert_eq!(s, SyncState::NeverRun);
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
