use super::*;
use crate::actions::Status;
use crate::app::fixtures::*;
use crate::app::{update, Msg};

fn press(m: &mut Model, k: KeyCode) -> Vec<Effect> {
    update(m, Msg::Key(KeyEvent::from(k)))
}

fn typed(m: &mut Model, s: &str) {
    for c in s.chars() {
        press(m, KeyCode::Char(c));
    }
}

fn hear(m: &mut Model, id: u64, e: Event) -> Vec<Effect> {
    update(m, Msg::Switchover { id, event: e })
}

fn screen(m: &Model) -> &Screen {
    m.actions.switchover.as_deref().expect("the screen is up")
}

/// S on jukebox's row: the screen is up and its run asked for.
fn opened(m: &mut Model) -> u64 {
    press(m, KeyCode::Down);
    let fx = press(m, KeyCode::Char('S'));
    let id = screen(m).id;
    assert_eq!(
        fx,
        [Effect::Switchover(Request::Prepare {
            id,
            kind: Kind::Switchover,
            candidate: "jukebox".into(),
            read_only: false,
        })]
    );
    id
}

/// Opened, pre-checks passed, the name asked.
fn asking(m: &mut Model) -> u64 {
    let id = opened(m);
    hear(
        m,
        id,
        Event::Line("Pre-checks (nothing is changed):".into()),
    );
    hear(m, id, Event::Line("  PASS old master up   ok".into()));
    hear(m, id, Event::Prepared);
    id
}

#[test]
fn s_and_f_on_a_slaves_row_open_the_screen_for_it() {
    let mut m = healthy();
    let id = opened(&mut m);
    let s = screen(&m);
    assert_eq!(s.title(), "Switchover to jukebox");
    assert_eq!(s.phase, Phase::Preparing);
    assert_eq!(
        s.prompt(),
        "Type the new master's name (jukebox) to switch over:"
    );
    assert!(!m.actions.running.contains_key(&id), "nothing runs yet");
    let mut m = healthy();
    press(&mut m, KeyCode::Down);
    let fx = press(&mut m, KeyCode::Char('F'));
    assert!(
        matches!(&fx[..], [Effect::Switchover(Request::Prepare { kind: Kind::Failover, candidate, .. })] if candidate == "jukebox"),
        "{fx:?}"
    );
    assert_eq!(screen(&m).title(), "Failover to jukebox");
    assert!(screen(&m).prompt().ends_with("to fail over:"));
}

#[test]
fn the_key_says_why_nothing_opens() {
    // The master's row.
    let mut m = healthy();
    assert!(press(&mut m, KeyCode::Char('S')).is_empty());
    assert!(m.actions.switchover.is_none());
    assert!(
        m.flash
            .as_deref()
            .unwrap_or("")
            .contains("cavaforgepad is the master"),
        "{:?}",
        m.flash
    );
    assert!(press(&mut m, KeyCode::Char('F')).is_empty());
    assert!(m.flash.as_deref().unwrap_or("").contains("failover"));
    // Read-only mode refuses it.
    let mut m = healthy();
    m.read_only = true;
    press(&mut m, KeyCode::Down);
    assert!(press(&mut m, KeyCode::Char('S')).is_empty());
    assert!(m.actions.switchover.is_none());
    assert_eq!(
        m.flash.as_deref(),
        Some("read-only mode: a switchover changes the fleet; refused")
    );
    // An action running: not while it runs.
    let mut m = healthy();
    press(&mut m, KeyCode::Down);
    m.actions.running.insert(9, "jukebox/app".into());
    assert!(press(&mut m, KeyCode::Char('S')).is_empty());
    assert!(m
        .flash
        .as_deref()
        .unwrap_or("")
        .contains("action is running"));
    // Off the fleet pane, F says where it works; S is stop/start there.
    let mut m = healthy();
    press(&mut m, KeyCode::Down);
    press(&mut m, KeyCode::Tab);
    assert!(press(&mut m, KeyCode::Char('F')).is_empty());
    assert!(m.actions.switchover.is_none());
    assert!(m.flash.as_deref().unwrap_or("").contains("fleet pane"));
    let fx = press(&mut m, KeyCode::Char('S'));
    assert!(m.actions.switchover.is_none());
    assert!(fx.is_empty() && m.actions.confirm.is_some(), "stop asks");
}

#[test]
fn a_fenced_slave_is_refused() {
    let text = CONFIG.replacen("role = \"slave\"", "role = \"slave\"\nfenced = true", 1);
    let config = crate::config::Config::parse(&text, std::path::Path::new("t.toml")).unwrap();
    let mut m = Model::new(config, crate::keymap::Keymap::default(), at(100));
    press(&mut m, KeyCode::Down);
    assert!(press(&mut m, KeyCode::Char('S')).is_empty());
    assert!(m.flash.as_deref().unwrap_or("").contains("fenced"));
}

#[test]
fn lines_stream_in_sanitized_and_toned() {
    let mut m = healthy();
    let id = opened(&mut m);
    hear(
        &mut m,
        id,
        Event::Line("Pre-checks (nothing is changed):".into()),
    );
    hear(
        &mut m,
        id,
        Event::Line("  PASS candidate up  \x1b[31mred\x1b[0m".into()),
    );
    hear(
        &mut m,
        id,
        Event::Line("  FAIL heartbeat     12 s old".into()),
    );
    hear(&mut m, id, Event::Line("       fix: wait".into()));
    hear(&mut m, id + 1, Event::Line("another run's".into()));
    let s = screen(&m);
    let tones: Vec<Tone> = s.lines.iter().map(|l| l.tone).collect();
    assert_eq!(tones, [Tone::Plain, Tone::Pass, Tone::Fail, Tone::Fail]);
    assert_eq!(s.lines[1].text, "  PASS candidate up  red");
    assert_eq!(s.lines.len(), 4, "another id's line is not shown");
}

#[test]
fn a_refusal_shows_its_reason_and_only_esc_closes() {
    let mut m = healthy();
    let id = opened(&mut m);
    hear(&mut m, id, Event::Line("  FAIL heartbeat  old".into()));
    let why = Outcome::refused("pre-check failed: heartbeat; nothing was changed");
    hear(&mut m, id, Event::Ended(why.clone()));
    assert_eq!(screen(&m).phase, Phase::Refused(why));
    // Typing does nothing here; Enter neither.
    typed(&mut m, "jukebox");
    assert!(press(&mut m, KeyCode::Enter).is_empty());
    assert!(matches!(screen(&m).phase, Phase::Refused(_)));
    assert!(press(&mut m, KeyCode::Esc).is_empty(), "nothing to let go");
    assert!(m.actions.switchover.is_none());
    assert!(
        m.flash
            .as_deref()
            .unwrap_or("")
            .contains("refused: pre-check failed: heartbeat"),
        "{:?}",
        m.flash
    );
    assert!(!m.actions.reload, "nothing changed: no reload");
}

#[test]
fn esc_before_the_name_lets_the_run_go_with_nothing_changed() {
    let mut m = healthy();
    let id = asking(&mut m);
    typed(&mut m, "juke");
    assert_eq!(
        press(&mut m, KeyCode::Esc),
        [Effect::Switchover(Request::Cancel { id })]
    );
    assert!(m.actions.switchover.is_none());
    assert_eq!(
        m.flash.as_deref(),
        Some("switchover to jukebox cancelled: nothing was changed")
    );
    // Also while the pre-checks still run.
    let mut m = healthy();
    let id = opened(&mut m);
    assert_eq!(
        press(&mut m, KeyCode::Esc),
        [Effect::Switchover(Request::Cancel { id })]
    );
    // The run's late lines and end find no screen.
    assert!(hear(&mut m, id, Event::Prepared).is_empty());
    assert!(m.actions.switchover.is_none());
}

#[test]
fn only_the_exact_name_starts_the_steps() {
    let mut m = healthy();
    let id = asking(&mut m);
    assert!(matches!(screen(&m).phase, Phase::Confirm(_)));
    // q and y are letters of a name here, not keys.
    typed(&mut m, "jukebo");
    assert!(press(&mut m, KeyCode::Enter).is_empty());
    assert_eq!(
        screen(&m).note.as_deref(),
        Some("the name typed is not jukebox; nothing was changed")
    );
    assert!(matches!(screen(&m).phase, Phase::Confirm(_)), "it stays");
    assert!(!m.quit);
    typed(&mut m, "x");
    assert!(screen(&m).note.is_none(), "editing clears the note");
    assert_eq!(
        press(&mut m, KeyCode::Enter),
        [Effect::Switchover(Request::Execute { id })]
    );
    assert_eq!(screen(&m).phase, Phase::Running);
    assert_eq!(
        m.actions.running.get(&id).map(String::as_str),
        Some("switchover jukebox")
    );
}

#[test]
fn the_steps_stream_then_the_outcome_and_closing_reloads() {
    let mut m = healthy();
    let id = asking(&mut m);
    typed(&mut m, "jukebox");
    press(&mut m, KeyCode::Enter);
    hear(
        &mut m,
        id,
        Event::Line("[1/10] fence the old master ...".into()),
    );
    hear(&mut m, id, Event::Detail("app stopped".into()));
    hear(&mut m, id, Event::Line("[1/10] ok (0.4 s): fenced".into()));
    let s = screen(&m);
    assert_eq!(s.step.as_deref(), Some("[1/10] ok (0.4 s): fenced"));
    assert_eq!(
        s.lines
            .iter()
            .rev()
            .nth(1)
            .map(|l| (l.tone, l.text.as_str())),
        Some((Tone::Detail, "  | app stopped"))
    );
    // Esc does not close while the steps run.
    assert!(press(&mut m, KeyCode::Esc).is_empty());
    assert!(screen(&m).note.as_deref().unwrap_or("").contains("running"));
    let done = Outcome::ok("jukebox is the master; cavaforgepad replicate(s) from it");
    assert!(hear(&mut m, id, Event::Ended(done.clone())).is_empty());
    assert_eq!(screen(&m).phase, Phase::Done(done));
    assert!(m.actions.running.is_empty());
    assert_eq!(press(&mut m, KeyCode::Esc), [Effect::Reload]);
    assert!(m.actions.switchover.is_none());
    assert_eq!(
        m.flash.as_deref(),
        Some("switchover to jukebox: ok: jukebox is the master; cavaforgepad replicate(s) from it")
    );
    // A failed run reloads too: a failover's first step edits the file.
    let mut m = healthy();
    let id = asking(&mut m);
    typed(&mut m, "jukebox");
    press(&mut m, KeyCode::Enter);
    hear(
        &mut m,
        id,
        Event::Ended(Outcome::failed("step drain failed")),
    );
    assert!(matches!(&screen(&m).phase, Phase::Done(o) if o.status == Status::Failed));
    assert_eq!(press(&mut m, KeyCode::Esc), [Effect::Reload]);
}

#[test]
fn quitting_while_the_steps_run_asks_and_waiting_quits_at_the_end() {
    let mut m = healthy();
    let id = asking(&mut m);
    // q on the prompt is a letter.
    press(&mut m, KeyCode::Char('q'));
    assert!(!m.quit && !m.actions.quit_ask);
    press(&mut m, KeyCode::Backspace);
    typed(&mut m, "jukebox");
    press(&mut m, KeyCode::Enter);
    assert!(press(&mut m, KeyCode::Char('q')).is_empty());
    assert!(m.actions.quit_ask, "asks: wait or leave");
    press(&mut m, KeyCode::Char('w'));
    let fx = hear(&mut m, id, Event::Ended(Outcome::ok("done")));
    assert_eq!(fx.last(), Some(&Effect::Quit), "{fx:?}");
    // With nothing running, q quits at once (here before the name).
    let mut m = healthy();
    opened(&mut m);
    assert_eq!(
        press(&mut m, KeyCode::Char('q')).last(),
        Some(&Effect::Quit)
    );
}

#[test]
fn the_lines_scroll_back_and_hold_their_place() {
    let mut m = healthy();
    let id = asking(&mut m);
    for i in 0..100 {
        hear(&mut m, id, Event::Line(format!("plan line {i}")));
    }
    let (_, rows) = body_size(&m);
    press(&mut m, KeyCode::PageUp);
    let back = screen(&m).scroll;
    assert_eq!(back, rows - 1);
    hear(&mut m, id, Event::Line("one more".into()));
    assert_eq!(screen(&m).scroll, back + 1, "the view holds");
    press(&mut m, KeyCode::PageDown);
    press(&mut m, KeyCode::PageDown);
    assert_eq!(screen(&m).scroll, 0, "back to following");
    // Home and End are the typed name's; g and G scroll once it is typed.
    for _ in 0..200 {
        press(&mut m, KeyCode::Up);
    }
    assert_eq!(screen(&m).scroll, 103 - rows, "no further than the oldest");
}

#[test]
fn long_lines_wrap_at_the_width() {
    assert_eq!(wrap("abcdef", 4), ["abcd", "ef"]);
    assert_eq!(wrap("", 4), [""]);
    // Wide characters are not split across rows.
    assert_eq!(wrap("ab日本", 3), ["ab", "日", "本"]);
    assert!(step_line("[3/10] stop ..."));
    assert!(!step_line("[x] no"));
    assert!(!step_line("[/] no"));
}
