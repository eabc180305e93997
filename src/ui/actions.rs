//! The fleet-action overlays: the confirmation (naming host and target,
//! Cancel selected by default) and the pane with an action's live output.

use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};
use ratatui::Frame;

use crate::ui::text::clean;
use crate::ui::Theme;
use archtui_core::actions::Status;
use archtui_core::app::actions::{ActionPane, Confirm};
use archtui_core::app::Model;

/// "Quit while actions run: wait, or leave them running on the host?"
pub fn quit_ask(m: &Model, t: &Theme, f: &mut Frame, area: Rect) {
    let mut targets: Vec<&str> = m.actions.running.values().map(String::as_str).collect();
    targets.sort_unstable();
    let running = match (&m.actions.switchover, targets.len()) {
        (Some(s), _) => format!(
            "A {} to {} is running; left, it resumes where it stopped when its screen is opened again.",
            s.kind.name(),
            clean(&s.candidate)
        ),
        (None, 1) => format!("An action is running on {}.", clean(targets[0])),
        (None, n) => format!("{n} actions are running: {}.", clean(&targets.join(", "))),
    };
    leave_ask(running, "quit", "the console", t, f, area);
}

/// The question of leaving while work runs, for the console and the
/// wizard alike: `running` says what runs, `then` what leaving does,
/// `here` where Esc stays.
pub fn leave_ask(running: String, then: &str, here: &str, t: &Theme, f: &mut Frame, area: Rect) {
    let lines = vec![
        Line::from(Span::styled(
            running,
            Style::default().add_modifier(Modifier::BOLD),
        )),
        Line::from(""),
        Line::from(format!("w  wait for it to end, then {then}")),
        Line::from(format!(
            "l  leave it running on the host and {then} (audited as interrupted)"
        )),
        Line::from(Span::styled(format!("Esc  stay in {here}"), t.stale())),
    ];
    let w = 72.min(area.width);
    let inner = usize::from(w.saturating_sub(2)).max(1);
    let rows: usize = lines.iter().map(|l| l.width().max(1).div_ceil(inner)).sum();
    let h = (rows as u16 + 2).min(area.height);
    let popup = super::centered(area, w, h);
    let block = Block::bordered().title(format!(" {then}? ")).border_style(
        t.paint(
            Style::default()
                .fg(Color::Yellow)
                .add_modifier(Modifier::BOLD),
        ),
    );
    f.render_widget(Clear, popup);
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(block),
        popup,
    );
}

pub fn confirm(c: &Confirm, t: &Theme, f: &mut Frame, area: Rect) {
    let w = (c.question.chars().count() as u16 + 4)
        .clamp(52, 76)
        .min(area.width);
    let mut lines = vec![
        Line::from(Span::styled(
            clean(&c.question),
            Style::default().add_modifier(Modifier::BOLD),
        )),
        Line::from(""),
    ];
    let on = t.paint(
        Style::default()
            .fg(Color::Black)
            .bg(Color::Yellow)
            .add_modifier(Modifier::BOLD | Modifier::REVERSED),
    );
    let off = Style::default();
    match &c.expect {
        Some(name) => {
            if let Some(o) = &c.option {
                lines.push(Line::from(vec![
                    Span::styled(
                        if o.on { "[x] " } else { "[ ] " },
                        Style::default().add_modifier(Modifier::BOLD),
                    ),
                    Span::raw(o.label),
                    Span::styled("  (Tab)", t.stale()),
                ]));
            }
            lines.push(Line::from(format!("Type the name ({name}) to confirm:")));
            let bold = Style::default().add_modifier(Modifier::BOLD);
            let mut typed = vec![Span::raw("> ")];
            // The popup wraps a long name: no room to cut it to.
            typed.extend(crate::ui::text::typed(
                c.typed.value(),
                c.typed.cursor(),
                usize::MAX,
                bold,
                bold.add_modifier(Modifier::REVERSED),
                Span::styled("_", t.stale()),
            ));
            lines.push(Line::from(typed));
            lines.push(Line::from(Span::styled(
                "⏎ confirm · Esc cancel",
                t.stale(),
            )));
        }
        None => {
            let (cancel, yes) = if c.yes_selected { (off, on) } else { (on, off) };
            lines.push(Line::from(vec![
                Span::raw("   "),
                Span::styled("[ Cancel ]", cancel),
                Span::raw("   "),
                Span::styled("[ Confirm ]", yes),
            ]));
            lines.push(Line::from(Span::styled(
                "←/→ choose · ⏎ select · y confirm · Esc cancel",
                t.stale(),
            )));
        }
    }
    // Rows once wrapped, so the prompt under a long question stays in view.
    let inner = usize::from(w.saturating_sub(2)).max(1);
    let rows: usize = lines.iter().map(|l| l.width().max(1).div_ceil(inner)).sum();
    let h = (rows as u16 + 2).min(area.height);
    let popup = super::centered(area, w, h);
    let block = Block::bordered()
        .title(format!(" {} on {} ", c.action.name(), c.host))
        .border_style(
            t.paint(
                Style::default()
                    .fg(Color::Yellow)
                    .add_modifier(Modifier::BOLD),
            ),
        );
    f.render_widget(Clear, popup);
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(block),
        popup,
    );
}

fn status_style(t: &Theme, s: Status) -> Style {
    t.paint(Style::default().add_modifier(Modifier::BOLD).fg(match s {
        Status::Ok => Color::Green,
        Status::Timeout => Color::Yellow,
        _ => Color::Red,
    }))
}

/// The action's output where the log pane is; the newest lines at the
/// bottom, its outcome on the border once it is done.
pub fn pane(p: &ActionPane, _m: &Model, t: &Theme, f: &mut Frame, area: Rect) {
    let rows = area.height.saturating_sub(2) as usize;
    let end = p.lines.len().saturating_sub(p.scroll);
    let skip = end.saturating_sub(rows);
    let lines: Vec<Line> = p
        .lines
        .iter()
        .take(end)
        .skip(skip)
        .map(|l| Line::from(clean(l)))
        .collect();
    let state = match &p.outcome {
        None => Span::styled(" running… ", t.fg(Color::Cyan)),
        Some(o) => Span::styled(
            format!(" {}: {} ", o.status, clean(&o.message)),
            status_style(t, o.status),
        ),
    };
    let mut bottom = vec![state];
    if p.dropped > 0 {
        bottom.push(Span::styled(
            format!(" {} older lines dropped ", p.dropped),
            t.stale(),
        ));
    }
    if p.scroll > 0 {
        bottom.push(Span::styled(
            format!(" ↑{} lines · End follows ", p.scroll),
            t.fg(Color::Yellow),
        ));
    }
    bottom.push(Span::styled(" Esc closes ", t.stale()));
    let block = Block::bordered()
        .title(format!(" {} ", clean(&p.title)))
        .title_bottom(Line::from(bottom))
        .border_style(t.border(true));
    f.render_widget(Clear, area);
    f.render_widget(Paragraph::new(lines).block(block), area);
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use archtui_core::actions::{Action, Outcome};
    use archtui_core::app::actions::{ActionPane, Confirm};
    use archtui_core::app::fixtures::*;
    use archtui_core::app::Model;
    use archtui_core::line_edit::Field;

    use ratatui::backend::TestBackend;
    use ratatui::Terminal;

    use crate::ui::tests::render;

    fn restart_confirm() -> Confirm {
        Confirm {
            action: Action::Restart {
                host: "jukebox".into(),
                service: "app".into(),
            },
            host: "jukebox".into(),
            question: "Restart container app on jukebox?".into(),
            expect: None,
            typed: Default::default(),
            yes_selected: false,
            option: None,
        }
    }

    #[test]
    fn quitting_while_an_action_runs_asks_wait_or_leave() {
        let mut m = healthy();
        m.actions.running.insert(1, "jukebox".into());
        m.actions.quit_ask = true;
        let screen = render(&mut m, 100, 30);
        assert!(screen.contains("quit?"), "{screen}");
        assert!(
            screen.contains("An action is running on jukebox."),
            "{screen}"
        );
        assert!(
            screen.contains("w  wait for it to end, then quit"),
            "{screen}"
        );
        assert!(
            screen.contains("l  leave it running on the host and quit"),
            "{screen}"
        );
    }

    #[test]
    fn confirmation_overlay() {
        let mut m = healthy();
        m.actions.confirm = Some(restart_confirm());
        let screen = render(&mut m, 80, 24);
        assert!(screen.contains("Restart container app on jukebox?"));
        insta::assert_snapshot!("confirm_restart_80x24", screen);
        let mut m = healthy();
        m.actions.confirm = Some(Confirm {
            action: Action::Deploy {
                host: "cavaforgepad".into(),
                from: "/src/archive".into(),
                plan_only: false,
                allow_empty: false,
            },
            host: "cavaforgepad".into(),
            question: "Deploy the stack to cavaforgepad (master) in /srv/archive?".into(),
            expect: Some("cavaforgepad".into()),
            typed: Field::new("cavaf", 64),
            yes_selected: false,
            option: None,
        });
        insta::assert_snapshot!("confirm_deploy_master_80x24", render(&mut m, 80, 24));
    }

    #[test]
    fn a_typed_name_shows_its_cursor_where_it_is() {
        use ratatui::style::Modifier;
        let mut m = healthy();
        m.actions.confirm = Some(Confirm {
            expect: Some("cavaforgepad".into()),
            typed: Field::new("cavaf", 64),
            ..restart_confirm()
        });
        let draw = |m: &Model| {
            let mut term = Terminal::new(TestBackend::new(80, 24)).unwrap();
            term.draw(|f| crate::ui::view(m, f)).unwrap();
            term.backend().buffer().clone()
        };
        let at_end = draw(&m);
        assert!(crate::ui::cells_at(&at_end, "> cavaf_").is_some());
        let press = |m: &mut Model, k: KeyCode| {
            archtui_core::app::update(m, archtui_core::app::Msg::Key(KeyEvent::from(k)))
        };
        use archtui_core::key::{KeyCode, KeyEvent};
        press(&mut m, KeyCode::Home);
        press(&mut m, KeyCode::Right);
        let buf = draw(&m);
        assert!(
            crate::ui::cells_at(&buf, "> cavaf_").is_none(),
            "no end mark"
        );
        let cells = crate::ui::cells_at(&buf, "> cavaf").expect("the typed line");
        let reversed: Vec<bool> = cells[2..7]
            .iter()
            .map(|c| c.modifier.contains(Modifier::REVERSED))
            .collect();
        assert_eq!(reversed, [false, true, false, false, false], "under the a");
    }

    #[test]
    fn retire_overlay_with_its_stop_option() {
        use archtui_core::key::{KeyCode, KeyEvent};
        let mut m = healthy();
        m.config_path = "/home/op/.config/archtui/config.toml".into();
        let press = |m: &mut Model, k: KeyCode| {
            archtui_core::app::update(m, archtui_core::app::Msg::Key(KeyEvent::from(k)))
        };
        press(&mut m, KeyCode::Down);
        press(&mut m, KeyCode::Char('X'));
        for c in "jukeb".chars() {
            press(&mut m, KeyCode::Char(c));
        }
        let off = render(&mut m, 80, 24);
        assert!(off.contains("[ ] also stop its stack"), "{off}");
        press(&mut m, KeyCode::Tab);
        let on = render(&mut m, 80, 24);
        assert!(on.contains("[x] also stop its stack"), "{on}");
        insta::assert_snapshot!("confirm_retire_stop_80x24", on);
    }

    #[test]
    fn deploy_output_pane() {
        let mut m = healthy();
        let lines: VecDeque<String> = [
            "Plan for jukebox:",
            "  changed   env.slave",
            "  env.slave:",
            "    + RAILS_SERVE_STATIC_FILES=false",
            "copying the stack to jukebox:/srv/archive",
            "docker compose up -d --build",
            " Container archive-app-1  Recreate",
            " Container archive-app-1  Recreated",
            " Container archive-app-1  Started",
            "waiting for the services to be healthy",
        ]
        .map(String::from)
        .into();
        m.actions.pane = Some(ActionPane {
            id: 1,
            title: "deploy jukebox --from /src/archive on jukebox".into(),
            lines: lines.clone(),
            dropped: 0,
            outcome: None,
            scroll: 0,
        });
        insta::assert_snapshot!("deploy_pane_running_80x24", render(&mut m, 80, 24));
        m.actions.pane = Some(ActionPane {
            id: 1,
            title: "deploy jukebox --from /src/archive on jukebox".into(),
            lines,
            dropped: 3,
            outcome: Some(Outcome::failed(
                "deploy to jukebox: docker compose up failed",
            )),
            scroll: 0,
        });
        insta::assert_snapshot!("deploy_pane_failed_200x50", render(&mut m, 200, 50));
        // Scrolled back: the older lines, and how to follow again.
        let mut p = ActionPane::new(2, "deploy jukebox on jukebox".into());
        for i in 0..60 {
            p.push(format!("#{i} build step {i}"));
        }
        p.scroll = 10;
        m.actions.pane = Some(p);
        let scrolled = render(&mut m, 80, 24);
        assert!(scrolled.contains("#49 build step 49") && !scrolled.contains("#50 "));
        insta::assert_snapshot!("deploy_pane_scrolled_80x24", scrolled);
    }

    #[test]
    fn a_pause_the_daemon_forgot_still_shows() {
        let mut m = healthy();
        assert!(!render(&mut m, 80, 24).contains("paused*"));
        m.actions.paused.insert("archive_jukebox".into());
        assert!(render(&mut m, 80, 24).contains("paused*"));
    }
}
