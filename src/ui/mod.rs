//! `view(&Model, &mut Frame)`: draws the console from the model alone.
//! No state of its own, no I/O.

mod actions;
mod bars;
mod help;
mod logs;
mod panes;
mod switchover;
mod text;
mod theme;
pub mod wizard;

#[cfg(test)]
mod tests;

/// The cells of the first row holding `needle`, from its first character
/// (for tests on styles, which a snapshot's text does not show).
#[cfg(test)]
fn cells_at<'b>(
    buf: &'b ratatui::buffer::Buffer,
    needle: &str,
) -> Option<&'b [ratatui::buffer::Cell]> {
    let w = usize::from(buf.area.width);
    buf.content.chunks(w).find_map(|row| {
        (0..row.len()).find_map(|x| {
            let text: String = row[x..].iter().map(|c| c.symbol()).collect();
            text.starts_with(needle).then(|| &row[x..])
        })
    })
}

use ratatui::layout::Rect;
use ratatui::Frame;

use archtui_core::app::layout::areas;
use archtui_core::app::Model;
pub use theme::Theme;

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

pub fn view(m: &Model, f: &mut Frame) {
    let theme = Theme { color: m.color };
    // The switchover screen takes the whole terminal while it is up.
    if let Some(s) = &m.actions.switchover {
        switchover::screen(s, m, &theme, f, f.area());
        if m.actions.quit_ask {
            actions::quit_ask(m, &theme, f, f.area());
        }
        return;
    }
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
    if m.actions.quit_ask {
        actions::quit_ask(m, &theme, f, f.area());
    }
}
