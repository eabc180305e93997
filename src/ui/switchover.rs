//! The switchover and failover screen: the fleet's title bar, the run's
//! lines (newest at the bottom, scrollable), then the typed-name prompt,
//! where the run is, or its outcome, and the keys. Lines were sanitized
//! as they came in (`archtui_core::app::switchover`).

use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};
use ratatui::Frame;

use crate::ui::text::clean;
use crate::ui::Theme;
use archtui_core::actions::Status;
use archtui_core::app::switchover::{areas, Phase, Screen, Tone};
use archtui_core::app::Model;

pub fn screen(s: &Screen, m: &Model, t: &Theme, f: &mut Frame, area: Rect) {
    let a = areas(area);
    f.render_widget(Clear, area);
    super::bars::title(m, t, f, a.title);
    body(s, t, f, a.body);
    footer(s, t, f, a.footer);
    let keys = match &s.phase {
        Phase::Confirm(_) => "⏎ start · Esc cancel (nothing is changed) · ↑/↓ PgUp/PgDn scroll",
        Phase::Preparing => "Esc cancel (nothing is changed) · ↑/↓ PgUp/PgDn scroll · q quit",
        Phase::Running => "↑/↓ PgUp/PgDn scroll · q quit (asks first)",
        Phase::Refused(_) => "Esc close · ↑/↓ PgUp/PgDn scroll · q quit",
        Phase::Done(_) => "Esc close and reload the config · ↑/↓ PgUp/PgDn scroll · q quit",
    };
    f.render_widget(
        Paragraph::new(Line::from(Span::styled(keys, t.stale()))),
        a.hints,
    );
}

fn status_style(t: &Theme, s: Status) -> Style {
    t.paint(Style::default().add_modifier(Modifier::BOLD).fg(match s {
        Status::Ok => Color::Green,
        Status::Timeout => Color::Yellow,
        _ => Color::Red,
    }))
}

fn body(s: &Screen, t: &Theme, f: &mut Frame, area: Rect) {
    let width = usize::from(area.width.saturating_sub(2)).max(1);
    let height = usize::from(area.height.saturating_sub(2));
    let rows = s.rows(width);
    let scroll = s.scroll.min(rows.len().saturating_sub(height));
    let end = rows.len() - scroll;
    let lines: Vec<Line> = rows[end.saturating_sub(height)..end]
        .iter()
        .map(|r| {
            let style = match r.tone {
                Tone::Plain => Style::default(),
                Tone::Pass => t.fg(Color::Green),
                Tone::Fail => t.paint(Style::default().fg(Color::Red).add_modifier(Modifier::BOLD)),
                Tone::Step => Style::default().add_modifier(Modifier::BOLD),
                Tone::Detail => t.stale(),
            };
            Line::from(Span::styled(r.text.clone(), style))
        })
        .collect();
    let state = match &s.phase {
        Phase::Preparing => Span::styled(" pre-checks… ", t.fg(Color::Cyan)),
        Phase::Confirm(_) => Span::styled(" waiting for the name ", t.fg(Color::Yellow)),
        Phase::Running => Span::styled(" running… ", t.fg(Color::Cyan)),
        Phase::Refused(o) | Phase::Done(o) => {
            Span::styled(format!(" {} ", o.status), status_style(t, o.status))
        }
    };
    let mut bottom = vec![state];
    if s.dropped > 0 {
        bottom.push(Span::styled(
            format!(" {} older lines dropped ", s.dropped),
            t.stale(),
        ));
    }
    if scroll > 0 {
        bottom.push(Span::styled(
            format!(" ↑{scroll} rows · PgDn follows "),
            t.fg(Color::Yellow),
        ));
    }
    let block = Block::bordered()
        .title(Span::styled(
            format!(" {} ", s.title()),
            Style::default().add_modifier(Modifier::BOLD),
        ))
        .title_bottom(Line::from(bottom))
        .border_style(t.border(true));
    f.render_widget(Paragraph::new(lines).block(block), area);
}

fn footer(s: &Screen, t: &Theme, f: &mut Frame, area: Rect) {
    let bold = Style::default().add_modifier(Modifier::BOLD);
    let note = |n: &Option<String>| {
        n.as_ref()
            .map(|n| Line::from(Span::styled(clean(n), t.fg(Color::Yellow))))
    };
    let mut lines = Vec::new();
    match &s.phase {
        Phase::Preparing => lines.push(Line::from(Span::styled(
            "Reading the fleet for the pre-checks and the plan; nothing is changed.",
            t.fg(Color::Cyan),
        ))),
        Phase::Confirm(typed) => {
            lines.push(Line::from(Span::styled(s.prompt(), bold)));
            let mut spans = vec![Span::raw("> ")];
            spans.extend(crate::ui::text::typed(
                typed.value(),
                typed.cursor(),
                usize::from(area.width).saturating_sub(2),
                bold,
                bold.add_modifier(Modifier::REVERSED),
                Span::styled("_", t.stale()),
            ));
            lines.push(Line::from(spans));
            lines.extend(note(&s.note));
        }
        Phase::Running => {
            let at = s.step.as_deref().unwrap_or("starting");
            lines.push(Line::from(vec![
                Span::styled("running… ", t.fg(Color::Cyan)),
                Span::raw(clean(at)),
            ]));
            lines.extend(note(&s.note));
        }
        Phase::Refused(o) | Phase::Done(o) => {
            lines.push(Line::from(Span::styled(
                format!("{}: {}", o.status, clean(&o.message)),
                status_style(t, o.status),
            )));
            if matches!(s.phase, Phase::Refused(_)) {
                lines.push(Line::from(Span::styled(
                    "Nothing was changed. Esc closes.",
                    t.stale(),
                )));
            }
        }
    }
    f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), area);
}

#[cfg(test)]
mod tests {

    use archtui_core::app::fixtures::*;
    use archtui_core::app::switchover::Event;
    use archtui_core::app::{update, Model, Msg};
    use archtui_core::key::{KeyCode, KeyEvent};

    use crate::ui::tests::render;

    fn press(m: &mut Model, k: KeyCode) {
        update(m, Msg::Key(KeyEvent::from(k)));
    }

    fn hear(m: &mut Model, e: Event) {
        let id = m.actions.switchover.as_ref().unwrap().id;
        update(m, Msg::Switchover { id, event: e });
    }

    #[test]
    fn the_screen_shows_its_lines_the_prompt_and_the_outcome() {
        let mut m = healthy();
        press(&mut m, KeyCode::Down);
        press(&mut m, KeyCode::Char('S'));
        hear(
            &mut m,
            Event::Line("Pre-checks (nothing is changed):".into()),
        );
        hear(
            &mut m,
            Event::Line("  PASS candidate up     \x1b]0;title\x07jukebox answers".into()),
        );
        let screen = render(&mut m, 80, 24);
        assert!(screen.contains("┌ Switchover to jukebox "), "{screen}");
        assert!(screen.contains("PASS candidate up"), "{screen}");
        assert!(!screen.contains("title"), "sanitized: {screen}");
        assert!(screen.contains("pre-checks…"), "{screen}");
        hear(&mut m, Event::Prepared);
        "jukebx"
            .chars()
            .for_each(|c| press(&mut m, KeyCode::Char(c)));
        press(&mut m, KeyCode::Enter);
        let screen = render(&mut m, 80, 24);
        assert!(
            screen.contains("Type the new master's name (jukebox) to switch over:"),
            "{screen}"
        );
        assert!(screen.contains("> jukebx"), "{screen}");
        assert!(
            screen.contains("the name typed is not jukebox; nothing was changed"),
            "{screen}"
        );
        press(&mut m, KeyCode::Left);
        press(&mut m, KeyCode::Char('o'));
        press(&mut m, KeyCode::Enter);
        hear(
            &mut m,
            Event::Line("[1/10] fence the old master ...".into()),
        );
        hear(&mut m, Event::Detail("app stopped".into()));
        let screen = render(&mut m, 80, 24);
        assert!(
            screen.contains("running… [1/10] fence the old master ..."),
            "{screen}"
        );
        assert!(screen.contains("  | app stopped"), "{screen}");
        hear(
            &mut m,
            Event::Ended(archtui_core::actions::Outcome::ok(
                "jukebox is the master; cavaforgepad replicate(s) from it",
            )),
        );
        let screen = render(&mut m, 80, 24);
        assert!(
            screen.contains("ok: jukebox is the master; cavaforgepad replicate(s) from it"),
            "{screen}"
        );
        assert!(
            screen.contains("Esc close and reload the config"),
            "{screen}"
        );
        // Quitting asks over the screen, naming the run, while it runs.
        let mut m = healthy();
        press(&mut m, KeyCode::Down);
        press(&mut m, KeyCode::Char('F'));
        hear(&mut m, Event::Prepared);
        "jukebox"
            .chars()
            .for_each(|c| press(&mut m, KeyCode::Char(c)));
        press(&mut m, KeyCode::Enter);
        press(&mut m, KeyCode::Char('q'));
        let screen = render(&mut m, 80, 24);
        assert!(screen.contains("┌ Failover to jukebox "), "{screen}");
        assert!(
            screen.contains("A failover to jukebox is running"),
            "{screen}"
        );
    }

    #[test]
    fn a_refusal_shows_the_fail_lines_and_the_reason() {
        let mut m = healthy();
        press(&mut m, KeyCode::Down);
        press(&mut m, KeyCode::Char('S'));
        hear(
            &mut m,
            Event::Line("  FAIL heartbeat fresh   41 s old".into()),
        );
        hear(
            &mut m,
            Event::Line("       fix: look at jukebox's Bucardo".into()),
        );
        hear(
            &mut m,
            Event::Ended(archtui_core::actions::Outcome::refused(
                "pre-check failed: heartbeat fresh; nothing was changed",
            )),
        );
        let screen = render(&mut m, 80, 24);
        assert!(screen.contains("FAIL heartbeat fresh"), "{screen}");
        assert!(
            screen.contains("fix: look at jukebox's Bucardo"),
            "{screen}"
        );
        assert!(
            screen.contains("refused: pre-check failed: heartbeat fresh; nothing was changed"),
            "{screen}"
        );
        assert!(
            screen.contains("Nothing was changed. Esc closes."),
            "{screen}"
        );
    }
}
