//! `view(&Model, &mut Frame)`: draws the console from the model alone.
//! No state of its own, no I/O.

mod actions;
mod bars;
mod help;
mod logs;
mod panes;
mod text;
mod theme;
pub mod wizard;

#[cfg(test)]
mod tests;

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::Frame;

use crate::app::Model;
pub use theme::Theme;

struct Areas {
    title: Rect,
    fleet: Rect,
    containers: Rect,
    syncs: Rect,
    logs: Rect,
    hints: Rect,
}

fn areas(m: &Model, area: Rect) -> Areas {
    let containers = m.selected_host().map_or(0, |h| h.containers.len());
    // Borders, header, and a line for a host's error when it has one.
    // Counts come from the hosts: a huge one must not overflow.
    let rows = |n: usize| u16::try_from(n).unwrap_or(u16::MAX);
    let top = rows(m.hosts.len().max(containers))
        .saturating_add(4)
        .min(area.height / 3)
        .max(4);
    let syncs = rows(m.syncs.len().max(1))
        .saturating_add(3)
        .min(area.height / 4)
        .max(4);
    let [title, top_area, syncs, logs, hints] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(top),
        Constraint::Length(syncs),
        Constraint::Min(3),
        Constraint::Length(1),
    ])
    .areas(area);
    let fleet_w = (area.width * 3 / 10).clamp(34, 48).min(area.width / 2);
    let [fleet, containers] =
        Layout::horizontal([Constraint::Length(fleet_w), Constraint::Min(10)]).areas(top_area);
    Areas {
        title,
        fleet,
        containers,
        syncs,
        logs,
        hints,
    }
}

/// A popup of `w` x `h` (each at most the area's) in the middle of `area`.
fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let (w, h) = (w.min(area.width), h.min(area.height));
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

/// Text rows inside the log pane at the model's terminal size.
pub fn log_rows(m: &Model) -> usize {
    let area = Rect::new(0, 0, m.size.0, m.size.1);
    areas(m, area).logs.height.saturating_sub(2).max(1) as usize
}

pub fn view(m: &Model, f: &mut Frame) {
    let theme = Theme { color: m.color };
    let a = areas(m, f.area());
    bars::title(m, &theme, f, a.title);
    panes::fleet(m, &theme, f, a.fleet);
    panes::containers(m, &theme, f, a.containers);
    panes::syncs(m, &theme, f, a.syncs);
    match &m.actions.pane {
        Some(p) => actions::pane(p, m, &theme, f, a.logs),
        None => logs::pane(m, &theme, f, a.logs),
    }
    bars::hints(m, &theme, f, a.hints);
    if m.help {
        help::overlay(m, &theme, f, f.area());
    }
    if let Some(c) = &m.actions.confirm {
        actions::confirm(c, &theme, f, f.area());
    }
}
