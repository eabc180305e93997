//! The fleet, containers and syncs panes.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table, TableState};
use ratatui::Frame;

use crate::ui::text::{age, clean, lag, sparkline};
use crate::ui::Theme;
use archtui_core::app::{Model, Pane};
use archtui_core::model::HostState;

fn block<'a>(title: Line<'a>, focused: bool, t: &Theme) -> Block<'a> {
    Block::bordered()
        .title(title)
        .border_style(t.border(focused))
}

fn header<'a>(cells: &[&'a str]) -> Row<'a> {
    Row::new(cells.iter().copied())
        .style(Style::default().add_modifier(Modifier::BOLD | Modifier::UNDERLINED))
}

pub fn fleet(m: &Model, t: &Theme, f: &mut Frame, area: Rect) {
    let focused = m.focus == Pane::Fleet;
    let wide = area.width >= 44;
    let rows = m.hosts.iter().map(|p| {
        let h = &p.seen;
        let mark = crate::ui::text::host_mark(h.state);
        let heard = p
            .last_heard
            .map_or("never".to_string(), |at| age(m.now, at));
        let role = match h.host.role {
            archtui_core::config::Role::Master => "master",
            archtui_core::config::Role::Slave => "slave",
        };
        let heard_style = if h.state == HostState::Up {
            Style::default()
        } else {
            t.stale()
        };
        let mut cells = vec![Cell::from(Line::from(vec![
            Span::styled(mark, t.host_state(h.state)),
            Span::raw(" "),
            Span::raw(clean(&h.host.name)),
        ]))];
        if wide {
            cells.push(Cell::from(role));
        }
        cells.push(Cell::from(Span::styled(
            h.state.as_str(),
            t.host_state(h.state),
        )));
        cells.push(Cell::from(Span::styled(heard, heard_style)));
        Row::new(cells)
    });
    let mut widths = vec![
        Constraint::Fill(1),
        Constraint::Length(11),
        Constraint::Length(5),
    ];
    let mut head = vec!["host", "state", "heard"];
    if wide {
        widths.insert(1, Constraint::Length(6));
        head.insert(1, "role");
    }
    let table = Table::new(rows, widths)
        .header(header(&head))
        .row_highlight_style(t.selected(focused))
        .block(block(Line::from(" fleet "), focused, t));
    let mut state = TableState::default().with_selected(Some(m.host_sel));
    f.render_stateful_widget(table, area, &mut state);
}

pub fn containers(m: &Model, t: &Theme, f: &mut Frame, area: Rect) {
    let focused = m.focus == Pane::Containers;
    let Some(p) = m.selected_host() else {
        f.render_widget(block(Line::from(" containers "), focused, t), area);
        return;
    };
    let h = &p.seen;
    let mut title = vec![Span::raw(format!(" containers · {} ", clean(&h.host.name)))];
    if p.containers_stale {
        let at = p.containers_at.map_or("?".into(), |at| age(m.now, at));
        title.push(Span::styled(format!("stale, {at} old "), t.stale()));
    }
    let outer = block(Line::from(title), focused, t);
    let inner = outer.inner(area);
    f.render_widget(outer, area);
    let mut table_area = inner;
    if let Some(err) = h.error.as_ref().filter(|_| p.observed) {
        let line = Line::from(vec![
            Span::styled(format!("{}: ", h.state.as_str()), t.host_state(h.state)),
            Span::raw(clean(err)),
        ]);
        f.render_widget(
            Paragraph::new(line),
            Rect {
                height: 1.min(inner.height),
                ..inner
            },
        );
        table_area.y = table_area.y.saturating_add(1).min(inner.bottom());
        table_area.height = table_area.height.saturating_sub(1);
    } else if h.containers.is_empty() {
        let text = if h.state == HostState::Connecting {
            "connecting…"
        } else {
            "no containers in the compose project"
        };
        f.render_widget(Paragraph::new(Span::styled(text, t.stale())), inner);
        return;
    }
    let wide = inner.width >= 90;
    let rows = h.containers.iter().map(|c| {
        let up = c.started_at.map_or("-".into(), |s| age(m.now, s));
        let mut cells = vec![
            Cell::from(clean(&c.service)),
            Cell::from(Span::styled(
                clean(&c.state),
                t.container_state(&c.state, c.health.as_deref()),
            )),
            Cell::from(Span::styled(
                c.health.as_deref().map_or("-".into(), clean),
                t.container_state(&c.state, c.health.as_deref()),
            )),
            Cell::from(format!("{:>3}", c.restarts)),
            Cell::from(up),
        ];
        if wide {
            cells.push(Cell::from(clean(&c.name)));
            cells.push(Cell::from(clean(&c.image)));
        }
        let row = Row::new(cells);
        if p.containers_stale {
            row.style(t.stale())
        } else {
            row
        }
    });
    let service_w = h
        .containers
        .iter()
        .map(|c| c.service.chars().count())
        .max()
        .unwrap_or(0);
    let mut widths = vec![
        Constraint::Length(service_w.clamp(7, 24) as u16),
        Constraint::Length(10),
        Constraint::Length(9),
        Constraint::Length(4),
        Constraint::Length(6),
    ];
    let mut head = vec!["service", "state", "health", "rst", "up"];
    if wide {
        widths.extend([Constraint::Fill(1), Constraint::Fill(1)]);
        head.extend(["name", "image"]);
    }
    let table = Table::new(rows, widths)
        .header(header(&head))
        .row_highlight_style(t.selected(focused));
    let mut state = TableState::default().with_selected(Some(m.container_sel));
    f.render_stateful_widget(table, table_area, &mut state);
}

pub fn syncs(m: &Model, t: &Theme, f: &mut Frame, area: Rect) {
    let focused = m.focus == Pane::Syncs;
    let mut title = vec![Span::raw(" syncs ")];
    // One mark per slave's daemon: every slave runs its own.
    for b in &m.daemons {
        use archtui_core::model::DaemonState;
        let style = match b.daemon {
            DaemonState::Up => t.fg(ratatui::style::Color::Green),
            DaemonState::Starting => t.fg(ratatui::style::Color::Yellow),
            DaemonState::Down => t.fg(ratatui::style::Color::Red),
            DaemonState::Unknown => t.stale(),
        };
        let word = match b.daemon {
            DaemonState::Up => "up",
            DaemonState::Starting => "starting",
            DaemonState::Down => "DOWN",
            DaemonState::Unknown => "?",
        };
        title.push(Span::styled(
            format!("{}: bucardo {word}", clean(&b.host)),
            style,
        ));
        title.push(Span::raw(" "));
    }
    if m.syncs_stale {
        let at = m.syncs_at.map_or("?".into(), |at| age(m.now, at));
        title.push(Span::styled(format!("stale, {at} old "), t.stale()));
    }
    let outer = block(Line::from(title), focused, t);
    let inner = outer.inner(area);
    f.render_widget(outer, area);
    if m.syncs.is_empty() {
        let text = match m.daemons.iter().find_map(|b| b.error.as_deref()) {
            Some(e) => clean(e),
            None => "no syncs seen yet".into(),
        };
        f.render_widget(Paragraph::new(Span::styled(text, t.stale())), inner);
        return;
    }
    let th = m.config.thresholds;
    let wide = inner.width >= 120;
    let spark_w: u16 = if wide { 40 } else { 16 };
    let rows = m.syncs.iter().map(|p| {
        let s = &p.status;
        let good = s.last_good.map_or("never".into(), |g| age(m.now, g));
        let pending = s.pending_rows.map_or("-".into(), |n| n.to_string());
        let lag_now = s.lag_seconds.or(s.heartbeat_lag_seconds);
        let lag_style = lag_now.map_or(Style::default(), |l| {
            t.lag(l, th.lag_warning_secs, th.lag_critical_secs)
        });
        let mut cells = vec![
            Cell::from(clean(&s.name)),
            Cell::from(clean(&s.target)),
            Cell::from(sync_state_label(m, s, t)),
            Cell::from(good),
            Cell::from(format!("{pending:>7}")),
            Cell::from(Span::styled(lag_now.map_or("-".into(), lag), lag_style)),
            Cell::from(Span::styled(
                sparkline(p.history.iter().copied(), spark_w as usize),
                lag_style,
            )),
        ];
        // Why the state is what it is, else the last run's error.
        let err = s
            .reason
            .as_deref()
            .or(s.last_error.as_deref())
            .map(clean)
            .unwrap_or_default();
        cells.push(Cell::from(Span::styled(
            err,
            t.fg(ratatui::style::Color::Red),
        )));
        let row = Row::new(cells);
        if m.syncs_stale {
            row.style(t.stale())
        } else {
            row
        }
    });
    let widths = [
        Constraint::Length(16),
        Constraint::Length(if wide { 12 } else { 8 }),
        Constraint::Length(9),
        Constraint::Length(6),
        Constraint::Length(7),
        Constraint::Length(5),
        Constraint::Length(spark_w),
        Constraint::Fill(1),
    ];
    let table = Table::new(rows, widths)
        .header(header(&[
            "sync",
            "target",
            "state",
            "good",
            "pending",
            "lag",
            "lag history",
            "why / last error",
        ]))
        .row_highlight_style(t.selected(focused));
    // Bucardo's health under the syncs, when there is room for it.
    let health = archtui_core::health::console_lines(&m.health);
    let room = inner
        .height
        .saturating_sub(m.syncs.len() as u16 + 1)
        .min(health.len() as u16);
    let [table_area, health_area] =
        Layout::vertical([Constraint::Fill(1), Constraint::Length(room)]).areas(inner);
    let mut state = TableState::default().with_selected(Some(m.sync_sel));
    f.render_stateful_widget(table, table_area, &mut state);
    let lines: Vec<Line> = health
        .into_iter()
        .take(room as usize)
        .map(|(text, bad)| {
            let style = if bad {
                t.fg(ratatui::style::Color::Red)
            } else {
                t.stale()
            };
            Line::from(Span::styled(clean(&text), style))
        })
        .collect();
    f.render_widget(Paragraph::new(lines), health_area);
}

/// The sync's state; a pause this console made and the daemon forgot (it
/// restarted) shows as `paused*`, so the operator still sees it.
fn sync_state_label<'a>(m: &Model, s: &archtui_core::model::SyncStatus, t: &Theme) -> Span<'a> {
    use archtui_core::model::SyncState;
    if s.state != SyncState::Paused && m.actions.paused.contains(&s.name) {
        Span::styled("paused*", t.sync_state(SyncState::Paused))
    } else {
        Span::styled(s.state.as_str(), t.sync_state(s.state))
    }
}
