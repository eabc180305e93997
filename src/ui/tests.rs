//! Every screen and overlay as a snapshot, at 80x24 and 200x50.

use archtui_core::key::{KeyCode, KeyEvent};
use ratatui::backend::TestBackend;
use ratatui::Terminal;

use archtui_core::app::fixtures::*;
use archtui_core::app::{update, Model, Msg};

const SIZES: [(u16, u16); 2] = [(80, 24), (200, 50)];

/// The whole view of `m` at `w` x `h`, as text (every ui test module's).
pub(crate) fn render(m: &mut Model, w: u16, h: u16) -> String {
    m.size = (w, h);
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    term.draw(|f| super::view(m, f)).unwrap();
    term.backend().to_string()
}

fn keys(m: &mut Model, ks: &[KeyCode]) {
    for k in ks {
        update(m, Msg::Key(KeyEvent::from(*k)));
    }
}

fn snap(name: &str, make: impl Fn() -> Model) {
    for (w, h) in SIZES {
        let mut m = make();
        let screen = render(&mut m, w, h);
        insta::assert_snapshot!(format!("{name}_{w}x{h}"), screen);
    }
}

#[test]
fn all_healthy() {
    snap("healthy", healthy);
}

#[test]
fn starting_up() {
    snap("connecting", model);
}

#[test]
fn host_unreachable() {
    snap("unreachable", || {
        let mut m = jukebox_unreachable();
        keys(&mut m, &[KeyCode::Down]);
        m
    });
}

#[test]
fn sync_paused_with_pending_rows() {
    snap("sync_paused", || {
        let mut m = sync_paused();
        keys(&mut m, &[KeyCode::Tab, KeyCode::Tab]);
        m
    });
}

#[test]
fn log_following() {
    snap("log_following", || with_log(500));
}

#[test]
fn log_paused_with_new_lines() {
    snap("log_paused", || {
        let mut m = with_log(500);
        keys(
            &mut m,
            &[KeyCode::Char('f'), KeyCode::Char('k'), KeyCode::Char('k')],
        );
        let stream = m.log.as_ref().unwrap().stream;
        update(
            &mut m,
            Msg::LogLines {
                stream,
                lines: (500..542).map(|i| log_line(0, i)).collect(),
            },
        );
        m
    });
}

#[test]
fn log_searching() {
    snap("log_search", || {
        let mut m = with_log(500);
        keys(&mut m, &[KeyCode::Char('/')]);
        for c in "duplicate".chars() {
            keys(&mut m, &[KeyCode::Char(c)]);
        }
        keys(&mut m, &[KeyCode::Enter, KeyCode::Char('n')]);
        m
    });
    snap("log_search_prompt", || {
        let mut m = with_log(500);
        keys(
            &mut m,
            &[KeyCode::Char('/'), KeyCode::Char('c'), KeyCode::Char('h')],
        );
        m
    });
}

#[test]
fn the_prompt_shows_its_cursor_where_it_is_and_keeps_it_in_view() {
    use ratatui::style::Modifier;
    // The hint bar: the screen's last row.
    let draw = |m: &mut Model, w: u16| {
        m.size = (w, 24);
        let mut term = Terminal::new(TestBackend::new(w, 24)).unwrap();
        term.draw(|f| super::view(m, f)).unwrap();
        let buf = term.backend().buffer();
        buf.content[buf.content.len() - usize::from(w)..].to_vec()
    };
    let mut m = with_log(50);
    keys(&mut m, &[KeyCode::Char('/')]);
    for c in "error".chars() {
        keys(&mut m, &[KeyCode::Char(c)]);
    }
    keys(&mut m, &[KeyCode::Left, KeyCode::Left]);
    let cells = draw(&mut m, 80);
    let text: String = cells.iter().map(|c| c.symbol()).collect();
    assert!(text.starts_with("/error"), "{text}");
    let reversed: Vec<bool> = cells[1..6]
        .iter()
        .map(|c| c.modifier.contains(Modifier::REVERSED))
        .collect();
    assert_eq!(reversed, [false, false, false, true, false], "under the o");
    // Longer than the bar: the start scrolls off, the cursor stays.
    keys(&mut m, &[KeyCode::End]);
    for _ in 0..60 {
        keys(&mut m, &[KeyCode::Char('x')]);
    }
    let cells = draw(&mut m, 40);
    assert_eq!(cells[0].symbol(), "/");
    assert_eq!(cells[39].symbol(), "█", "the cursor at the bar's end");
    assert_eq!(cells[38].symbol(), "x");
}

#[test]
fn log_filtered_wrapped_with_timestamps() {
    snap("log_filter_wrap_time", || {
        let mut m = with_log(500);
        keys(&mut m, &[KeyCode::Char('&')]);
        for c in "INSERT".chars() {
            keys(&mut m, &[KeyCode::Char(c)]);
        }
        keys(
            &mut m,
            &[KeyCode::Enter, KeyCode::Char('w'), KeyCode::Char('t')],
        );
        m
    });
}

#[test]
fn log_several_sources() {
    snap("log_sources", || {
        let mut m = with_log(0);
        keys(
            &mut m,
            &[KeyCode::Esc, KeyCode::Char('g'), KeyCode::Char('a')],
        );
        let stream = m.log.as_ref().unwrap().stream;
        update(
            &mut m,
            Msg::LogLines {
                stream,
                lines: (0..60).map(|i| log_line((i % 2) as u16, i)).collect(),
            },
        );
        m
    });
}

#[test]
fn help_overlay() {
    snap("help", || {
        let mut m = healthy();
        keys(&mut m, &[KeyCode::Char('?')]);
        m
    });
}

#[test]
fn no_color_has_no_colours() {
    let mut m = with_log(50);
    m.color = false;
    m.size = (80, 24);
    let mut term = Terminal::new(TestBackend::new(80, 24)).unwrap();
    term.draw(|f| super::view(&m, f)).unwrap();
    let buf = term.backend().buffer();
    for cell in buf.content() {
        assert_eq!(cell.fg, ratatui::style::Color::Reset, "{cell:?}");
        assert_eq!(cell.bg, ratatui::style::Color::Reset, "{cell:?}");
    }
}

#[test]
fn tiny_and_odd_sizes_do_not_panic() {
    for (w, h) in [(1, 1), (10, 3), (20, 5), (40, 10), (79, 23), (300, 100)] {
        let mut m = with_log(100);
        keys(&mut m, &[KeyCode::Char('w'), KeyCode::Char('?')]);
        render(&mut m, w, h);
        let mut m = jukebox_unreachable();
        render(&mut m, w, h);
    }
}

#[test]
fn escape_sequences_in_logs_stay_text() {
    let mut m = with_log(0);
    let stream = m.log.as_ref().unwrap().stream;
    let raw: &[&[u8]] = &[
        b"\x1b[2J\x1b[Hcleared?",
        b"\x1b]0;title\x07osc",
        b"\x1b[31mred\x1b[0m",
    ];
    let lines = raw
        .iter()
        .map(|r| archtui_core::app::LogLine {
            source: 0,
            ts: None,
            line: archtui_core::sanitize::sanitize(r, 100),
        })
        .collect();
    update(&mut m, Msg::LogLines { stream, lines });
    let screen = render(&mut m, 80, 24);
    assert!(screen.contains("cleared?") && screen.contains("osc") && screen.contains("red"));
    assert!(!screen.contains('\x1b'));
}
