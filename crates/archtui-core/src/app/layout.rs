//! Where each pane goes on a screen of the model's size. Pure, and shared:
//! the view draws into these areas, and `update` pages the log pane by
//! its height.

use ratatui_core::layout::{Constraint, Layout, Rect};

use crate::app::Model;

pub struct Areas {
    pub title: Rect,
    pub fleet: Rect,
    pub containers: Rect,
    pub syncs: Rect,
    pub logs: Rect,
    pub hints: Rect,
}

pub fn areas(m: &Model, area: Rect) -> Areas {
    let containers = m.selected_host().map_or(0, |h| h.seen.containers.len());
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

/// Text rows inside the log pane at the model's terminal size.
pub fn log_rows(m: &Model) -> usize {
    let area = Rect::new(0, 0, m.size.0, m.size.1);
    areas(m, area).logs.height.saturating_sub(2).max(1) as usize
}
