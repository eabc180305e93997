//! The `?` overlay: every action with all its keys, from the live keymap.

use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Row, Table};
use ratatui::Frame;

use crate::ui::Theme;
use archtui_core::app::Model;

pub fn overlay(m: &Model, t: &Theme, f: &mut Frame, area: Rect) {
    let entries: Vec<(String, &str)> = m
        .keymap
        .entries()
        .filter(|(_, keys)| !keys.is_empty())
        .map(|(a, keys)| {
            let k: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
            (k.join(" "), a.description())
        })
        .collect();
    let key_w = entries
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(4) as u16;
    let desc_w = entries.iter().map(|(_, d)| d.len()).max().unwrap_or(10) as u16;
    // Two columns when one would not fit the height; descriptions are cut
    // to fit two columns on a narrow terminal.
    let max_desc = (area.width.saturating_sub(10) / 2).saturating_sub(key_w + 2);
    let two = entries.len() as u16 + 3 > area.height && max_desc >= 16;
    let desc_w = if two { desc_w.min(max_desc) } else { desc_w };
    let col_w = key_w + 2 + desc_w;
    let rows_n = if two {
        entries.len().div_ceil(2)
    } else {
        entries.len()
    };
    let key_style = t.paint(
        Style::default()
            .fg(ratatui::style::Color::Cyan)
            .add_modifier(Modifier::BOLD),
    );
    let rows: Vec<Row> = (0..rows_n)
        .map(|i| {
            let mut cells = Vec::new();
            for e in [
                entries.get(i),
                if two { entries.get(i + rows_n) } else { None },
            ]
            .into_iter()
            .flatten()
            {
                cells.push(Span::styled(e.0.clone(), key_style));
                cells.push(Span::raw(e.1));
            }
            Row::new(cells)
        })
        .collect();
    let mut widths = vec![Constraint::Length(key_w), Constraint::Length(desc_w)];
    if two {
        widths.extend([Constraint::Length(key_w), Constraint::Length(desc_w)]);
    }
    let w = (if two { col_w * 2 + 4 } else { col_w + 1 } + 4).min(area.width);
    let h = (rows_n as u16 + 3).min(area.height);
    let popup = super::centered(area, w, h);
    let mode = if m.read_only { " · read-only" } else { "" };
    let block = Block::bordered()
        .title(" keys ")
        .title_bottom(Line::from(Span::styled(
            format!(" any key closes{mode} "),
            t.stale(),
        )))
        .border_style(t.border(true));
    f.render_widget(Clear, popup);
    f.render_widget(
        Table::new(rows, widths).column_spacing(2).block(block),
        popup,
    );
}
