//! The log pane: the lines at the view's position, bottom-aligned, with
//! source prefixes, timestamps, SGR styles and search highlights.

use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;

use crate::ui::text::clean;
use crate::ui::Theme;
use archtui_core::app::logbuf::LogLine;
use archtui_core::app::logview::{find_all, LogView};
use archtui_core::app::{Model, Pane};

pub fn pane(m: &Model, t: &Theme, f: &mut Frame, area: Rect) {
    let focused = m.focus == Pane::Logs;
    let Some(v) = &m.log else {
        let hint = m
            .keymap
            .hint(archtui_core::keymap::Action::Open)
            .unwrap_or_default();
        let block = Block::bordered()
            .title(" logs ")
            .border_style(t.border(focused));
        let text = format!("select a container and press {hint} to tail its log");
        f.render_widget(
            Paragraph::new(Span::styled(text, t.stale())).block(block),
            area,
        );
        return;
    };
    let block = Block::bordered()
        .title(title(v, t))
        .border_style(t.border(focused));
    let inner = block.inner(area);
    f.render_widget(block, area);
    let lines = visible(v, t, inner.width as usize, inner.height as usize);
    f.render_widget(Paragraph::new(lines), inner);
}

fn title<'a>(v: &LogView, t: &Theme) -> Line<'a> {
    let mut spans = vec![Span::raw(" logs · ")];
    match v.sources.as_slice() {
        [one] => spans.push(Span::raw(clean(&one.label()))),
        many => spans.push(Span::raw(format!("{} sources", many.len()))),
    }
    spans.push(Span::raw(" · "));
    if v.follow {
        spans.push(Span::styled(
            "following",
            t.fg(ratatui::style::Color::Green),
        ));
    } else {
        spans.push(Span::styled(
            "paused",
            t.fg(ratatui::style::Color::Yellow)
                .add_modifier(Modifier::BOLD),
        ));
        if v.new_lines > 0 {
            spans.push(Span::raw(" "));
            spans.push(Span::styled(format!(" +{} new ", v.new_lines), t.badge()));
        }
    }
    spans.push(Span::raw(format!(
        " · {} lines, {:.1} MB",
        v.buf.len(),
        v.buf.bytes() as f64 / 1e6
    )));
    if v.buf.dropped() > 0 {
        spans.push(Span::styled(
            format!(" · {} dropped", v.buf.dropped()),
            t.stale(),
        ));
    }
    if let Some(s) = &v.search {
        spans.push(Span::raw(format!(" · /{}", clean(s))));
    }
    if let Some(s) = &v.filter {
        spans.push(Span::raw(format!(" · &{}", clean(s))));
    }
    let flags: String = [(v.wrap, "wrap"), (v.timestamps, "time")]
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, n)| format!(" · {n}"))
        .collect();
    spans.push(Span::raw(flags));
    for (i, note) in v.notes.iter().enumerate() {
        if let Some(n) = note {
            let who = v.sources.get(i).map(|s| s.label()).unwrap_or_default();
            spans.push(Span::styled(
                format!(" · {}: {}", clean(&who), clean(n)),
                t.stale(),
            ));
        }
    }
    spans.push(Span::raw(" "));
    Line::from(spans)
}

/// The rows that fill `height` ending at the view's bottom line.
fn visible<'a>(v: &'a LogView, t: &Theme, width: usize, height: usize) -> Vec<Line<'a>> {
    if width == 0 || height == 0 || v.buf.is_empty() {
        return Vec::new();
    }
    let mut rows: Vec<Line> = Vec::new();
    // Source labels, once per frame: every line is prefixed by one.
    let labels: Vec<String> = if v.sources.len() > 1 {
        v.sources.iter().map(|s| clean(&s.label())).collect()
    } else {
        Vec::new()
    };
    let mut seq = v.bottom().min(v.buf.end_seq().saturating_sub(1));
    loop {
        if v.shown(seq) {
            if let Some(l) = v.buf.get(seq) {
                let line = render_line(v, l, seq, &labels, t);
                if v.wrap {
                    let mut parts = wrap(line, width);
                    parts.reverse();
                    rows.extend(parts);
                } else {
                    rows.push(line);
                }
            }
        }
        if rows.len() >= height || seq <= v.buf.first_seq() {
            break;
        }
        seq -= 1;
    }
    rows.truncate(height);
    rows.reverse();
    rows
}

/// One log line; `labels` are the sources' (empty for a single source).
fn render_line<'a>(
    v: &'a LogView,
    l: &'a LogLine,
    seq: u64,
    labels: &[String],
    t: &Theme,
) -> Line<'a> {
    let mut spans = Vec::new();
    let current = v.current_match == Some(seq);
    if v.search.is_some() {
        spans.push(Span::styled(
            if current { "▶" } else { " " },
            t.search_hit(true),
        ));
    }
    if !labels.is_empty() {
        let label = labels.get(l.source as usize).map_or("", String::as_str);
        let w = labels.iter().map(|s| s.chars().count()).max().unwrap_or(0);
        spans.push(Span::styled(format!("{label:w$} "), t.source(l.source)));
    }
    if v.timestamps {
        let ts = l.ts.map_or("--:--:--.---".into(), |ts| {
            ts.format("%H:%M:%S%.3f").to_string()
        });
        spans.push(Span::styled(format!("{ts} "), t.stale()));
    }
    let text = &l.line.text;
    let hits: Vec<(usize, usize)> = match &v.search {
        Some(p) => find_all(p, text).collect(),
        None => Vec::new(),
    };
    // Cut points: style run edges and match edges.
    let mut cuts = vec![0, text.len()];
    for r in &l.line.styles {
        cuts.extend([r.start as usize, r.end as usize]);
    }
    for (a, b) in &hits {
        cuts.extend([*a, *b]);
    }
    cuts.sort_unstable();
    cuts.dedup();
    for w in cuts.windows(2) {
        let (a, b) = (w[0], w[1]);
        let Some(piece) = text.get(a..b) else {
            continue;
        };
        let mut style = l
            .line
            .styles
            .iter()
            .find(|r| (r.start as usize) <= a && a < r.end as usize)
            .map_or(Style::default(), |r| t.paint(r.style));
        if hits.iter().any(|(x, y)| *x <= a && a < *y) {
            style = style.patch(t.search_hit(current));
        }
        spans.push(Span::styled(piece, style));
    }
    if l.line.cut_chars > 0 {
        spans.push(Span::styled(
            format!(" …[+{} chars]", l.line.cut_chars),
            t.stale(),
        ));
    }
    Line::from(spans)
}

/// Splits a line into rows of at most `width` columns, at characters.
fn wrap(line: Line<'_>, width: usize) -> Vec<Line<'_>> {
    let mut rows = vec![Vec::new()];
    let mut used = 0;
    for span in line.spans {
        let owned = span.content.into_owned();
        let mut rest: &str = &owned;
        while !rest.is_empty() {
            let mut take = 0;
            let mut w = 0;
            for (i, c) in rest.char_indices() {
                let cw = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
                if used + w + cw > width && used + w > 0 {
                    break;
                }
                w += cw;
                take = i + c.len_utf8();
            }
            if take == 0 {
                rows.push(Vec::new());
                used = 0;
                continue;
            }
            rows.last_mut()
                .expect("one row")
                .push(Span::styled(rest[..take].to_string(), span.style));
            used += w;
            rest = &rest[take..];
            if !rest.is_empty() || used >= width {
                rows.push(Vec::new());
                used = 0;
            }
        }
    }
    if rows.len() > 1 && rows.last().is_some_and(Vec::is_empty) {
        rows.pop();
    }
    rows.into_iter().map(Line::from).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_at_width() {
        let rows = wrap(Line::from(vec![Span::raw("abcde"), Span::raw("fghij")]), 4);
        let text: Vec<String> = rows.iter().map(|l| l.to_string()).collect();
        assert_eq!(text, ["abcd", "efgh", "ij"]);
        let rows = wrap(Line::from("abcd"), 4);
        assert_eq!(rows.len(), 1);
        let rows = wrap(Line::from("日本語"), 4);
        assert_eq!(
            rows.iter().map(|l| l.to_string()).collect::<Vec<_>>(),
            ["日本", "語"]
        );
    }
}
