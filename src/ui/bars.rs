//! The title bar (connection state of every host, the verdict) and the
//! hint bar (keys from the live keymap, or the prompt, or a message).

use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use crate::ui::text::clean;
use crate::ui::Theme;
use archtui_core::app::{InputKind, Model, Pane};
use archtui_core::keymap::Action;
use archtui_core::model::HostState;

pub fn title(m: &Model, t: &Theme, f: &mut Frame, area: Rect) {
    let mut spans = vec![Span::styled(
        "archtui",
        Style::default().add_modifier(Modifier::BOLD),
    )];
    for h in m.hosts.iter().map(|h| &h.seen) {
        let mark = crate::ui::text::host_mark(h.state);
        spans.push(Span::raw("  "));
        spans.push(Span::styled(mark, t.host_state(h.state)));
        spans.push(Span::raw(format!(" {}", clean(&h.host.name))));
        if h.state != HostState::Up {
            spans.push(Span::styled(
                format!(" {}", h.state.as_str()),
                t.host_state(h.state),
            ));
        }
    }
    if let Some(v) = &m.verdict {
        spans.push(Span::raw("  "));
        spans.push(Span::styled(v.level.as_str(), t.level(v.level)));
        if let Some(first) = v.reasons.first() {
            let more = match v.reasons.len() {
                1 => String::new(),
                n => format!(" (+{} more)", n - 1),
            };
            spans.push(Span::raw(format!(": {}{more}", clean(&first.message))));
        }
    }
    if m.read_only {
        spans.push(Span::styled("  [read-only]", t.stale()));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// Short labels for the hint bar; the help overlay has the long ones.
fn short(a: Action, m: &Model) -> &'static str {
    match a {
        Action::Quit => "quit",
        Action::Help => "help",
        Action::NextPane => "pane",
        Action::Open if m.focus == Pane::Fleet => "containers",
        Action::Open => "logs",
        Action::Back => "back",
        Action::AddToLog => "add to log",
        Action::HostLogs => "all logs",
        Action::Follow if m.log.as_ref().is_some_and(|v| v.follow) => "pause",
        Action::Follow => "follow",
        Action::Search => "search",
        Action::NextMatch => "older",
        Action::PrevMatch => "newer",
        Action::Filter => "filter",
        Action::Wrap => "wrap",
        Action::Timestamps => "time",
        Action::Bottom => "newest",
        Action::NewSlave => "new slave",
        Action::Switchover => "switchover",
        Action::Failover => "failover",
        Action::PageUp => "older",
        Action::PageDown => "newer",
        _ => "",
    }
}

pub fn hints(m: &Model, t: &Theme, f: &mut Frame, area: Rect) {
    let line = if let Some(input) = &m.input {
        let prompt = match input.kind {
            InputKind::Search => "/",
            InputKind::Filter => "filter: ",
        };
        // The cursor: a block at the end, else the character under it
        // reversed.
        let mut spans = vec![Span::styled(
            prompt,
            Style::default().add_modifier(Modifier::BOLD),
        )];
        spans.extend(crate::ui::text::typed(
            input.text.value(),
            input.text.cursor(),
            usize::from(area.width).saturating_sub(prompt.len()),
            Style::default(),
            Style::default().add_modifier(Modifier::REVERSED),
            Span::styled("█", Style::default().add_modifier(Modifier::SLOW_BLINK)),
        ));
        spans.push(Span::styled("  ⏎ apply  Esc cancel", t.stale()));
        Line::from(spans)
    } else if let Some(msg) = &m.flash {
        Line::from(Span::styled(
            clean(msg),
            t.fg(ratatui::style::Color::Yellow),
        ))
    } else {
        let actions: &[Action] = match m.focus {
            // The action pane is where the log pane is.
            Pane::Logs if m.actions.pane.is_some() => &[
                Action::PageUp,
                Action::PageDown,
                Action::Bottom,
                Action::NextPane,
                Action::Help,
                Action::Quit,
            ],
            // On a slave's row: the two keys that make it the master.
            Pane::Fleet
                if m.selected_host()
                    .is_some_and(|h| h.seen.host.role == archtui_core::config::Role::Slave) =>
            {
                &[
                    Action::Open,
                    Action::NextPane,
                    Action::Switchover,
                    Action::Failover,
                    Action::NewSlave,
                    Action::Help,
                    Action::Quit,
                ]
            }
            Pane::Fleet => &[
                Action::Open,
                Action::NextPane,
                Action::NewSlave,
                Action::Help,
                Action::Quit,
            ],
            Pane::Containers => &[
                Action::Open,
                Action::AddToLog,
                Action::HostLogs,
                Action::Back,
                Action::Help,
                Action::Quit,
            ],
            Pane::Syncs => &[Action::NextPane, Action::Back, Action::Help, Action::Quit],
            Pane::Logs => &[
                Action::Follow,
                Action::Search,
                Action::NextMatch,
                Action::PrevMatch,
                Action::Filter,
                Action::Wrap,
                Action::Timestamps,
                Action::Back,
                Action::Help,
                Action::Quit,
            ],
        };
        let key = t.paint(
            Style::default()
                .fg(ratatui::style::Color::Cyan)
                .add_modifier(Modifier::BOLD),
        );
        let mut spans = Vec::new();
        for a in actions {
            if let Some(k) = m.keymap.hint(*a) {
                if !spans.is_empty() {
                    spans.push(Span::raw("  "));
                }
                spans.push(Span::styled(k, key));
                spans.push(Span::raw(format!(" {}", short(*a, m))));
            }
        }
        Line::from(spans)
    };
    f.render_widget(Paragraph::new(line), area);
}
