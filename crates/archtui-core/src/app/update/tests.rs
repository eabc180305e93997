use crate::key::{KeyCode, KeyEvent, KeyModifiers};

use crate::app::fixtures::*;
use crate::app::{update, Effect, InputKind, Model, Msg, Pane};
use crate::model::{HostState, SyncState};

fn press(m: &mut Model, code: KeyCode) -> Vec<Effect> {
    update(m, Msg::Key(KeyEvent::from(code)))
}

fn ch(m: &mut Model, c: char) -> Vec<Effect> {
    press(m, KeyCode::Char(c))
}

fn typed(m: &mut Model, s: &str) {
    for c in s.chars() {
        ch(m, c);
    }
}

#[test]
fn navigation_and_drill_in() {
    let mut m = healthy();
    assert_eq!(m.focus, Pane::Fleet);
    ch(&mut m, 'j');
    assert_eq!(m.host_sel, 1);
    ch(&mut m, 'j');
    assert_eq!(m.host_sel, 1, "stops at the last host");
    press(&mut m, KeyCode::Enter);
    assert_eq!(m.focus, Pane::Containers);
    press(&mut m, KeyCode::Down);
    press(&mut m, KeyCode::Down);
    assert_eq!(m.selected_container().unwrap().service, "db");
    let fx = press(&mut m, KeyCode::Enter);
    assert_eq!(m.focus, Pane::Logs);
    match &fx[..] {
        [Effect::OpenLogs { sources, tail, .. }] => {
            assert_eq!(sources[0].host, "jukebox");
            assert_eq!(sources[0].container, "archive-db-1");
            assert_eq!(*tail, m.limits.tail);
        }
        other => panic!("{other:?}"),
    }
    press(&mut m, KeyCode::Esc);
    assert_eq!(m.focus, Pane::Containers);
    press(&mut m, KeyCode::Esc);
    assert_eq!(m.focus, Pane::Fleet);
}

#[test]
fn tab_cycles_through_open_panes() {
    let mut m = healthy();
    let mut seen = vec![];
    for _ in 0..4 {
        press(&mut m, KeyCode::Tab);
        seen.push(m.focus);
    }
    assert_eq!(
        seen,
        [Pane::Containers, Pane::Syncs, Pane::Fleet, Pane::Containers]
    );
    press(&mut m, KeyCode::BackTab);
    assert_eq!(m.focus, Pane::Fleet);
    let mut m = with_log(10);
    press(&mut m, KeyCode::Tab);
    assert_eq!(m.focus, Pane::Fleet, "logs wrap around to fleet");
}

#[test]
fn reopening_closes_the_old_tail() {
    let mut m = with_log(10);
    let old = m.log.as_ref().unwrap().stream;
    press(&mut m, KeyCode::Esc);
    ch(&mut m, 'k');
    let fx = press(&mut m, KeyCode::Enter);
    assert_eq!(fx[0], Effect::CloseLogs { stream: old });
    assert!(matches!(fx[1], Effect::OpenLogs { stream, .. } if stream != old));
    // A late batch of the old tail is ignored.
    update(
        &mut m,
        Msg::LogLines {
            stream: old,
            lines: vec![log_line(0, 1)],
        },
    );
    assert_eq!(m.log.as_ref().unwrap().buf.len(), 0);
}

#[test]
fn several_sources_in_one_pane() {
    let mut m = with_log(0);
    press(&mut m, KeyCode::Esc);
    ch(&mut m, 'g');
    let fx = ch(&mut m, 'a');
    match &fx[..] {
        [Effect::CloseLogs { .. }, Effect::OpenLogs { sources, .. }] => {
            let labels: Vec<String> = sources.iter().map(|s| s.label()).collect();
            assert_eq!(labels, ["jukebox/db", "jukebox/app"]);
        }
        other => panic!("{other:?}"),
    }
    // All of the host's containers.
    press(&mut m, KeyCode::Esc);
    let fx = ch(&mut m, 'L');
    assert!(matches!(&fx[1], Effect::OpenLogs { sources, .. } if sources.len() == 3));
}

#[test]
fn follow_pause_badge_and_resume() {
    let mut m = with_log(100);
    let stream = m.log.as_ref().unwrap().stream;
    ch(&mut m, 'f');
    let v = m.log.as_ref().unwrap();
    assert!(!v.follow);
    assert_eq!(v.bottom(), 99);
    update(
        &mut m,
        Msg::LogLines {
            stream,
            lines: (100..130).map(|i| log_line(0, i)).collect(),
        },
    );
    let v = m.log.as_ref().unwrap();
    assert_eq!((v.bottom(), v.new_lines), (99, 30));
    ch(&mut m, 'k');
    assert_eq!(m.log.as_ref().unwrap().bottom(), 98);
    ch(&mut m, 'G');
    let v = m.log.as_ref().unwrap();
    assert!(v.follow);
    assert_eq!((v.bottom(), v.new_lines), (129, 0));
    // Scrolling up from following pauses.
    press(&mut m, KeyCode::PageUp);
    assert!(!m.log.as_ref().unwrap().follow);
}

#[test]
fn wrap_and_timestamps_toggle() {
    let mut m = with_log(5);
    ch(&mut m, 'w');
    ch(&mut m, 't');
    let v = m.log.as_ref().unwrap();
    assert!(v.wrap && v.timestamps);
    ch(&mut m, 'w');
    assert!(!m.log.as_ref().unwrap().wrap);
}

#[test]
fn search_prompt_and_matches() {
    let mut m = with_log(50);
    ch(&mut m, '/');
    assert_eq!(m.input.as_ref().unwrap().kind, InputKind::Search);
    // Keys go to the prompt, not the keymap: `q` does not quit.
    typed(&mut m, "dupq");
    press(&mut m, KeyCode::Backspace);
    assert!(!m.quit);
    press(&mut m, KeyCode::Enter);
    assert!(m.input.is_none());
    let v = m.log.as_ref().unwrap();
    assert_eq!(v.search.as_deref(), Some("dup"));
    assert_eq!(v.current_match, Some(45));
    ch(&mut m, 'n');
    assert_eq!(m.log.as_ref().unwrap().current_match, Some(38));
    ch(&mut m, 'N');
    assert_eq!(m.log.as_ref().unwrap().current_match, Some(45));
    ch(&mut m, 'N');
    assert_eq!(m.flash.as_deref(), Some("no more matches"));
    // Esc cancels a prompt without changing the search.
    ch(&mut m, '/');
    typed(&mut m, "zzz");
    press(&mut m, KeyCode::Esc);
    assert_eq!(m.log.as_ref().unwrap().search.as_deref(), Some("dup"));
    // A search with no match says so.
    ch(&mut m, '/');
    for _ in 0..3 {
        press(&mut m, KeyCode::Backspace);
    }
    typed(&mut m, "nothing-like-this");
    press(&mut m, KeyCode::Enter);
    assert_eq!(m.flash.as_deref(), Some("no match"));
}

#[test]
fn the_prompt_edits_where_its_cursor_is() {
    let mut m = with_log(50);
    ch(&mut m, '&');
    typed(&mut m, "EROR");
    press(&mut m, KeyCode::Left);
    press(&mut m, KeyCode::Left);
    ch(&mut m, 'R');
    let text = |m: &Model| m.input.as_ref().unwrap().text.value().to_string();
    assert_eq!(text(&m), "ERROR");
    assert_eq!(m.input.as_ref().unwrap().text.cursor(), 3);
    press(&mut m, KeyCode::Home);
    press(&mut m, KeyCode::Delete);
    assert_eq!(text(&m), "RROR");
    press(&mut m, KeyCode::End);
    typed(&mut m, " x");
    let ctrl_w = KeyEvent::new(KeyCode::Char('w'), KeyModifiers::CONTROL);
    update(&mut m, Msg::Key(ctrl_w));
    assert_eq!(text(&m), "RROR ");
    press(&mut m, KeyCode::Backspace);
    press(&mut m, KeyCode::Home);
    ch(&mut m, 'E');
    press(&mut m, KeyCode::Enter);
    assert_eq!(m.log.as_ref().unwrap().filter.as_deref(), Some("ERROR"));
}

#[test]
fn filter_prompt() {
    let mut m = with_log(50);
    ch(&mut m, '&');
    typed(&mut m, "ERROR");
    press(&mut m, KeyCode::Enter);
    let v = m.log.as_ref().unwrap();
    assert_eq!(v.filter.as_deref(), Some("ERROR"));
    assert!(v.shown(3) && !v.shown(4));
}

#[test]
fn log_keys_without_a_pane_flash() {
    let mut m = healthy();
    ch(&mut m, 'f');
    assert!(m.flash.as_deref().unwrap().contains("no log pane"));
    ch(&mut m, '/');
    assert!(m.input.is_none());
}

#[test]
fn help_and_quit() {
    let mut m = healthy();
    ch(&mut m, '?');
    assert!(m.help);
    ch(&mut m, 'j');
    assert!(!m.help);
    assert_eq!(m.host_sel, 0, "the key that closes help does nothing else");
    let fx = ch(&mut m, 'q');
    assert_eq!(fx, [Effect::Quit]);
    assert!(m.quit);
    let mut m = with_log(1);
    let fx = update(
        &mut m,
        Msg::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)),
    );
    assert!(matches!(fx[..], [Effect::CloseLogs { .. }, Effect::Quit]));
}

#[test]
fn unreachable_host_keeps_its_containers_stale() {
    let m = jukebox_unreachable();
    let h = &m.hosts[1];
    assert_eq!(h.seen.state, HostState::Unreachable);
    assert!(h.containers_stale);
    assert_eq!(h.seen.containers.len(), 3);
    assert_eq!(h.last_heard, Some(at(99)));
    // Its sync cannot be judged any more, but the master still knows its lag.
    let s = &m.syncs[0].status;
    assert_eq!(s.state, SyncState::Unknown);
    assert!(
        s.reason.as_deref().unwrap().contains("not answering"),
        "{s:?}"
    );
    assert_eq!(s.lag_seconds, Some(0.3));
    assert!(m.syncs_stale);
}

#[test]
fn master_unreachable_leaves_the_slaves_view_and_loses_the_lag() {
    let mut m = healthy();
    let host = m.config.hosts()[0].clone();
    let o = crate::observation::HostObservation::failed(
        &host,
        crate::model::HostFailure::new(HostState::Unreachable, "down"),
        m.now,
    );
    update(&mut m, Msg::Observation(Box::new(o)));
    assert!(!m.syncs_stale);
    assert_eq!(m.syncs.len(), 1);
    assert_eq!(m.syncs[0].status.state, SyncState::Good);
    assert_eq!(m.syncs[0].status.lag_seconds, None);
}

#[test]
fn lag_history_samples_once_per_read() {
    // One sample per read of jukebox's daemon (nine rounds), plus the
    // first master read before jukebox had answered.
    let m = healthy();
    let s = &m.syncs[0];
    assert_eq!(s.history.len(), 10);
    assert_eq!(s.history.back(), Some(&0.3));
    let m = sync_paused();
    let s = &m.syncs[0];
    assert_eq!(s.status.state, SyncState::Paused);
    assert_eq!(
        s.status.paused_by.as_deref(),
        Some("archtui (alice@laptop)")
    );
    assert_eq!(s.status.pending_rows, Some(4500));
    assert_eq!(s.history.len(), 13);
}

#[test]
fn read_only_comes_from_config() {
    let c = crate::config::Config::parse(
        &format!("read_only = true\n{CONFIG}"),
        std::path::Path::new("t.toml"),
    )
    .unwrap();
    let m = Model::new(c, Default::default(), at(0));
    assert!(m.read_only);
}

/// A batch of observations (what a console hands over per frame) leaves
/// the model as the same observations one by one would: hosts, syncs,
/// daemons and verdict. The lag history gets one sample per batch: one by
/// one, each observation's reassembly sampled the same read again.
#[test]
fn a_batch_of_observations_is_the_same_as_one_by_one() {
    let rounds = |m: &Model| {
        let mut master = host_obs(m, 0, 101);
        master.fleet = Some(registry(101, 7, 2.5));
        let mut slave = host_obs(m, 1, 101);
        slave.bucardo = Some(bucardo(101, true, None));
        let host = m.config.hosts()[1].clone();
        let lost = crate::observation::HostObservation::failed(
            &host,
            crate::model::HostFailure::new(HostState::Unreachable, "ssh jukebox: gone"),
            at(102),
        );
        vec![master, slave, lost]
    };
    let mut one_by_one = healthy();
    for o in rounds(&one_by_one) {
        update(&mut one_by_one, Msg::Observation(Box::new(o)));
    }
    let mut batched = healthy();
    let batch = rounds(&batched);
    update(&mut batched, Msg::Observations(batch));
    let shown = |m: &Model| {
        format!(
            "{:?}\n{:?}\n{:?}\n{:?}",
            m.hosts
                .iter()
                .map(|h| (&h.seen, h.last_heard, h.containers_at, h.containers_stale))
                .collect::<Vec<_>>(),
            m.syncs.iter().map(|s| &s.status).collect::<Vec<_>>(),
            m.daemons,
            m.verdict
        )
    };
    assert_eq!(shown(&one_by_one), shown(&batched));
    assert_eq!(batched.hosts[1].seen.state, HostState::Unreachable);
    assert_eq!(
        batched.hosts[1].last_heard,
        Some(at(101)),
        "heard at the slave's round before it was lost"
    );
    let before = healthy().syncs[0].history.len();
    assert_eq!(batched.syncs[0].history.len(), before + 1);
    assert_eq!(batched.syncs[0].history.back(), Some(&2.5));
    update(&mut batched, Msg::Observations(Vec::new()));
    assert_eq!(
        shown(&one_by_one),
        shown(&batched),
        "an empty batch changes nothing"
    );
}
